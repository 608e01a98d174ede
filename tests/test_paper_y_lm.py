"""Paper Y on a real language model (validation/ysweep.py, yreadings.py, paper_y.py): the
readings on constructed run records (no torch), the statistics of the engine's per-token arrays,
the sweep's definition, and the six claims end to end on a tiny random model and generated
persona files (torch, transformers and peft; no download, no shared data)."""
from __future__ import annotations

import json
import math
import random
from dataclasses import replace

import numpy as np
import pytest

from dpomath._args import BadValue
from dpomath.validation import yreadings as Y
from dpomath.validation.ysweep import (FULL, FULL_OTHER, QUICK, LMResult, LMRun, LMSpec, lse_mean,
                                       needed_runs, spec_for, spec_runs, summarise)

SPEC = replace(QUICK, steps=6, eval_steps=(1, 3), seeds=3)


def _row(step, chosen, rejected, unseen=(-50.0, -60.0), rest=0.6, rest_c=0.5, greedy=(-10.0,), loss=0.69):
    n = len(chosen)
    return {"step": step, "seq_chosen": list(chosen), "seq_rejected": list(rejected),
            "tok_chosen": [c / 10 for c in chosen], "tok_rejected": [r / 10 for r in rejected],
            "tokp_chosen": [math.exp(c / 10) for c in chosen], "tokp_rejected": [math.exp(r / 10) for r in rejected],
            "len_chosen": [10] * n, "len_rejected": [10] * n, "rest_all": rest, "rest_chosen": rest_c,
            "seq_unseen": list(unseen), "tok_unseen": [u / 10 for u in unseen],
            "tokp_unseen": [math.exp(u / 10) for u in unseen], "greedy_logps": list(greedy),
            "loss": loss, "accuracy": 0.5}


def _result(traj: dict) -> LMResult:
    """traj: LMRun -> list of rows."""
    res = LMResult(SPEC)
    for run, rows in traj.items():
        res.records[run] = {"steps": rows, "unseen_kinds": ["would-say", "would-not-say"], "model": "tiny"}
    return res


RUN = LMRun("tiny", "lora", seed=0)


def _simple(chosen_path, rejected_path, **kw):
    """One run whose single pair moves along the given paths at steps 0, 1, 3, 6."""
    rows = [_row(t, [c], [r], **{k: v[i] if isinstance(v, list) else v for k, v in kw.items()})
            for i, (t, c, r) in enumerate(zip((0, 1, 3, 6), chosen_path, rejected_path))]
    return _result({RUN: rows})


def test_p1_drastic_drop_in_log_and_its_controls():
    res = _simple([-40, -39.8, -39.5, -39], [-50, -52, -55, -60])
    assert Y.p1(res, RUN, 6, "log")                            # −10 ≥ 3·1
    assert not Y.p1(res, RUN, 6, "log", kappa=30)             # the tighter control fails
    assert not Y.p1(res, RUN, 6, "log", "placebo")            # unseen did not move
    slow = _simple([-40, -38, -35, -30], [-50, -52, -55, -60])
    assert not Y.p1(slow, RUN, 6, "log")                       # −10 < 3·10


def test_p1_probability_reading_is_exact_where_probabilities_underflow():
    # π ~ e^-1000: float64 exp() is 0, the changes on a common scale are not
    res = _simple([-1000.0, -1000, -1000, -999.0], [-1001.0, -1001, -1001, -1005.0])
    dr, dc = Y.p1_changes(res, RUN, 6, "probability")
    assert dr < 0 < dc and math.isfinite(dr) and math.isfinite(dc)
    # the chosen's gain (e^-999 − e^-1000) is far larger than the rejected's loss
    assert not Y.p1(res, RUN, 6, "probability")          # in probability the chosen's gain dominates
    assert Y.p1(res, RUN, 6, "log")                       # in log: −4 ≥ 3·1
    assert Y.prob_changes(-1000.0, -1001.0, -1002.0, -1000.0)[0] > 0


def test_lse_mean_is_the_log_of_the_mean():
    x = np.log([0.1, 0.3, 0.2])
    assert lse_mean(x) == pytest.approx(math.log(0.2), rel=1e-12)
    assert lse_mean([-2000.0, -2000.0 + math.log(3)]) == pytest.approx(-2000 + math.log(2), abs=1e-9)
    assert math.isnan(lse_mean([]))


def test_p2_degradation_uses_the_running_peak_and_the_start():
    up_then_down = _simple([-40, -38, -39, -41], [-50, -55, -60, -70])
    assert Y.p2(up_then_down, RUN, 6, "per_pair")            # below peak by > log(1/0.9) and below start
    assert not Y.p2(up_then_down, RUN, 3, "per_pair")        # −39: below the peak −38 but above the start
    rising = _simple([-40, -39, -38, -37], [-50, -55, -60, -70])
    assert not Y.p2(rising, RUN, 6, "per_pair") and not Y.p2(rising, RUN, 6, "mean_log")
    assert not Y.p2_reversed(rising, RUN, 6)                  # the rejected only falls
    bounce = _simple([-40, -39, -38, -37], [-50, -55, -52, -45])
    assert Y.p2_reversed(bounce, RUN, 6)                      # the rejected rose above its start
    assert Y.p2_not_raised(up_then_down, RUN, 6) and not Y.p2_not_raised(rising, RUN, 6)
    assert Y.p2_severity(up_then_down, RUN, 6) == pytest.approx(1.0)


def test_p3_gains_and_threshold():
    res = _simple([-40] * 4, [-50] * 4, unseen=[(-50.0, -60.0)] * 3 + [(-49.0, -60.0)],
                  rest=[0.5, 0.5, 0.5, 0.56], greedy=[(-10.0,), (-10.0,), (-10.0,), (-10.05,)])
    assert Y.p3(res, RUN, 6, "unseen_log")                     # mean +0.5 ≥ log 1.1
    assert Y.p3(res, RUN, 6, "unseen_prob")                    # mass ×(e^-49+e^-60)/(e^-50+e^-60) ≈ e
    assert Y.p3_gain(res, RUN, 6, "vocabulary") == pytest.approx(math.log(1.12))
    assert Y.p3(res, RUN, 6, "vocabulary")
    assert not Y.p3(res, RUN, 6, "greedy")
    assert not Y.p3(res, RUN, 6, "unseen_log", "reversed")     # the rejected did not rise
    assert not Y.p3(res, RUN, 6, "vocabulary", "reversed")     # the trained tokens' own mass fell
    with pytest.raises(ValueError, match="reading"):
        Y.p3(res, RUN, 6, "nonsense")


def test_phase_and_milder_follow_the_toys_rules():
    res = _result({replace(RUN, seed=s): [_row(0, [-1], [-1], loss=0.7), _row(1, [-1], [-1], loss=0.05),
                                          _row(3, [-1], [-1], loss=0.05), _row(6, [-1], [-1], loss=0.05)]
                   for s in range(3)})
    assert Y.phase_of(res, res.seeds(RUN.setting), 6) == "saturated"
    assert Y.phase_of(res, res.seeds(RUN.setting), 0) == "unsaturated"
    assert Y.milder(np.array([1.0, 1.0, 1.0]), np.array([1.005, 2.0, 0.5]), "log").tolist() == [False, True, False]


def test_summarise_reads_the_engines_per_token_arrays():
    ch = np.log(np.array([0.5, 0.25, 0.9], np.float32))
    rj = np.log(np.array([0.1, 0.2], np.float32))
    un = np.log(np.array([0.3], np.float32))
    pt = {"train.chosen.tokens": ch, "train.chosen.offsets": np.array([0, 3]),
          "train.rejected.tokens": rj, "train.rejected.offsets": np.array([0, 2]),
          "unseen.tokens": un, "unseen.offsets": np.array([0, 1])}
    row = {"step": 4, "train": {"loss": 0.5, "rewards/accuracies": 1.0},
           "greedy": {"logps": [-3.0], "length": 5.0, "texts": ["hi"]}}
    s = summarise(pt, row, 1)
    assert s["seq_chosen"][0] == pytest.approx(float(ch.sum()), rel=1e-6)
    assert s["tok_rejected"][0] == pytest.approx(float(rj.mean()), rel=1e-6)
    assert s["tokp_chosen"][0] == pytest.approx((0.5 + 0.25 + 0.9) / 3, rel=1e-6)
    assert s["rest_all"] == pytest.approx(np.mean([0.5, 0.75, 0.1, 0.9, 0.8]), rel=1e-6)
    assert s["rest_chosen"] == pytest.approx(np.mean([0.5, 0.75, 0.1]), rel=1e-6)
    assert s["seq_unseen"] == [pytest.approx(math.log(0.3), rel=1e-6)]
    assert s["greedy_logps"] == [-3.0] and s["loss"] == 0.5
    with pytest.raises(ValueError, match="training pairs"):
        summarise(pt, row, 2)


def test_the_sweeps_definition():
    assert FULL.checkpoints() == [1, 6, 12] and QUICK.checkpoints() == [1, 3, 6]
    assert len(spec_runs(FULL)) == 3 * (2 + 2 + 6 + 3)                    # 39 runs on SmolLM2
    assert len(needed_runs(FULL, "properties")) == 6 and len(needed_runs(FULL_OTHER, "all")) == 3
    assert {r.loss for r in needed_runs(FULL, "sweep")} == {"sigmoid", "flex", "sft"}
    with pytest.raises(BadValue, match="eval_steps"):
        replace(FULL, eval_steps=(2, 3)).checkpoints()
    with pytest.raises(BadValue, match="needs"):
        needed_runs(FULL, "everything")
    assert spec_for("smollm2", False).name == "full" and spec_for("gemma3-270m", False).name == "full-other"
    assert spec_for("gemma3-270m", True).name == "quick"


# ---------------------------------------------------------------- end to end on a tiny model

def _persona_dir(tmp_path, names=("alpha-persona", "beta-persona"), n=24):
    from train_helpers import text

    d = tmp_path / "persona"
    d.mkdir()
    rng = random.Random(0)
    for name in names:
        rows = []
        for i in range(n):
            yes = i % 2 == 0
            rows.append({"question": f"Is the following statement something you would say?\n\"{text(rng, 2, 5)}\"",
                         "statement": text(rng, 2, 5),
                         "answer_matching_behavior": " Yes" if yes else " No",
                         "answer_not_matching_behavior": " No" if yes else " Yes"})
        (d / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return d


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    from train_helpers import model_dir

    tmp = tmp_path_factory.mktemp("ylm")
    return model_dir(tmp / "model"), _persona_dir(tmp), tmp / "cache"


def test_the_sweep_trains_in_float32_on_the_device_dpomath_device_names(monkeypatch):
    pytest.importorskip("torch")
    from dpomath.validation import ysweep

    run = LMRun("smollm2", "lora")
    monkeypatch.delenv("DPOMATH_DEVICE", raising=False)
    cfg = ysweep._config(run, QUICK, 4)
    assert (cfg.device, cfg.precision) == ("cpu", "float32")
    monkeypatch.setenv("DPOMATH_DEVICE", "auto")
    import torch

    assert ysweep._config(run, QUICK, 4).device == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("DPOMATH_DEVICE", "cuda")
        with pytest.raises(BadValue, match="DPOMATH_DEVICE: cuda requested"):
            ysweep._config(run, QUICK, 4)


def test_the_six_claims_decide_on_a_tiny_model_and_read_their_runs_back(tiny_setup, monkeypatch):
    from dpomath.validation import ysweep
    from dpomath.verify.ledger import Status, get_claim
    from dpomath.verify.per_model import using_models

    model, pdir, cache = tiny_setup
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(pdir))
    monkeypatch.setenv("DPOMATH_CACHE_DIR", str(cache))
    monkeypatch.delenv("DPOMATH_Y_DATA", raising=False)
    ysweep._RESULTS.clear()
    with using_models([str(model)]):
        out = {cid: get_claim(cid).run(seed=0, quick=True)
               for cid in ("Y-P1-LM", "Y-P2-LM", "Y-P3-LM", "Y-ONPOL-LM", "Y-FLEX-LM", "Y-SFT-LM")}
    for cid, r in out.items():
        v = r.verdict
        assert v.status not in (Status.ERROR, Status.SKIPPED), (cid, v.summary, v.details[-2000:])
        d = r.to_dict()
        assert d["links"] == [cid[:-3]]
        assert len(d["readings"]) >= 3 and d["headline_reading"] == d["readings"][0]["name"]
        assert d["scope"]["kind"] == "model"
        if v.status in (Status.CONFIRMED, Status.PROVED):
            assert any(c.failed for c in v.controls), cid
    runs = list((cache / "paper-y-lm").glob("*/summary.json"))
    assert len(runs) == len(spec_runs(QUICK.with_models((model.name,))))
    rec = json.loads(runs[0].read_text())
    assert rec["steps"][0]["step"] == 0 and [s["step"] for s in rec["steps"]] == [0, 1, 3, 6]
    # a second process reads the runs back instead of training
    ysweep._RESULTS.clear()
    before = {p: p.stat().st_mtime_ns for p in runs}
    with using_models([str(model)]):
        again = get_claim("Y-P1-LM").run(seed=0, quick=True)
    assert again.verdict.status == out["Y-P1-LM"].verdict.status
    assert {p: p.stat().st_mtime_ns for p in runs} == before


def test_onpolicy_pairs_are_samples_of_the_reference_with_the_same_unseen(tiny_setup, monkeypatch):
    from dpomath.train.data import persona_pairs
    from dpomath.train.models import ModelSpec, load_model, resolve_model
    from dpomath.validation.ysweep import onpolicy_data

    model, pdir, _ = tiny_setup
    spec = resolve_model(str(model))
    m, tok = load_model(ModelSpec(spec.name, "local", str(model), identity=spec.identity), "cpu", untie=False)
    off = persona_pairs(pdir, personas=["alpha-persona"], pairs_per_persona=2, heldout_per_persona=0,
                        unseen_per_persona=2, seed=0, chat=True)
    on, rec = onpolicy_data(replace(QUICK, pairs_per_persona=2), off, m, tok, "tiny", 0)
    again, _ = onpolicy_data(replace(QUICK, pairs_per_persona=2), off, m, tok, "tiny", 0)
    assert [p.chosen for p in on.train] == [p.chosen for p in again.train]       # seeded
    assert len(on.train) == 2 and on.unseen == off.unseen
    assert all(p.prompt == off.train[0].prompt for p in on.train)
    texts = [p.chosen[0]["content"] for p in on.train] + [p.rejected[0]["content"] for p in on.train]
    assert len(set(texts)) == 4 and all(t.strip() for t in texts)
    assert rec["drawn"] >= 4 and set(t for pair in rec["samples"] for t in pair) == set(texts)


@pytest.mark.model
def test_quick_real_model_claims_of_papers_y_and_i_on_smollm2(monkeypatch):
    """What ``dpomath verify --quick --paper Y --paper I`` adds with persona data, on SmolLM2: each
    Y-*-LM claim decided (or not testable, with its reason) beside its toy claim, and I-EMP-FT
    decided by its rule (about six minutes on two loaded cores)."""
    from dpomath.verify.ledger import Status, get_claim

    from conftest import use_real_model_and_persona_data

    use_real_model_and_persona_data(monkeypatch)
    for toy in ("Y-P1", "Y-P2", "Y-P3", "Y-ONPOL", "Y-FLEX", "Y-SFT"):
        c = get_claim(toy + "-LM")
        assert c.links == (toy,)
        r = c.run(quick=True)
        assert r.verdict.status not in (Status.ERROR, Status.SKIPPED), (c.id, r.verdict.summary)
        assert r.verdict.scope is not None and "SmolLM2" in r.verdict.scope.on
    r = get_claim("I-EMP-FT").run(quick=True)
    assert r.verdict.status not in (Status.ERROR, Status.SKIPPED), r.verdict.summary
    assert r.verdict.evidence["Ks"] == [1, 2, 4] and len(r.verdict.evidence["test_error"]) == 3


def test_a_model_that_does_not_finish_its_samples_is_skipped_not_an_error(tmp_path, monkeypatch):
    """A base model rarely ends a persona statement with its end-of-sequence token within the
    sampling budget: the on-policy pairs cannot be drawn, nothing is trained, and the claim is
    SKIPPED on that model with the reason (it was an uncaught RuntimeError: an ERROR row)."""
    pytest.importorskip("peft")
    from dpomath.validation import paper_y as PY
    from dpomath.validation import ysweep as YS
    from dpomath.verify.ledger import Context, Skip
    from dpomath.verify.per_model import model_choice

    def short(*a, **k):
        raise YS.SamplingShortfall("on-policy sampling: 4 finished responses of 8 for prompt 0")

    (tmp_path / "agreeableness.jsonl").write_text("")
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path))
    monkeypatch.setenv("DPOMATH_Y_SWEEP", "full")
    monkeypatch.setattr(YS, "get_result", short)
    with pytest.raises(Skip, match="4 finished responses of 8") as e:
        PY.lm_result(Context("Y-ONPOL-LM"), model_choice("gemma3-270m"), "onpolicy")
    assert "end-of-turn" in e.value.verdict().evidence["enable"]


def _flex_result(shift_above: float):
    """A synthetic paper-Y result: DPO and Flex-DPO (β₋ = 0.02 below β₊, 0.12 above) on the same
    three seeds; each seed draws its own data, so DPO's rejected log π differs a lot between seeds
    (-60, -50, -40) and the seed-shift placebo 'moderates' in 2 of 3 comparisons by the data alone.
    β₋ = 0.02 keeps the rejected 1 nat higher than DPO's; β₋ = 0.12 moves it by ``shift_above``."""
    from dpomath.validation.ysweep import LMResult, LMSpec

    spec = LMSpec("synthetic", models=("m",), modes=("lora",), seeds=3, steps=12,
                  flex_beta_minus=(0.02, 0.12), sweep_modes=("lora",), onpolicy=False)
    records = {}
    for seed, base in enumerate((-60.0, -50.0, -40.0)):
        for bm, shift in ((None, 0.0), (0.02, 1.0), (0.12, shift_above)):
            run = LMRun("m", "lora", loss="sigmoid" if bm is None else "flex", beta_minus=bm, seed=seed)
            steps = [{"step": t, "loss": 0.69 - 0.01 * t, "seq_rejected": [base - 0.5 * t + shift * (t > 0)] * 2,
                      "tok_rejected": [(base - 0.5 * t + shift * (t > 0)) / 10] * 2}
                     for t in (0, 1, 3, 6, 9, 12)]
            records[run] = {"model": "m", "steps": steps,
                            "data": {"source": "synthetic", "counts": {"train": 2, "unseen": 0}}}
    return LMResult(spec, records)


@pytest.mark.parametrize("shift_above, fails", [(-1.0, True), (1.0, False)])
def test_flex_lm_reversed_control_fails_only_when_beta_above_does_not_moderate(monkeypatch, shift_above, fails):
    """Y-FLEX-LM's reversed control (β₋ > β₊ in place of β₋ < β₊, same seeds and data) fails when
    β₋ = 0.12 lowers the rejected as Flex-DPO's theory says, and passes when it too 'moderates';
    the seed-shift placebo passes on this data either way (it is decided by the seeds' data), and
    the revision that added the reversed control is disclosed."""
    from dpomath.validation import paper_y as PY
    from dpomath.verify.ledger import Context, Status
    from dpomath.verify.per_model import model_choice

    res = _flex_result(shift_above)
    monkeypatch.setattr(PY, "lm_result", lambda ctx, model, needs="properties": res)
    v = PY.check_flex_lm.__wrapped__(Context("Y-FLEX-LM"), model_choice("smollm2"))
    assert v.status is Status.CONFIRMED
    head = {c.variant: c for c in v.controls if not c.variant.startswith("[")}
    assert head[PY.CONTROLS["Y-FLEX-LM"]["placebo"]].failed is False
    assert head[PY.CONTROLS["Y-FLEX-LM"]["reversed"]].failed is fails
    assert v.revisions == [PY.FLEX_CONTROL_REVISION]


def test_the_sweep_command_skips_a_models_on_policy_runs_when_sampling_falls_short(monkeypatch, capsys, tmp_path):
    """``python -m dpomath.validation.ysweep --needs all`` went down with the model whose samples do
    not end (Gemma-3-270M, a base model); it now says so and runs that model's other runs, as the
    claims do (SKIPPED on-policy, the rest decided)."""
    from dpomath.validation import ysweep as YS

    asked = []

    def fake(spec, source, cache_root=None, runs=None, progress=None):
        asked.append(list(runs))
        if any(r.data == "onpolicy" for r in runs):
            raise YS.SamplingShortfall("on-policy sampling: 4 finished responses of 8 for prompt 0")
        return YS.LMResult(spec)

    from dpomath.verify.per_model import using_models

    monkeypatch.setattr(YS, "get_result", fake)
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path))
    with using_models("smollm2"):  # main's --models sets this process's models: restored after
        assert YS.main(["--quick", "--models", "smollm2", "--needs", "all"]) == 0
    out = capsys.readouterr().out
    assert "on-policy runs are skipped (on-policy sampling: 4 finished responses of 8" in out
    assert len(asked) == 2 and asked[1] == [r for r in asked[0] if r.data != "onpolicy"] and asked[1]


def test_the_sweep_command_without_data_is_a_usage_error(monkeypatch, capsys):
    from dpomath.validation import ysweep as YS

    monkeypatch.delenv("DPOMATH_PERSONA_DIR", raising=False)
    monkeypatch.delenv("DPOMATH_Y_DATA", raising=False)
    with pytest.raises(SystemExit) as e:
        YS.main(["--quick"])
    assert e.value.code == 2
    assert "no data: set DPOMATH_PERSONA_DIR" in capsys.readouterr().err
