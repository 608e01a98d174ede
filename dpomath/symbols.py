"""Every SymPy symbol of dpomath, in one place (imports SymPy only: no NumPy, no SciPy).

The log-ratios and the margin of the loss family (:mod:`dpomath.losses`); paper F's probability
ratios and bounds and paper Y's policy probabilities (:mod:`dpomath.gradients.formulas`); the
positive auxiliary symbol ``k`` of the exact β case analysis.

>>> from dpomath.symbols import beta, h_w, h_l
>>> beta.is_positive, h_w.is_real
(True, True)
"""
from __future__ import annotations

import sympy as sp

__all__ = ["h_w", "h_l", "rho", "beta", "x1", "x2", "a", "b", "pi_plus", "pi_minus", "pi0_plus",
           "pi0_minus", "alpha", "z", "r_plus", "r_minus", "k"]

#: The log-ratios h = log πθ(y|x) − log π_ref(y|x) of the chosen and rejected response (real).
h_w, h_l = sp.symbols("h_w h_l", real=True)
#: The margin ρ = β(h_w − h_l) (paper I's r).
rho = sp.Symbol("rho", real=True)
#: The KL strength β > 0.
beta = sp.Symbol("beta", positive=True)
#: Paper F's probability ratios x1 = πθ(y_w)/π_ref(y_w), x2 = πθ(y_l)/π_ref(y_l) (positive).
x1, x2 = sp.symbols("x1 x2", positive=True)
#: Paper F's bounds a = 1/π_ref(y_w), b = 1/π_ref(y_l) (Remark 1: x1 ∈ (0, a], x2 ∈ (0, b]).
a, b = sp.symbols("a b", positive=True)
#: Paper Y's policy probabilities π± = πθ(a±|x), reference π0±, α = (π0+/π0−)^β, z = π−/π+.
pi_plus, pi_minus = sp.symbols("pi_+ pi_-", positive=True)
pi0_plus, pi0_minus = sp.symbols("pi0_+ pi0_-", positive=True)
alpha, z = sp.symbols("alpha z", positive=True)
#: Rewards of the chosen / rejected response (reward-model loss, paper Y Section 3.1).
r_plus, r_minus = sp.symbols("r_+ r_-", real=True)
#: Positive auxiliary symbol of the exact β case analysis: β < 1 ⇔ β = 1/(1+k), β > 1 ⇔ β = 1+k.
k = sp.Symbol("k", positive=True)
