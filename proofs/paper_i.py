"""Paper I (Im & Li, NeurIPS 2025): the margin dynamics, Theorems 4.2 and 4.3, the Θ(log K)
scaling law and their corollaries, checked on the cluster model.

Every check states its criterion before it runs; the numbers behind each verdict are in its
evidence. The heavy lifting lives in :mod:`dpomath.lastlayer`: ``margins`` (Lemma 4.1's ODE),
``theorem42`` (Theorem 4.2), ``theorem43`` (Theorem 4.3, Q*), ``runs`` (the experiments) and
``derivations`` (Lemma 4.1).
"""
from __future__ import annotations

import math
import random

import numpy as np

from dpomath.lastlayer.theorem42 import LOG3, d_limit, v_limit, z_limit
from dpomath.verify.fidelity import REVIEW, Control, Revision, Scope, control, log_compare
from dpomath.verify.ledger import Verdict, claim

BETA, TAU = 0.01, 1.0  # β and τ only rescale time (τṙ ∝ β²): fixed at the paper's β


def _hyp_settings(n: int):
    from hypothesis import HealthCheck, settings

    return settings(database=None, max_examples=n, deadline=None,
                    suppress_health_check=list(HealthCheck), derandomize=False)


def _find(strategy, predicate, n: int, seed: int, budget: int | None = None):
    """``hypothesis.find`` seeded from the claim's RNG: the shrunk example, or None.

    ``budget`` caps the predicate's calls (generation and shrinking together): past it no
    example counts as failing, so shrinking stops at the smallest failure found by then."""
    from hypothesis import find
    from hypothesis.errors import NoSuchExample

    calls = [0]

    def capped(x):
        calls[0] += 1
        return calls[0] <= (budget or 10 ** 9) and predicate(x)

    try:
        return find(strategy, capped, settings=_hyp_settings(n), random=random.Random(seed))
    except NoSuchExample:
        return None


# ---------------------------------------------------------------- Lemma 4.1

@claim("I-L41", paper="I", place="Lemma 4.1", method="symbolic",
       statement="Under gradient flow on the unembedding W with single-token responses, "
                 "τ ṙ_j = (1/N) Σ_i β² σ(−r_i) (y_w,j − y_l,j)ᵀ(y_w,i − y_l,i) Σ_ij, Σ_ij = g(x_i)ᵀg(x_j); "
                 "a test sample follows the same equation driven by the training σ(−r_i).",
       scope=Scope("SymPy on an instance (|V| = 3, d = 2, N = 3, general f) + the two matrix steps "
                   "for general |V|, d + float64 autograd on random sizes", kind="instance"),
       latex=r"\tau\dot r_j=\frac1N\sum_i\beta^2\sigma(-r_i)(y_{w,j}-y_{l,j})^\top(y_{w,i}-y_{l,i})\Sigma_{ij}")
def check_lemma41(ctx):
    from dpomath.lastlayer.descent import lemma41_autograd_check
    from dpomath.lastlayer.derivations import lemma41_dpo_pair, lemma41_proof
    from dpomath.verify.twins import numeric_twin, random_points

    proof = lemma41_proof()
    lhs, rhs, syms = lemma41_dpo_pair(0)
    ranges = {s: ((0.05, 2.0) if s.name in ("beta", "tau") else (-1.5, 1.5)) for s in syms}
    twin = numeric_twin(lhs, rhs, random_points(syms, ctx.rng, ranges, n=4 if ctx.quick else 16))
    tol = 1e-12  # criterion for the float64 autograd comparison, fixed before the run
    checks = []
    for kind in ("sigmoid", "ipo-margin", "hinge", "exponential"):
        for k in range(2 if ctx.quick else 6):
            checks.append(lemma41_autograd_check(seed=int(ctx.rng.integers(2 ** 31)), loss=kind,
                                                 N=int(ctx.rng.integers(3, 12)),
                                                 V=int(ctx.rng.integers(2, 7)),
                                                 d=int(ctx.rng.integers(1, 6))))
    worst_fast = max(c["max_rel_diff_fast"] for c in checks)
    worst_gram = max(c["max_rel_diff_gram"] for c in checks)
    # test samples: the test margins integrated with the ODE equal β Δyᵀ(W(t) − W0) g_x rebuilt
    # from the accumulated training weights
    from dpomath.lastlayer.margins import solve_margins

    rng = ctx.rng
    X, Xt = rng.standard_normal((12, 5)), rng.standard_normal((7, 5))
    cw, cl = rng.integers(0, 4, 12), rng.integers(4, 6, 12)
    tw, tl = rng.integers(0, 4, 7), rng.integers(4, 6, 7)
    sol = solve_margins(X, cw, cl, beta=0.5, t_end=3.0, test_features=Xt, test_chosen=tw,
                        test_rejected=tl, t_eval=[3.0], track_weights=True)
    dW = sol.delta_W(3.0)
    row = {int(t): i for i, t in enumerate(sol.field.vocab)}
    rebuilt = 0.5 * np.einsum("nd,nd->n", Xt, dW[[row[int(t)] for t in tw]] - dW[[row[int(t)] for t in tl]])
    test_diff = float(np.max(np.abs(rebuilt - sol.test[-1])))
    general = _lemma41_general_steps()
    ok = proof["proved"] and twin["ok"] and worst_fast <= tol and worst_gram <= tol and test_diff <= 1e-9
    from dpomath.verify.twins import identity_controls

    pts = random_points(syms, ctx.rng, ranges, n=4)
    controls = identity_controls({"the instance's RHS with β in place of β² (wrong constant)":
                                  (lhs, rhs / syms[[s.name for s in syms].index("beta")])}, pts)
    dpo_checks = [c for c in checks if c["loss"] == "sigmoid"]
    worst_flip = min(c["max_rel_diff_control_margins_flipped"] for c in dpo_checks)
    controls.append(Control("autograd against DPO's RHS with σ(+r_i) in place of σ(−r_i) (margins' "
                            "sign flipped)", failed=not worst_flip <= tol,
                            measured=f"smallest max rel. diff over {len(dpo_checks)} DPO draws {worst_flip:.2e} "
                                     f"(criterion <= {tol:g})"))
    ev = {"general_|V|_d_partition_cancels": general["partition"],
          "general_|V|_d_dr_dW_equals_beta_dy_gT": general["dr_dW"],"criterion": f"SymPy differences all 0 (general f); 50-digit twin <= 1e-40; autograd "
                       f"vs fast and Gram RHS <= {tol:g} relative; test margins = rebuilt W to 1e-9",
          "partition_cancels": all(p == 0 for p in proof["partition_differences"]),
          "rhs_differences": str(proof["rhs_differences"]),
          "dpo_weight_is_sigma_minus_r": proof["dpo_weight_difference"] == 0,
          "twin_points": twin["twin_points"], "twin_max_rel_diff": twin["twin_max_rel_diff"],
          "autograd_checks": len(checks), "autograd_losses": "sigmoid, ipo-margin, hinge, exponential",
          "autograd_max_rel_diff_fast": worst_fast, "autograd_max_rel_diff_gram": worst_gram,
          "test_margin_vs_rebuilt_W_max_abs_diff": test_diff}
    details = ("SymPy derives the flow in the full softmax model (|V| = 3, d = 2, three samples "
               "sharing tokens, a general margin loss f): the log-partition cancels exactly in "
               "r = β(h_w − h_l), so r_i = βΔy_iᵀ(W − W0)g_i, and the chain rule gives "
               "τṙ_j = (β²/N)Σ_i(−f′(r_i))Δy_jᵀΔy_i g_iᵀg_j with difference 0 for every j; DPO's "
               "−f′ is σ(−r). The reference W0 drops out. `dpomath derive lemma-4.1` prints it. "
               "torch.autograd through log-softmax (random W ≠ W0, shared tokens) agrees with the "
               "O(N·d) right-hand side and the N×N form to rounding.")
    details += (" For general |V| and d SymPy proves the two steps that carry the dimensions: the "
                "log-partition cancels in (z_w − LSE(z)) − (z_l − LSE(z)) (index notation, any |V|) "
                "and ∂r_i/∂W = βΔy_i g_iᵀ (matrix calculus on symbols of size |V| × d); the rest "
                "is the chain rule ṙ_j = ⟨∂r_j/∂W, Ẇ⟩ and the associativity "
                "Δy_jᵀ(Δy_i g_iᵀ)g_j = (Δy_jᵀΔy_i)(g_iᵀg_j), term by term in the sum over N — "
                "elementary, but shown by SymPy only on the instance.")
    if ok and general["partition"] and general["dr_dW"]:
        return Verdict.proved("SymPy reduces ṙ_j − (Lemma 4.1 RHS) to 0 on an instance (|V| = 3, d = 2, "
                              "N = 3, general margin loss f) and the partition and ∂r/∂W steps for "
                              f"general |V|, d; autograd on random sizes agrees to "
                              f"{max(worst_fast, worst_gram):.1e}",
                              evidence=ev, details=details, controls=controls,
                              revisions=[Revision(
                                  old_rule="PROVED 'for a general margin loss' from SymPy on one instance + autograd",
                                  old_verdict="PROVED",
                                  new_rule="PROVED, scoped: SymPy on the instance, the dimension-carrying "
                                           "steps for general |V|, d, autograd on random sizes",
                                  reason=f"{REVIEW}, finding 9: the summary hid the fixed size")])
    if ok:
        return Verdict.inconclusive("the instance and autograd agree but a general-|V|, d step did "
                                    "not reduce", evidence=ev, details=details)
    return Verdict.refuted("Lemma 4.1's right-hand side differs from the derived flow", evidence=ev,
                           details=details)


def _lemma41_general_steps() -> dict:
    """The two steps of Lemma 4.1 that carry |V| and d, for symbolic sizes: the log-partition
    cancels from the margin (index notation), and ∂r/∂W = βΔy gᵀ (matrix calculus)."""
    import sympy as sp

    from dpomath.verify.twins import reduces_to_zero

    V, d = sp.symbols("V d", integer=True, positive=True)
    j, p, n = sp.symbols("j p n", integer=True)
    z = sp.IndexedBase("z")
    lse = sp.log(sp.Sum(sp.exp(z[j]), (j, 0, V - 1)))
    partition = reduces_to_zero((z[p] - lse) - (z[n] - lse) - (z[p] - z[n]))
    W, W0 = sp.MatrixSymbol("W", V, d), sp.MatrixSymbol("W0", V, d)
    dy, g = sp.MatrixSymbol("Dy", V, 1), sp.MatrixSymbol("g", d, 1)
    beta = sp.Symbol("beta", positive=True)
    dr = sp.diff(beta * sp.Trace(dy.T * (W - W0) * g), W)
    diff = sp.simplify(dr - beta * dy * g.T)
    return {"partition": partition, "dr_dW": bool(diff == 0 or getattr(diff, "is_ZeroMatrix", False))}


# ---------------------------------------------------------------- Theorem 4.2

def _closed_form_proof() -> dict:
    """r + e^r = 1 + a t solves ṙ = a σ(−r), r(0) = 0 — parametrised by w = e^r (w = W(e^c))."""
    import sympy as sp

    w, a = sp.symbols("w a", positive=True)
    t_of_w = (w + sp.log(w) - 1) / a          # c = 1 + a t = w + log w  ⇔  w = W(e^c)
    r_of_w = sp.log(w)
    ode = sp.simplify(sp.diff(r_of_w, w) / sp.diff(t_of_w, w) - a / (1 + sp.exp(r_of_w)))
    implicit = sp.simplify(r_of_w + sp.exp(r_of_w) - (1 + a * t_of_w))
    start = (t_of_w.subs(w, 1), r_of_w.subs(w, 1))
    # mean field: every sample at its cluster mean, one pair: τṙ = (β²/N)Σ ... = (2β²/K)σ(−r)
    Q, K, lb, beta, tau = sp.symbols("Q K l_b beta tau", positive=True)
    N = 2 * K * Q
    pair_sum = Q * 2 * (1 + lb ** 2) + Q * (-2) * (-1 + lb ** 2)   # same cluster + swapped cluster
    mean_field = sp.simplify(beta ** 2 / N * pair_sum - 4 * beta ** 2 / (2 * K))
    return {"ode_difference": ode, "implicit_difference": implicit, "t_at_w1": start[0],
            "r_at_w1": start[1], "mean_field_rate_difference": mean_field,
            "proved": ode == 0 and implicit == 0 and start == (0, 0) and mean_field == 0}


def _closed_form_twin(rng, n: int) -> float:
    """Numeric twin at 50 digits: r = c − W(e^c) satisfies r + e^r = c at random c ∈ (1, 30)."""
    import mpmath as mp

    worst = mp.mpf(0)
    with mp.workdps(50):
        for c in rng.uniform(1.0, 30.0, n):
            c = mp.mpf(float(c))
            r = c - mp.lambertw(mp.exp(c)).real
            worst = max(worst, abs(r + mp.exp(r) - c))
    return float(worst)


@claim("I-T42", paper="I", place="Theorem 4.2", method="property",
       statement="If Z ≤ 1/(4 l_b²), d ≤ 5Q, v ≤ 1/(32√Q), 1/4 ≤ l_b ≤ 1/2, then with probability at "
                 "least 1 − 8KQ^{9/4}exp(−min(c√Q/5, Q^{3/4}/256)) every training margin satisfies "
                 "r_L(t) ≤ r_i(t) ≤ r_U(t) for t ≤ τ1 (r_L = β²t/(8Kτ), r_U = 5β²t/(Kτ), "
                 "τ1 = Kτ log 3/(5β²)); at τ1 every margin lies in [log 3/40, log 3].",
       latex=r"\frac{\beta^2t}{8K\tau}\le r_i(t)\le\frac{5\beta^2t}{K\tau},\ t\le\tau_1=\frac{K\tau\log3}{5\beta^2}")
def check_theorem42(ctx):
    from dpomath.lastlayer.theorem42 import probability_bound_nonvacuous_Q, typical_margin
    from dpomath.lastlayer.runs import theorem42_outcome
    from dpomath.strategies import theorem42_params

    quick = ctx.quick
    n_in, n_out = (20, 12) if quick else (150, 100)
    bounds = dict(max_K=3, max_Q=6, max_d=40) if quick else dict(max_K=5, max_Q=16, max_d=80)
    criterion = (f"zero violations of r_L <= r_i <= r_U on a 65-point grid of [0, tau1] (and of the "
                 f"initial slopes), and of r(tau1) in [log3/40, log3], among {n_in} Hypothesis draws "
                 "inside the conditions (solve_ivp DOP853 rtol 1e-9, atol 1e-13)")
    from dpomath.lastlayer.theorem42 import tau1

    rstar = float(typical_margin(tau1(1, BETA, TAU), 1, BETA, TAU))
    stats = {"n": 0, "lo": np.inf, "hi": -np.inf, "rmin": np.inf, "rmax": -np.inf, "s0min": np.inf,
             "s0max": -np.inf, "dev": 0.0}

    def violates_inside(p):
        o = theorem42_outcome(**p, beta=BETA, tau=TAU)
        stats["n"] += 1
        stats["lo"] = min(stats["lo"], o.min_ratio_to_r_L)
        stats["hi"] = max(stats["hi"], o.max_ratio_to_r_U)
        stats["rmin"] = min(stats["rmin"], o.r_tau1_min)
        stats["rmax"] = max(stats["rmax"], o.r_tau1_max)
        stats["s0min"] = min(stats["s0min"], o.slope0_min)
        stats["s0max"] = max(stats["s0max"], o.slope0_max)
        stats["dev"] = max(stats["dev"], abs(o.r_tau1_min - rstar) / rstar,
                           abs(o.r_tau1_max - rstar) / rstar)
        return not o.ok

    seed = int(ctx.rng.integers(2 ** 31))
    inside = _find(theorem42_params(**bounds), violates_inside, n_in, seed)
    outside = {}
    out_bounds = dict(max_K=3, max_Q=4, max_d=40)  # failures live at small Q; keeps runs cheap
    for name in ("Z", "d", "v", "l_b"):
        strat = theorem42_params(**out_bounds, break_condition=name, max_d_broken=40000)
        ex = _find(strat, lambda p: not theorem42_outcome(**p, beta=BETA, tau=TAU, grid=33).ok,
                   n_out, int(ctx.rng.integers(2 ** 31)), budget=n_out + (40 if quick else 300))
        if ex is None:
            outside[name] = None
        else:
            o = theorem42_outcome(**ex, beta=BETA, tau=TAU)
            failed = [k for k in ("ok_lower", "ok_upper", "ok_window") if not getattr(o, k)]
            outside[name] = {**ex, "failed": ",".join(f[3:] for f in failed),
                             "slope0_max": o.slope0_max, "slope0_min": o.slope0_min,
                             "max_ratio_to_r_U": o.max_ratio_to_r_U,
                             "min_ratio_to_r_L": o.min_ratio_to_r_L,
                             "r_tau1_min": o.r_tau1_min, "r_tau1_max": o.r_tau1_max}
    cf = _closed_form_proof()
    cf_twin = _closed_form_twin(ctx.rng, 8 if quick else 32)
    ev = {"criterion": criterion, "draws_inside": stats["n"],
          "violation_inside": inside is not None,
          "r_tau1_min_observed": stats["rmin"], "r_tau1_max_observed": stats["rmax"],
          "lower_window": LOG3 / 40, "upper_window": LOG3,
          "tightness_lower_factor": stats["rmin"] / (LOG3 / 40),
          "tightness_upper_factor": LOG3 / stats["rmax"],
          "min_ratio_r_over_r_L": stats["lo"], "max_ratio_r_over_r_U": stats["hi"],
          "initial_slope_K_tau_rdot_over_beta2_range": [stats["s0min"], stats["s0max"]],
          "theorem_slope_range": [1 / 8, 5],
          "typical_margin_closed_form": rstar,
          "typical_margin_formula": "r* = c - omega(c), c = 1 + (2/5) log 3 (r + e^r = 1 + 2 beta^2 t/(K tau))",
          "max_rel_dev_from_closed_form": stats["dev"],
          "closed_form_proved": cf["proved"],
          "closed_form_twin_max_abs_residual_50_digits": cf_twin,
          "probability_bound_vacuous_below_Q_K1": probability_bound_nonvacuous_Q(1),
          "probability_bound_vacuous_below_Q_K16": probability_bound_nonvacuous_Q(16),
          "Z_condition_reading": "Z <= 1/(4 l_b^2) (in [1, 4] for l_b in [1/4, 1/2]); "
                                 "'Z <= (1/4) l_b^2' would be <= 1/16 < 1 and admit no Z >= 1",
          "search_bounds_inside": str(bounds), "search_bounds_outside": str(out_bounds),
          "draws_outside_per_condition": n_out}
    for name, ce in outside.items():
        ev[f"broken_{name}_counterexample_found"] = ce is not None
        if ce is not None:
            ev[f"broken_{name}_counterexample"] = str({k: (round(v, 6) if isinstance(v, float) else v)
                                                       for k, v in ce.items()})
    figs = []
    path = ctx.figure_path("paper_i_margin_trajectories.png")
    if path is not None:
        figs.append(str(_figure_trajectories(path, quick)))
    found = [n for n, c in outside.items() if c is not None]
    details = (
        f"Inside the conditions no draw broke the conclusion; the margins at τ1 lie in "
        f"[{stats['rmin']:.4f}, {stats['rmax']:.4f}], {stats['rmin'] / (LOG3 / 40):.1f}× above "
        f"log 3/40 and {LOG3 / stats['rmax']:.1f}× below log 3. A tighter closed form, proved "
        f"with SymPy: with every sample at its cluster mean all margins obey τṙ = (2β²/K)σ(−r) "
        f"exactly (the swapped cluster of a pair pushes the same way, other pairs cancel), so "
        f"r + e^r = 1 + 2β²t/(Kτ) and r(τ1) = c − ω(c), c = 1 + (2/5)log 3, = {rstar:.4f}; the "
        f"sampled margins stay within {100 * stats['dev']:.2f}% of it. The initial slopes "
        f"Kτṙ(0)/β² lie in [{stats['s0min']:.3f}, {stats['s0max']:.3f}] (theorem: [1/8, 5]); "
        f"their mean is 1 + v²d/(2Q) (I-RATE-THEORY), so r_U fails exactly when v²d ≳ 8Q — the "
        f"conditions give v²d ≤ 5/1024. The probability 1 − 8KQ^{{9/4}}e^{{−min(c√Q/5, Q^{{3/4}}/256)}} "
        f"is ≤ 0 for Q < {probability_bound_nonvacuous_Q(1)} (K = 1) whatever c, so the theorem "
        f"itself promises nothing at the Q anyone simulates; the window holds anyway. Searching "
        f"outside, one condition broken at a time, Hypothesis shrank counterexamples for "
        f"{', '.join(found) or 'none'}; for "
        f"{', '.join(n for n in outside if outside[n] is None) or 'none'} it found none, so those "
        f"conditions are not needed in the searched range.")
    if inside is not None:
        o = theorem42_outcome(**inside, beta=BETA, tau=TAU)
        return Verdict.inconclusive(
            "the window failed inside the conditions, but the theorem's probability is vacuous there",
            evidence=ev, counterexample=inside, figures=figs, details=details + f" Failure: {o.to_dict()}")
    lo_f, hi_f = stats["rmin"] / (LOG3 / 40), LOG3 / stats["rmax"]
    controls = [
        control("window lower edge ten times higher: every r(τ1) >= log 3/4", stats["rmin"] >= LOG3 / 4,
                f"smallest r(τ1) {stats['rmin']:.4f} vs {LOG3 / 4:.4f}"),
        control("window upper edge ten times lower: every r(τ1) <= log 3/10", stats["rmax"] <= LOG3 / 10,
                f"largest r(τ1) {stats['rmax']:.4f} vs {LOG3 / 10:.4f}")]
    controls += [Control(f"the same check with the {name} condition broken", failed=True,
                         measured=f"counterexample: {ev[f'broken_{name}_counterexample']}")
                 for name in found]
    return Verdict.confirmed(
        f"no violation in {stats['n']} draws inside the conditions; r(τ1) ∈ "
        f"[{stats['rmin']:.3f}, {stats['rmax']:.3f}] ≈ closed form {rstar:.4f}; low power: the "
        f"window is {lo_f:.1f}× (below) and {hi_f:.1f}× (above) looser than the margins, so the "
        f"sharp result is the closed form; outside, counterexamples for {', '.join(found) or 'no condition'}",
        evidence=ev, counterexample={n: c for n, c in outside.items() if c is not None} or None,
        figures=figs, details=details, controls=controls,
        scope=Scope(f"sampled: Hypothesis draws K ≤ {bounds['max_K']}, Q ≤ {bounds['max_Q']}, "
                    f"d ≤ {bounds['max_d']} inside the conditions (where the theorem's probability "
                    "bound is vacuous)", kind="sampled"))


def _figure_trajectories(path, quick: bool):
    from dpomath.lastlayer.clusters import sample_clusters
    from dpomath.lastlayer.theorem42 import tau1
    from dpomath.lastlayer.margins import solve_margins
    from dpomath.plots.paper_i import margin_trajectories

    Q = 8 if quick else 20
    curves = {}
    for K in (1, 2, 4, 8, 16):
        data = sample_clusters(K, Q, max(K + 1, d_limit(Q)), v=v_limit(Q), l_b=0.25, seed=K)
        T = tau1(K, BETA, TAU)
        ts = np.linspace(0, 1.5 * T, 80)
        sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU,
                            t_end=ts[-1], t_eval=ts, rtol=1e-8, atol=1e-12)
        curves[K] = {"t": ts, "min": sol.train.min(1), "mean": sol.train.mean(1), "max": sol.train.max(1)}
    return margin_trajectories(curves, BETA, TAU, path)


# ---------------------------------------------------------------- Theorem 4.3

@claim("I-T43", paper="I", place="Theorem 4.3", method="numeric",
       statement="Under Theorem 4.2's conditions and Q ≥ 40, the population risk at τ1 satisfies "
                 "R(P) ≤ 2KQ²e^{−Q/45}.",
       latex=r"\mathcal R(\mathcal P)\le 2KQ^2e^{-Q/45}")
def check_theorem43(ctx):
    from dpomath.lastlayer.runs import mc_risk
    from dpomath.lastlayer.theorem43 import vacuous_below

    if ctx.quick:
        Ks, Qs, draws, ntest = (1, 4), (10, 40, 200, 800), 1, 500
    else:
        Ks, Qs, draws, ntest = (1, 4, 16), (10, 40, 100, 400, 800, 1200), 3, 2000
    criterion = ("at every grid point with Q >= 40 and a non-vacuous bound (< 1), every draw's "
                 "exact conditional risk (Gaussian identity) is <= 2KQ^2 e^{-Q/45}, and no "
                 "Clopper-Pearson 95% lower limit exceeds the bound; at every grid point the exact "
                 "risk lies inside the Monte-Carlo count's 95% interval (the identity checked)")
    rows, ok, consistent, refuted = [], True, True, False
    seed = int(ctx.rng.integers(2 ** 31))
    for K in Ks:
        for Q in Qs:
            r = mc_risk(K, Q, draws=draws, test_per_cluster=ntest, seed=seed)
            rows.append(r)
            consistent &= r["cp_low"] <= r["risk_exact_mean"] <= r["cp_high"]
            if Q >= 40 and not r["bound_vacuous"]:
                over = 10 ** r["log10_risk_exact_max"] > r["bound"] or r["cp_low"] > r["bound"]
                refuted |= over
                ok &= not over
    ev = {"criterion": criterion, "grid_K": list(Ks), "grid_Q": list(Qs), "draws": draws,
          "test_per_cluster": ntest, "d": "min(5Q, 64), at least K + 1", "v": "1/(32 sqrt Q)",
          "total_errors": sum(r["errors"] for r in rows),
          "total_test_samples": sum(r["n_test"] for r in rows),
          "exact_risk_inside_mc_intervals": consistent,
          "mc_resolves_bound_at": [f"K{r['K']}_Q{r['Q']}" for r in rows
                                   if not r["bound_vacuous"] and r["cp_high"] <= r["bound"]]}
    for K in Ks:
        ev[f"bound_vacuous_below_Q_K{K}"] = vacuous_below(K)
    for r in rows:
        tag = f"K{r['K']}_Q{r['Q']}"
        ev[f"log10_risk_exact_{tag}"] = r["log10_risk_exact_mean"]
        ev[f"cp_high_{tag}"] = r["cp_high"]
        ev[f"bound_{tag}"] = r["bound"]
    gaps = [math.log10(r["bound"]) - r["log10_risk_exact_mean"] for r in rows if not r["bound_vacuous"]]
    ev["min_gap_log10_bound_minus_log10_risk_nonvacuous"] = min(gaps) if gaps else None
    figs = []
    path = ctx.figure_path("paper_i_risk_vs_bound.png")
    if path is not None:
        from dpomath.plots.paper_i import risk_vs_bound
        figs.append(str(risk_vs_bound(rows, path)))
    details = (
        "R(P) is the population risk of the trained model: a fresh sample's margin is linear in "
        "its features, so on a cluster it is exactly Gaussian and the conditional risk "
        "Φ(−a·μ/(v‖a‖)) is computed exactly (log Φ), beside a Monte-Carlo count of fresh "
        "samples with an exact Clopper–Pearson interval. At the edge of the conditions "
        "(v = 1/(32√Q)) the class means sit about 1/v = 32√Q standard deviations from the "
        "decision boundary, so R(P) ≈ Φ(−32√Q): about 10^−225 already at Q = 1. The bound is "
        f"vacuous (≥ 1) for Q below {', '.join(str(vacuous_below(K)) + f' (K = {K})' for K in Ks)}; "
        "where it is not, it exceeds the risk by thousands of orders of magnitude. It holds, "
        "and says nothing the dynamics do not say more sharply.")
    # Negative controls: the same comparison against deliberately false bounds (log10 scale),
    # and with the noise far outside the conditions.
    nonvac = [r for r in rows if r["Q"] >= 40 and not r["bound_vacuous"]]

    def holds_with(log10_bound) -> bool:
        return all(r["log10_risk_exact_max"] <= log10_bound(r["K"], r["Q"]) for r in nonvac)

    lb = lambda K, Q, c=1.0, f=1.0: (math.log10(2 * K * Q ** 2 * f) - c * Q / (45 * math.log(10)))  # noqa: E731
    controls = [control(f"bound {lab}", holds_with(fn), "exact risk vs the variant at every non-vacuous grid point")
                for lab, fn in (("ten times tighter (B/10)", lambda K, Q: lb(K, Q) - 1),
                                ("with a ten times steeper exponent, 2KQ²e^{−10Q/45}", lambda K, Q: lb(K, Q, 10)),
                                ("with a 1000 times steeper exponent, 2KQ²e^{−1000Q/45}", lambda K, Q: lb(K, Q, 1000)))]
    vb = mc_risk(1, 800, v=1.0, draws=1, test_per_cluster=ntest, seed=seed)
    ev["control_v1_K1_Q800_risk_exact"] = vb["risk_exact_mean"]
    ev["control_v1_K1_Q800_cp"] = [vb["cp_low"], vb["cp_high"]]
    controls.append(control("noise v = 1 (about 900× the condition's 1/(32√Q)) at K = 1, Q = 800, d = 64",
                            vb["risk_exact_mean"] <= vb["bound"] and vb["cp_low"] <= vb["bound"],
                            f"exact risk {vb['risk_exact_mean']:.3f}, CP low {vb['cp_low']:.3f} vs bound {vb['bound']:.3f}"))
    gap = ev["min_gap_log10_bound_minus_log10_risk_nonvacuous"]
    if ok and consistent:
        return Verdict.confirmed(
            f"holds trivially where the bound is non-vacuous: R(P) ≤ bound with the bound ≥ 10^{gap:.0f}× "
            f"the exact risk (≤ 10^{max((r['log10_risk_exact_max'] for r in nonvac), default=float('nan')):.0f} there); "
            f"{ev['total_errors']} errors in {ev['total_test_samples']} fresh samples; the bound is "
            f"vacuous below Q ≈ {min(vacuous_below(K) for K in Ks)}",
            evidence=ev, figures=figs, details=details, controls=controls,
            establishes=(f"that R(P) ≤ 2KQ²e^{{−Q/45}} wherever the bound is < 1, with a slack of at least "
                         f"10^{gap:.0f}: of the false bounds, "
                         + (", ".join(c.variant for c in controls[:3] if not c.failed) or "none")
                         + " hold too; "
                         + ("; ".join(c.variant for c in controls if c.failed) or "nothing")
                         + " breaks it. It says nothing the dynamics (I-T42, R(P) ≈ Φ(−32√Q)) do not "
                           "say more sharply."),
            scope=Scope(f"numeric: K ∈ {{{', '.join(map(str, Ks))}}}, Q ∈ {{{', '.join(map(str, Qs))}}}, "
                        "d = min(5Q, 64), v at the edge of the conditions (exact Gaussian risk + Monte Carlo)",
                        kind="sampled"),
            revisions=[Revision(
                old_rule="CONFIRMED if the exact risk <= bound at every non-vacuous grid point",
                old_verdict="CONFIRMED",
                new_rule="the same rule, with negative controls (tighter and steeper bounds, noise outside "
                         "the conditions) and the slack stated: the check has power only against "
                         "bounds thousands of orders of magnitude tighter",
                reason=f"{REVIEW}, finding 7: a check that cannot fail reported as a confirmation")])
    if refuted:
        return Verdict.refuted("R(P) exceeded the bound at a non-vacuous grid point", evidence=ev,
                               figures=figs, details=details)
    return Verdict.inconclusive("the exact risk fell outside the Monte-Carlo interval: the "
                                "Gaussian identity is in doubt", evidence=ev, figures=figs,
                                details=details)


# ---------------------------------------------------------------- the scaling law

def _pair0_invariance(Ks, Q: int, d: int, v: float, seed: int) -> float:
    """Largest difference between pair 0's margins at τ1(K) across K (same seed, Z = 1)."""
    from dpomath.lastlayer.clusters import sample_clusters
    from dpomath.lastlayer.theorem42 import tau1
    from dpomath.lastlayer.margins import solve_margins

    ref, worst = None, 0.0
    for K in Ks:
        data = sample_clusters(K, Q, d, v=v, l_b=0.25, seed=seed)
        T = tau1(K, BETA, TAU)
        sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU,
                            t_end=T, t_eval=[T], rtol=1e-11, atol=1e-14)
        m = sol.train[-1][data.pair == 0]
        if ref is None:
            ref = m
        worst = max(worst, float(np.max(np.abs(m - ref))))
    return worst


@claim("I-LOGK", paper="I", place="Section 4 (scaling law)", method="symbolic",
       statement="To hold the generalisation error fixed, the samples per value Q must grow as Θ(log K).",
       latex=r"Q^*(K,\varepsilon)=\Theta(\log K)")
def check_logk(ctx):
    import mpmath as mp

    from dpomath.lastlayer.theorem43 import logk_asymptotics, q_star_real
    from dpomath.lastlayer.runs import mc_risk

    proof = logk_asymptotics()
    # numeric twin: the Lambert-W root lies in the bracket at 50 digits
    inside, ratios = True, {}
    for K in (10, 10 ** 3, 10 ** 6, 10 ** 12):
        for eps in (0.05, 0.01):
            q = q_star_real(K, eps)
            L = math.log(2 * K / eps)
            with mp.workdps(50):
                Lm = mp.log(2 * mp.mpf(K) / mp.mpf(eps))
                lo = 45 * Lm + 90 * mp.log(45 * Lm)
                hi = lo + 180 * mp.log(45 * Lm) / (Lm - 2)
                inside &= bool(lo < q < hi)
            ratios[f"Q_real_over_logK_K1e{round(math.log10(K))}_eps{eps}"] = float(q) / math.log(K)
    # the risk itself: K-invariant at fixed Q (Z = 1)
    Ks = (1, 2, 4, 8) if ctx.quick else (1, 2, 4, 8, 16)
    inv = _pair0_invariance(Ks, Q=6, d=24, v=0.3, seed=int(ctx.rng.integers(2 ** 31)))
    draws = 6 if ctx.quick else 24
    risk = {K: mc_risk(K, 10, d=32, v=0.5, draws=draws, test_per_cluster=200 if ctx.quick else 500,
                       seed=int(ctx.rng.integers(2 ** 31))) for K in (Ks[0], Ks[-1])}
    r1, rK = risk[Ks[0]], risk[Ks[-1]]
    gap = abs(r1["risk_exact_mean"] - rK["risk_exact_mean"])
    gap_se = math.hypot(r1["risk_exact_se"], rK["risk_exact_se"])
    overlap = gap <= 4 * gap_se
    criterion = ("bound: every SymPy step reduces (differences 0, limits 45 and the constant) and "
                 "the Lambert-W root lies in [Q_lo, Q_hi] at 50 digits; risk: pair 0's margins at "
                 "tau1(K) agree across K to 1e-8 and the mean exact R(P) over training draws at "
                 f"K = {Ks[0]} and K = {Ks[-1]} (Q = 10, v = 0.5, d = 32) differ by at most 4 "
                 "between-draw standard errors")
    ev = {"criterion": criterion, "proved_bound_asymptotics": proof["proved"],
          "leading_term": "45 log K", "next_term": "90 log log K",
          "constant": "45 log(2/eps) + 90 log 45", "remainder": "O(log log K / log K) + [0, 1)",
          "lambert_root_in_bracket": inside, **ratios,
          "pair0_margin_max_diff_across_K": inv,
          f"risk_K{Ks[0]}": r1["risk_mc"], f"risk_K{Ks[0]}_cp": [r1["cp_low"], r1["cp_high"]],
          f"risk_K{Ks[-1]}": rK["risk_mc"], f"risk_K{Ks[-1]}_cp": [rK["cp_low"], rK["cp_high"]],
          f"risk_exact_mean_K{Ks[0]}": r1["risk_exact_mean"],
          f"risk_exact_mean_K{Ks[-1]}": rK["risk_exact_mean"],
          f"risk_exact_se_K{Ks[0]}": r1["risk_exact_se"], f"risk_exact_se_K{Ks[-1]}": rK["risk_exact_se"],
          "risk_gap_in_standard_errors": gap / gap_se if gap_se > 0 else 0.0,
          "risk_K_invariant_within_4_se": overlap}
    Kq = [1, 2, 4, 8, 16] if ctx.quick else [1, 2, 4, 8, 16, 32, 64, 100]
    emp = _empirical_q(Kq, 0.05, int(ctx.rng.integers(2 ** 31)))
    from dpomath.lastlayer.theorem43 import q_star

    ev["empirical_Q_eps0.05"] = {str(e["K"]): e["Q"] for e in emp}
    ev["empirical_Q_is_smallest_allowed"] = all(e["Q_min_allowed"] for e in emp)
    ev["empirical_log10_risk_max"] = max(e["log10_risk_exact"] for e in emp)
    ev["bound_Q_star_eps0.05"] = {str(K): q_star(K, 0.05).Q_star for K in Kq}
    figs = []
    path = ctx.figure_path("paper_i_qstar_vs_empirical.png")
    if path is not None:
        figs.append(str(_figure_qstar(path, emp, Kq)))
    details = (
        "For the bound the law is exact: B(K, Q) = 2KQ²e^{−Q/45} ≤ ε ⇔ g(Q) = log(2K/ε) + 2 log Q "
        "− Q/45 ≤ 0, g decreases past Q = 90, and SymPy shows g(Q_lo) > 0 > g(Q_hi) for Q_lo = 45L + "
        "90 log(45L), Q_hi = Q_lo + 180 log(45L)/(L − 2), L = log(2K/ε); both brackets → "
        "45 log K + 90 log log K + 45 log(2/ε) + 90 log 45. So Q* = 45 log K + 90 log log K + O(1): "
        "Θ(log K) with constant 45. But the law is the bound's, not the risk's: with each value "
        "using its own tokens (Z = 1) the pairs' dynamics decouple exactly (disjoint rows of W) "
        "and N = 2KQ only rescales time, which τ1 ∝ K undoes — pair 0's margins at τ1 are the "
        f"same for every K (largest difference {inv:.1e}), so E R(P) at τ1 does not depend on K "
        "at all. Where the risk is not negligible (v = 0.5, outside Theorem 4.2) the Monte-Carlo "
        f"risk at K = {Ks[0]} and K = {Ks[-1]} is {r1['risk_mc']:.4f} vs {rK['risk_mc']:.4f} (exact "
        f"conditional risk averaged over training draws: {r1['risk_exact_mean']:.4f} ± "
        f"{r1['risk_exact_se']:.4f} vs {rK['risk_exact_mean']:.4f} ± {rK['risk_exact_se']:.4f}). "
        "The factor K in the bound comes from a union bound over clusters; holding the risk "
        "fixed needs no growth of Q with K in this model. Inside Theorem 4.2's conditions the "
        "simulated Q reaching ε = 0.05 is simply the smallest Q the conditions allow, "
        "⌈(K + 1)/5⌉ (from d ≥ K + 1 and d ≤ 5Q), with R(P) below 1e-200 there — against "
        "Q* ≈ 760–1000 from the bound for K = 1…100.")
    ok_bound = proof["proved"] and inside
    # The theorem's own hypotheses: d >= K + 1 (orthogonal c_i, b ⟂ c_i) and d <= 5Q force
    # Q >= ⌈(K + 1)/5⌉, which overtakes Q*(K, ε) at a finite K: the guarantee then needs Θ(K).
    from dpomath.lastlayer.theorem42 import probability_bound_nonvacuous_Q
    from dpomath.lastlayer.theorem43 import conditions_floor, conditions_overtake

    cross = {eps: conditions_overtake(eps) for eps in (0.05, 0.01)}
    pvac = {K: probability_bound_nonvacuous_Q(K) for K in (1, 10, 100)}
    ev.update({"conditions_floor_Q>=ceil((K+1)/5)": {str(K): conditions_floor(K) for K in (10, 100, 10 ** 4, 10 ** 6)},
               "floor_overtakes_Q_star_from_K_eps0.05": cross[0.05]["K_integer"],
               "floor_overtakes_Q_star_real_crossing_K_eps0.05": cross[0.05]["K_real"],
               "floor_overtakes_Q_star_from_K_eps0.01": cross[0.01]["K_integer"],
               "theorem42_probability_vacuous_below_Q": {str(K): q for K, q in pvac.items()}})
    # at fixed Z = 4 (shared tokens) the risk does not grow with K either (K = 4 → 16)
    rz = {K: mc_risk(K, 10, d=32, v=0.5, Z=4, draws=draws, test_per_cluster=200 if ctx.quick else 500,
                     seed=int(ctx.rng.integers(2 ** 31))) for K in (4, 16)}
    z_gap = (rz[16]["risk_exact_mean"] - rz[4]["risk_exact_mean"]) / max(
        math.hypot(rz[4]["risk_exact_se"], rz[16]["risk_exact_se"]), 1e-300)
    ev.update({"risk_Z4_K4_exact_mean": rz[4]["risk_exact_mean"], "risk_Z4_K16_exact_mean": rz[16]["risk_exact_mean"],
               "risk_Z4_K16_minus_K4_in_se": z_gap, "risk_Z4_not_growing_within_4_se": z_gap <= 4})
    details += (
        f" **The theorem's own hypotheses.** Orthogonal c_1..c_K with b ⟂ c_i need d ≥ K + 1, and "
        f"Theorem 4.2 needs d ≤ 5Q, so it applies only for Q ≥ ⌈(K + 1)/5⌉ — linear in K. That floor "
        f"exceeds Q*(K, 0.05) from K = {cross[0.05]['K_integer']:,} on (real crossing K ≈ "
        f"{cross[0.05]['K_real']:,}; ε = 0.01: K = {cross[0.01]['K_integer']:,}), so the sample size "
        f"the theorems guarantee anything for is max(Q*, ⌈(K + 1)/5⌉) = Θ(K) asymptotically: "
        f"Θ(log K) describes the bound only while K ≲ {cross[0.05]['K_real']:,}. Moreover Theorem "
        f"4.2's probability 1 − 8KQ^{{9/4}}e^{{−min(c√Q/5, Q^{{3/4}}/256)}} is ≤ 0 for Q < "
        f"{pvac[1]:,} (K = 1), {pvac[10]:,} (K = 10), {pvac[100]:,} (K = 100): at every Q ≈ 900 "
        "the training guarantee the bound rests on is itself vacuous. At fixed Z = 4 (shared "
        f"tokens) the model's risk does not grow from K = 4 to 16 either ({rz[4]['risk_exact_mean']:.4f} "
        f"vs {rz[16]['risk_exact_mean']:.4f}); it grows only if Z grows with K, which breaks "
        "Z ≤ 1/(4l_b²).")
    if ok_bound and inv <= 1e-8 and overlap:
        return Verdict.qualified(
            f"Θ(log K) holds for the bound's Q* (proved: Q* = 45 log K + 90 log log K + O(1)) only "
            f"while K ≲ {cross[0.05]['K_real']:,}: the theorem's own conditions force Q ≥ (K + 1)/5, "
            f"so the guarantee needs Θ(K) beyond; Theorem 4.2's probability is vacuous below "
            f"Q ≈ {pvac[1]:.1e}; the model's risk at fixed Q does not grow with K (Z = 1 exactly"
            + (", Z = 4 measured)" if z_gap <= 4 else f"; at Z = 4 it grew by {z_gap:.1f} SE)"),
            evidence=ev, figures=figs, details=details,
            counterexample={"Q": 10, "v": 0.5, "d": 32, f"risk_K{Ks[0]}": r1["risk_mc"],
                            f"risk_K{Ks[-1]}": rK["risk_mc"], "pair0_max_diff": inv,
                            "K_where_(K+1)/5_exceeds_Q_star": cross[0.05]["K_integer"]},
            scope=Scope("the bound (exact, 50 digits) + the theorem's conditions + the cluster model "
                        f"(Z = 1 exact, Z = 4 sampled, K ≤ {Ks[-1]})", kind="bound"),
            revisions=[Revision(
                old_rule="QUALIFIED: Θ(log K) proved for the bound's Q*, the model's risk K-invariant",
                old_verdict="QUALIFIED",
                new_rule="the same, with the conditions the theorem itself imposes: Q ≥ ⌈(K+1)/5⌉ "
                         "(overtakes Q* at a computed K) and the vacuity of Theorem 4.2's probability",
                reason=f"{REVIEW}, finding 6: too lenient to the paper")])
    if ok_bound:
        return Verdict.proved("Q*(K, ε) = 45 log K + 90 log log K + O(1) for the bound; the risk "
                              "did grow with K in the model", evidence=ev, figures=figs, details=details)
    return Verdict.inconclusive("a step of the asymptotic proof did not reduce", evidence=ev,
                                figures=figs, details=details)


def _empirical_q(Ks, eps: float, seed: int) -> list[dict]:
    from dpomath.lastlayer.runs import empirical_q

    return [empirical_q(K, eps, draws=2, seed=seed) for K in Ks]


def _figure_qstar(path, emp: list[dict], Ks):
    from dpomath.plots.paper_i import qstar_vs_empirical
    from dpomath.lastlayer.theorem43 import q_star

    qb = {eps: [q_star(K, eps).Q_star for K in Ks] for eps in (0.05, 0.01)}
    worst = max(e["log10_risk_exact"] for e in emp)
    return qstar_vs_empirical(Ks, qb, [e["Q"] for e in emp], path,
                              note=f"simulated at ε = 0.05: exact R(P) ≤ 1e{worst:.0f} at the smallest Q the conditions allow")


@claim("I-875", paper="I", place="Section 4, Figure 4", method="numeric",
       statement="When K = 10, more than 875 samples per value are required for near-zero "
                 "generalisation error (Figure 4: error < 0.05).",
       latex=r"Q^*(10, 0.05) > 875")
def check_875(ctx):
    from dpomath.lastlayer.theorem43 import q_star, risk_bound
    from dpomath.lastlayer.runs import risk_at_tau1

    qs = {eps: q_star(10, eps) for eps in (0.1, 0.05, 0.01)}
    b875 = risk_bound(10, 875)
    # the model itself at the smallest Q Theorem 4.2 admits for K = 10 (d ≥ 11 needs Q ≥ 3)
    Q = 3
    runs = [risk_at_tau1(10, Q, 11, v_limit(Q), seed=int(s), beta=BETA,
                         test_per_cluster=500 if ctx.quick else 5000)
            for s in ctx.rng.integers(0, 2 ** 31, 2 if ctx.quick else 8)]
    errors = sum(r["errors"] for r in runs)
    n = sum(r["n_test"] for r in runs)
    from dpomath.verify.stats import clopper_pearson

    lo, hi = clopper_pearson(errors, n)
    criterion = ("the statement holds of the bound if Q*(10, 0.05) > 875; it is a requirement of "
                 "DPO only if the simulated risk at Q <= 875 is not near zero (CP 95% upper > 0.05)")
    ev = {"criterion": criterion, "Q_star_eps0.1": qs[0.1].Q_star,
          "Q_star_eps0.05": qs[0.05].Q_star, "Q_star_eps0.01": qs[0.01].Q_star,
          "Q_real_eps0.05": qs[0.05].Q_real, "bound_at_875": b875,
          "more_than_875_for_eps_below": b875,
          "bound_at_Q_star_eps0.05": qs[0.05].bound_at_Q_star,
          "simulated_Q": Q, "simulated_d": 11, "simulated_errors": errors, "simulated_n": n,
          "simulated_cp_high": hi,
          "simulated_log10_risk_exact_max": max(r["log10_risk_exact"] for r in runs)}
    details = (
        f"From the bound: Q*(10, ε) = {qs[0.1].Q_star}, {qs[0.05].Q_star}, "
        f"{qs[0.01].Q_star} for ε = 0.1, 0.05, 0.01, and B(10, 875) = {b875:.4f}, so 'more "
        f"than 875' is what the bound says for every ε < {b875:.4f} (ε = 0.05 gives 880). "
        f"The bound is a sufficient condition, not a requirement: in the model itself, at "
        f"K = 10 and Q = {Q} (the smallest Q with d ≥ K + 1 and d ≤ 5Q), R(P) ≈ "
        f"10^{ev['simulated_log10_risk_exact_max']:.0f} and {errors} of {n} fresh samples "
        f"were misranked (95% upper limit {hi:.1e}).")
    holds_for_bound = qs[0.05].Q_star > 875
    from dpomath.lastlayer.theorem42 import probability_bound_nonvacuous_Q

    pv10 = probability_bound_nonvacuous_Q(10)
    ev.update({"theorem42_probability_vacuous_below_Q_K10": pv10,
               "theorem43_needs_Q_at_least": 40, "simulated_Q_below_theorem43_range": Q < 40})
    details += (
        f" At Q ≈ {qs[0.05].Q_star} Theorem 4.2's probability of success, on which Theorem 4.3 "
        f"rests, is ≤ 0 (it is positive only from Q = {pv10:,} at K = 10): the bound's 'more "
        f"than 875' comes with no guarantee at that Q. The model case Q = {Q} lies inside Theorem "
        f"4.2's conditions but below Theorem 4.3's Q ≥ 40, so it shows what the dynamics do, not "
        "a case of Theorem 4.3.")
    if holds_for_bound and hi <= 0.05:
        return Verdict.qualified(
            f"true of the bound (Q*(10, 0.05) = {qs[0.05].Q_star}, B(10, 875) = {b875:.4f}) but "
            f"the theorem's probability guarantee is vacuous there (positive only from Q = {pv10:,}); "
            f"not a requirement of the model, which reaches R(P) < 1e-100 at Q = {Q} (inside "
            "Theorem 4.2, below Theorem 4.3's Q ≥ 40)",
            evidence=ev, details=details,
            counterexample={"K": 10, "Q": Q, "errors": errors, "n": n, "cp_high": hi},
            scope=Scope("the bound 2KQ²e^{−Q/45} (exact) + the cluster model at K = 10, Q = 3 "
                        "(the '875' is the summary's)", kind="bound"),
            revisions=[Revision(
                old_rule="QUALIFIED: true of the bound, not a requirement of the model",
                old_verdict="QUALIFIED",
                new_rule="the same, stating that Theorem 4.2's probability is vacuous at Q ≈ 880 and "
                         "that the model case Q = 3 is below Theorem 4.3's Q ≥ 40",
                reason=f"{REVIEW}, finding 6")])
    if holds_for_bound:
        return Verdict.confirmed(f"Q*(10, 0.05) = {qs[0.05].Q_star} > 875 and the model needs "
                                 "it too", evidence=ev, details=details)
    return Verdict.refuted(f"Q*(10, 0.05) = {qs[0.05].Q_star} <= 875", evidence=ev, details=details)


@claim("I-1.5X", paper="I", place="the summary's commentary on Section 4", method="numeric",
       statement="Aligning K = 100 values requires approximately 1.5× more per-class samples than K = 10.",
       latex=r"Q^*(100,\varepsilon)/Q^*(10,\varepsilon)\approx1.5")
def check_15x(ctx):
    from dpomath.lastlayer.theorem43 import q_star

    crit = "'approximately 1.5x' accepted if Q*(100, eps)/Q*(10, eps) lies in [1.4, 1.6] for eps = 0.05"
    table = {}
    for eps in (1.0, 0.5, 0.1, 0.05, 0.01, 1e-3, 1e-6):
        a, b = q_star(10, eps).Q_star, q_star(100, eps).Q_star
        table[eps] = (a, b, b / a)
    grid = np.geomspace(1e-12, 1.0, 60 if ctx.quick else 400)
    sup = max(q_star(100, float(e)).Q_star / q_star(10, float(e)).Q_star for e in grid)
    r05 = table[0.05][2]
    ev = {"criterion": crit, "sup_ratio_eps_in_1e-12_to_1": sup}
    for eps, (a, b, r) in table.items():
        ev[f"Q_star_K10_eps{eps:g}"] = a
        ev[f"Q_star_K100_eps{eps:g}"] = b
        ev[f"ratio_eps{eps:g}"] = r
    ev["difference_eps0.05"] = table[0.05][1] - table[0.05][0]
    ev["leading_order_ratio_log100_over_log10"] = 2.0
    details = (
        f"Q*(100, 0.05)/Q*(10, 0.05) = {table[0.05][1]}/{table[0.05][0]} = {r05:.3f}; over every "
        f"ε ∈ [1e-12, 1] the ratio is at most {sup:.3f}, and it falls to 1 as ε → 0. Going from "
        f"K = 10 to 100 adds about 45 log 10 ≈ 104 samples per cluster (here "
        f"{table[0.05][1] - table[0.05][0]}), a ~13% increase, because Q* = 45 log K + 90 log log K "
        f"+ 45 log(2/ε) + 90 log 45 + o(1) carries large K-free terms. Neither the bound (≈1.13×) "
        f"nor its leading term alone (log 100/log 10 = 2×) gives 1.5×.")
    if 1.4 <= r05 <= 1.6:
        return Verdict.confirmed(f"ratio {r05:.3f} at ε = 0.05", evidence=ev, details=details)
    details += (" The '1.5×' is the third-party summary's (its 'Practical significance' "
                "commentary); it is not verified as paper I's own words, so this verdict refutes "
                "the summary's number, derived from the paper's bound.")
    return Verdict.refuted(f"the summary's 1.5×: the bound gives Q*(100, 0.05)/Q*(10, 0.05) = {table[0.05][1]}/"
                           f"{table[0.05][0]} = {r05:.3f}, at most {sup:.3f} for any ε ≤ 1, not 1.5",
                           evidence=ev, details=details,
                           scope=Scope("the summary's number (not paper I's own words) against the "
                                       "bound's Q* (exact)", kind="bound"),
                           revisions=[Revision(
                               old_rule="REFUTED if the ratio of the bound's Q* is outside [1.4, 1.6] at ε = 0.05",
                               old_verdict="REFUTED",
                               new_rule="the same rule, scoped: the number is the third-party summary's",
                               reason=f"{REVIEW}, finding 9: label a claim taken from the summary text")],
                           counterexample={"eps": 0.05, "Q_star_K10": table[0.05][0],
                                           "Q_star_K100": table[0.05][1], "ratio": r05})


# ---------------------------------------------------------------- log 3

@claim("I-LOG3", paper="I", place="Section 4 (after Theorem 4.2)", method="symbolic",
       statement="Because margins move by at most log 3 in the guaranteed window, a pair whose "
                 "reference model prefers the rejected response by a factor above 3^{1/β} is not flipped.",
       latex=r"\frac{\pi_{\rm ref}(y_l)}{\pi_{\rm ref}(y_w)}>3^{1/\beta},\ r\le\log3\Rightarrow\pi_\theta(y_w)<\pi_\theta(y_l)")
def check_log3(ctx):
    import sympy as sp

    from dpomath.lastlayer.clusters import sample_clusters
    from dpomath.lastlayer.theorem42 import tau1
    from dpomath.lastlayer.margins import solve_margins

    beta, s, u = sp.symbols("beta", positive=True), sp.Symbol("s", nonnegative=True), sp.Symbol("u", positive=True)
    lw, ll, rw, rl = sp.symbols("logpi_w logpi_l logref_w logref_l", real=True)
    r = beta * ((lw - rw) - (ll - rl))                   # the margin
    policy_logodds = lw - ll
    Lref = rl - rw                                        # log of π_ref(y_l)/π_ref(y_w)
    identity = sp.simplify(policy_logodds - (r / beta - Lref))
    # r = log 3 − s (s ≥ 0: margin at most log 3), Lref = log(3)/β + u (u > 0: factor above 3^{1/β})
    R, LR = sp.symbols("r L_ref", real=True)
    worst = sp.simplify((R / beta - LR).subs({R: sp.log(3) - s, LR: sp.log(3) / beta + u}))
    negative = worst.is_negative
    from dpomath.verify.twins import numeric_twin, random_points

    syms = [beta, lw, ll, rw, rl]
    twin = numeric_twin(policy_logodds, r / beta - Lref,
                        random_points(syms, ctx.rng, {lw: (-30, 0), ll: (-30, 0), rw: (-30, 0),
                                                      rl: (-30, 0), beta: (0.001, 2)}, n=10))
    tie = sp.simplify((sp.log(3) / beta) - sp.log(3) / beta)  # Lref = log3/β and r = log 3: log-odds 0
    # dynamics: the first time a margin reaches log 3, in units of τ1, inside the conditions
    n = 4 if ctx.quick else 16
    firsts = []
    for k in range(n):
        K = int(ctx.rng.integers(1, 5))
        Q = int(ctx.rng.integers(max(1, -(-(K + 1) // 5)), 10))
        d = int(ctx.rng.integers(K + 1, d_limit(Q) + 1))
        data = sample_clusters(K, Q, d, v=v_limit(Q), l_b=0.25,
                               seed=int(ctx.rng.integers(2 ** 31)))
        T = tau1(K, BETA, TAU)
        sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU,
                            t_end=12 * T, rtol=1e-9, atol=1e-13, terminal=True)
        firsts.append(np.inf if sol.event_time is None else sol.event_time / T)
    mean_field_flip = (5 / (2 * LOG3)) * (LOG3 + 3 - 1)  # r + e^r = 1 + 2β²t/(Kτ) at r = log 3
    ok_dyn = min(firsts) > 1.0
    ev = {"criterion": "SymPy: policy log-odds = r/beta - log(pi_ref(y_l)/pi_ref(y_w)) reduces "
                       "exactly and is negative for r <= log 3 and a reference factor above "
                       "3^(1/beta); dynamics: no training margin reaches log 3 before tau1 in any draw",
          "identity_difference": str(identity), "log_odds_at_worst": str(worst),
          "identity_twin_max_rel_diff": twin["twin_max_rel_diff"],
          "log_odds_negative": bool(negative), "tie_at_factor_exactly_3_pow_1_over_beta": str(tie),
          "draws": n, "first_log3_time_over_tau1_min": float(min(firsts)),
          "first_log3_time_over_tau1_max": float(max(firsts)),
          "mean_field_flip_time_over_tau1_at_threshold": mean_field_flip,
          "flip_time_formula": "t_flip = K tau (x + e^x - 1)/(2 beta^2), x = beta log(pi_ref(y_l)/pi_ref(y_w))"}
    details = (
        "The policy's log-odds log πθ(y_w) − log πθ(y_l) equal r/β − log(π_ref(y_l)/π_ref(y_w)) "
        "exactly (SymPy), so with r ≤ log 3 and a reference factor above 3^{1/β} they are "
        "negative: the pair stays unflipped; at the factor exactly 3^{1/β} they can reach 0 (a "
        "tie). On the dynamics (inside Theorem 4.2's conditions) the first margin reaches log 3 "
        f"only at {min(firsts):.2f}–{max(firsts):.2f} τ1, so the premise holds with room. The "
        "statement is about the window t ≤ τ1: DPO margins keep growing (r + e^r = 1 + "
        "2β²t/(Kτ), r ~ log t), and a pair just past the threshold flips at "
        f"≈{mean_field_flip:.2f} τ1 in the mean field — any pair flips eventually. Under IPO "
        "(margins → 1 < log 3) or SLiC (stop at 1) such pairs never flip (I-GPO).")
    # negative controls: a reference factor below the threshold, and a window ten times longer
    below = sp.simplify((R / beta - LR).subs({R: sp.log(3) - s, LR: sp.log(3) / beta - u}))
    controls = [control("the implication with a reference factor below 3^{1/β} (3^{1/β}e^{−u}, u > 0)",
                        below.is_negative is True, f"log-odds {below}: SymPy cannot show it negative"),
                control("no training margin reaches log 3 before 10 τ1", min(firsts) > 10.0,
                        f"first reach at {min(firsts):.2f} τ1")]
    if identity == 0 and negative is True and twin["ok"] and ok_dyn:
        return Verdict.proved("r ≤ log 3 and π_ref(y_l)/π_ref(y_w) > 3^{1/β} imply πθ(y_w) < πθ(y_l) "
                              f"(SymPy); margins first reach log 3 at ≥ {min(firsts):.2f} τ1",
                              evidence=ev, details=details, controls=controls,
                              scope=Scope(f"general symbolic (the implication) + the margin ODE on {n} draws "
                                          "inside Theorem 4.2's conditions (K ≤ 4, Q ≤ 9)", kind="general"))
    if identity == 0 and negative is True:
        return Verdict.qualified("the implication holds, but a margin reached log 3 before τ1",
                                 evidence=ev, details=details)
    return Verdict.refuted("the log-odds identity or its sign failed", evidence=ev, details=details)


# ---------------------------------------------------------------- GPO

@claim("I-GPO", paper="I", place="Section 4.3", method="numeric",
       statement="The analysis extends to the GPO family by replacing σ(−r_i) with −f′(r_i): IPO "
                 "f(r) = (r − 1)², SLiC f(r) = max(0, 1 − r); similar implications follow.",
       latex=r"\sigma(-r_i)\to-f'(r_i)")
def check_gpo(ctx):
    import sympy as sp

    from dpomath.lastlayer.clusters import sample_clusters
    from dpomath.lastlayer.theorem42 import mean_field_margin, tau1
    from dpomath.lastlayer.runs import theorem42_outcome
    from dpomath.losses import rho, symbolic_margin_loss
    from dpomath.lastlayer.margins import solve_margins

    # symbolic: mean-field solutions and fixed points (a = 2β²/(Kτ))
    t, a = sp.symbols("t a", positive=True)
    sym = {}
    for kind in ("ipo-margin", "hinge", "sigmoid"):
        f, df = symbolic_margin_loss(kind)
        sym[kind] = -df
    ipo_sol = 1 - sp.exp(-2 * a * t)
    ipo_ok = sp.simplify(sp.diff(ipo_sol, t) - a * sym["ipo-margin"].subs(rho, ipo_sol)) == 0
    p = sp.Symbol("p", positive=True)
    slic_rate = sp.simplify(sym["hinge"].subs(rho, 1 - p))   # weight 1 while r = 1 − p < 1
    fixed_ipo = sp.solve(sp.Eq(sym["ipo-margin"], 0), rho)
    dpo_positive = sp.simplify(sym["sigmoid"]).is_positive
    # numeric: inside the conditions, the window and the K-rescaling, per loss
    Ks = (1, 4) if ctx.quick else (1, 4, 16)
    n = 2 if ctx.quick else 5
    res = {}
    for kind in ("ipo-margin", "hinge"):
        oks, slopes, r1 = [], [], []
        for K in Ks:
            for _ in range(n):
                Q = int(ctx.rng.integers(max(1, -(-(K + 1) // 5)), 10))
                d = int(ctx.rng.integers(K + 1, d_limit(Q) + 1))
                o = theorem42_outcome(K, Q, d, v_limit(Q), float(ctx.rng.uniform(0.25, 0.5)),
                                      1, int(ctx.rng.integers(2 ** 31)), loss=kind, beta=BETA, tau=TAU)
                oks.append(o.ok)
                slopes += [o.slope0_min, o.slope0_max]
                r1 += [o.r_tau1_min, o.r_tau1_max]
        # K-rescaling: pair 0 at τ1(K), same seed
        ref, worst = None, 0.0
        for K in Ks:
            data = sample_clusters(K, 6, 24, v=0.2, l_b=0.25, seed=11)
            T = tau1(K, BETA, TAU)
            sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU,
                                t_end=T, t_eval=[T], loss=kind, rtol=1e-11, atol=1e-14)
            m = sol.train[-1][data.pair == 0]
            ref = m if ref is None else ref
            worst = max(worst, float(np.max(np.abs(m - ref))))
        res[kind] = {"window_ok": all(oks), "slope_range": [min(slopes), max(slopes)],
                     "r_tau1_range": [min(r1), max(r1)], "rescaling_max_diff": worst,
                     "mean_field_tau1": float(mean_field_margin(tau1(1, BETA, TAU), 1, BETA, TAU, kind))}
    # long run: IPO → 1, SLiC stops near 1, DPO passes log 3
    data = sample_clusters(2, 6, 20, v=v_limit(6), l_b=0.25, seed=3)
    T = tau1(2, BETA, TAU)
    long = {}
    curves = {}
    us = np.linspace(0, 10, 101)
    for kind, name in (("sigmoid", "DPO"), ("ipo-margin", "IPO (r−1)²"), ("hinge", "SLiC max(0, 1−r)")):
        sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU,
                            t_end=10 * T, t_eval=us * T, loss=kind, rtol=1e-9, atol=1e-12,
                            method="DOP853" if kind != "hinge" else "RK45")
        long[kind] = [float(sol.train[-1].min()), float(sol.train[-1].max())]
        curves[name] = {"u": us, "min": sol.train.min(1), "mean": sol.train.mean(1), "max": sol.train.max(1)}
    figs = []
    path = ctx.figure_path("paper_i_gpo_trajectories.png")
    if path is not None:
        from dpomath.plots.paper_i import gpo_trajectories
        figs.append(str(gpo_trajectories(curves, path)))
    criterion = ("for IPO and SLiC: Theorem 4.2's window holds in every draw inside the conditions "
                 "and pair 0's margins at tau1(K) agree across K to 1e-8 (the 1/K rate survives)")
    ok = all(r["window_ok"] and r["rescaling_max_diff"] <= 1e-8 for r in res.values())
    ev = {"criterion": criterion, "ipo_mean_field_solution_checked": ipo_ok,
          "ipo_fixed_points": str(fixed_ipo), "slic_weight_below_1": str(slic_rate),
          "slic_weight_at_or_above_1": str(sp.simplify(sym["hinge"].subs(rho, 1 + p)))
          + " (and 0 at r = 1: Heaviside(0) = 0)",
          "dpo_weight_positive_everywhere": bool(dpo_positive),
          "draws_per_K": n, "Ks": list(Ks)}
    for kind, r in res.items():
        for k, val in r.items():
            ev[f"{kind}_{k}"] = val
    for kind, v in long.items():
        ev[f"{kind}_margins_at_10tau1"] = v
    details = (
        "With −f′ in place of σ(−r) Lemma 4.1 holds verbatim (I-L41 proves it for a general f). "
        "In the mean field τṙ = (2β²/K)(−f′(r)): IPO (weight 2(1 − r)) gives r = 1 − "
        "e^{−4β²t/(Kτ)} with the single fixed point r = 1; SLiC (weight [r < 1]) gives r = "
        "2β²t/(Kτ) until r = 1, then stops; DPO's weight σ(−r) never vanishes (r ~ log t, no "
        "fixed point). So the implications carry over with other constants: the initial rate "
        f"Kτṙ(0)/β² is ≈ 4 (IPO, observed {res['ipo-margin']['slope_range'][0]:.2f}–"
        f"{res['ipo-margin']['slope_range'][1]:.2f}) and ≈ 2 (SLiC) against 1 for DPO, still "
        f"inside [1/8, 5]; at τ1 the margins are ≈ {res['ipo-margin']['mean_field_tau1']:.3f} "
        f"(IPO) and {res['hinge']['mean_field_tau1']:.3f} (SLiC) against 0.208; the time scale "
        "is ∝ K for every member (rescaled trajectories coincide). Beyond the window they "
        f"differ: at 10 τ1 DPO margins reach {long['sigmoid'][1]:.3f} (past log 3), IPO "
        f"{long['ipo-margin'][1]:.4f} and SLiC {long['hinge'][1]:.4f} stay at ~1 — under IPO "
        "and SLiC the margins are bounded, which makes I-LOG3's no-flip statement permanent.")
    # negative controls: a window ten times tighter on each side, and the 1/K rescaling undone
    # (pair 0's margins compared at the same t = τ1(K = 1) for every K)
    allr = [x for r in res.values() for x in r["r_tau1_range"]]
    unscaled = 0.0
    for kind in res:
        ref = None
        for K in Ks:
            data = sample_clusters(K, 6, 24, v=0.2, l_b=0.25, seed=11)
            T = tau1(1, BETA, TAU)
            sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU,
                                t_end=T, t_eval=[T], loss=kind, rtol=1e-11, atol=1e-14)
            m = sol.train[-1][data.pair == 0]
            ref = m if ref is None else ref
            unscaled = max(unscaled, float(np.max(np.abs(m - ref))))
    controls = [control("window lower edge ten times higher: every r(τ1) >= log 3/4", min(allr) >= LOG3 / 4,
                        f"smallest r(τ1) {min(allr):.4f} vs {LOG3 / 4:.4f}"),
                control("window upper edge ten times lower: every r(τ1) <= log 3/10", max(allr) <= LOG3 / 10,
                        f"largest r(τ1) {max(allr):.4f} vs {LOG3 / 10:.4f}"),
                control("K-invariance without the 1/K time rescaling (pair 0 at the same t = τ1(1))",
                        unscaled <= 1e-8, f"largest difference across K {unscaled:.3g} (criterion <= 1e-8)")]
    ev["control_unscaled_max_diff"] = unscaled
    if ok and ipo_ok and fixed_ipo == [1] and dpo_positive and slic_rate == 1:
        return Verdict.confirmed("IPO and SLiC margins stay in Theorem 4.2's window with the same "
                                 "1/K rate; they converge to the fixed point 1 where DPO grows without "
                                 + (f"bound (low power: the window's lower edge could be 10× higher, margins ≥ {min(allr):.3f})"
                                    if not controls[0].failed else "bound"),
                                 evidence=ev, figures=figs, details=details, controls=controls,
                                 establishes="" if controls[0].failed else (
                                     "the window part has low power: the margins at τ1 "
                                     f"({min(allr):.3f}–{max(allr):.3f}) lie well inside [log 3/40, log 3], "
                                     "and even a lower edge ten times higher holds. What the check does "
                                     "establish sharply is the exact 1/K time scale (without it the "
                                     f"trajectories differ by {unscaled:.2g}) and the mean-field solutions "
                                     "and fixed points (SymPy)."),
                                 scope=Scope(f"symbolic mean field + the margin ODE on draws inside the "
                                             f"conditions, K ∈ {{{', '.join(map(str, Ks))}}}, Q ≤ 9", kind="sampled"),
                                 revisions=[Revision(
                                     old_rule="CONFIRMED if the window holds and the 1/K rescaling agrees to 1e-8",
                                     old_verdict="CONFIRMED",
                                     new_rule="the same rule, with negative controls and a statement of its power",
                                     reason=f"{REVIEW}, finding 7: low power not visible to the reader")])
    return Verdict.refuted("a GPO member left Theorem 4.2's window or lost the 1/K scaling",
                           evidence=ev, figures=figs, details=details)


# ---------------------------------------------------------------- Appendix C

@claim("I-DELTA", paper="I", place="Appendix C", method="numeric",
       statement="For δ-approximately orthogonal concepts (|⟨c_i, e_{c_i}⟩| ≥ 1 − δ²/8, 0 ≤ δ < 1/2, "
                 "δ ≤ min(εv/8, 1/4)) the training guarantee becomes log 3/80 ≤ r(τ1) ≤ log 3.",
       latex=r"\frac{\log3}{80}\le r(\tau_1)\le\log3")
def check_delta(ctx):
    from dpomath.lastlayer.clusters import concept_vectors
    from dpomath.lastlayer.runs import theorem42_outcome

    # the sampler puts every concept at the edge of the condition
    C = concept_vectors(4, 8, 0.3, "random", np.random.default_rng(0))
    edge = float(np.max(np.abs(C[np.arange(4), np.arange(1, 5)] - (1 - 0.3 ** 2 / 8))))
    norms = float(np.max(np.abs(np.linalg.norm(C, axis=1) - 1)))
    n = 2 if ctx.quick else 6
    inside_ok, outside = True, {}
    rmin, rmax = np.inf, -np.inf
    for mode in ("random", "shared", "toward-b"):
        for delta_kind in ("allowed", 0.1, 0.25, 0.45):
            okd = True
            for _ in range(n):
                K = int(ctx.rng.integers(2, 5))
                Q = int(ctx.rng.integers(max(1, -(-(K + 2) // 5)), 10))
                d = int(ctx.rng.integers(K + 2, d_limit(Q) + 1)) if d_limit(Q) >= K + 2 else K + 2
                v = v_limit(Q)
                l_b = float(ctx.rng.uniform(0.25, 0.5))
                Z = int(ctx.rng.integers(1, min(K, int(z_limit(l_b))) + 1))
                delta = min(v / 8, 0.25) if delta_kind == "allowed" else delta_kind
                o = theorem42_outcome(K, Q, d, v, l_b, Z, int(ctx.rng.integers(2 ** 31)), delta=delta,
                                      delta_mode=mode, window_low=LOG3 / 80, beta=BETA, tau=TAU)
                okd &= o.ok_window
                if delta_kind == "allowed":
                    rmin, rmax = min(rmin, o.r_tau1_min), max(rmax, o.r_tau1_max)
            if delta_kind == "allowed":
                inside_ok &= okd
            else:
                outside[f"{mode}_delta{delta_kind}"] = okd
    ev = {"criterion": "every margin at tau1 in [log3/80, log3] in every draw with delta = "
                       "min(v/8, 1/4) (eps = 1, the largest delta the condition allows), in each "
                       "tilt mode (random, shared, toward-b), Z up to 1/(4 l_b^2)",
          "sampler_edge_max_err": edge, "sampler_norm_max_err": norms,
          "draws_per_setting": n, "r_tau1_min": rmin, "r_tau1_max": rmax,
          "window": [LOG3 / 80, LOG3],
          "eps_reading": "the appendix's eps is not defined in the summary; eps <= 1 taken, so delta <= v/8"}
    for k, val in outside.items():
        ev[f"window_holds_{k}"] = val
    details = (
        "Concepts are drawn at the edge of the condition, ⟨c_i, e_{c_i}⟩ = 1 − δ²/8 exactly, "
        "tilted randomly, all towards one shared direction (c_i·c_k = s²), or towards b "
        "(breaking the ± symmetry of a pair). With δ ≤ min(εv/8, 1/4) the tilt is at most "
        "v/8 ≤ 1/(256√Q) — practically orthogonal — and the margins at τ1 lie in "
        f"[{rmin:.4f}, {rmax:.4f}], well inside [log 3/80, log 3]. The window also held at "
        f"δ = 0.1, 0.25, 0.45 (outside the condition) in every mode: "
        f"{all(outside.values())}. With Z = 1 the pairs do not interact at all (disjoint "
        "tokens), whatever the angles between concepts; only shared tokens and a tilt towards b "
        "let δ matter, and then by O(δ).")
    controls = [control("window lower edge ten times higher: every r(τ1) >= log 3/8", rmin >= LOG3 / 8,
                        f"smallest r(τ1) {rmin:.4f} vs {LOG3 / 8:.4f}"),
                control("window upper edge ten times lower: every r(τ1) <= log 3/10", rmax <= LOG3 / 10,
                        f"largest r(τ1) {rmax:.4f} vs {LOG3 / 10:.4f}")]
    controls += [control(f"δ = {k.rsplit('delta', 1)[1]} ({k.rsplit('_delta', 1)[0]} tilt), outside the condition",
                         val, "window held" if val else "window failed") for k, val in outside.items()
                 if k.endswith("0.45")]
    rstar = 0.2081038624  # closed form of I-T42 (orthogonal concepts), r + e^r = 1 + (2/5) log 3
    dev = max(abs(rmin - rstar), abs(rmax - rstar)) / rstar
    ev["max_rel_dev_from_orthogonal_closed_form"] = dev
    if inside_ok:
        return Verdict.confirmed(f"margins at τ1 in [{rmin:.3f}, {rmax:.3f}] ⊂ [log 3/80, log 3] for "
                                 "δ at the edge of Appendix C's condition, in every tilt mode"
                                 + (" (low power: it also holds at δ = 0.45, outside the condition)"
                                    if any(not c.failed for c in controls[2:]) else ""),
                                 evidence=ev, details=details, controls=controls,
                                 establishes=(
                                     f"that tilts within the condition (≤ v/8 ≤ 1/(256√Q)) leave r(τ1) within "
                                     f"{100 * dev:.0f}% of the orthogonal closed form 0.2081; the window "
                                     f"[log 3/80, log 3] is {rmin / (LOG3 / 80):.0f}× (below) and "
                                     f"{LOG3 / rmax:.0f}× (above) looser than the margins"
                                     + (", and δ = 0.45, far outside the condition, passes too: the check "
                                        "cannot show that the condition is needed."
                                        if any(not c.failed for c in controls[2:]) else ".")),
                                 scope=Scope(f"sampled: {n} draws per tilt mode and δ, K ≤ 4, Q ≤ 9, "
                                             "Z ≤ 1/(4 l_b²)", kind="sampled"),
                                 revisions=[Revision(
                                     old_rule="CONFIRMED if every margin at τ1 lies in [log 3/80, log 3] at δ = min(v/8, 1/4)",
                                     old_verdict="CONFIRMED",
                                     new_rule="the same rule, with negative controls (tighter windows, δ = 0.45) "
                                              "and a statement of what it establishes",
                                     reason=f"{REVIEW}, finding 7: the check also holds at δ = 0.45")])
    return Verdict.refuted("a margin left [log 3/80, log 3] under Appendix C's conditions",
                           evidence=ev, details=details)


# ---------------------------------------------------------------- growth rate vs K (theory twin of I-EMP-RATE)

@claim("I-RATE-THEORY", paper="I", place="Lemma 4.1 / Figure 5 (theory side)", method="symbolic",
       statement="On the cluster model the training and test reward margins grow more slowly as K "
                 "grows: the expected initial rate is E[τṙ_j(0)] = (β²/K)(1 + v²d/(2Q)), and with "
                 "disjoint response tokens every trajectory is a function of t/K.",
       latex=r"\mathbb E[\tau\dot r_j(0)]=\frac{\beta^2}{K}\Big(1+\frac{v^2d}{2Q}\Big)")
def check_rate_theory(ctx):
    import sympy as sp

    from dpomath.lastlayer.clusters import sample_clusters
    from dpomath.lastlayer.theorem42 import tau1
    from dpomath.lastlayer.margins import MarginField, solve_margins

    Q, K, v, d, lb, beta, tau, s, m = sp.symbols("Q K v d l_b beta tau s m", positive=True)
    N = 2 * K * Q
    # E over the noise of Σ_i (Δy_j·Δy_i) g_i·g_j for j in C_{i,+}, all weights σ(0) = 1/2:
    same = 2 * ((Q - 1) * (1 + lb ** 2) + (1 + lb ** 2 + v ** 2 * d))   # own cluster, incl. itself
    swapped = -2 * Q * (-1 + lb ** 2)                                     # the pair's other cluster
    shared = m * (s * Q * lb ** 2 - s * Q * lb ** 2)                      # m pairs sharing a token: ± cancel
    rate = beta ** 2 / (N * tau) * sp.Rational(1, 2) * (same + swapped + shared)
    diff = sp.simplify(tau * rate - beta ** 2 / K * (1 + v ** 2 * d / (2 * Q)))
    t = sp.Symbol("t", positive=True)
    rescale = sp.simplify(K * (beta ** 2 / (N * tau)) - beta ** 2 / (2 * Q * tau))  # dr/d(t/K) is K-free
    # numeric twin of the expectation: initial rates on sampled clusters
    vv, dd, QQ, KK = 0.3, 50, 5, 3
    draws = 10 if ctx.quick else 60
    vals = []
    for _ in range(draws):
        data = sample_clusters(KK, QQ, dd, v=vv, l_b=0.3, Z=2, seed=int(ctx.rng.integers(2 ** 31)))
        f = MarginField(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU)
        vals.append(f.rates(np.zeros(data.N))[0] * KK * TAU / BETA ** 2)
    vals = np.array(vals)
    per_draw = vals.mean(axis=1)
    mean, se = float(per_draw.mean()), float(per_draw.std(ddof=1) / math.sqrt(draws))
    expected = 1 + vv ** 2 * dd / (2 * QQ)
    twin_ok = abs(mean - expected) <= 4 * se + 1e-12
    # trajectories against K: mean train and test margins at t* = τ1(K = 1), and the rescaling
    Ks = (1, 2, 4, 8) if ctx.quick else (1, 2, 4, 8, 16)
    tstar = tau1(1, BETA, TAU)
    train_m, test_m, rate0, shared_rate = [], [], [], []
    seed = int(ctx.rng.integers(2 ** 31))
    for Kk in Ks:
        data = sample_clusters(Kk, 8, 40, v=v_limit(8), l_b=0.25, seed=seed)
        test = data.draw(8, seed=seed + 1)
        sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, tau=TAU,
                            t_end=tstar, t_eval=[tstar], test_features=test.features,
                            test_chosen=test.chosen, test_rejected=test.rejected, rtol=1e-10, atol=1e-13)
        train_m.append(float(sol.train[-1].mean()))
        test_m.append(float(sol.test[-1].mean()))
        rate0.append(float(sol.field.rates(np.zeros(data.N))[0].mean()) * TAU / BETA ** 2)
        # every pair answering with the same two tokens (as " Yes"/" No" in the persona data)
        same_tok = np.where(data.sign > 0, 0, 1)
        f = MarginField(data.features, same_tok, 1 - same_tok, beta=BETA, tau=TAU)
        shared_rate.append(float(f.rates(np.zeros(data.N))[0].mean()) * TAU / BETA ** 2)
    inv = _pair0_invariance(Ks, Q=6, d=24, v=0.3, seed=seed)
    dec = lambda xs: all(a > b for a, b in zip(xs, xs[1:]))  # noqa: E731
    ok = (diff == 0 and rescale == 0 and twin_ok and dec(train_m) and dec(test_m) and inv <= 1e-8)
    ev = {"criterion": "SymPy: E[tau rdot_j(0)] - (beta^2/K)(1 + v^2 d/(2Q)) and the t/K "
                       "rescaling reduce to 0; twin: sampled mean initial rate within 4 standard "
                       "errors of the formula; mean train and test margins at t = tau1(K=1) strictly "
                       "decrease in K; pair 0's margins at tau1(K) agree across K to 1e-8",
          "expectation_difference": str(diff), "rescaling_difference": str(rescale),
          "twin_mean_initial_rate": mean, "twin_standard_error": se, "twin_expected": expected,
          "twin_draws": draws, "Ks": list(Ks), "train_margin_at_tstar": train_m,
          "test_margin_at_tstar": test_m, "K_times_initial_rate": [k * r for k, r in zip(Ks, rate0)],
          "K_times_initial_rate_shared_tokens": [k * r for k, r in zip(Ks, shared_rate)],
          "pair0_margin_max_diff_across_K": inv}
    details = (
        "Taking expectations over the cluster noise in Lemma 4.1 at t = 0 (all weights σ(0) = 1/2): "
        "the sample's own cluster contributes 2[(Q − 1)(1 + l_b²) + 1 + l_b² + v²d], the swapped "
        "cluster of its pair 2Q(1 − l_b²) (Δy flips and so does c_i), and any other pair sharing a "
        "token contributes ±Q l_b² from its two clusters, which cancel. With N = 2KQ, SymPy "
        "reduces E[τṙ_j(0)] − (β²/K)(1 + v²d/(2Q)) to 0. With disjoint tokens the pairs decouple "
        "and K only appears in N, so r(t) = ρ(t/K): the rate falls as 1/K at every t/K, for train "
        f"and test margins. Measured: Kτṙ(0)/β² = {', '.join(f'{k * r:.4f}' for k, r in zip(Ks, rate0))} "
        f"for K = {', '.join(map(str, Ks))}; mean margins at t = τ1(K = 1): train "
        f"{', '.join(f'{x:.4f}' for x in train_m)}, test {', '.join(f'{x:.4f}' for x in test_m)}. "
        "When every pair answers with the same two tokens (the persona data's ' Yes'/' No', which "
        "breaks the theory's distinct-response-set assumption) the cross-pair terms still cancel "
        "in this symmetric model and the 1/K rate remains "
        f"({', '.join(f'{k * r:.4f}' for k, r in zip(Ks, shared_rate))}); on real data the ± "
        "clusters of a persona need not balance, and then the shared component b couples values.")
    wrong = sp.simplify(tau * rate - beta ** 2 / K * (1 + v ** 2 * d / Q))
    expected_wrong = 1 + vv ** 2 * dd / QQ
    controls = [control("E[τṙ_j(0)] = (β²/K)(1 + v²d/Q) (wrong constant), SymPy and the sampled twin",
                        wrong == 0 or abs(mean - expected_wrong) <= 4 * se + 1e-12,
                        f"SymPy difference {wrong}; sampled {mean:.4f} ± {se:.4f} vs {expected_wrong:.4f}"),
                control("the margins at t = τ1(K = 1) grow with K (order reversed)", dec(train_m[::-1]),
                        f"train margins {', '.join(f'{x:.4f}' for x in train_m)}")]
    if ok:
        return Verdict.proved("E[τṙ(0)] = (β²/K)(1 + v²d/(2Q)) exactly; margins are a function of "
                              "t/K, so their growth rate falls as 1/K (train and test)",
                              evidence=ev, details=details, controls=controls,
                              scope=Scope("general symbolic (expectation over the cluster noise) + "
                                          f"sampled twin and trajectories, K ∈ {{{', '.join(map(str, Ks))}}}",
                                          kind="general"))
    return Verdict.refuted("the growth rate did not fall with K as derived", evidence=ev, details=details)
