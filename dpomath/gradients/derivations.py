"""Step-by-step derivations of paper F's gradient field, its GPO generalisation and paper Y's
limits, for ``dpomath derive NAME`` (registered with :mod:`dpomath.verify.derive`).

Every step is computed by SymPy from the loss family's definitions at call time; nothing is
typed in as a result.
"""
from __future__ import annotations

import sympy as sp

from . import formulas as S
from ..verify.derive import Step, derivation

__all__ = ["dpo_gradient", "update_ratio", "log_coordinates", "gpo_ratio", "three_d_limits"]

_L = sp.Symbol("L")


def _d(var):
    return sp.Derivative(sp.Function("L")(S.x1, S.x2), var)


@derivation("dpo-gradient")
def dpo_gradient() -> list[Step]:
    """Paper F, Theorem 1: the partial derivatives of DPO's loss in (x1, x2)."""
    from ..losses import symbolic_margin_loss

    f, df = symbolic_margin_loss("sigmoid")
    L = S.loss_in_x("sigmoid")
    g1, g2 = S.gradient_in_x("sigmoid")
    return [
        Step("DPO's loss as a function of the margin ρ = β(h_w − h_l) (dpomath.losses, 'sigmoid')",
             sp.Eq(sp.Function("f")(S.rho), f)),
        Step("paper F's coordinates: x1 = e^{h_w}, x2 = e^{h_l}, i.e. h_w = log x1, h_l = log x2",
             sp.Eq(_L, L)),
        Step("the same loss in the paper's form, eq. (1) (equal: the difference simplifies to "
             f"{sp.simplify(L - S.paper_f_loss)})", sp.Eq(_L, S.paper_f_loss)),
        Step("differentiate in x1 (sympy.diff)", sp.Eq(_d(S.x1), g1)),
        Step("simplify: paper F, Theorem 1, first partial", sp.Eq(_d(S.x1), S.dpo_gradient_x[0])),
        Step("differentiate in x2 and simplify: Theorem 1, second partial",
             sp.Eq(_d(S.x2), S.dpo_gradient_x[1])),
        Step("chain rule view: ∂L/∂x = (∂L/∂h)·(1/x) with ∂L/∂h_w = β f′(ρ) = −βσ(−ρ)",
             sp.Eq(_d(S.x1), sp.Mul(S.beta / S.x1, df.subs(S.rho, sp.Symbol("rho")), evaluate=False))),
        Step("signs: ∂L/∂x1 < 0 < ∂L/∂x2 on the whole open quadrant (SymPy decides from x1, x2, β > 0): "
             f"{bool(S.dpo_gradient_x[0].is_negative)}, {bool(S.dpo_gradient_x[1].is_positive)}"),
    ]


@derivation("update-ratio")
def update_ratio() -> list[Step]:
    """Paper F, Corollary 1 and Remark 1: the update ratio and when it is below 1."""
    g1, g2 = S.dpo_gradient_x
    signed = sp.simplify(g1 / g2)
    return [
        Step("the partials (Theorem 1): in x1", sp.Eq(_d(S.x1), g1)),
        Step("and in x2", sp.Eq(_d(S.x2), g2)),
        Step("their quotient", sp.Eq(_d(S.x1) / _d(S.x2), signed)),
        Step("paper F, Corollary 1: the update ratio", sp.Eq(sp.Abs(_d(S.x1) / _d(S.x2)), S.update_ratio)),
        Step("why: L depends on x1/x2 only, so Euler's identity holds",
             sp.Eq(S.x1 * _d(S.x1) + S.x2 * _d(S.x2), sp.simplify(S.x1 * g1 + S.x2 * g2))),
        Step("in the margin ρ = β(h_w − h_l) = β log(x1/x2)",
             sp.Eq(S.x2 / S.x1, sp.exp(-S.rho / S.beta))),
        Step("x2/x1 < 1 ⇔ −ρ/β < 0 (log is increasing): the ratio is below 1 exactly when the "
             "margin is positive (Remark 1 needs this)",
             sp.solve_univariate_inequality(-S.rho / S.beta < 0, S.rho)),
        Step("at initialisation x1 = x2 = 1 the ratio is", S.update_ratio.subs({S.x1: 1, S.x2: 1})),
        Step("in log coordinates (h_w, h_l) the same ratio is",
             sp.Eq(sp.Abs(sp.Symbol("dL/dh_w") / sp.Symbol("dL/dh_l")), S.update_ratio_h)),
    ]


@derivation("log-coordinates")
def log_coordinates() -> list[Step]:
    """Paper F's field in the log-ratios h = log x, where models are trained."""
    gh1, gh2 = S.dpo_gradient_h
    dh_w, dh_l = (sp.Derivative(sp.Function("L")(S.h_w, S.h_l), v) for v in (S.h_w, S.h_l))
    sig = sp.Symbol("sigma(-rho)", positive=True)
    return [
        Step("change of coordinates: x1 = e^{h_w}, x2 = e^{h_l}; the loss (dpomath.losses 'sigmoid')",
             sp.Eq(_L, S.dpo_loss_h)),
        Step("its gradient: in h_w", sp.Eq(dh_w, gh1)),
        Step("and in h_l", sp.Eq(dh_l, gh2)),
        Step("equal and opposite everywhere", sp.Eq(dh_w + dh_l, sp.simplify(gh1 + gh2))),
        Step("so, with σ(−ρ) = 1/(1 + e^ρ): the field is (−1, +1)·βσ(−ρ); its size depends on the "
             "margin only", sp.Eq(sp.sqrt(dh_w**2 + dh_l**2), sp.sqrt(2) * S.beta * sig)),
        Step("chain rule back to paper F's coordinates: ∂L/∂x = (∂L/∂h)/x — the 1/x factors make "
             "every fast/slow regime of Figure 1",
             sp.Eq(_d(S.x1), sp.simplify(gh1.subs({S.h_w: sp.log(S.x1), S.h_l: sp.log(S.x2)}) / S.x1))),
        Step("the log-coordinate gradient flow moves x as ẋ = x·ḣ, hence |ẋ2/ẋ1| = x2/x1: the inverse "
             "of paper F's flow, where |ẋ2/ẋ1| = x1/x2",
             sp.Eq(sp.Abs(sp.Symbol("xdot_2") / sp.Symbol("xdot_1")),
                   sp.simplify(sp.Abs((S.x2 * gh2) / (S.x1 * gh1))
                               .subs({S.h_w: sp.log(S.x1), S.h_l: sp.log(S.x2)})))),
    ]


@derivation("gpo-ratio")
def gpo_ratio() -> list[Step]:
    """G-RATIO: the update ratio for any loss f(ρ) of the family, and where it differs."""
    f = sp.Function("f")
    rho_x = S.beta * (sp.log(S.x1) - sp.log(S.x2))
    L = f(rho_x)
    g1, g2 = sp.diff(L, S.x1), sp.diff(L, S.x2)
    bm, gam, c = sp.Symbol("beta_-", positive=True), sp.Symbol("gamma", positive=True), \
        sp.Symbol("c", negative=True)
    fl1, fl2 = S.gradient_in_x("flex", beta_minus=bm)
    sf1, sf2 = S.gradient_in_x("sft", gamma=gam, chosen_logps=sp.log(S.x1) + c)
    sft_ratio = sp.simplify(sp.Abs(sf1 / sf2))
    return [
        Step("any member of the family that is a function f of the margin", sp.Eq(_L, L)),
        Step("chain rule, in x1", sp.Eq(_d(S.x1), g1)),
        Step("and in x2", sp.Eq(_d(S.x2), g2)),
        Step("Euler identity (L is unchanged by (x1, x2) → (λx1, λx2))",
             sp.Eq(S.x1 * _d(S.x1) + S.x2 * _d(S.x2), sp.simplify(S.x1 * g1 + S.x2 * g2))),
        Step("so wherever f′(ρ) ≠ 0 (both partials vanish where f′ = 0)",
             sp.Eq(sp.Abs(_d(S.x1) / _d(S.x2)), sp.simplify(sp.Abs(sp.cancel(g1 / g2))))),
        Step("Flex-DPO (β₊ = β, β₋ = beta_minus) is not a function of ρ", sp.Eq(_L, S.loss_in_x("flex", beta_minus=bm))),
        Step("its ratio", sp.Eq(sp.Abs(_d(S.x1) / _d(S.x2)), sp.simplify(sp.Abs(fl1 / fl2)))),
        Step("SFT-DPO with log πθ(y_w) = log x1 + c (c = log π_ref(y_w))",
             sp.Eq(_L, S.loss_in_x("sft", gamma=gam, chosen_logps=sp.log(S.x1) + c))),
        Step("its ratio: tilted toward x1", sp.Eq(sp.Abs(_d(S.x1) / _d(S.x2)), sft_ratio)),
        Step("conservative DPO (ε = label smoothing) is a function of ρ: same ratio, but f′ vanishes at",
             sp.Eq(S.rho, sp.log((1 - sp.Symbol("epsilon")) / sp.Symbol("epsilon")))),
    ]


@derivation("3d-limits")
def three_d_limits() -> list[Step]:
    """Paper Y, Corollaries 1–2: the gradients of ℓ = log(1 + α z^β) and their limits as π− → 0."""
    gp, gm = S.yan_gradient
    dp, dm_ = (sp.Derivative(sp.Function("ℓ")(S.pi_plus, S.pi_minus), v) for v in (S.pi_plus, S.pi_minus))
    steps = [
        Step("paper Y's loss, z = π−/π+, α = (π0+/π0−)^β (DPO's loss at h± = log(π±/π0±))",
             sp.Eq(sp.Symbol("ℓ"), S.yan_loss)),
        Step("its gradient: on π+", sp.Eq(dp, gp)),
        Step("and on π−", sp.Eq(dm_, gm)),
        Step("Corollary 1", sp.Eq(dm_ / dp, S.yan_ratio)),
    ]
    lp = S.limits_by_beta(gp, S.pi_minus, 0)
    lm = S.limits_by_beta(gm, S.pi_minus, 0)
    for case in S.BETA_CASES:
        steps.append(Step(f"Corollary 2, case {case.replace('beta', 'β')}: as π− → 0+, on π+",
                          sp.Eq(sp.Limit(dp, S.pi_minus, 0, "+"), lp[case])))
        steps.append(Step(f"case {case.replace('beta', 'β')}, on π−",
                          sp.Eq(sp.Limit(dm_, S.pi_minus, 0, "+"), lm[case])))
    steps.append(Step("so ∂ℓ/∂π− → ∞ exactly when β < 1: the paper's condition is necessary and sufficient"))
    return steps
