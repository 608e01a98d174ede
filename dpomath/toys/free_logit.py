"""The free-logit (tabular softmax) policy: one gradient step of a preference loss in closed form.

One prompt, n responses, the policy π = softmax(z) with the logits z ∈ ℝⁿ as free parameters
(no network: this is the model of paper Y's toy with the MLP removed). Preference pairs
(c, r_j) share the chosen response c and have weights w_j ≥ 0 (the batch loss is
L = Σ_j w_j ℓ(h_c, h_{r_j})), with h = log π − log π₀ the log-ratios.

1. Gradient in the logits (∂ log π_c/∂z_k = δ_kc − π_k)::

       g_k = ∂L/∂z_k = Σ_j w_j [ ℓ_w,j (δ_kc − π_k) + ℓ_l,j (δ_k,r_j − π_k) ]

   with ℓ_w = ∂ℓ/∂h_w, ℓ_l = ∂ℓ/∂h_l (:func:`loss_partials`). For DPO and every loss of the
   margin ρ = β(h_w − h_l), ℓ_w = −ℓ_l and the π terms cancel: g = Σ_j w_j ℓ_l,j (e_{r_j} − e_c):
   only the chosen and the rejected logits move; unseen logits get no gradient at all.
   Flex-DPO (β₋ ≠ β₊) and SFT-DPO (γ > 0) keep a multiple of π.
2. One gradient-descent step z′ = z − ηg changes every log-probability *exactly* by::

       Δ log π_k = −η g_k − log Σ_i π_i e^{−η g_i}                 (:func:`step`)

   and to first order in η by Δ log π_k = −η (g_k − Σ_i π_i g_i)   (:func:`first_order_change`).
3. What this forces for DPO (single pair, s = σ(−ρ)): chosen +ηβs(1 − π_c + π_r), rejected
   −ηβs(1 + π_c − π_r), every other response ηβs(π_r − π_c). Hence, exactly and for any
   step size, the chosen log-probability rises (e^{−Δ log π_c} = Σ_i π_i e^{−η(g_i − g_c)} ≤ 1
   because g_i ≥ g_c); unseen responses gain only while the rejected response is the more
   likely one; the rejected log-probability falls faster than the chosen one rises, in log
   space, whenever π_c > π_r, and the ratio (1 + π_c − π_r)/(1 − π_c + π_r) grows without bound
   as π_c → 1. A falling chosen likelihood (paper Y's "degradation") is therefore not a property
   of the objective: it needs shared parameters (a network) or an optimizer whose update is
   not a positive multiple of −g per coordinate.
4. The squeezing effect (Ren & Sutherland, ICLR 2025): a step that only pushes a response r
   down (gradient descent on log π_r) changes, to first order, log π_k by
   η(π_k + π_r − Σ_i π_i²) for every k ≠ r (:func:`squeeze_change`): the change grows with π_k,
   the most likely response k* ≠ r gains at least ηπ_r > 0 (π_{k*} ≥ Σ π_i²), and every
   response with π_k < Σ π_i² − π_r loses — probability mass is squeezed towards the mode.
   In DPO the chosen response's positive gradient carries the opposite π term, so for a pair
   on the same prompt the two cancel exactly (point 1); squeezing returns wherever a negative
   gradient arrives alone: through shared parameters from other prompts' pairs, with
   β₋ > β₊ in Flex-DPO, or when ℓ_w ≠ −ℓ_l.

``dpomath derive tabular-step`` and ``dpomath derive squeezing`` print the SymPy derivations
(:mod:`dpomath.toys.derivations`).
"""
from __future__ import annotations

import numpy as np

from .. import _args
from ..losses import loss_partials

__all__ = ["loss_partials", "logit_gradient", "step", "first_order_change", "squeeze_change",
           "dpo_first_order", "log_softmax"]


def _prompt_args(logits, ref_logp, chosen, rejected, weights):
    z = np.asarray(_args.array("logits", logits), dtype=np.float64)
    if z.ndim != 1 or z.size < 2:
        raise _args.BadValue(f"logits: expected a 1-D array of at least 2 responses, got shape {z.shape}")
    n = z.size
    ref = np.asarray(_args.array("ref_logp", ref_logp), dtype=np.float64)
    if ref.shape != z.shape:
        raise _args.BadValue(f"ref_logp: expected shape {z.shape}, got {ref.shape}")
    c = _args.integer("chosen", chosen, lo=0, hi=n - 1)
    r = np.atleast_1d(np.asarray(rejected))
    if r.dtype.kind not in "iu" or r.ndim != 1 or r.size == 0:
        raise _args.BadType("rejected: expected an integer index or a 1-D list of indices")
    if np.any(r < 0) or np.any(r >= n) or np.any(r == c):
        raise _args.BadValue(f"rejected: indices must lie in [0, {n - 1}] and differ from chosen")
    w = np.ones(r.size) / r.size if weights is None else np.atleast_1d(
        np.asarray(_args.array("weights", weights), dtype=np.float64))
    if w.shape != r.shape or np.any(w < 0):
        raise _args.BadValue("weights: expected one non-negative weight per rejected response")
    return z, ref, c, r, w


def log_softmax(z):
    from scipy.special import logsumexp

    return z - logsumexp(z)


def logit_gradient(logits, ref_logp, chosen: int, rejected, weights=None, *, kind: str = "sigmoid",
                   beta: float = 0.1, **params) -> np.ndarray:
    """g = ∂L/∂z for one prompt (formula 1 of the module docstring), L = Σ_j w_j ℓ(h_c, h_{r_j}).

    ``rejected`` is one index or a list; ``weights`` default to equal weights summing to 1.
    """
    z, ref, c, r, w = _prompt_args(logits, ref_logp, chosen, rejected, weights)
    lp = log_softmax(z)
    pi = np.exp(lp)
    hl = lp[r] - ref[r]
    lw, ll = loss_partials(kind, np.full(hl.shape, lp[c] - ref[c]), hl, beta, **params)
    g = -(np.sum(w * (lw + ll))) * pi
    g[c] += np.sum(w * lw)
    np.add.at(g, r, w * ll)
    return g


def step(logits, ref_logp, chosen: int, rejected, weights=None, *, lr: float, kind: str = "sigmoid",
         beta: float = 0.1, **params) -> np.ndarray:
    """Log-probabilities after one gradient-descent step of size ``lr`` on the logits, from the
    closed form log π′_k = log π_k − η g_k − log Σ_i π_i e^{−η g_i} (exact, no expansion)."""
    from scipy.special import logsumexp

    lr = _args.real("lr", lr, lo=0.0)
    g = logit_gradient(logits, ref_logp, chosen, rejected, weights, kind=kind, beta=beta, **params)
    lp = log_softmax(np.asarray(logits, dtype=np.float64))
    return lp - lr * g - logsumexp(lp - lr * g)


def first_order_change(logits, ref_logp, chosen: int, rejected, weights=None, *,
                       kind: str = "sigmoid", beta: float = 0.1, **params) -> np.ndarray:
    """d log π_k/dη at η = 0: −(g_k − Σ_i π_i g_i) (multiply by the step size)."""
    g = logit_gradient(logits, ref_logp, chosen, rejected, weights, kind=kind, beta=beta, **params)
    pi = np.exp(log_softmax(np.asarray(logits, dtype=np.float64)))
    return -(g - pi @ g)


def dpo_first_order(p_chosen, p_rejected, sigma_weight=1.0) -> dict:
    """DPO, one pair: first-order changes per unit of ηβσ(−ρ) of log π for the chosen, the
    rejected and any other response, and the log-space ratio |Δ rejected| / Δ chosen."""
    pc = _args.probability("p_chosen", p_chosen)
    pr = _args.probability("p_rejected", p_rejected)
    _args.same_shape(("p_chosen", pc), ("p_rejected", pr))
    if np.any(pc + pr > 1):
        raise _args.BadValue("p_rejected: p_chosen + p_rejected must be <= 1")
    s = _args.positive("sigma_weight", sigma_weight)
    ch, rj, ot = s * (1 - pc + pr), -s * (1 + pc - pr), s * (pr - pc)
    return {"chosen": ch, "rejected": rj, "other": ot, "log_ratio": -rj / ch}


def squeeze_change(probs, r: int) -> np.ndarray:
    """First-order change of log π per unit step of gradient descent on log π_r alone (a pure
    negative gradient on response r): π_k + π_r − Σ_i π_i² for k ≠ r, −(1 − 2π_r + Σ_i π_i²)
    for k = r."""
    p = np.asarray(_args.array("probs", probs), dtype=np.float64)
    if p.ndim != 1 or np.any(p <= 0) or abs(p.sum() - 1) > 1e-9:
        raise _args.BadValue("probs: expected a 1-D probability vector (positive, summing to 1)")
    r = _args.integer("r", r, lo=0, hi=p.size - 1)
    q = p @ p
    out = p + p[r] - q
    out[r] = -(1 - 2 * p[r] + q)
    return out
