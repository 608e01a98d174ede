"""The squeezing effect of a negative gradient, exactly (Ren & Sutherland, ICLR 2025, arXiv
2407.10490, §5.3 and Appendix C; the authors' notebook ``notebook/squeeze_effect.ipynb``).

A softmax classifier z = W x, π = softmax(z), takes one gradient step that *lowers* log π(ȳ)
(the rejected half of an off-policy DPO gradient): W′ = W − η ∇_W log π(ȳ) = W − η (e_ȳ − π) xᵀ,
so the logits move by Δz = c (π − e_ȳ) with c = η‖x‖² > 0 (:func:`negative_gradient_logits`).
Then, exactly and for every c > 0 (:func:`squeeze_step`)::

    Δ ln π_i = c (π_i − 1[i = ȳ]) − L,     L = ln Σ_j π_j e^{c (π_j − 1[j = ȳ])}

1. π(ȳ) falls: by Jensen L ≥ Σ_j π_j c(π_j − 1[j = ȳ]) = c(Σπ_j² − π_ȳ), and
   c(Σπ_j² − π_ȳ) − c(π_ȳ − 1) = c[Σ_{j≠ȳ} π_j² + (1 − π_ȳ)²] > 0.
2. The most likely other token y* = argmax_{i≠ȳ} π_i rises: e^L = Σ_{j≠ȳ} π_j e^{cπ_j} + π_ȳ e^{c(π_ȳ−1)}
   < (1 − π_ȳ) e^{cπ*} + π_ȳ e^{cπ*} = e^{cπ*} because π_ȳ − 1 < 0 < π*.
3. A token i ≠ ȳ rises exactly when c π_i > L, i.e. π_i > τ = L/c (:func:`squeeze_threshold`): the
   tokens that rise are always the top k of the others by current probability (:func:`rising_set`),
   and the gain c π_i − L grows with π_i — "the rich get richer".
4. As c → 0, τ → Σ_j π_j² − π_ȳ: the first-order statement of G-SQUEEZE (:mod:`dpomath.toys.free_logit`,
   ``squeeze_change``: Δ log π_k ≈ c(π_k + π_ȳ − Σπ²)), of which this is the all-orders version.

The identities are in :func:`symbolic_facts` (general V: index notation, termwise); the ledger's
claims S-SQUEEZE and S-TOPK reduce them to 0. ``dpomath derive squeezing-exact`` prints them.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _inputs
from ..verify.derive import derivation as _register

__all__ = ["negative_gradient_logits", "squeeze_step", "squeeze_threshold", "rising_set",
           "symbolic_facts", "check_symbolic_facts", "derivation"]


def _args_pc(probs, rejected, c):
    p = _inputs.distribution("probs", probs)
    r = _inputs.token("rejected", rejected, p.size)
    c = _inputs.positive("c", c)
    return p, r, c


def _L(p: np.ndarray, r: int, c: float) -> float:
    from scipy.special import logsumexp

    a = c * p
    a[r] -= c
    return float(logsumexp(a, b=p))


def negative_gradient_logits(W, x, rejected: int, *, lr: float) -> np.ndarray:
    """Logit change of z = W x after one step W′ = W − lr·∇_W log π(ȳ) (lowering log π(ȳ)):
    lr‖x‖²(π − e_ȳ), computed as W′x − Wx.

    Parameters
    ----------
    W : array (V, d)
        Weights (rows per class).
    x : array (d,)
        Input features.
    rejected : int
        ȳ, the class pushed down.
    lr : float
        Step size η > 0.

    Returns
    -------
    numpy.ndarray (V,)

    >>> np.round(negative_gradient_logits(np.zeros((3, 2)), [1.0, 1.0], 0, lr=0.5), 4)
    array([-0.6667,  0.3333,  0.3333])
    """
    from scipy.special import softmax

    W = _inputs.matrix("W", W, min_rows=2)
    x = _inputs.vector("x", x, size=W.shape[1])
    r = _inputs.token("rejected", rejected, W.shape[0])
    lr = _inputs.positive("lr", lr)
    pi = softmax(W @ x)
    e = np.zeros(W.shape[0])
    e[r] = 1.0
    W2 = W - lr * np.outer(e - pi, x)
    return W2 @ x - W @ x


def squeeze_step(probs, rejected: int, *, c: float) -> np.ndarray:
    """Exact change of ln π after the logit step Δz = c(π − e_ȳ).

    Parameters
    ----------
    probs : array (V,)
        Current π (entries > 0, summing to 1).
    rejected : int
        ȳ.
    c : float
        η‖x‖² > 0 (any size: the formula is exact).

    Returns
    -------
    numpy.ndarray (V,)
        Δ ln π_i = c(π_i − 1[i = ȳ]) − ln Σ_j π_j e^{c(π_j − 1[j = ȳ])}.

    >>> d = squeeze_step([0.6, 0.3, 0.1], 2, c=1.0)
    >>> bool(d[2] < 0 < d[0])              # ȳ falls, the mode rises
    True
    """
    p, r, c = _args_pc(probs, rejected, c)
    a = c * p
    a[r] -= c
    return a - _L(p, r, c)


def squeeze_threshold(probs, rejected: int, *, c: float) -> float:
    """τ = (1/c) ln Σ_j π_j e^{c(π_j − 1[j = ȳ])}: a token i ≠ ȳ rises iff π_i > τ (falls iff
    π_i < τ). As c → 0, τ → Σπ_j² − π_ȳ."""
    p, r, c = _args_pc(probs, rejected, c)
    return _L(p, r, c) / c


def rising_set(probs, rejected: int, *, c: float) -> np.ndarray:
    """Indices i ≠ ȳ whose ln π strictly rises after the step (sorted by decreasing π): always the
    top k of the tokens other than ȳ, for some k ≥ 1."""
    p, r, c = _args_pc(probs, rejected, c)
    d = squeeze_step(p, r, c=c)
    idx = np.array([i for i in np.argsort(-p, kind="stable") if i != r and d[i] > 0], dtype=np.int64)
    return idx


# ---------------------------------------------------------------------------------------------
# symbolic side

@lru_cache(maxsize=None)
def _symbols():
    import sympy as sp

    V = sp.Symbol("V", integer=True, positive=True)
    j, k, r = sp.symbols("j k r", integer=True)
    z, D, p = sp.IndexedBase("z"), sp.IndexedBase("Delta"), sp.IndexedBase("pi")
    c = sp.Symbol("c", positive=True)
    return V, j, k, r, z, D, p, c


def symbolic_facts() -> dict:
    """The identities of the module docstring as (computed, claimed) pairs; general V unless
    noted. Sums over j enter *termwise* (the summands are equal, hence the sums for any V).

    ``dlogpi-dz``      sympy.diff of z_r − ln Σ_j e^{z_j} in z_k vs δ_kr − π_k;
    ``linear-step``    (W − η(e − π)xᵀ)x − Wx vs η xᵀx (π − e) (matrix symbols, any V and d);
    ``log-shift``      summand of Σ_j e^{z_j + Δ_j} vs summand of Z·Σ_j π_j e^{Δ_j}, π_j = e^{z_j}/Z;
    ``jensen-mean``    summand of Σ_j π_j·c(π_j − δ_jr) vs summand of c(Σπ_j² − π_r);
    ``ybar-gap``       c(Q − π_r) − c(π_r − 1) vs c[R + (1 − π_r)²] with Q = π_r² + R, R = Σ_{j≠r} π_j²;
    ``mode-exponent``  c(π_r − 1) − cπ* with π_r = 1/(1 + κ), κ, π* > 0: SymPy decides it is negative;
    ``first-order``    d/dc ln Σ_j π_j e^{c a_j} at c = 0 vs Σ_j π_j a_j / Σ_j π_j (= Σπ² − π_r when
                       a_j = π_j − δ_jr and Σπ = 1): G-SQUEEZE's first-order threshold.
    """
    import sympy as sp

    V, j, k, r, z, D, p, c = _symbols()
    out = {}
    lse = sp.log(sp.Sum(sp.exp(z[j]), (j, 0, V - 1)))
    Z = sp.Sum(sp.exp(z[j]), (j, 0, V - 1))
    # k in range: write V = k + 1 + s (s ≥ 0) so that SymPy sees 0 ≤ k ≤ V − 1
    kk, s_ = sp.Symbol("k", integer=True, nonnegative=True), sp.Symbol("s", integer=True, nonnegative=True)
    grad = sp.diff(z[r] - lse, z[kk]).subs(V, kk + 1 + s_)
    out["dlogpi-dz"] = (grad, (sp.KroneckerDelta(kk, r) - sp.exp(z[kk]) / Z).subs(V, kk + 1 + s_))
    Vm, d = sp.symbols("V d", integer=True, positive=True)
    W, x = sp.MatrixSymbol("W", Vm, d), sp.MatrixSymbol("x", d, 1)
    e, P = sp.MatrixSymbol("e", Vm, 1), sp.MatrixSymbol("p", Vm, 1)
    eta = sp.Symbol("eta", positive=True)
    out["linear-step"] = ((W - eta * (e - P) * x.T) * x - W * x, eta * (P - e) * (x.T * x))
    Zs = sp.Symbol("Z", positive=True)
    out["log-shift"] = (sp.exp(z[j] + D[j]), Zs * (sp.exp(z[j]) / Zs) * sp.exp(D[j]))
    delta = sp.KroneckerDelta(j, r)
    out["jensen-mean"] = (p[j] * c * (p[j] - delta), c * (p[j] ** 2 - p[j] * delta))
    pr, R = sp.symbols("pi_r R", nonnegative=True)
    Q = pr ** 2 + R
    out["ybar-gap"] = (c * (Q - pr) - c * (pr - 1), c * (R + (1 - pr) ** 2))
    kappa, pstar = sp.symbols("kappa pi_star", positive=True)
    gap = c * (1 / (1 + kappa) - 1) - c * pstar
    out["mode-exponent"] = (sp.Integer(int(bool(gap.is_negative))), sp.Integer(1))
    a = sp.IndexedBase("a")
    L = sp.log(sp.Sum(p[j] * sp.exp(c * a[j]), (j, 0, V - 1)))
    out["first-order"] = (sp.diff(L, c).subs(c, 0),
                          sp.Sum(p[j] * a[j], (j, 0, V - 1)) / sp.Sum(p[j], (j, 0, V - 1)))
    return out


def check_symbolic_facts() -> dict[str, bool]:
    """Each fact of :func:`symbolic_facts` → whether SymPy reduces computed − claimed to 0."""
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
            res[name] = reduces_to_zero(sp.powsimp(sp.expand(a - b)))
    return tuple(res.items())


@_register("squeezing-exact")
def derivation():
    """``dpomath derive squeezing-exact``: the squeezing effect to all orders."""
    import sympy as sp

    from ..verify.derive import Step

    f = symbolic_facts()
    return [
        Step("Softmax classifier z = W x; a step lowering log π(ȳ) moves W by −η(e_ȳ − π)xᵀ, so the "
             "logits move by (matrix symbols, any V and d)", sp.Eq(sp.MatrixSymbol("Delta_z", f["linear-step"][1].shape[0], 1), f["linear-step"][1], evaluate=False)),
        Step("Exact change of every log-probability for Δz = c(π − e_ȳ), c = η‖x‖²: "
             "Δ ln π_i = c(π_i − δ_iȳ) − L with L = ln Σ_j π_j e^{c(π_j − δ_jȳ)}", None),
        Step("ȳ falls: L ≥ Σ_j π_j c(π_j − δ_jȳ) (Jensen) and the gap to c(π_ȳ − 1) is "
             "(Q = Σπ², R = Σ_{j≠ȳ}π_j²)", sp.Eq(f["ybar-gap"][0], f["ybar-gap"][1], evaluate=False)),
        Step("y* = argmax_{i≠ȳ} π_i rises: e^L < (1 − π_ȳ)e^{cπ*} + π_ȳe^{cπ*} = e^{cπ*} since the exponent "
             "c(π_ȳ − 1) − cπ* is negative (π_ȳ = 1/(1 + κ))", None),
        Step("i ≠ ȳ rises iff cπ_i > L: the risers are the top k of the others by π", None),
        Step("First order: dL/dc at c = 0 is the π-mean of a_j = π_j − δ_jȳ, so the threshold L/c → "
             "Σπ² − π_ȳ, G-SQUEEZE's first-order rule", sp.Eq(f["first-order"][0], f["first-order"][1], evaluate=False)),
    ]
