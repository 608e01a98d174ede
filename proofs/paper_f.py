"""Paper F — Feng et al. 2024, "Towards analyzing and understanding the limitations of DPO:
a theoretical perspective" (arXiv 2404.04626): the DPO gradient field in probability
coordinates x1 = πθ(y_w)/π_ref(y_w), x2 = πθ(y_l)/π_ref(y_l).

Claims F-T1, F-C1, F-R1, F-R2, F-FIELD, F-R3 (THEORY.md). The loss is DPO's member of
:mod:`dpomath.losses` pulled back to (x1, x2) (:mod:`dpomath.gradients.formulas`); every symbolic result
has a 50-digit numeric twin at points drawn from the claim's seeded generator.
"""
from __future__ import annotations

import math

import numpy as np

from dpomath.verify.fidelity import REVIEW, Control, Reading, Revision, Scope, decide_readings, log_compare
from dpomath.verify.ledger import Verdict, claim
from dpomath.verify.twins import TWIN_TOL as _TWIN_TOL, prove_identities, reduces_to_zero, twin_points

#: What the symbolic claims cover: a proof for every value, backed by 50-digit twins.
_GENERAL = Scope("general symbolic: every x1, x2 > 0 and β > 0 (+ 50-digit twins)", kind="general")

# Ranges of the twin points: both sides of x = 1 and of β = 1.
_X_RANGE = (0.01, 10.0)
_B_RANGE = (0.05, 3.0)


def _twin_points(ctx, symbols, n=None):
    from dpomath.gradients import formulas as S

    return twin_points(ctx, symbols, {S.x1: _X_RANGE, S.x2: _X_RANGE, S.beta: _B_RANGE}, n)


# --------------------------------------------------------------------------- F-T1

@claim("F-T1", paper="F", place="Theorem 1", method="symbolic",
       statement="With L(x1, x2) = −log(x1^β/(x1^β + x2^β)): ∂L/∂x1 = −β x2^β/(x1(x1^β + x2^β)), "
                 "∂L/∂x2 = β x2^(β−1)/(x1^β + x2^β).",
       scope=_GENERAL,
       latex=r"\frac{\partial L}{\partial x_1} = -\frac{\beta x_2^\beta}{x_1(x_1^\beta + x_2^\beta)},\quad "
             r"\frac{\partial L}{\partial x_2} = \frac{\beta x_2^{\beta-1}}{x_1^\beta + x_2^\beta}")
def check_f_t1(ctx):
    from dpomath.gradients import formulas as S

    L = S.loss_in_x("sigmoid")            # DPO's f(ρ) at h = log x (the family's definition)
    g1, g2 = S.gradient_in_x("sigmoid")   # sympy.diff of that definition
    P1, P2 = S.paper_f_gradient           # the paper's printed partials
    pairs = {
        "loss_equals_paper_eq1": (L, S.paper_f_loss),
        "dL_dx1": (g1, P1),
        "dL_dx2": (g2, P2),
    }
    points = _twin_points(ctx, [S.x1, S.x2, S.beta])
    controls = {  # the same check on deliberately false partials
        "∂L/∂x2 with x2^β in place of x2^(β−1) (wrong exponent)":
            (g2, S.beta * S.x2 ** S.beta / (S.x1 ** S.beta + S.x2 ** S.beta)),
        "∂L/∂x1 with its sign flipped": (g1, -P1),
    }
    return prove_identities(
        "Theorem 1 holds", pairs, points,
        {"loss_from_family": str(L), "dL_dx1": str(S.dpo_gradient_x[0]),
         "dL_dx2": str(S.dpo_gradient_x[1])},
        controls=controls,
        details="The loss is the family's DPO member f(ρ) = −log σ(ρ) at h_w = log x1, "
                "h_l = log x2; SymPy shows it equals the paper's eq. (1) and differentiates it; "
                "the differences from the printed partials simplify to 0.")


# --------------------------------------------------------------------------- F-C1

@claim("F-C1", paper="F", place="Corollary 1", method="symbolic",
       statement="|∂L/∂x1 ÷ ∂L/∂x2| = x2/x1 for every pair.",
       scope=_GENERAL,
       latex=r"\left|\frac{\partial L}{\partial x_1} \Big/ \frac{\partial L}{\partial x_2}\right| = \frac{x_2}{x_1}")
def check_f_c1(ctx):
    import sympy as sp

    from dpomath.gradients import formulas as S

    g1, g2 = S.gradient_in_x("sigmoid")
    pairs = {
        "abs_ratio": (sp.Abs(g1 / g2), S.x2 / S.x1),
        "signed_ratio": (g1 / g2, -S.x2 / S.x1),
        "euler_x1g1_plus_x2g2": (S.x1 * g1 + S.x2 * g2, sp.Integer(0)),
    }
    points = _twin_points(ctx, [S.x1, S.x2, S.beta])
    ratio_h = S.update_ratio_h
    controls = {"|ratio| = x1/x2 (inverted)": (sp.Abs(g1 / g2), S.x1 / S.x2),
                "signed ratio = +x2/x1 (sign flipped)": (g1 / g2, S.x2 / S.x1)}
    return prove_identities(
        "Corollary 1 holds at every (x1, x2) > 0", pairs, points,
        {"update_ratio": str(S.update_ratio), "update_ratio_log_coordinates": str(ratio_h),
         "signs": "dL/dx1 < 0 < dL/dx2 everywhere"},
        controls=controls,
        details="Why: L depends on (x1, x2) only through x1/x2 (it is f(β log(x1/x2))), so it is "
                "invariant under (x1, x2) → (λx1, λx2) and Euler's identity x1 ∂L/∂x1 + x2 ∂L/∂x2 = 0 "
                "holds; the ratio follows wherever the gradient is non-zero (everywhere for DPO). "
                f"The ratio is a property of the coordinates: in log coordinates (h_w, h_l) the same "
                f"ratio is {ratio_h} (claim F-FIELD).")


# --------------------------------------------------------------------------- F-R1

@claim("F-R1", paper="F", place="Remark 1", method="symbolic",
       statement="For any pairwise preference data, the update rate x2/x1 < 1 holds.",
       scope=_GENERAL,
       latex=r"\forall (x, y_w, y_l):\ x_2/x_1 < 1")
def check_f_r1(ctx):
    import sympy as sp

    from dpomath.gradients import formulas as S
    from dpomath.gradients.field import gradient_field

    # 1. Exact: x2/x1 = exp(−ρ/β) with ρ = β(h_w − h_l); log is strictly increasing and β > 0,
    #    so x2/x1 < 1 ⇔ −ρ/β < 0 ⇔ ρ > 0.
    rho_def = S.beta * (S.h_w - S.h_l)
    ratio_in_rho = sp.exp(-S.rho / S.beta)
    same = reduces_to_zero((S.x2 / S.x1).subs(S.to_log_coordinates)
                             - ratio_in_rho.subs(S.rho, rho_def))
    region = sp.solve_univariate_inequality(-S.rho / S.beta < 0, S.rho, relational=False)
    region_eq = sp.solve(sp.Eq(-S.rho / S.beta, 0), S.rho)
    exact_ok = same and region == sp.Interval.open(0, sp.oo) and region_eq == [0]

    # 2. Along the single-pair gradient flow from the reference (x1 = x2 = 1): ∂L/∂x1 < 0 < ∂L/∂x2
    #    at every positive (x1, x2) (SymPy decides the signs from the assumptions), so x1 rises and
    #    x2 falls: x2/x1 < 1 for every t > 0, = 1 at t = 0.
    P1, P2 = S.paper_f_gradient
    signs_ok = bool(P1.is_negative) and bool(P2.is_positive)

    # 3. Counterexamples, exactly (SymPy rationals) and from the numeric field.
    cases = {"initialisation (policy = reference)": (1, 1),
             "paper F's own top-left regime (Fig. 1b)": (sp.Rational(1, 10), sp.Rational(9, 10)),
             "rejected preferred over the reference (r < 0)": (sp.Rational(1, 2), 2)}
    counter = {}
    for name, (v1, v2) in cases.items():
        exact_ratio = S.update_ratio.subs({S.x1: v1, S.x2: v2})
        g1, g2 = gradient_field(float(v1), float(v2), beta=0.1)
        counter[name] = {"x1": float(v1), "x2": float(v2), "x2/x1": str(exact_ratio),
                         "margin_r_at_beta_0.1": 0.1 * math.log(float(v1) / float(v2)),
                         "numeric_|g1/g2|_beta_0.1": float(abs(g1 / g2))}

    # 4. Property check at random points of the unit square: (ratio < 1) ⇔ (r > 0), via the
    #    numeric field (not the formula x2/x1). Criterion: no disagreement.
    n = 2000 if ctx.quick else 20000
    xs = ctx.rng.uniform(1e-3, 1.0, size=(2, n))
    margin_pos = xs[0] > xs[1]
    disagree, ratio_err = 0, 0.0
    for bval in (0.1, 0.5, 1.0, 2.0):
        g1, g2 = gradient_field(xs[0], xs[1], beta=bval)
        ratio = np.abs(g1 / g2)
        disagree += int(np.sum((ratio < 1) != margin_pos))
        ratio_err = max(ratio_err, float(np.max(np.abs(ratio - xs[1] / xs[0]) / (xs[1] / xs[0]))))
    frac_lt1 = float(np.mean(margin_pos))

    ev = {"criterion": "exact: solve −ρ/β < 0 for ρ; numeric: (|g1/g2| < 1) == (ρ > 0) at every sampled point",
          "x2/x1_in_margin": "exp(-rho/beta)", "ratio<1_iff": f"rho in {region}", "ratio=1_iff": "rho = 0",
          "exact_reduction": exact_ok, "sign_dL_dx1_negative": bool(P1.is_negative),
          "sign_dL_dx2_positive": bool(P2.is_positive), "sampled_points": n,
          "disagreements": disagree, "max_rel_err_ratio_vs_x2/x1": ratio_err, "betas_sampled": [0.1, 0.5, 1.0, 2.0],
          "fraction_of_unit_square_with_ratio<1": frac_lt1}
    if not (exact_ok and signs_ok) or disagree:
        return Verdict.inconclusive("the exact case analysis or the sampled check did not go through",
                                    evidence=ev, counterexample=counter)
    return Verdict.qualified(
        "x2/x1 < 1 holds exactly when the pair's margin r = β(h_w − h_l) > 0 (x1 > x2), not for "
        "every pair: at initialisation x2/x1 = 1, and any pair with r < 0 has x2/x1 > 1 (e.g. 9 at "
        "(0.1, 0.9), the paper's own top-left regime)",
        evidence=ev, counterexample=counter,
        details=(
            "**Exact analysis.** With x1 = e^{h_w}, x2 = e^{h_l}: x2/x1 = exp(−ρ/β), ρ = β(h_w − h_l) "
            "(SymPy reduces the difference to 0). exp is strictly increasing and β > 0, so "
            "x2/x1 < 1 ⇔ ρ > 0, x2/x1 = 1 ⇔ ρ = 0, x2/x1 > 1 ⇔ ρ < 0 — a property of the "
            "*state* of a pair (its implicit reward margin), not of the data.\n\n"
            "**When the paper's conclusion is right.** ∂L/∂x1 < 0 < ∂L/∂x2 on the whole open "
            "quadrant (SymPy decides both signs), so in the single-pair gradient flow started "
            "at the reference (x1 = x2 = 1) x1 rises and x2 falls: x2/x1 < 1 for every t > 0. This "
            "is the paper's argument (x1 > 1 > x2 as training proceeds); it needs the pair's "
            "coordinates to move independently. With shared parameters (many pairs, one model) "
            "a pair's margin can be and often is negative (rewards/accuracies < 1 in TRL's "
            "terms), and then x2/x1 > 1.\n\n"
            "**Status.** Not REFUTED outright because the paper's own argument implicitly assumes "
            "x1 > 1 > x2, a sufficient case of the exact condition r > 0; QUALIFIED because "
            "the condition is not stated in the remark, fails at initialisation (ratio exactly 1) "
            "and fails in the top-left region the paper itself describes as typical of early "
            "training (Section 3.2)."))


# --------------------------------------------------------------------------- F-R2

@claim("F-R2", paper="F", place="Remark 2 (Section 3.3.1)", method="symbolic",
       statement="The DPO loss changes x2 (dispreferred) faster than x1 (preferred); as x2/x1 → 0 it "
                 "focuses on pushing x2 to 0 while barely moving x1.",
       scope=_GENERAL,
       latex=r"\left|\partial_{x_2} L\right| > \left|\partial_{x_1} L\right|;\ "
             r"x_2/x_1 \to 0:\ \partial_{x_1} L \to 0,\ |\partial_{x_2} L| \gg |\partial_{x_1} L|")
def check_f_r2(ctx):
    import sympy as sp

    from dpomath.gradients import formulas as S
    from dpomath.gradients.field import gradient_field

    x1, x2, beta = S.x1, S.x2, S.beta
    P1, P2 = S.paper_f_gradient
    # (a) |∂L/∂x2| > |∂L/∂x1| ⇔ x2/x1 < 1 ⇔ r > 0 (F-C1 and F-R1).
    ratio_ok = reduces_to_zero(S.update_ratio - x2 / x1)
    # (b) x2 → 0 at fixed x1: each component, each β case, exactly.
    lim1 = S.limits_by_beta(P1, x2, 0)
    lim2 = S.limits_by_beta(P2, x2, 0)
    # relative size |g1/g2| = x2/x1 → 0 for every β
    rel = sp.limit(S.update_ratio, x2, 0, "+")
    # (c) log coordinates: ∂L/∂h_w = −∂L/∂h_l, and the log-coordinate flow moves x in the
    #     opposite proportion: |ẋ2/ẋ1| = x2/x1 (x1 moves faster when r > 0).
    gh = S.dpo_gradient_h
    balanced = reduces_to_zero(gh[0] + gh[1])
    xdot1 = (-gh[0] * sp.exp(S.h_w))          # ẋ1 = x1 ḣ_w
    xdot2 = (-gh[1] * sp.exp(S.h_l))
    reversed_ok = reduces_to_zero(sp.Abs(xdot2 / xdot1) - sp.exp(S.h_l) / sp.exp(S.h_w))

    # 50-digit twins of the two ratio identities
    from dpomath.verify.twins import numeric_twin, random_points
    pts = _twin_points(ctx, [x1, x2, beta])
    tw_a = numeric_twin(sp.Abs(P1 / P2), x2 / x1, pts, tol=_TWIN_TOL)
    hpts = random_points([S.h_w, S.h_l, beta], ctx.rng, {beta: _B_RANGE}, len(pts))
    tw_c = numeric_twin(sp.Abs(xdot2 / xdot1), sp.exp(S.h_l - S.h_w), hpts, tol=_TWIN_TOL)

    # counterexample to the unconditional "x2 faster": the paper's top-left regime
    c1, c2 = gradient_field(0.1, 0.9, beta=0.1)
    # and the absolute size near x2 = 0 for β = 2 (both components vanish)
    d1, d2 = gradient_field(1.0, 1e-6, beta=2.0)
    ev = {"criterion": "exact limits (sympy.limit per β case) and exact ratio identities",
          "|g1/g2|": str(S.update_ratio), "|g1/g2|_as_x2->0": str(rel),
          **{f"lim_x2->0_dL_dx1[{c}]": str(v) for c, v in lim1.items()},
          **{f"lim_x2->0_dL_dx2[{c}]": str(v) for c, v in lim2.items()},
          "log_coords_dL_dhw_plus_dL_dhl": "0" if balanced else "not reduced",
          "log_flow_|xdot2/xdot1|": "x2/x1" if reversed_ok else "not reduced",
          "twin_ratio_max_rel_diff": tw_a["twin_max_rel_diff"],
          "twin_log_flow_max_rel_diff": tw_c["twin_max_rel_diff"],
          "at_(0.1,0.9)_beta_0.1_|dL_dx1|": float(abs(c1)), "at_(0.1,0.9)_beta_0.1_|dL_dx2|": float(abs(c2)),
          "at_(1,1e-6)_beta_2_|dL_dx1|": float(abs(d1)), "at_(1,1e-6)_beta_2_|dL_dx2|": float(abs(d2))}
    expected = {"beta<1": sp.oo, "beta=1": 1 / x1, "beta>1": sp.Integer(0)}
    exact = (ratio_ok and balanced and reversed_ok and rel == 0
             and all(v == 0 for v in lim1.values())
             and all(sp.simplify(lim2[c] - e) == 0 if e is not sp.oo else lim2[c] == sp.oo
                     for c, e in expected.items())
             and tw_a["ok"] and tw_c["ok"])
    if not exact:
        return Verdict.inconclusive("the exact limits or identities did not reduce as derived", evidence=ev)
    return Verdict.qualified(
        "x2 gets the larger gradient exactly when r > 0 (|∂L/∂x1 ÷ ∂L/∂x2| = x2/x1); as x2 → 0, "
        "∂L/∂x1 → 0 for all β but ∂L/∂x2 → ∞ only for β < 1 (→ 1/x1 at β = 1, → 0 for β > 1); "
        "in log coordinates both gradients are equal and opposite",
        evidence=ev,
        counterexample={"r<0: (x1, x2) = (0.1, 0.9), beta = 0.1": {"|dL/dx1|": float(abs(c1)), "|dL/dx2|": float(abs(c2))},
                        "beta = 2 near x2 = 0: (1, 1e-6)": {"|dL/dx1|": float(abs(d1)), "|dL/dx2|": float(abs(d2))},
                        "log coordinates, any point": "|dL/dh_w| = |dL/dh_l| = beta*sigma(-rho)"},
        details=(
            "**Exact.** |∂L/∂x1 ÷ ∂L/∂x2| = x2/x1, so ∂L/∂x2 dominates iff x1 > x2, i.e. iff the "
            "margin r > 0 (the condition of F-R1, which the remark inherits). Limits as x2 → 0+ "
            "at fixed x1, per case (β = 1/(1+k), 1, 1+k with k > 0): ∂L/∂x1 → 0 in every case; "
            "∂L/∂x2 → ∞ (β < 1), 1/x1 (β = 1), 0 (β > 1). So 'barely moving x1' holds for all β, "
            "'pushing x2 to 0' fast only for β ≤ 1 (diverging only for β < 1, the paper's usual "
            "β ∈ [0.1, 0.5]); for β > 1 both components vanish.\n\n"
            "**Coordinates.** The remark is about probability coordinates. In log coordinates "
            "(h_w, h_l), in which models are trained, ∂L/∂h_w = −∂L/∂h_l = −βσ(−ρ): neither "
            "response is favoured. Under the log-coordinate gradient flow the probability ratios "
            "move as ẋ1 = x1 ḣ_w, ẋ2 = x2 ḣ_l, so |ẋ2/ẋ1| = x2/x1: once r > 0 it is x1 that moves "
            "faster in absolute terms — the remark's conclusion reverses."))


# --------------------------------------------------------------------------- F-FIELD

_FIELD_BETA = 0.5  # drawn β of the figures (paper F: "usually β ∈ [0.1, 0.5]")


@claim("F-FIELD", paper="F", place="Section 3.2, Figure 1", method="symbolic",
       statement="The gradient field ∇L(x1, x2) over the unit square (reference probabilities 1) has "
                 "regimes: x1 small and x2 large — x1 increases fast, x2 barely moves; x1 and x2 both "
                 "large — both move, overall change small (slow escape, saddle-like); x2 very small — "
                 "x2 decreases fast, x1 barely moves; the field vanishes toward low x2.",
       latex=r"\nabla L(x_1, x_2),\ (x_1, x_2) \in (0, 1]^2")
def check_f_field(ctx):
    import sympy as sp

    from dpomath.gradients import formulas as S
    from dpomath.gradients.field import field_grid, gradient_field

    x1, x2, beta = S.x1, S.x2, S.beta
    P1, P2 = S.paper_f_gradient
    t = sp.Symbol("t", positive=True)  # direction x2 = t·x1 into the corner (0, 0)
    ray = lambda e: sp.cancel(sp.expand_power_base(e))  # (t·x1)^β = t^β x1^β, exact
    regions = {  # name: (variable, point, substitution, exact rewriting before the limit)
        "top-left corner (x1->0, x2=1)": (x1, 0, {x2: 1}, None),
        "left edge (x1->0, x2 fixed)": (x1, 0, None, None),
        "bottom edge (x2->0, x1 fixed)": (x2, 0, None, None),
        "bottom-right corner (x2->0, x1=1)": (x2, 0, {x1: 1}, None),
        "bottom-left corner (x1->0 along x2=t*x1)": (x1, 0, {x2: t * x1}, ray),
    }
    lims = {}
    for name, (var, pt, subs, prep) in regions.items():
        lims[name] = tuple(S.limits_by_beta(P, var, pt, subs=subs, prepare=prep) for P in (P1, P2))
    at11 = [sp.simplify(g.subs({x1: 1, x2: 1})) for g in (P1, P2)]
    norm11 = sp.simplify(sp.sqrt(at11[0]**2 + at11[1]**2))
    no_critical_point = bool(P1.is_negative)  # ∂L/∂x1 < 0 everywhere: ∇L ≠ 0, no saddle

    # Log coordinates: the gradient is (−1, +1)·βσ(−ρ); its size depends on ρ alone.
    gh = S.dpo_gradient_h
    balanced = reduces_to_zero(gh[0] + gh[1])
    mag_h = sp.sqrt(2) * beta / (1 + sp.exp(S.rho))  # |∇_h L| written through ρ
    mag_ok = reduces_to_zero(sp.sqrt(gh[0]**2 + gh[1]**2)
                               - mag_h.subs(S.rho, beta * (S.h_w - S.h_l)))
    mag_lims = {"rho->-oo (top-left)": sp.limit(mag_h, S.rho, -sp.oo),
                "rho=0 (diagonal, incl. (1,1))": mag_h.subs(S.rho, 0),
                "rho->+oo (low x2)": sp.limit(mag_h, S.rho, sp.oo)}

    # Numeric: where on the unit square is |∇L| smallest? Criterion stated here, before the run:
    # "both large → overall change small" holds at β when the grid minimum of |∇_x L| over
    # [0.01, 1]² lies within 0.05 of (1, 1) in both coordinates.
    argmins = {}
    axis = np.linspace(0.01, 1.0, 100 if ctx.quick else 400)
    U, V = np.meshgrid(axis, axis)
    for bval in (0.1, 0.5, 1.0, 2.0):
        g1, g2 = gradient_field(U, V, bval)
        m = np.hypot(g1, g2)
        i = np.unravel_index(np.argmin(m), m.shape)
        argmins[bval] = (float(U[i]), float(V[i]), float(m[i]))
    slow_top_right = {b_: (abs(u - 1) <= 0.05 and abs(v - 1) <= 0.05) for b_, (u, v, _) in argmins.items()}

    figures = []
    if ctx.want_figures:
        from dpomath.plots.paper_f import field_coordinates, figure1

        gx = field_grid(_FIELD_BETA, "probability", lo=0.02, hi=1.0, n=21)
        gsurf = field_grid(_FIELD_BETA, "probability", lo=0.02, hi=1.0, n=60)
        figures.append(str(figure1(gsurf, gx, _FIELD_BETA, ctx.figure_path("paper_f_figure1.png"))))
        gh_grid = field_grid(_FIELD_BETA, "log", lo=0.02, hi=1.0, n=21)
        figures.append(str(field_coordinates(gx, gh_grid, _FIELD_BETA,
                                             ctx.figure_path("paper_f_field_coordinates.png"))))

    def fmt(d):
        return {c: str(v) for c, v in d.items()}

    ev = {"criterion": "exact limits per β case; slow top-right iff grid argmin of |∇L| within 0.05 of (1,1)"}
    for name, (l1, l2) in lims.items():
        ev[f"dL_dx1 at {name}"] = str(fmt(l1))
        ev[f"dL_dx2 at {name}"] = str(fmt(l2))
    ev.update({"grad_at_(1,1)": str(at11), "|grad|_at_(1,1)": str(norm11),
               "grad_never_zero (no saddle, no stationary point)": no_critical_point,
               "log_coords_dL_dhw_plus_dL_dhl": "0" if balanced else "not reduced",
               "log_coords_|grad|": "sqrt(2)*beta*sigma(-rho)" if mag_ok else "not reduced",
               **{f"log_coords_|grad| {k}": str(v) for k, v in mag_lims.items()},
               **{f"argmin_|grad|_unit_square_beta_{b_:g}": [round(u, 3), round(v, 3), m]
                  for b_, (u, v, m) in argmins.items()},
               **{f"slow_top_right_beta_{b_:g}": s for b_, s in slow_top_right.items()}})

    bottom2 = lims["bottom edge (x2->0, x1 fixed)"][1]
    tl1, tl2 = lims["top-left corner (x1->0, x2=1)"]
    derived = (all(v == -sp.oo for v in tl1.values()) and tl2["beta<1"] == beta and tl2["beta>1"] == beta
               and bottom2["beta<1"] == sp.oo and bottom2["beta>1"] == 0 and no_critical_point
               and balanced and mag_ok)
    if not derived:
        return Verdict.inconclusive("the exact limits did not come out as derived", evidence=ev,
                                    figures=figures)
    table = (
        "| regime (paper) | probability coordinates (x1, x2) | log coordinates (h_w, h_l) |\n"
        "|---|---|---|\n"
        "| x1 → 0, x2 large: x1 rises fast, x2 barely moves | holds for every β: ∂L/∂x1 → −∞, "
        "∂L/∂x2 → β | fails: components equal and opposite, ‖∇L‖ → √2β (bounded) |\n"
        "| x1, x2 both large: small change, saddle | smallest ‖∇L‖ = β/√2 at (1, 1) for β ≤ 1 "
        f"(grid argmin: {', '.join(f'β={b_:g}: {s}' for b_, s in slow_top_right.items())}); "
        "**no saddle**: ∂L/∂x1 < 0 everywhere, ∇L never vanishes | fails: (0, 0) has ‖∇L‖ = β/√2 like "
        "the whole diagonal; the slow region is r ≫ 0 |\n"
        "| x2 → 0: x2 falls fast, x1 barely moves | ∂L/∂x1 → 0 for every β; ∂L/∂x2 → ∞ only for β < 1 "
        "(→ 1/x1 at β = 1, → 0 for β > 1) | fails: equal and opposite |\n"
        "| the field vanishes toward low x2 | **false for β ≤ 1** (∂L/∂x2 → ∞ or 1/x1); true only for "
        "β > 1, where x2 is then **not** pushed fast | holds for every β: ‖∇L‖ = √2βσ(−ρ) → 0 |\n")
    size_details = (
        "Exact limits of the paper's partials (SymPy, per case β = 1/(1+k), 1, 1+k) and the "
        "same field in log coordinates. Which conclusions depend on the coordinates: all three "
        "fast/slow regimes (they come from the factors 1/x1 and 1/x2 of the chain rule "
        "∂L/∂x = (∂L/∂h)/x); the only statement that holds in log coordinates — the field "
        "vanishing toward low x2 — is the one that fails in probability coordinates for "
        "β ≤ 1.\n\n" + table +
        f"\nFigures: Figure 1 regenerated at β = {_FIELD_BETA:g} (arrows show the direction of "
        "−∇L, colour log10 |∇L|) and the two coordinate systems side by side.")
    size = Verdict.refuted(
        "for no β do all the regimes hold: toward low x2 the field diverges for β < 1 (the paper's "
        "β ∈ [0.1, 0.5]) instead of vanishing, and there is no saddle (∇L ≠ 0 on the whole square); "
        "the fast/slow regimes are artefacts of probability coordinates — in log coordinates the "
        "gradient is (−1, +1)·βσ(−ρ) everywhere",
        evidence=ev, figures=figures,
        counterexample={"beta = 0.5, (x1, x2) = (1, 1e-8)": {
            "dL/dx2": float(gradient_field(1.0, 1e-8, 0.5)[1]), "field vanishes?": False},
            "saddle": "dL/dx1 = -beta*x2**beta/(x1*(x1**beta+x2**beta)) < 0 on (0, oo)^2: no stationary point"},
        details=size_details)

    # The flow reading: 'vanishes' = the flow lines of −∇L converge to low x2 and end there.
    # Exact: the flow conserves x1² + x2² (x·∇L = 0) and x2 falls strictly (∂L/∂x2 > 0), so every
    # flow line runs down a circle to (R, 0); near θ = atan(x2/x1) → 0 the time element
    # dt = R² sin 2θ (1 + cot^β θ)/(2β) dθ behaves as θ^(1−β) R²/β, integrable iff β < 2.
    th = sp.Symbol("theta", positive=True)
    Rr = sp.Symbol("R", positive=True)
    dt = Rr ** 2 * sp.sin(2 * th) * (1 + sp.cot(th) ** beta) / (2 * beta)
    lead = {c: sp.limit(dt.subs(beta, b_) * th ** (b_ - 1), th, 0, "+")
            for c, b_ in (("beta=1/2", sp.Rational(1, 2)), ("beta=1", 1), ("beta=3/2", sp.Rational(3, 2)))}
    conserves = reduces_to_zero(x1 * P1 + x2 * P2)
    x2_falls = bool(P2.is_positive)
    t6 = {b_: _flow_time_quadrature((0.5, 0.5), b_, 1e-6) for b_ in (0.1, 0.5, 1.5)}
    t12 = {b_: _flow_time_quadrature((0.5, 0.5), b_, 1e-12) for b_ in (0.1, 0.5, 1.5)}
    finite_time = all(log_compare(t12[b_], t6[b_], rtol=0.05) == 0 for b_ in (0.1, 0.5))
    lead_ok = all(sp.simplify(v - Rr ** 2 / b_) == 0 for (c, v), b_ in
                  zip(lead.items(), (sp.Rational(1, 2), 1, sp.Rational(3, 2))))
    regimes_beta_lt_1 = (all(v == -sp.oo for v in tl1.values()) and tl2["beta<1"] == beta
                         and bottom2["beta<1"] == sp.oo
                         and all(v == 0 for v in lims["bottom edge (x2->0, x1 fixed)"][0].values())
                         and all(slow_top_right[b_] for b_ in (0.1, 0.5)))
    regimes_fail_beta_gt_1 = bottom2["beta>1"] == 0 and not slow_top_right[2.0]
    flow_ev = {"flow_criterion": _FLOW_READING_RULE,
               "flow_conserves_x1^2+x2^2": conserves, "flow_x2_strictly_falls": x2_falls,
               "flow_time_element_near_x2=0_times_theta^(beta-1)": {k: str(v) for k, v in lead.items()},
               "flow_time_to_x2/x1=1e-6_from_(0.5,0.5)": {str(k): v for k, v in t6.items()},
               "flow_time_to_x2/x1=1e-12_from_(0.5,0.5)": {str(k): v for k, v in t12.items()},
               "flow_reaches_x2=0_in_finite_time_beta<2": finite_time and lead_ok,
               "regimes_hold_in_probability_coordinates_beta<1": regimes_beta_lt_1,
               "regimes_fail_beta>1": regimes_fail_beta_gt_1,
               "min_|grad|_unit_square": {f"beta_{b_:g}": argmins[b_] for b_ in argmins},
               "saddle_or_stationary_point": not no_critical_point}
    flow_ok = conserves and x2_falls and finite_time and lead_ok and regimes_beta_lt_1
    flow_details = (
        "**Flow reading.** Every flow line of −∇L runs along a circle x1² + x2² = R² (SymPy: "
        "x·∇L = 0) with x2 strictly falling (∂L/∂x2 > 0), so it ends at (R, 0): the field "
        "'converges towards the region of low x2', in finite time for β < 2 (time element "
        "≈ R²θ^{1−β}/β as θ → 0; quadrature to x2/x1 = 1e-6 and 1e-12 agree within 5%) and "
        "asymptotically for β ≥ 2. In the paper's coordinates the three regimes of Figure 1 hold "
        "for β < 1, the paper's range: at the top-left ∂L/∂x1 → −∞ while ∂L/∂x2 → β (x1 rises "
        "fast, x2 barely moves); ‖∇L‖ is smallest at (1, 1) (β/√2, the slow top-right); at low "
        "x2 ∂L/∂x2 → ∞ while ∂L/∂x1 → 0 (x2 falls fast, x1 barely moves). For β > 1 the third "
        "regime fails (∂L/∂x2 → 0). The hedged 'potentially … saddle points' fails: ∇L never "
        "vanishes (∂L/∂x1 < 0 everywhere), min ‖∇L‖ = β/√2 at (1, 1) for β ≤ 1. All regimes are "
        "artefacts of probability coordinates: in log coordinates the gradient is "
        "(−1, +1)·βσ(−ρ) everywhere.\n\n" + size_details)
    flow_ev = {**ev, **flow_ev}
    if flow_ok:
        flow = Verdict.qualified(
            "the regimes of Figure 1 hold in probability coordinates for β < 1 (the paper's "
            "β ∈ [0.1, 0.5]), not for β > 1; the flow lines end at x2 = 0 (finite time for β < 2); "
            "there is no saddle or stationary point (min ‖∇L‖ = β/√2 at (1, 1)); the regimes are "
            "artefacts of the coordinates (log coordinates: (−1, +1)·βσ(−ρ))",
            evidence=flow_ev, figures=figures, details=flow_details,
            counterexample={"beta = 2, x2 -> 0": "dL/dx2 -> 0: x2 is not pushed fast",
                            "saddle": "no stationary point: dL/dx1 < 0 on (0, oo)^2"})
    else:
        flow = Verdict.inconclusive("the flow reading's exact steps did not come out as derived",
                                    evidence=flow_ev, figures=figures, details=flow_details)
    v = decide_readings([
        Reading("flow", "'vanishes' = the flow lines converge to low x2 and end there", 1,
                "the same sentence says the field 'vanishes in the area of low x1 and then moves "
                "away', where ‖∇L‖ → ∞, and bullet 3 says x2 falls 'rapidly' at low x2: "
                "'vanish' describes where the flow goes, not the gradient's size", flow),
        Reading("gradient size", "'vanishes toward low x2' = ‖∇L‖ → 0 there", 2,
                "the literal word 'vanish'; it contradicts the paper's own use at low x1 and its "
                "bullet 3", size)])
    v.scope = Scope("general symbolic (exact limits per β case) + grid of the unit square",
                    reading=v.scope.reading if v.scope else "", kind="general")
    v.revisions.append(Revision(
        old_rule="one reading: 'the field vanishes toward low x2' = ‖∇L‖ → 0; REFUTED if for no β "
                 "do all regimes hold",
        old_verdict="REFUTED",
        new_rule="two readings decided side by side (flow, gradient size); headline = the reading "
                 "most consistent with the paper's words (flow); " + _FLOW_READING_RULE,
        reason=f"{REVIEW}, finding 1: the size reading contradicts the paper's own sentence "
               "('vanishes in the area of low x1', where ‖∇L‖ → ∞) and its bullet 3"))
    return v


#: The flow reading's rule, stated before the run.
_FLOW_READING_RULE = (
    "flow reading: 'vanishes toward low x2' holds if the flow conserves x1²+x2², x2 falls "
    "strictly and the flow reaches x2 = 0 (finite time, quadrature to x2/x1 = 1e-12 within 5% of "
    "1e-6, log scale); the regimes are decided per β case from the exact limits (top-left: "
    "∂L/∂x1 → −∞, ∂L/∂x2 → β; low x2: ∂L/∂x2 → ∞, ∂L/∂x1 → 0; slow top-right: grid argmin of "
    "‖∇L‖ within 0.05 of (1, 1)). QUALIFIED if they hold for β < 1 only or the hedged saddle "
    "fails; INCONCLUSIVE if an exact step does not come out")


# --------------------------------------------------------------------------- F-R3

#: Named starting points (paper F's regions of Figure 1(b)), as (x1, x2).
_STARTS = {"lower-left": (0.1, 0.1), "upper-right": (0.9, 0.9), "top-left": (0.1, 0.9),
           "lower-right": (0.9, 0.1), "centre": (0.5, 0.5)}
_STOP_RATIO = 1e-6       # the flow "ends" when x2/x1 reaches this (ρ* = β log 1e6)
_FLOW_RTOL, _FLOW_ATOL = 1e-11, 1e-30
_ACCURACY = 1e-8         # required agreement with the independent checks (relative)
_AMPLIFICATION_TOL = 1e-6
_SENS_BETA = 0.5         # β at which the end map's Jacobian is measured


def _amp(a: float) -> str:
    return "—" if math.isnan(a) else f"{a:.7f}"


def _flow_time_quadrature(start, beta: float, q: float) -> float:
    """Time for the flow of −∇_x L from ``start`` to reach x2/x1 = q, by quadrature of the
    exact 1-D reduction: on the circle x = R(cos θ, sin θ), dt = R² sin 2θ (1 + cot^β θ)/(2β) dθ."""
    from scipy.integrate import quad

    R2 = start[0] ** 2 + start[1] ** 2
    th0, th1 = math.atan2(start[1], start[0]), math.atan(q)
    f = lambda th: R2 * math.sin(2 * th) * (1 + math.tan(th) ** (-beta)) / (2 * beta)
    pts = np.geomspace(th1, th0, 8)
    return float(sum(quad(f, lo, hi, epsabs=0, epsrel=1e-13, limit=200)[0]
                     for lo, hi in zip(pts[:-1], pts[1:])))


def _rk4_probability_flow(starts: np.ndarray, beta: float, t_end: np.ndarray, n: int) -> np.ndarray:
    """Classical RK4 of ẋ = −∇_x L in the plain state (x1, x2) on a prescribed graded mesh
    t_k = t_end·(k/n)³ (small steps first, where x1 is small and fast), all starts at once:
    the independent discretisation."""
    from scipy.special import expit

    def rhs(x):
        w = expit(-beta * (np.log(x[0]) - np.log(x[1])))  # σ(−ρ)
        return np.array([beta * w / x[0], -beta * w / x[1]])

    x = starts.T.astype(np.float64).copy()
    mesh = np.outer(t_end, (np.arange(n + 1) / n) ** 3)
    for i in range(n):
        h = mesh[:, i + 1] - mesh[:, i]
        k1 = rhs(x)
        k2 = rhs(x + 0.5 * h * k1)
        k3 = rhs(x + 0.5 * h * k2)
        k4 = rhs(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x.T


@claim("F-R3", paper="F", place="Remark 3 (Section 3.3.2)", method="numeric",
       statement="Where an SFT model starts in (x1, x2) changes where DPO ends: the optimisation is "
                 "sensitive to its initial position.",
       latex=r"x(0) \mapsto \lim_t x(t),\ \dot x = -\nabla_x L")
def check_f_r3(ctx):
    from dpomath.gradients import formulas as S
    from dpomath.gradients.field import gradient_flow

    # Exact: conserved quantities of the two gradient flows (proved, not measured).
    P1, P2 = S.paper_f_gradient
    gh = S.dpo_gradient_h
    conserved_x = reduces_to_zero(S.x1 * (-P1) + S.x2 * (-P2))   # d(x1²+x2²)/dt / 2
    conserved_h = reduces_to_zero(-gh[0] - gh[1])                # d(h_w+h_l)/dt

    betas = (0.1, 0.5) if ctx.quick else (0.1, 0.5, 2.0)
    starts = dict(_STARTS)
    for i in range(1 if ctx.quick else 3):
        u = ctx.rng.uniform(0.05, 1.0, 2)
        starts[f"random {i + 1}"] = (float(u[0]), float(u[1]))
    delta = 1e-5  # central differences: truncation error O(δ²/R²) ≲ 1e-7 for R ≥ 0.05
    rows, flows_for_fig = [], {}
    worst_time_err = worst_R_drift = worst_rk4 = worst_end = 0.0
    amplification = 0.0
    for bval in betas:
        rho_stop = bval * math.log(1 / _STOP_RATIO)
        sx, names, t_stops, mids = [], [], [], []
        for name, s in starts.items():
            f = gradient_flow(s, bval, "probability", stop_margin=rho_stop, rtol=_FLOW_RTOL, atol=_FLOW_ATOL)
            fh = gradient_flow(np.log(s), bval, "log", stop_margin=rho_stop, rtol=_FLOW_RTOL, atol=_FLOW_ATOL)
            if not (f.stopped and fh.stopped):
                return Verdict.inconclusive(f"a flow did not reach x2/x1 = {_STOP_RATIO:g} (β={bval}, {name})")
            R = math.hypot(*s)
            # checks: time against quadrature, x1²+x2² along the whole trajectory, end point
            T = _flow_time_quadrature(s, bval, _STOP_RATIO)
            worst_time_err = max(worst_time_err, abs(f.t_stop - T) / T)
            tt = np.linspace(0, f.t_stop, 200)
            xx = f.at(tt)
            worst_R_drift = max(worst_R_drift, float(np.max(np.abs(np.hypot(xx[0], xx[1]) - R) / R)))
            end_exact = R / math.sqrt(1 + _STOP_RATIO**2)
            worst_end = max(worst_end, abs(f.stop[0] - end_exact) / end_exact)
            # sensitivity: the end map's Jacobian by central differences (at one β: it is the
            # same map R(x) for every β, and flows are the expensive part)
            amp = float("nan")
            if bval == _SENS_BETA:
                cols = []
                for d in ((delta, 0.0), (0.0, delta)):
                    fp, fm = (gradient_flow((s[0] + sg * d[0], s[1] + sg * d[1]), bval, "probability",
                                            stop_margin=rho_stop, rtol=_FLOW_RTOL, atol=_FLOW_ATOL)
                              for sg in (1, -1))
                    cols.append((np.array(fp.stop) - np.array(fm.stop)) / (2 * delta))
                amp = float(np.linalg.norm(np.array(cols).T, 2))
                amplification = max(amplification, amp)
            ends_h = np.exp(fh.stop)
            rows.append({"beta": bval, "start": name, "x1_0": s[0], "x2_0": s[1],
                         "end_x1": f.stop[0], "end_x2": f.stop[1], "R=sqrt(x1^2+x2^2)": R,
                         "time": f.t_stop, "time_quadrature": T, "end_map_amplification": amp,
                         "log_flow_end_x1": float(ends_h[0]), "log_flow_end_x2": float(ends_h[1]),
                         "log_flow_time": fh.t_stop, "x1*x2": s[0] * s[1]})
            sx.append(s); names.append(name); t_stops.append(f.t_stop); mids.append(f.at(f.t_stop / 2))
            if bval == 0.5:
                flows_for_fig[name] = (f, fh)
        # independent discretisation: fixed-step RK4 in (x1, x2) to half the stop time
        rk = _rk4_probability_flow(np.array(sx), bval, np.array(t_stops) / 2, 2000)
        mid = np.array(mids)
        worst_rk4 = max(worst_rk4, float(np.max(np.abs(rk - mid) / np.abs(mid))))

    # log flow: exact solution ρ + e^ρ = 2β²t + ρ0 + e^{ρ0}; compare its stop times
    worst_log_time = 0.0
    for r in rows:
        r0 = r["beta"] * math.log(r["x1_0"] / r["x2_0"])
        rs = r["beta"] * math.log(1 / _STOP_RATIO)
        T = (rs + math.exp(rs) - r0 - math.exp(r0)) / (2 * r["beta"] ** 2)
        worst_log_time = max(worst_log_time, abs(r["log_flow_time"] - T) / T)

    ends = np.array([[r["end_x1"], r["end_x2"]] for r in rows if r["beta"] == betas[0]])
    end_spread = float(np.ptp(ends[:, 0]))
    times = [r["time"] for r in rows]
    accurate = max(worst_time_err, worst_R_drift, worst_rk4, worst_end, worst_log_time) <= _ACCURACY
    figures = []
    if ctx.want_figures and flows_for_fig:
        from dpomath.plots.paper_f import flow_trajectories

        fx = [v[0] for v in flows_for_fig.values()]
        fh = [v[1] for v in flows_for_fig.values()]
        figures.append(str(flow_trajectories(fx, fh, 0.5, ctx.figure_path("paper_f_flows.png"))))
    ev = {"criterion": (f"stated before the run: the end point depends on the start if end x1 varies by "
                        f"> 1e-6 across starts; the flow is sensitive (unstable) if the end map's "
                        f"amplification ||J||_2 > 1 + {_AMPLIFICATION_TOL:g}; numerics trusted if every "
                        f"independent check agrees to {_ACCURACY:g}"),
          "flow": "x' = -grad_x L (paper F's field); stop at x2/x1 = 1e-6",
          "solver": f"solve_ivp DOP853 rtol={_FLOW_RTOL:g} atol={_FLOW_ATOL:g} on the state x^(2-beta) (log x near beta = 2)",
          "betas": list(betas), "starts": len(starts),
          "conserved_x1^2+x2^2_proved": conserved_x, "conserved_hw+hl_in_log_flow_proved": conserved_h,
          "end_x1_spread_across_starts": end_spread,
          "max_end_map_amplification": amplification, "amplification_measured_at_beta": _SENS_BETA,
          "time_min": min(times), "time_max": max(times),
          "check_time_vs_quadrature_max_rel": worst_time_err,
          "check_R_drift_max_rel": worst_R_drift, "check_end_vs_exact_max_rel": worst_end,
          "check_rk4_fixed_step_vs_solve_ivp_max_rel": worst_rk4,
          "check_log_flow_time_vs_closed_form_max_rel": worst_log_time,
          "end_x1>1_(outside_unit_square)": sum(r["end_x1"] > 1 for r in rows)}
    details_rows = "\n".join(
        f"| {r['beta']:g} | {r['start']} | ({r['x1_0']:.3f}, {r['x2_0']:.3f}) | {r['end_x1']:.6f} | "
        f"{r['time']:.4g} | {_amp(r['end_map_amplification'])} | {r['log_flow_end_x1']:.4g} |" for r in rows)
    details = (
        "The flow of paper F's field, ẋ = −∇_x L, conserves x1² + x2² (SymPy: x·∇_x L = 0), so it "
        "runs along a circle and ends on the x1-axis at x1 = R = √(x1(0)² + x2(0)²); the flow in "
        "log coordinates conserves h_w + h_l (x1·x2) instead and runs along a hyperbola. Every "
        "start reaches the same loss; the start decides only R (or x1·x2) and the time.\n\n"
        "| β | start | (x1, x2)(0) | end x1 | time | ‖J‖₂ (at β = 0.5) | end x1 (log flow) |\n|---|---|---|---|---|---|---|\n"
        + details_rows + "\n\nIndependent checks: time against a quadrature of the exact 1-D "
        "reduction; R along the trajectory; fixed-step RK4 in (x1, x2) at half the stop time; "
        "the log flow against its closed form ρ + e^ρ = 2β²t + const. End points with x1 > 1 "
        "lie outside the unit square (πθ(y_w) > 1 when π_ref = 1): the single-pair picture "
        "ignores normalisation.")
    if not (accurate and conserved_x and conserved_h):
        return Verdict.inconclusive("the numerical checks did not reach the stated accuracy", evidence=ev,
                                    details=details, figures=figures)
    import sympy as sp

    scope = Scope(f"paper F's single-pair flow ẋ = −∇_x L, β ∈ {{{', '.join(f'{b:g}' for b in betas)}}}, "
                  f"{len(starts)} starts (solve_ivp + quadrature + RK4)", kind="sampled")
    # Exact end map at the stop x2/x1 = q: x ↦ |x|(1, q)/√(1 + q²), Jacobian u vᵀ with |u| = |v| = 1,
    # so ‖J‖₂ = 1 at every start: nearby starts end exactly as far apart (radially) as they began.
    ex1, ex2, q_ = sp.symbols("x1 x2 q", positive=True)
    Rs = sp.sqrt(ex1 ** 2 + ex2 ** 2)
    endmap = sp.Matrix([Rs / sp.sqrt(1 + q_ ** 2), q_ * Rs / sp.sqrt(1 + q_ ** 2)])
    J = endmap.jacobian([ex1, ex2])
    JtJ = J.T * J
    norm_exact = reduces_to_zero(JtJ.trace() - 1) and reduces_to_zero(JtJ.det())  # rank 1, ‖J‖₂² = 1
    amp_tie = log_compare(amplification, 1.0, rtol=_AMPLIFICATION_TOL) == 0
    ev.update({"end_map_norm_exactly_1": norm_exact, "finite_difference_amplification_ties_1": amp_tie,
               "amplification_tie_tolerance_log_scale": _AMPLIFICATION_TOL})
    b0 = betas[0]
    by_start = {r["start"]: r for r in rows if r["beta"] == b0}
    ends = {n: r["end_x1"] for n, r in by_start.items()}
    t_half = {r["start"]: r["time"] for r in rows if r["beta"] == 0.5}
    lo_n, hi_n = min(ends, key=ends.get), max(ends, key=ends.get)
    same_circle = abs(by_start["top-left"]["end_x1"] - by_start["lower-right"]["end_x1"])
    ev.update({"end_x1_by_start_beta_" + f"{b0:g}": ends, "time_by_start_beta_0.5": t_half,
               "end_x1_max_over_min": ends[hi_n] / ends[lo_n],
               "end_x1_spread_on_one_circle_top-left_vs_lower-right": same_circle})
    depends = end_spread > 1e-6
    sensitive = amplification > 1 + _AMPLIFICATION_TOL and not amp_tie
    circle_control = Control(
        "the end depends on where on a circle x1² + x2² = R² the start lies (top-left (0.1, 0.9) vs "
        "lower-right (0.9, 0.1), same R)", failed=not (same_circle > 1e-6),
        measured=f"end x1 differ by {same_circle:.1e} (criterion > 1e-6)")
    dep = (Verdict.confirmed if depends else Verdict.refuted)(
        f"where the flow starts decides where it ends: final x1 = √(x1(0)² + x2(0)²) runs from "
        f"{ends[lo_n]:.3f} ({lo_n}) to {ends[hi_n]:.3f} ({hi_n}), and the time from "
        f"{min(t_half.values()):.3g} to {max(t_half.values()):.3g} (β = 0.5; upper-right "
        f"{t_half['upper-right']:.3g}, the slow start the paper names)" if depends else
        "every start ends at the same point", evidence=ev, details=details, figures=figures,
        controls=[circle_control], scope=scope)
    inst = (Verdict.confirmed if sensitive else Verdict.refuted)(
        "nearby starts end far apart" if sensitive else
        f"not unstable: the end map has ‖J‖₂ = 1 exactly (finite differences: "
        f"{amplification:.7f}), so nearby starts end exactly as close as they began (radially)",
        evidence=ev, details=details, figures=figures, scope=scope,
        controls=[] if not sensitive else [circle_control],
        counterexample={"max_end_map_amplification": amplification, "exact": "||J||_2 = 1"})
    v = decide_readings([
        Reading("dependence", "the end point of DPO's flow depends on the start", 1,
                "Remark 3: 'The initial states ... have a significant impact on the final "
                "optimization results'; 'can drive LLM to different optimization results'; "
                "lower-left (poor SFT) and the sluggish upper-right", dep),
        Reading("instability", "nearby starts end far apart (end-map amplification > 1)", 2,
                "only the hedged '… potentially leading to instability'", inst)])
    v.revisions.append(Revision(
        old_rule=("CONFIRMED iff the end depends on the start (spread > 1e-6) and the end map's "
                  "finite-difference amplification > 1 + 1e-6; QUALIFIED iff it depends only"),
        old_verdict="QUALIFIED",
        new_rule=("two readings side by side, headline = the reading most consistent with the "
                  "paper's words (dependence, same criterion: spread > 1e-6); instability decided "
                  "on the exact ‖J‖₂ = 1 (the finite-difference value a tie on a log scale within "
                  "1e-6), not on which side of 1 rounding puts it"),
        reason=(f"{REVIEW}, claim table F-R3: 'sensitive' read as amplification > 1 is a stronger "
                "bar than the paper's claim, and the exact value ‖J‖ = 1 sits at the bar by "
                "construction")))
    return v
