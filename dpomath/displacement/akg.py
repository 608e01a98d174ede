"""Paper S's one-step decomposition of learning dynamics, Δ log π = −η A K G + O(η²), and the
Frobenius norm of A (Ren & Sutherland, ICLR 2025, arXiv 2407.10490, §3; repository
``Joshua-Ren/Learning_dynamics_LLM``).

A gradient step of size η on the loss L of an example χ_u changes the log-probabilities the model
gives an observed example χ_o by::

    Δ log π(· | χ_o) = −η A(χ_o) K(χ_o, χ_u) G(χ_u) + O(η²)

    A(χ_o) = ∂ log π/∂z = I − 1 π_oᵀ                (V×V, :func:`log_softmax_jacobian`)
    K(χ_o, χ_u) = (∂z_o/∂θ)(∂z_u/∂θ)ᵀ              (V×V, the empirical NTK, :func:`empirical_ntk`)
    G(χ_u) = ∂L/∂z_u                                (V; π_u − e_y for cross-entropy, −βσ(−βΔ)(e_{y⁺} − e_{y⁻})
                                                     for single-token DPO)

It is the chain rule plus a first-order Taylor step, so it holds for any differentiable model; for
a last-layer (linear) model z = Wφ(χ) with fixed features the eNTK is exact and constant,
K = ⟨φ_o, φ_u⟩ I, and the *logit* change −η K G is exact (the only O(η²) comes from the softmax).

The paper's metric ‖A‖_F has the closed form ‖I − 1πᵀ‖_F = √(V‖π‖² + V − 2) (:func:`frobenius_norm_A`;
Σ_ij (δ_ij − π_j)² = V − 2Σπ_j + VΣπ_j²). The released code (``src/trainers.py``) evaluates it with
(mean over tokens of ‖π_t‖)² in place of ‖π‖².
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _inputs
from .. import _args

__all__ = ["log_softmax_jacobian", "frobenius_norm_A", "akg_decomposition", "empirical_ntk",
           "symbolic_facts", "check_symbolic_facts"]


def log_softmax_jacobian(probs) -> np.ndarray:
    """A = I − 1πᵀ, the Jacobian ∂ log π_i/∂z_j = δ_ij − π_j of log-softmax at π.

    >>> log_softmax_jacobian([0.5, 0.5])
    array([[ 0.5, -0.5],
           [-0.5,  0.5]])
    """
    p = _inputs.distribution("probs", probs)
    return np.eye(p.size) - p[None, :]


def frobenius_norm_A(probs) -> float:
    """‖I − 1πᵀ‖_F = √(V‖π‖² + V − 2) for a probability vector π of length V.

    >>> round(frobenius_norm_A([0.25, 0.25, 0.25, 0.25]), 12)        # √(4·¼ + 2) = √3
    1.732050807569
    """
    p = _inputs.distribution("probs", probs)
    V = p.size
    return float(np.sqrt(V * (p @ p) + V - 2))


def akg_decomposition(probs_o, K, G, *, lr: float) -> np.ndarray:
    """−η A(χ_o) K G: the first-order change of log π(·|χ_o) after a step of size ``lr`` on χ_u.

    Parameters
    ----------
    probs_o : array (V,)
        π(·|χ_o) before the step.
    K : array (V, V)
        eNTK (∂z_o/∂θ)(∂z_u/∂θ)ᵀ.
    G : array (V,)
        ∂L(χ_u)/∂z_u.
    lr : float
        η ≥ 0.

    Returns
    -------
    numpy.ndarray (V,)
    """
    A = log_softmax_jacobian(probs_o)
    V = A.shape[0]
    K = _inputs.matrix("K", K)
    if K.shape != (V, V):
        raise _args.BadValue(f"K: expected shape ({V}, {V}) to match probs_o, got {K.shape}")
    G = _inputs.vector("G", G, size=V)
    lr = _inputs.real("lr", lr, lo=0.0)
    return -lr * (A @ (K @ G))


def empirical_ntk(logits_fn, params, x_o, x_u):
    """K(χ_o, χ_u) = J_o J_uᵀ with J = ∂z/∂θ (torch autograd, float64 recommended).

    Parameters
    ----------
    logits_fn : callable
        ``logits_fn(params, x) -> tensor (V,)``.
    params : torch.Tensor
        All trainable parameters as one flat tensor.
    x_o, x_u
        The observed and the updated example (anything ``logits_fn`` accepts).

    Returns
    -------
    torch.Tensor (V, V)
    """
    import torch

    if not isinstance(params, torch.Tensor) or params.ndim != 1:
        raise _args.BadType("params: expected a 1-D torch tensor holding every trainable parameter")
    Jo = torch.autograd.functional.jacobian(lambda th: logits_fn(th, x_o), params)
    Ju = torch.autograd.functional.jacobian(lambda th: logits_fn(th, x_u), params)
    return Jo @ Ju.T


# ---------------------------------------------------------------------------------------------
# symbolic side

def symbolic_facts() -> dict:
    """(computed, claimed) pairs, general V (and d):

    ``jacobian``      sympy.diff of z_i − ln Σ_j e^{z_j} in z_k vs δ_ik − π_k;
    ``frobenius-row`` for one column j (termwise in j): Σ_i (δ_ij − π_j)² = 1 − 2π_j + Vπ_j² (the
                      δ is 1 for exactly one i), computed as a Sum over i with 0 ≤ j ≤ V − 1;
    ``frobenius``     Σ_j (1 − 2π_j + Vπ_j²) vs V‖π‖² + V − 2, using Σ_j π_j = 1 (termwise: V − 2P + VQ
                      with P = Σπ_j = 1, Q = Σπ_j²);
    ``linear-step``   W′ = W − η G φ_uᵀ (the step for z = Wφ): W′φ_o − Wφ_o vs −η (φ_uᵀφ_o) G,
                      i.e. K = ⟨φ_o, φ_u⟩ I exactly (matrix symbols, any V and d).
    """
    import sympy as sp

    V = sp.Symbol("V", integer=True, positive=True)
    i, j = sp.symbols("i j", integer=True)
    kk, s_ = sp.Symbol("k", integer=True, nonnegative=True), sp.Symbol("s", integer=True, nonnegative=True)
    z, p = sp.IndexedBase("z"), sp.IndexedBase("pi")
    out = {}
    lse = sp.log(sp.Sum(sp.exp(z[j]), (j, 0, V - 1)))
    Z = sp.Sum(sp.exp(z[j]), (j, 0, V - 1))
    out["jacobian"] = (sp.diff(z[i] - lse, z[kk]).subs(V, kk + 1 + s_),
                       (sp.KroneckerDelta(i, kk) - sp.exp(z[kk]) / Z).subs(V, kk + 1 + s_))
    Vk = kk + 1 + s_                       # V with the column index kk in range
    row = sp.Sum(sp.expand((sp.KroneckerDelta(i, kk) - p[kk]) ** 2), (i, 0, Vk - 1)).doit()
    out["frobenius-row"] = (row, 1 - 2 * p[kk] + Vk * p[kk] ** 2)
    P, Q = sp.symbols("P Q", positive=True)
    out["frobenius"] = ((V - 2 * P + V * Q).subs(P, 1), V * Q + V - 2)
    Vm, d = sp.symbols("V d", integer=True, positive=True)
    W = sp.MatrixSymbol("W", Vm, d)
    G = sp.MatrixSymbol("G", Vm, 1)
    fo, fu = sp.MatrixSymbol("phi_o", d, 1), sp.MatrixSymbol("phi_u", d, 1)
    eta = sp.Symbol("eta", positive=True)
    out["linear-step"] = ((W - eta * G * fu.T) * fo - W * fo, -eta * G * (fu.T * fo))
    return out


def check_symbolic_facts() -> dict[str, bool]:
    return dict(_check())


@lru_cache(maxsize=None)
def _check() -> tuple:
    import sympy as sp

    from ..verify.twins import reduces_to_zero

    res = {}
    for name, (a, b) in symbolic_facts().items():
        if isinstance(a, sp.MatrixExpr):
            diff = (a - b).expand()
            res[name] = bool(diff == sp.ZeroMatrix(*diff.shape) or sp.simplify(diff).is_ZeroMatrix)
        else:
            res[name] = reduces_to_zero(a - b)
    return tuple(res.items())
