"""Paper Y — Yan et al., ICLR 2025, "3D-properties of DPO" (arXiv 2406.07327): the algebra.

Claims Y-C1, Y-C2, Y-RM (THEORY.md). The loss ℓ = log(1 + α z^β), z = π−/π+, is DPO's member
of :mod:`dpomath.losses` at h± = log(π±/π0±) (shown exactly in Y-C1); the dynamics claims
(Y-P1 …) live in the paper-Y modules that simulate the toy model.
"""
from __future__ import annotations

from dpomath.ledger import Verdict, claim

_TWIN_TOL = 1e-40


def _twin_points(ctx, symbols, ranges, n=None):
    from dpomath.twins import random_points

    return random_points(symbols, ctx.rng, ranges, n or (8 if ctx.quick else 16))


@claim("Y-C1", paper="Y", place="Corollary 1", method="symbolic",
       statement="For ℓ = log(1 + α z^β), z = π−/π+, α = (π0(a+)/π0(a−))^β: "
                 "(∂ℓ/∂π−) / (∂ℓ/∂π+) = −π+/π−.",
       latex=r"\frac{\partial \ell/\partial \pi_-}{\partial \ell/\partial \pi_+} = -\frac{\pi_+}{\pi_-}")
def check_y_c1(ctx):
    import sympy as sp

    from dpomath import symbolic as S
    from dpomath.twins import numeric_twin

    ell = S.yan_loss
    same_as_dpo = S.reduces_to_zero(
        sp.expand_log(ell.subs(S.alpha, (S.pi0_plus / S.pi0_minus) ** S.beta) - S.yan_loss_dpo, force=True)) \
        or S.reduces_to_zero(ell.subs(S.alpha, (S.pi0_plus / S.pi0_minus) ** S.beta) - S.yan_loss_dpo)
    gp, gm = sp.diff(ell, S.pi_plus), sp.diff(ell, S.pi_minus)
    ratio_ok = S.reduces_to_zero(gm / gp + S.pi_plus / S.pi_minus)
    ranges = {S.pi_plus: (1e-4, 1.0), S.pi_minus: (1e-4, 1.0), S.alpha: (0.01, 100.0), S.beta: (0.05, 3.0)}
    pts = _twin_points(ctx, [S.pi_plus, S.pi_minus, S.alpha, S.beta], ranges)
    tw = numeric_twin(gm / gp, -S.pi_plus / S.pi_minus, pts, tol=_TWIN_TOL)
    pts0 = _twin_points(ctx, [S.pi_plus, S.pi_minus, S.pi0_plus, S.pi0_minus, S.beta],
                        {**ranges, S.pi0_plus: (1e-4, 1.0), S.pi0_minus: (1e-4, 1.0)})
    tw0 = numeric_twin(ell.subs(S.alpha, (S.pi0_plus / S.pi0_minus) ** S.beta), S.yan_loss_dpo, pts0,
                       tol=_TWIN_TOL)
    ev = {"loss_is_family_dpo_at_h=log(pi/pi0)": same_as_dpo, "ratio_reduces": ratio_ok,
          "dl/dpi+": str(S.yan_gradient[0]), "dl/dpi-": str(S.yan_gradient[1]),
          "ratio": str(S.yan_ratio), "twin_ratio_max_rel_diff": tw["twin_max_rel_diff"],
          "twin_loss_max_rel_diff": tw0["twin_max_rel_diff"], "twin_points": tw["twin_points"],
          "twin_dps": 50}
    details = ("ℓ equals the family's DPO loss −log σ(β(h+ − h−)) at h± = log(π±/π0±) (SymPy), and "
               "(∂ℓ/∂π−)/(∂ℓ/∂π+) + π+/π− reduces to 0. The factor π+/π− is the chain rule "
               "∂h/∂π = 1/π: in the log-ratios h± the same gradient is equal and opposite "
               "(claims Y-RM, F-FIELD), so the imbalance belongs to the probability coordinates.")
    if not (tw["ok"] and tw0["ok"]):
        return Verdict.refuted("the numeric twin disagrees with the stated ratio", evidence=ev,
                               counterexample=tw["twin_worst_point"], details=details)
    if same_as_dpo and ratio_ok:
        return Verdict.proved("(∂ℓ/∂π−)/(∂ℓ/∂π+) = −π+/π− exactly (SymPy), for every β > 0 and α > 0; "
                              "50-digit twins agree", evidence=ev, details=details)
    return Verdict.inconclusive("twins agree but SymPy did not reduce the identity", evidence=ev,
                                details=details)


@claim("Y-C2", paper="Y", place="Corollary 2", method="symbolic",
       statement="As π− → 0, ∂ℓ/∂π+ → 0 and ∂ℓ/∂π− → ∞, given that β < 1 (settled here for every β > 0).",
       latex=r"\pi_- \to 0:\ \partial_{\pi_+}\ell \to 0,\ \partial_{\pi_-}\ell \to \infty\ (\beta < 1)")
def check_y_c2(ctx):
    import mpmath as mp
    import sympy as sp

    from dpomath import symbolic as S

    ell = S.yan_loss
    gp, gm = sp.diff(ell, S.pi_plus), sp.diff(ell, S.pi_minus)
    lim_p = S.limits_by_beta(gp, S.pi_minus, 0)
    lim_m = S.limits_by_beta(gm, S.pi_minus, 0)
    expected_m = {"beta<1": sp.oo, "beta=1": S.alpha / S.pi_plus, "beta>1": sp.Integer(0)}
    exact = (all(v == 0 for v in lim_p.values())
             and all((lim_m[c] == e) if e is sp.oo else S.reduces_to_zero(lim_m[c] - e)
                     for c, e in expected_m.items()))

    # Numeric twin of the limits (50 digits): values at π− = 10^-300 for a β drawn in each case.
    # Criterion (stated before the run): a limit 0 needs |value| ≤ 1e-20; ∞ needs value ≥ 1e20;
    # a finite limit L needs |value − L| ≤ 1e-20·|L|.
    draws = {"beta<1": float(ctx.rng.uniform(0.1, 0.9)), "beta=1": 1.0,
             "beta>1": float(ctx.rng.uniform(1.1, 3.0))}
    pplus, alpha = float(ctx.rng.uniform(0.05, 1.0)), float(ctx.rng.uniform(0.1, 10.0))
    twin = {}
    twin_ok = True
    args = (S.pi_minus, S.beta, S.pi_plus, S.alpha)
    lam_p, lam_m = (sp.lambdify(args, g, "mpmath") for g in (gp, gm))
    with mp.workdps(50):
        for case, b in draws.items():
            rest = (mp.mpf(b), mp.mpf(pplus), mp.mpf(alpha))  # floats enter exactly
            tiny = mp.mpf(10) ** -300
            vp, vm = lam_p(tiny, *rest), lam_m(tiny, *rest)
            seq = [float(mp.log10(abs(lam_m(mp.mpf(10) ** -e, *rest)))) for e in (10, 100, 300)]
            target = expected_m[case]
            if target is sp.oo:
                ok_m = vm >= mp.mpf("1e20")
            elif target == 0:
                ok_m = abs(vm) <= mp.mpf("1e-20")
            else:
                L = mp.mpf(alpha) / mp.mpf(pplus)
                ok_m = abs(vm - L) <= mp.mpf("1e-20") * L
            ok_p = abs(vp) <= mp.mpf("1e-20")
            twin_ok = twin_ok and bool(ok_m) and bool(ok_p)
            twin[case] = {"beta": b, "dl/dpi+ at 1e-300": float(vp), "dl/dpi- at 1e-300": mp.nstr(vm, 8),
                          "log10|dl/dpi-| at 1e-10, 1e-100, 1e-300": [round(v, 3) for v in seq]}
    ev = {"criterion": "exact sympy.limit per case; twin: |.|<=1e-20 for 0, >=1e20 for oo, rel 1e-20 for finite",
          **{f"lim dl/dpi+ [{c}]": str(v) for c, v in lim_p.items()},
          **{f"lim dl/dpi- [{c}]": str(v) for c, v in lim_m.items()},
          "twin_pi_plus": pplus, "twin_alpha": alpha,
          **{f"twin [{c}]": str(v) for c, v in twin.items()}, "twin_ok": twin_ok}
    figures = []
    if ctx.want_figures:
        from dpomath.plots.paper_y_algebra import gradient_limits

        figures.append(str(gradient_limits(ctx.figure_path("paper_y_c2_limits.png"))))
    details = (
        "Exact limits as π− → 0+ at fixed π+ > 0, α > 0, with β written as 1/(1+k), 1, 1+k (k > 0) so "
        "each case is decided exactly: ∂ℓ/∂π+ = −(β/π+)·αz^β/(1+αz^β) → 0 for every β > 0; "
        "∂ℓ/∂π− = αβπ−^(β−1)/(π+^β + απ−^β) → ∞ for β < 1, → α/π+ (finite) for β = 1, → 0 for "
        "β > 1. So the paper's condition β < 1 is exactly right: it is needed (at β = 1 the limit "
        "is finite, for β > 1 the gradient on π− vanishes too) and sufficient. The ratio of the "
        "two (Y-C1) still diverges like π+/π− for every β.")
    if not twin_ok:
        return Verdict.refuted("the 50-digit twin contradicts the derived limits", evidence=ev,
                               counterexample=twin, details=details, figures=figures)
    if not exact:
        return Verdict.inconclusive("the limits did not come out as derived", evidence=ev,
                                    details=details, figures=figures)
    return Verdict.proved(
        "exact for every β > 0: ∂ℓ/∂π+ → 0 always; ∂ℓ/∂π− → ∞ for β < 1, → α/π+ at β = 1, → 0 for "
        "β > 1 — the paper's condition β < 1 is necessary and sufficient",
        evidence=ev, details=details, figures=figures)


@claim("Y-RM", paper="Y", place="Section 3.1 (reward-model contrast)", method="symbolic",
       statement="For the reward-model loss −log σ(r+ − r−), ∂ℓ/∂r± = ∓1/(1 + e^{r+ − r−}): equal and "
                 "opposite (balanced).",
       latex=r"\frac{\partial \ell}{\partial r_\pm} = \mp \frac{1}{1 + e^{r_+ - r_-}}")
def check_y_rm(ctx):
    import sympy as sp

    from dpomath import symbolic as S
    from dpomath.twins import numeric_twin

    ell = S.rm_loss  # the family's reward-model member at β = 1
    gp, gm = sp.diff(ell, S.r_plus), sp.diff(ell, S.r_minus)
    stated_p = -1 / (1 + sp.exp(S.r_plus - S.r_minus))
    stated_m = 1 / (1 + sp.exp(S.r_plus - S.r_minus))
    exact = {"dl/dr+": S.reduces_to_zero(gp - stated_p), "dl/dr-": S.reduces_to_zero(gm - stated_m),
             "sum": S.reduces_to_zero(gp + gm)}
    pts = _twin_points(ctx, [S.r_plus, S.r_minus], {S.r_plus: (-20.0, 20.0), S.r_minus: (-20.0, 20.0)})
    tw = {"dl/dr+": numeric_twin(gp, stated_p, pts, tol=_TWIN_TOL),
          "dl/dr-": numeric_twin(gm, stated_m, pts, tol=_TWIN_TOL)}
    # DPO in log-ratios is the same structure with r = βh (the balance Y-C1 loses in π).
    gh = S.dpo_gradient_h
    dpo_balanced = S.reduces_to_zero(gh[0] + gh[1])
    ev = {**{f"{k}_reduces": v for k, v in exact.items()},
          **{f"twin_{k}_max_rel_diff": t["twin_max_rel_diff"] for k, t in tw.items()},
          "twin_points": len(pts), "dpo_in_log_ratios_balanced": dpo_balanced}
    details = ("The reward-model member of the family at β = 1, ℓ = log(1 + e^{r− − r+}); both partials "
               "equal the stated forms and sum to 0. DPO is this loss with r± = βh±, so in the "
               "log-ratios h± DPO is exactly as balanced: ∂L/∂h+ = −∂L/∂h− (SymPy). The imbalance of "
               "Y-C1 (−π+/π−) appears only after the change of variables h = log π − log π0.")
    if not all(t["ok"] for t in tw.values()):
        return Verdict.refuted("the numeric twin disagrees", evidence=ev, details=details)
    if all(exact.values()) and dpo_balanced:
        return Verdict.proved("∂ℓ/∂r± = ∓1/(1 + e^{r+ − r−}) exactly; they sum to 0 — and DPO is equally "
                              "balanced in its log-ratios h±", evidence=ev, details=details)
    return Verdict.inconclusive("twins agree but SymPy did not reduce every identity", evidence=ev,
                                details=details)
