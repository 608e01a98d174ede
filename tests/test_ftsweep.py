"""I-EMP-FT, paper I's fine-tuning K sweep: the split is paper I's (one random.seed(1234) stream
across the behaviours, int(0.9 n) for training), the per-pair margins come from the engine's
per-token log-probabilities, the verdict follows its criterion on constructed sweeps (every
branch, with a negative control that fails), and a tiny sweep runs end to end on a generated
persona collection and a tiny random model, killed-and-resumed runs read back."""
import json
import random
from pathlib import Path

import numpy as np
import pytest

from dpomath.train.data import PersonaFile, Statement
from dpomath.validation import ftsweep as FS
from dpomath.validation.claims import ft_verdict
from dpomath.verify.ledger import Status


def _files(sizes):
    out = []
    for j, n in enumerate(sizes):
        st = [Statement(f"p{j}", i + 1, f"question {j}-{i}", " Yes" if i % 2 else " No",
                        " No" if i % 2 else " Yes") for i in range(n)]
        out.append(PersonaFile(f"p{j}", Path(f"p{j}.jsonl"), "", st))
    return out


def test_split_is_paper_is():
    files = _files([50, 31, 7])
    tr, te = FS.paper_split(files, seed=1234)
    # paper I's DPO_training.py, restated: random.seed(1234); per behaviour shuffle, first int(0.9 n)
    random.seed(1234)
    exp_tr, exp_te = [], []
    for f in files:
        data = [s.question + "\n" for s in f.statements]
        k = int(0.9 * len(data) // 1)
        random.shuffle(data)
        exp_tr += data[:k]
        exp_te += data[k:]
    assert [p.prompt for p in tr] == exp_tr and [p.prompt for p in te] == exp_te
    assert (len(tr), len(te)) == (45 + 27 + 6, 5 + 4 + 1)
    assert {p.group for p in te} == {"p0", "p1", "p2"}
    assert all(p.chosen in (" Yes", " No") and p.chosen != p.rejected for p in tr)


def test_split_depends_on_the_order_of_the_behaviours():
    a = FS.paper_split(_files([20, 20]))[1]
    f = _files([20, 20])
    b = FS.paper_split(f[::-1])[1]
    assert [p.prompt for p in a] != [p.prompt for p in b if p.group == "p0"] + [p.prompt for p in b if p.group == "p1"]


def test_pair_margins_from_engine_files(tmp_path):
    from safetensors.numpy import save_file

    def write(step, c, r):
        t = {}
        for which, seqs in (("chosen", c), ("rejected", r)):
            t[f"heldout.{which}.tokens"] = np.concatenate(seqs).astype(np.float32)
            t[f"heldout.{which}.offsets"] = np.concatenate([[0], np.cumsum([len(x) for x in seqs])]).astype(np.int64)
        save_file(t, str(tmp_path / f"step-{step:08d}.safetensors"))

    write(0, [[-1.0, -2.0], [-3.0, -0.5]], [[-2.0, -1.0], [-1.0, -1.0]])
    write(10, [[-0.5, -2.0], [-3.0, -1.5]], [[-2.5, -1.0], [-1.0, -0.5]])
    m = FS.pair_margins(tmp_path, 10, "heldout", beta=0.1)
    # pair 0: chosen +0.5, rejected −0.5 → 0.1; pair 1: chosen −1, rejected +0.5 → −0.15
    np.testing.assert_allclose(m, [0.1, -0.15], atol=1e-6)
    np.testing.assert_allclose(FS.pair_margins(tmp_path, 0, "heldout", 0.1), [0, 0], atol=0)


def _run(K, err, rate_tr, rate_te, n_per=40, rng=None):
    """A constructed run: K personas, the final test margins give error ``err``; margins grow
    linearly at the given rates (with per-pair noise)."""
    rng = rng or np.random.default_rng(K)
    n_te = K * n_per
    steps = [0, 20, 40, 60]
    t = np.asarray(steps, dtype=float)[:, None]
    base_te = rate_te * t + 1e-5 * rng.standard_normal((4, n_te))
    # final margins: the first err·n pairs negative
    final = np.abs(base_te[-1]) + 1e-4
    bad = rng.permutation(n_te)[:int(round(err * n_te))]
    final[bad] = -final[bad]
    base_te[-1] = final
    base_tr = rate_tr * t + 1e-5 * rng.standard_normal((4, 64))
    groups = [f"p{i}" for i in range(K) for _ in range(n_per)]
    return FS.FTRun(K, tuple(f"p{i}" for i in range(K)), 900 * K, min(1920, 900 * K), n_te, groups,
                    steps, base_te, base_tr, [], 1.0, 0.5)


def _sweep(errs, rates_tr, rates_te, Ks=(1, 2, 4, 8, 16)):
    cfg = FS.FTConfig(persona_dir="x", Ks=tuple(Ks))
    sw = FS.FTSweep(cfg, None, "Stand-in-LM")
    for k, e, a, b in zip(Ks, errs, rates_tr, rates_te):
        sw.runs[k] = _run(k, e, a, b)
    return sw


RATES_DOWN = [1e-3 / k for k in (1, 2, 4, 8, 16)]


def test_verdict_confirmed_with_failing_controls():
    sw = _sweep([0.1, 0.12, 0.16, 0.24, 0.40], RATES_DOWN, RATES_DOWN)
    v = ft_verdict(sw)
    assert v.status is Status.CONFIRMED, v.summary
    assert v.control_fails and all(c.failed for c in v.controls)
    assert v.evidence["r2_linear"] > 0.9 and v.evidence["error_part"] == "CONFIRMED"
    assert v.scope.on.startswith("Stand-in-LM, full fine-tuning")


def test_verdict_refuted_when_error_falls_with_k():
    v = ft_verdict(_sweep([0.45, 0.40, 0.30, 0.20, 0.05], RATES_DOWN, RATES_DOWN))
    assert v.status is Status.REFUTED and v.evidence["error_part"] == "REFUTED"


def test_verdict_refuted_when_rates_grow_with_k():
    up = [1e-3 * k for k in (1, 2, 4, 8, 16)]
    v = ft_verdict(_sweep([0.1, 0.12, 0.16, 0.24, 0.40], up, up))
    assert v.status is Status.REFUTED and v.evidence["rate_part"] == "REFUTED"


def test_verdict_qualified_and_inconclusive():
    flat = [1e-3] * 5
    v = ft_verdict(_sweep([0.1, 0.12, 0.16, 0.24, 0.40], flat, flat))
    assert v.evidence["rate_part"] in ("INCONCLUSIVE", "REFUTED")
    if v.evidence["rate_part"] == "INCONCLUSIVE":
        assert v.status is Status.QUALIFIED
    v = ft_verdict(_sweep([0.1, 0.2], RATES_DOWN[:2], RATES_DOWN[:2], Ks=(1, 2)))
    assert v.status is Status.INCONCLUSIVE and "fewer than 3" in v.summary


def test_run_roundtrip():
    r = _run(2, 0.2, 1e-3, 1e-3)
    back = FS.FTRun.from_dict(json.loads(json.dumps(r.to_dict())))
    np.testing.assert_array_equal(back.test_margins, r.test_margins)
    assert back.test_error == r.test_error and back.personas == r.personas


def test_config_checks(tmp_path):
    with pytest.raises(FS.BadValue, match="grad_accum"):
        FS.ft_config(persona_dir=tmp_path, grad_accum=5)
    with pytest.raises(FS.BadValue, match="mode"):
        FS.ft_config(persona_dir=tmp_path, mode="half")
    a = FS.ft_config(persona_dir=tmp_path, Ks=[4, 1, 2])
    assert a.Ks == (1, 2, 4) and a.key() != FS.ft_config(persona_dir=tmp_path, mode="lora").key()
    assert "mode" not in FS.FULL_FT and FS.ft_config(persona_dir=tmp_path, **FS.FULL_FT).mode == "full"


# ------------------------------------------------------------------ end to end, tiny model

@pytest.fixture
def tiny(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    import train_helpers as H
    from dpomath.validation.data import write_example_personas

    monkeypatch.setenv("DPOMATH_THREADS", "1")
    mdir = H.model_dir(tmp_path / "model", chat=False)
    pdir = write_example_personas(tmp_path / "personas", n=20)   # paper I's persona names
    rng = random.Random(0)
    for f in pdir.glob("*.jsonl"):  # statements in the tiny model's vocabulary (w0 … w60)
        rows = [{"question": H.text(rng, 3, 6), "answer_matching_behavior": " w5" if i % 2 else " w6",
                 "answer_not_matching_behavior": " w6" if i % 2 else " w5"} for i in range(20)]
        f.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return mdir, pdir, tmp_path / "cache"


def test_tiny_sweep_end_to_end_and_read_back(tiny):
    mdir, pdir, cache = tiny
    cfg = FS.ft_config(model=str(mdir), persona_dir=pdir, Ks=(1, 2, 4), mode="full", steps=4,
                       batch_size=8, grad_accum=2, eval_every=2, train_eval_pairs=8,
                       lr=1e-3, cache_dir=cache, device="cpu")
    sw = FS.run_ft_sweep(cfg)
    assert sorted(sw.runs) == [1, 2, 4]
    r = sw.runs[4]
    assert r.steps_logged == [0, 2, 4] and r.test_margins.shape == (3, r.n_test)
    assert np.all(r.test_margins[0] == 0)          # step 0 is the reference
    assert r.n_test == 4 * 2 and r.n_train == 32    # 20 statements: 18/2 split; 4·8 pairs drawn
    v = ft_verdict(sw)
    assert v.status in (Status.CONFIRMED, Status.REFUTED, Status.QUALIFIED, Status.INCONCLUSIVE)
    # a second sweep reads every K back (no training): same numbers
    FS._SWEEPS.clear()
    again = FS.run_ft_sweep(cfg)
    np.testing.assert_array_equal(again.runs[4].test_margins, r.test_margins)
    assert (cfg.run_dir() / "K4" / "ft_summary.json").is_file()


def test_tiny_sweep_resumes_from_checkpoints(tiny, monkeypatch):
    mdir, pdir, cache = tiny
    kw = dict(model=str(mdir), persona_dir=pdir, Ks=(2,), mode="full", steps=4, batch_size=8,
              grad_accum=1, eval_every=2, train_eval_pairs=8, lr=1e-3, device="cpu")
    full = FS.run_ft_sweep(FS.ft_config(cache_dir=cache / "a", **kw)).runs[2]
    assert not (FS.ft_config(cache_dir=cache / "a", **kw).run_dir() / "K2" / "checkpoints").exists()
    # an interrupted run: its checkpoints up to update 2 and nothing after; then resumed
    monkeypatch.setattr(FS, "KEEP_CHECKPOINTS", True)
    cfg = FS.ft_config(cache_dir=cache / "b", **kw)
    FS.run_ft_sweep(cfg)
    out = cfg.run_dir() / "K2"
    import shutil

    shutil.rmtree(out / "checkpoints" / f"step-{4:08d}")
    for f in ("ft_summary.json", "result.json", f"evals/step-{4:08d}.safetensors"):
        (out / f).unlink()
    FS._SWEEPS.clear()
    resumed = FS.run_ft_sweep(cfg).runs[2]
    assert [h["step"] for h in resumed.history] == [1, 2, 3, 4]
    np.testing.assert_allclose(resumed.test_margins, full.test_margins, atol=1e-6)


def test_verdict_inconclusive_when_training_has_not_moved_the_margins():
    # the error would be REFUTED by the old rule (it falls with K), but the train margins did not
    # grow: the test error is the starting model's, so nothing is decided, and the revision says so
    zero = [0.0] * 5
    v = ft_verdict(_sweep([0.45, 0.40, 0.30, 0.20, 0.05], zero, zero))
    assert v.status is Status.INCONCLUSIVE and "did not measurably raise" in v.summary
    assert [r.old_verdict for r in v.revisions] == ["REFUTED"]
    # the same errors after training that moved the margins: decided (REFUTED), no revision
    v = ft_verdict(_sweep([0.45, 0.40, 0.30, 0.20, 0.05], RATES_DOWN, RATES_DOWN))
    assert v.status is Status.REFUTED and not v.revisions
