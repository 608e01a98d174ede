"""Papers R and S on real models (validation/claims_rs.py): the verdict rules on synthetic runs
(each branch, and the controls that must fail), the persona experiment's pieces (the authors'
prompt selection, the displacement metric, the loss-rise exclusion) and its training loop against
the engine and against a finite difference, the sequence-level pieces on tiny random models, and
the claims' skips without data. The real-model runs themselves are in docs/paper-r.md and
docs/paper-s.md; with the data and the model here, R-PERSONA and R-PERSONA-GEOM run in quick mode
in the default suite, R-CHES-RANK and S-REAL (minutes of CPU) under ``make test-full``."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

import train_helpers as H
from conftest import use_real_model_and_persona_data
from dpomath.verify.ledger import Status, get_claim
from dpomath.validation import claims_rs as C
from dpomath.validation import persona_displacement as P

RS_CLAIMS = ("R-PERSONA", "R-PERSONA-GEOM", "R-CHES-RANK", "R-CHES-FILTER", "S-REAL")


# ---------------------------------------------------------------- pure pieces

def test_largest_decrease_and_loss_rises():
    assert P.largest_decrease([0.1, 0.2, 0.3]) == 0.0
    assert P.largest_decrease([0.9, 0.1, 0.5, 0.0]) == pytest.approx(0.9)
    assert P.largest_decrease([0.2, 0.8, 0.3, 0.9, 0.85]) == pytest.approx(0.5)
    assert not P.loss_rises([0.69, 0.6, 0.6, 0.5])
    assert P.loss_rises([0.69, 0.6, 0.61, 0.5])


def test_select_record_is_the_authors_randperm_over_the_filtered_records():
    torch = pytest.importorskip("torch")
    recs = [{"question": f"q{i}", "answer_matching_behavior": " Yes" if i % 3 else " No"} for i in range(30)]
    kept = [r for r in recs if r["answer_matching_behavior"] == " Yes"]
    for seed in P.SEEDS[:3]:
        i, r = P.select_record(recs, "Yes", seed)
        assert i == int(torch.randperm(len(kept), generator=torch.Generator().manual_seed(seed))[0])
        assert r is kept[i]
    with pytest.raises(ValueError, match="Maybe"):
        P.select_record(recs, "Maybe", 1)


def test_persona_file_prefers_the_papers_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        P.persona_file(tmp_path)
    (tmp_path / P.SUBSTITUTE_FILE).write_text("")
    assert P.persona_file(tmp_path).name == P.SUBSTITUTE_FILE
    (tmp_path / P.PAPER_FILE).write_text("")
    assert P.persona_file(tmp_path).name == P.PAPER_FILE


def _run(dec, rises=False, top=("Ġthe", "a", "b")):
    return {"largest_decrease": dec, "loss_rises": rises, "top_gainers": [[t, 0.1] for t in top],
            "pi_plus": [0.5, 0.5 - dec], "seconds": 1.0}


def _persona(runs):
    return C.persona_verdict(runs, model="m", file="f.jsonl", substitute=True, control_tokens=["x1", "x2", "x3", "x4"])


def test_persona_verdict_branches():
    yes = ("ĠYes", "a", "b")
    disp = [_run(0.3, top=yes)] * 6 + [_run(0.0)] * 4
    none = [_run(0.01)] * 10
    v = _persona({("no_vs_never", "rmsprop", 100): disp, ("no_vs_never", "sgd", 100): disp})
    assert v.status is Status.CONFIRMED
    assert [c.outcome for c in v.controls] == ["fails"]          # random tokens are not the gainers
    v = _persona({("no_vs_never", "rmsprop", 100): none, ("no_vs_never", "sgd", 100): none})
    assert v.status is Status.REFUTED
    v = _persona({("no_vs_never", "rmsprop", 100): disp, ("no_vs_never", "sgd", 100): none})
    assert v.status is Status.QUALIFIED and "rmsprop" in v.summary
    # displacement without a Yes-variant among the gainers is not the paper's catastrophic case
    v = _persona({("no_vs_never", "rmsprop", 100): [_run(0.3)] * 10, ("no_vs_never", "sgd", 100): disp})
    assert v.status is Status.QUALIFIED
    # runs whose loss rises are excluded: 6 of 10 excluded leaves 4 < 5 runs
    v = _persona({("no_vs_never", "sgd", 10): [_run(0.3, True, yes)] * 6 + [_run(0.3, top=yes)] * 4})
    assert v.status is Status.INCONCLUSIVE
    assert v.evidence["configurations"]["no_vs_never / sgd / 10 steps"]["excluded_loss_rises"] == 6
    # a majority exactly at one half is not "more than half"
    half = [_run(0.3, top=yes)] * 5 + [_run(0.0)] * 5
    assert _persona({("no_vs_never", "sgd", 100): half}).status is Status.REFUTED


def test_geometry_verdict_branches_and_controls():
    def case(b, r, fell=False, flip=None):
        return {"bracket": b, "bracket_flipped_weight": b if flip is None else flip, "full_model_rate": r,
                "fell_5": fell, "spearman": 0.2, "label": "no_vs_never seed 1"}
    mixed = [case(1, 2), case(-1, -3, True, flip=1), case(2, 1), case(-2, -1, True, flip=1), case(1, 1)]
    v = C.geometry_verdict(mixed, model="m", file="f")
    assert v.status is Status.CONFIRMED
    assert {c.variant.split(" ")[0]: c.outcome for c in v.controls} == {"alignment": "fails", "bracket's": "fails",
                                                                          "a": "fails"}
    # every case positive: the constant predictor agrees as well, so the check could not have
    # failed: not testable (INCONCLUSIVE), with the old rule's CONFIRMED in the revision record
    v = C.geometry_verdict([case(1, 1)] * 5, model="m", file="f")
    assert v.status is Status.INCONCLUSIVE and v.not_testable and "constant" in v.summary
    assert [r.old_verdict for r in v.revisions] == ["CONFIRMED"]
    # flipped weight agreeing but the constant not: still CONFIRMED, with what it establishes
    v = C.geometry_verdict([case(1, 1)] * 4 + [case(-1, -1, True)], model="m", file="f")
    assert v.status is Status.CONFIRMED and "alignment" in v.establishes and not v.revisions
    v = C.geometry_verdict([case(1, -1)] * 3 + [case(1, 1)] * 2, model="m", file="f")
    assert v.status is Status.REFUTED
    v = C.geometry_verdict([case(1, -1)] * 3 + [case(1, 1)] * 7, model="m", file="f")
    assert v.status is Status.QUALIFIED
    assert C.geometry_verdict([], model="m", file="f").status is Status.INCONCLUSIVE


def test_spearman_interval_matches_scipy_and_covers():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    x = rng.normal(size=80)
    y = x + rng.normal(size=80)
    r = C.spearman_interval(x, y, n_boot=300)
    assert r["rho"] == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert r["lo"] < r["rho"] < r["hi"]


def _table(ches, ed):
    n = len(ches)
    return {"ches": ches, "ln_ches": ches, "ches_script": ches, "ln_ches_script": ches, "edit_distance": ed,
            "last_hidden_inner": np.zeros(n), "alpha_minus_positive": [0.5], "alpha_plus_positive": [0.6]}


def test_rank_verdict_branches_and_shuffled_control():
    rng = np.random.default_rng(1)
    n = 200
    ches = rng.normal(size=n)
    ed = rng.uniform(size=n)
    delta = -ches + 0.3 * rng.normal(size=n)          # higher CHES, larger fall
    v = C.rank_verdict(_table(ches, ed), delta, model="m", data="d", training="t")
    assert v.status is Status.CONFIRMED and v.controls[0].outcome == "fails"
    v = C.rank_verdict(_table(ches, ed), -delta, model="m", data="d", training="t")
    assert v.status is Status.REFUTED
    v = C.rank_verdict(_table(ches, ed), rng.normal(size=n), model="m", data="d", training="t")
    assert v.status is Status.INCONCLUSIVE
    # the edit distance ranking as well as CHES: not CONFIRMED
    v = C.rank_verdict(_table(ches, -ches + 1e-3 * rng.normal(size=n)), delta, model="m", data="d", training="t")
    assert v.status is Status.INCONCLUSIVE
    assert len(v.evidence["mean_delta_by_ches_quintile"]) == 5


def test_filter_verdict_branches():
    def row(seed, f, u, rf, ru):
        return {"seed": seed, "filtered": f, "unfiltered": u, "random_filtered": rf, "random_unfiltered": ru}
    v = C.filter_verdict([row(s, 0.1, 0.0, -0.1, 0.0) for s in range(3)], model="m", data="d", training="t")
    assert v.status is Status.CONFIRMED and v.controls[0].outcome == "fails"
    v = C.filter_verdict([row(s, 0.1, 0.0, 0.1, 0.0) for s in range(3)], model="m", data="d", training="t")
    assert v.status is Status.INCONCLUSIVE       # a random removal does as well: no evidence for CHES
    v = C.filter_verdict([row(s, -0.1, 0.0, 0.1, 0.0) for s in range(3)], model="m", data="d", training="t")
    assert v.status is Status.REFUTED
    v = C.filter_verdict([row(0, 0.1, 0.0, 0, 0), row(1, -0.1, 0.0, 0, 0), row(2, 0.1, 0, 0, 0)],
                         model="m", data="d", training="t")
    assert v.status is Status.INCONCLUSIVE


def test_squeeze_real_verdict_branches():
    def row(seed, g, c, r, s):
        return {"seed": seed, "greedy": g, "chosen": c, "rejected": r, "sampled": s}
    v = C.squeeze_real_verdict([row(i, 1.0, -0.5, -2.0, -1.0) for i in range(3)], model="m", data="d", training="t")
    assert v.status is Status.CONFIRMED and v.controls[0].outcome == "fails"
    v = C.squeeze_real_verdict([row(i, -1.0, -0.5, -2.0, -1.0) for i in range(3)], model="m", data="d", training="t")
    assert v.status is Status.REFUTED
    v = C.squeeze_real_verdict([row(0, 1.0, 0.5, -2.0, -1.0), row(1, 1.0, -0.5, -2.0, -1.0)], model="m", data="d",
                               training="t")
    assert v.status is Status.QUALIFIED
    v = C.squeeze_real_verdict([row(i, 1.0, -0.5, -2.0, 1.0) for i in range(3)], model="m", data="d", training="t")
    assert v.status is Status.CONFIRMED and v.controls[0].outcome == "passes"   # the report flags it


# ---------------------------------------------------------------- claims without data

@pytest.mark.parametrize("cid", RS_CLAIMS)
def test_claims_skip_without_data(cid, monkeypatch):
    monkeypatch.delenv("DPOMATH_PERSONA_DIR", raising=False)
    r = get_claim(cid).run(quick=True)
    assert r.verdict.status is Status.SKIPPED
    assert "DPOMATH_PERSONA_DIR" in r.verdict.evidence["enable"] or "without --quick" in r.verdict.evidence["enable"]


@pytest.mark.parametrize("cid", RS_CLAIMS)
def test_claims_skip_without_torch(cid, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path))
    r = get_claim(cid).run(quick=cid != "R-CHES-FILTER")
    assert r.verdict.status is Status.SKIPPED
    assert "torch is not installed" in r.verdict.summary and "dpomath[validation]" in r.verdict.evidence["enable"]


def test_a_wrong_persona_folder_is_exit_2_not_a_skip(monkeypatch, tmp_path, capsys):
    from dpomath.verify.cli import main

    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path / "missing"))
    assert main(["verify", "--claim", "S-REAL", "--quick"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"dpomath verify: DPOMATH_PERSONA_DIR: {tmp_path / 'missing'} does not exist"
    monkeypatch.delenv("DPOMATH_PERSONA_DIR")
    assert main(["verify", "--claim", "R-PERSONA", "--quick", "--persona-dir", str(tmp_path)]) == 2
    assert "--persona-dir" in capsys.readouterr().err


def test_run_size_and_the_reduced_plan(monkeypatch):
    class Ctx:
        quick = False
    monkeypatch.delenv(C.BUDGET_ENV, raising=False)
    assert C.run_size(Ctx()) == "full"
    monkeypatch.setenv(C.BUDGET_ENV, "reduced")
    assert C.run_size(Ctx()) == "reduced"
    Ctx.quick = True
    assert C.run_size(Ctx()) == "quick"
    Ctx.quick = False
    monkeypatch.setenv(C.BUDGET_ENV, "tiny")
    from dpomath import BadValue
    with pytest.raises(BadValue, match="DPOMATH_RS_BUDGET"):
        C.run_size(Ctx())
    full, reduced = C.persona_plan(False), C.persona_plan("reduced")
    assert len(full) == 40 and len(reduced) == 20 and reduced == [c for c in full if c.seed in P.SEEDS[:5]]
    assert len(C.persona_plan(True)) == 2


# ---------------------------------------------------------------- the runs on tiny models

@pytest.fixture(scope="module")
def tiny_lm():
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    tok = H.tokenizer(chat=False)
    m = H.llama(len(tok.get_vocab()), seed=2, tie=True).eval()
    initial = {k: v.detach().clone() for k, v in m.state_dict().items()}
    return P.LoadedModel(m, tok, initial, "tiny", "tiny-identity")


def test_persona_run_records_and_geometry_twins(tiny_lm):
    import torch

    ids = [8, 9, 10, 11]
    yp, ym = 12, 13
    cfg = P.PersonaRunConfig("no_vs_never", 1, "sgd", 1e-3, steps=6, geometry=True)
    r = P.run_persona(tiny_lm, ids, yp, ym, cfg)
    assert len(r["pi_plus"]) == len(r["loss"]) == 7
    assert r["loss"][0] == pytest.approx(np.log(2), abs=1e-6)
    assert r["head_logp_gap"] < 1e-4                     # h and W are what the head reads
    # the full-model rate is the first-order change of ln π(y⁺) per unit step (finite difference)
    fd = (np.log(r["pi_plus"][1]) - np.log(r["pi_plus"][0])) / cfg.lr
    assert fd == pytest.approx(r["full_model_rate"], rel=0.05)
    # the run restored the initial weights
    for k, v in tiny_lm.model.state_dict().items():
        assert torch.equal(v, tiny_lm.initial[k])
    # Theorem 4's rate uses the reference margin: c = β/2 at step 0
    assert r["theorem4"]["c"] == pytest.approx(0.05, rel=1e-4)


def test_persona_loop_equals_the_training_engine(tiny_lm, tmp_path):
    """The single-token loop against dpomath.train (itself checked against TRL): same SGD steps on
    one prompt with one-token responses give the same log π(y⁺) trajectory."""
    from dpomath.train.data import Pair, PreferenceData, tokenize
    from dpomath.train.engine import TrainConfig, train

    data = PreferenceData([Pair("w1 w2 w3 ", "w4", "w5", "x:1")], source="x", append_eos=False)
    ex = tokenize(data, tiny_lm.tokenizer).train[0]
    assert len(ex.chosen_ids) == len(ex.rejected_ids) == 1
    cfg = P.PersonaRunConfig("no_vs_never", 1, "sgd", 1e-2, steps=4)
    mine = P.run_persona(tiny_lm, ex.prompt_ids, ex.chosen_ids[0], ex.rejected_ids[0], cfg)
    tiny_lm.restore()
    res = train(tiny_lm.model, data, TrainConfig(mode="full", loss="sigmoid", beta=0.1, lr=1e-2, steps=4,
                                                 batch_size=1, optimizer="sgd", eval_pairs=0, eval_unseen=0,
                                                 greedy_prompts=0, device="cpu"), tokenizer=tiny_lm.tokenizer)
    tiny_lm.restore()
    eng = [row["logps/chosen"] for row in res.history]
    np.testing.assert_allclose(np.log(mine["pi_plus"][:4]), eng, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mine["loss"][:4], [row["loss"] for row in res.history], rtol=1e-5, atol=1e-6)


def test_persona_case_skips_pairs_outside_the_vocabulary(tiny_lm, tmp_path):
    f = tmp_path / P.SUBSTITUTE_FILE
    f.write_text("\n".join(json.dumps({"question": "w1 w2", "answer_matching_behavior": " Yes"}) for _ in range(3)))
    r = P.run_case(tiny_lm, f, P.PersonaRunConfig("no_vs_never", 9773, "sgd", 1e-4, steps=2))
    assert "not a single vocabulary entry" in r["skipped"]


def test_sequence_pieces_on_a_tiny_model(tiny_lm, tmp_path, monkeypatch):
    import torch
    from dpomath.train.data import read_preference_jsonl

    from dpomath.validation import pair_dynamics as Q

    monkeypatch.setenv("DPOMATH_CACHE_DIR", str(tmp_path / "cache"))
    data = read_preference_jsonl(H.write_jsonl(tmp_path / "p.jsonl", H.pairs(5, seed=4)))
    ex = Q.tokenized(tiny_lm, data)
    t = Q.ches_table(tiny_lm, ex, alpha_pairs=2)
    assert len(t["ches"]) == 5 and len(t["alpha_minus_positive"]) == 2
    # the script's variant differs from ches.py's by the final position (so it is not the same number)
    assert not np.allclose(t["ches"], t["ches_script"])
    before = Q.score_sequences(tiny_lm.model, 0, [e.prompt_ids for e in ex], [[e.chosen_ids for e in ex]])
    with torch.no_grad():
        e = ex[0]
        logits = tiny_lm.model(torch.tensor([list(e.prompt_ids + e.chosen_ids)])).logits[0]
        lp = torch.log_softmax(logits.double(), -1)
        P0 = len(e.prompt_ids)
        want = sum(float(lp[P0 - 1 + k, tok]) for k, tok in enumerate(e.chosen_ids))
    assert before[0, 0] == pytest.approx(want, abs=1e-4)
    cfg = Q.train_config(optimizer="sgd", lr=1e-2, steps=2, seed=0, batch_size=2)
    res = Q.trained_scores(tiny_lm, data, ex, cfg)
    assert len(res["chosen"]) == 5 and len(res["history"]) == 2
    again = Q.trained_scores(tiny_lm, data, ex, cfg)             # read back from the cache
    assert again == res
    for k, v in tiny_lm.model.state_dict().items():
        assert torch.equal(v, tiny_lm.initial[k])
    sq = Q._squeeze_responses(tiny_lm, ex)
    assert [len(g) for g in sq["greedy"]] == [len(e.chosen_ids) for e in ex]
    assert all(1 <= len(s) <= len(e.chosen_ids) for s, e in zip(sq["sampled"], ex))


# ---------------------------------------------------------------- the real model, quick mode

@pytest.mark.model
def test_quick_persona_claims_on_the_real_model(monkeypatch):
    """R-PERSONA and R-PERSONA-GEOM in quick mode (2 prompts x 6 steps, about a minute on 2 cores)."""
    use_real_model_and_persona_data(monkeypatch)
    for cid in ("R-PERSONA", "R-PERSONA-GEOM"):
        r = get_claim(cid).run(quick=True)
        assert r.verdict.status is not Status.ERROR, (cid, r.verdict.summary, r.verdict.details)


@pytest.mark.model
@pytest.mark.slow
def test_quick_sequence_claims_on_the_real_model(monkeypatch):
    """R-CHES-RANK and S-REAL in quick mode: full-model DPO steps on 8 real pairs, several minutes
    of CPU; run by ``make test-full`` (HYPOTHESIS_PROFILE=full). Their pieces run on tiny models in
    the default suite (test_sequence_pieces_on_a_tiny_model)."""
    if os.environ.get("HYPOTHESIS_PROFILE") != "full":
        pytest.skip("several minutes of CPU: make test-full runs it")
    use_real_model_and_persona_data(monkeypatch)
    for cid in ("R-CHES-RANK", "S-REAL"):
        r = get_claim(cid).run(quick=True)
        assert r.verdict.status is not Status.ERROR, (cid, r.verdict.summary, r.verdict.details)


def test_real_model_claims_run_per_model(tmp_path, monkeypatch):
    """Papers R and S's real-model claims are decided on each configured model (issue 15's
    second model): a model that is not installed is SKIPPED on its own row, with its source shown
    at the ``@claim`` line, not the wrapper's."""
    from dpomath.verify.ledger import Context, registry
    from dpomath.verify.per_model import using_models

    claims = registry()
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path))
    for cid in RS_CLAIMS:
        c = claims[cid]
        assert getattr(c.check, "per_model", False), cid
        path, line = c.source.rsplit(":", 1)
        src = open(Path(__file__).resolve().parents[1] / path).read().splitlines()
        assert src[int(line) - 1].startswith("@claim("), (cid, src[int(line) - 1])
        with using_models([str(tmp_path / "not-a-model")]):
            v = c.check(Context(cid, quick=True))
        assert v.status.value == "SKIPPED" and [r["status"] for r in v.models] == ["SKIPPED"], cid
        assert "not available" in v.models[0]["summary"], cid
