"""The formulas of paper F (Feng et al. 2024) and paper Y (Yan et al. 2025) as SymPy objects,
for the REPL, the derivations and the proofs.

Coordinates (THEORY.md; the symbols are those of :mod:`dpomath.symbols`):
x1 = πθ(y_w|x)/π_ref(y_w|x) = e^{h_w}, x2 = e^{h_l}, margin ρ = β(h_w − h_l). Every loss here is DPO's loss of :mod:`dpomath.losses` (``"sigmoid"``,
f(ρ) = −log σ(ρ)) pulled back to other coordinates — never retyped:

* ``dpo_loss_x``  — L(x1, x2) = f(β(log x1 − log x2)) = log(1 + x2^β/x1^β); paper F, eq. (1)
  prints it as ``paper_f_loss`` = −log(x1^β/(x1^β + x2^β)) (equal: claim F-T1);
* ``dpo_gradient_x`` — (∂L/∂x1, ∂L/∂x2) (paper F, Theorem 1); ``update_ratio`` — the
  magnitude ratio |∂L/∂x1 ÷ ∂L/∂x2| (paper F, Corollary 1, = x2/x1);
* ``dpo_loss_h``, ``dpo_gradient_h``, ``update_ratio_h`` — the same loss and gradient in log
  coordinates (h_w, h_l), where the gradient is equal and opposite;
* ``yan_loss`` — paper Y's ℓ = log(1 + α z^β), z = π−/π+, with ``yan_gradient`` =
  (∂ℓ/∂π+, ∂ℓ/∂π−) and ``yan_ratio`` = (∂ℓ/∂π−)/(∂ℓ/∂π+); ``rm_loss``/``rm_gradient``: the
  reward-model loss −log σ(r+ − r−).

The expressions are built on first access (module ``__getattr__``), so importing this module
costs the SymPy import only.

>>> import dpomath as dm
>>> dm.dpo_gradient_x[0]
-beta*x2**beta/(x1*(x1**beta + x2**beta))
>>> dm.update_ratio
x2/x1
"""
from __future__ import annotations

from typing import Callable

import sympy as sp

from ..losses import symbolic_loss
from ..symbols import (a, alpha, b, beta, h_l, h_w, k, pi0_minus, pi0_plus, pi_minus, pi_plus,
                       r_minus, r_plus, rho, x1, x2, z)

__all__ = [
    # symbols
    "x1", "x2", "beta", "a", "b", "h_w", "h_l", "rho", "pi_plus", "pi_minus", "pi0_plus",
    "pi0_minus", "alpha", "z", "r_plus", "r_minus",
    # expressions (built lazily)
    "dpo_loss_x", "paper_f_loss", "dpo_gradient_x", "paper_f_gradient", "update_ratio",
    "dpo_loss_h", "dpo_gradient_h", "update_ratio_h", "to_log_coordinates",
    "yan_loss", "yan_loss_dpo", "yan_gradient", "yan_ratio", "rm_loss", "rm_gradient",
    # functions
    "loss_in_x", "gradient_in_x", "tidy", "BETA_CASES", "beta_case", "k",
    "limits_by_beta",
]


def tidy(expr: sp.Expr) -> sp.Expr:
    """Write exp(c·log x) as x^c (exact rewriting, no simplification heuristics)."""
    def split(e):
        return sp.expand_power_exp(sp.exp(sp.expand(e.args[0]))).rewrite(sp.Pow)

    return sp.sympify(expr).replace(lambda e: isinstance(e, sp.exp), split)


def loss_in_x(kind: str = "sigmoid", **params) -> sp.Expr:
    """Member ``kind`` of the loss family in paper F's coordinates: h_w = log x1, h_l = log x2."""
    return tidy(symbolic_loss(kind, sp.log(x1), sp.log(x2), beta, **params))


def gradient_in_x(kind: str = "sigmoid", **params) -> tuple[sp.Expr, sp.Expr]:
    """(∂L/∂x1, ∂L/∂x2) of member ``kind`` (SymPy ``diff``, not simplified)."""
    L = symbolic_loss(kind, sp.log(x1), sp.log(x2), beta, **params)
    return sp.diff(L, x1), sp.diff(L, x2)


#: case name -> (β written through k, k written through β)
BETA_CASES: dict[str, tuple[sp.Expr, sp.Expr]] = {
    "beta<1": (1 / (1 + k), 1 / beta - 1),
    "beta=1": (sp.Integer(1), sp.Integer(0)),
    "beta>1": (1 + k, beta - 1),
}


def beta_case(name: str) -> sp.Expr:
    """β of one case of the exact analysis (a positive expression in ``k``, or 1)."""
    if name not in BETA_CASES:
        from .._args import BadValue
        raise BadValue(f"name: must be one of {', '.join(BETA_CASES)}, got {name!r}")
    return BETA_CASES[name][0]


def limits_by_beta(expr: sp.Expr, var: sp.Symbol, point=0, direction: str = "+",
                   subs: dict | None = None, prepare: Callable | None = None) -> dict[str, sp.Expr]:
    """``sympy.limit(expr, var → point)`` in each case β < 1, β = 1, β > 1, the result written
    back in β. Exact: each case substitutes a β that is positive (and <1 / >1) by construction.
    ``subs`` is applied first, then ``prepare`` (an exact rewriting such as ``sp.cancel``)."""
    e0 = sp.sympify(expr)
    if subs:
        e0 = e0.subs(subs)
    if prepare is not None:
        e0 = prepare(e0)
    out = {}
    for name, (b_k, k_b) in BETA_CASES.items():
        e = e0.subs(beta, b_k)
        lim = sp.limit(e, var, point, direction)
        out[name] = sp.simplify(lim.subs(k, k_b)) if lim.has(k) else lim
    return out


# ----------------------------------------------------------------- lazily built expressions

def _dpo_loss_x():
    return loss_in_x("sigmoid")


def _paper_f_loss():
    return -sp.log(x1**beta / (x1**beta + x2**beta))


def _dpo_gradient_x():
    L = loss_in_x("sigmoid")
    return sp.Matrix([sp.factor(sp.diff(L, x1)), sp.factor(sp.diff(L, x2))])


def _paper_f_gradient():
    return sp.Matrix([-beta * x2**beta / (x1 * (x1**beta + x2**beta)),
                      beta * x2**(beta - 1) / (x1**beta + x2**beta)])


def _update_ratio():
    g1, g2 = gradient_in_x("sigmoid")
    return sp.simplify(sp.Abs(g1 / g2))


def _dpo_loss_h():
    return symbolic_loss("sigmoid", h_w, h_l, beta)


def _logistic_form(expr: sp.Expr, t: sp.Expr) -> sp.Expr:
    """Rewrite e^{−t}/(1 + e^{−t}) as 1/(1 + e^{t}) (exact: substitute u = e^{t}, cancel)."""
    u = sp.Dummy("u", positive=True)
    return sp.cancel(expr.subs(sp.exp(-t), 1 / u)).subs(u, sp.exp(t))


def _dpo_gradient_h():
    L = symbolic_loss("sigmoid", h_w, h_l, beta)
    t = beta * (h_w - h_l)
    return sp.Matrix([_logistic_form(sp.diff(L, v), t) for v in (h_w, h_l)])


def _update_ratio_h():
    L = symbolic_loss("sigmoid", h_w, h_l, beta)
    return sp.simplify(sp.Abs(sp.diff(L, h_w) / sp.diff(L, h_l)))


def _to_log_coordinates():
    return {x1: sp.exp(h_w), x2: sp.exp(h_l)}


def _yan_loss():
    return sp.log(1 + alpha * (pi_minus / pi_plus)**beta)


def _yan_loss_dpo():
    """Paper Y's loss written through the family: DPO at h± = log(π±/π0±)."""
    return symbolic_loss("sigmoid", sp.log(pi_plus / pi0_plus), sp.log(pi_minus / pi0_minus), beta)


def _yan_gradient():
    ell = _yan_loss()
    return sp.Matrix([sp.simplify(sp.diff(ell, pi_plus)), sp.simplify(sp.diff(ell, pi_minus))])


def _yan_ratio():
    ell = _yan_loss()
    return sp.simplify(sp.diff(ell, pi_minus) / sp.diff(ell, pi_plus))


def _rm_loss():
    return symbolic_loss("reward-model", r_plus, r_minus, sp.Integer(1))


def _rm_gradient():
    ell = _rm_loss()
    return sp.Matrix([_logistic_form(sp.diff(ell, v), r_plus - r_minus) for v in (r_plus, r_minus)])


_BUILDERS: dict[str, Callable[[], object]] = {
    "dpo_loss_x": _dpo_loss_x, "paper_f_loss": _paper_f_loss,
    "dpo_gradient_x": _dpo_gradient_x, "paper_f_gradient": _paper_f_gradient,
    "update_ratio": _update_ratio, "dpo_loss_h": _dpo_loss_h,
    "dpo_gradient_h": _dpo_gradient_h, "update_ratio_h": _update_ratio_h,
    "to_log_coordinates": _to_log_coordinates, "yan_loss": _yan_loss,
    "yan_loss_dpo": _yan_loss_dpo, "yan_gradient": _yan_gradient, "yan_ratio": _yan_ratio,
    "rm_loss": _rm_loss, "rm_gradient": _rm_gradient,
}


def __getattr__(name: str):
    if name in _BUILDERS:
        value = _BUILDERS[name]()
        globals()[name] = value  # built once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_BUILDERS))
