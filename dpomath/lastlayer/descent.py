"""Gradient descent on paper I's last-layer model, in torch: the independent discretisation of
Lemma 4.1's flow (:func:`gradient_descent`) and the autograd check of its right-hand side
(:func:`lemma41_autograd_check`).

Both differentiate the full softmax model W ↦ log softmax(W g) with ``torch.autograd``, so they
share nothing with the O(N·d) kernel of :mod:`dpomath.lastlayer.margins` but the loss family:
they are its outside oracle.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _args
from .margins import _features, _tokens, gram_rhs, margin_rhs

__all__ = ["GDResult", "gradient_descent", "lemma41_autograd_check"]


@dataclass
class GDResult:
    """Explicit gradient descent W_{k+1} = W_k − (h/τ) ∇L(W_k), h = t_end/steps: margins
    ``train`` (T, N) at times ``t`` (T,) and the final W."""

    t: np.ndarray
    train: np.ndarray
    W: Any
    steps: int
    seconds: float


def gradient_descent(train_features, train_chosen, train_rejected, *, beta: float,
                     tau: float = 1.0, t_end: float, steps: int, loss: str = "sigmoid",
                     loss_params: dict | None = None, W0=None, vocab_size: int | None = None,
                     record: int | None = None, seed: int = 0) -> GDResult:
    """An independent discretisation of the same flow: explicit gradient descent on W with
    ``torch.autograd`` through the full last-layer model (log-softmax over ``vocab_size``
    tokens, reference W0), the loss from :func:`dpomath.losses.preference_loss`. As h → 0 it
    converges to the ODE with error O(h). ``record`` margins at that many evenly spaced steps
    (default: every step). W0 defaults to a seeded N(0, 1) matrix (margins do not depend on it).

    Parameters
    ----------
    train_features, train_chosen, train_rejected
        As for :func:`~dpomath.lastlayer.margins.solve_margins`.
    beta, tau, t_end : float
    steps : int
        h = t_end/steps.
    loss : str
        Any member; ``loss_params`` its parameters.
    W0 : array_like, optional
        (V, d); default a seeded N(0, 1) matrix.
    vocab_size, record, seed : int, optional

    Returns
    -------
    GDResult
    """
    import torch

    from ..losses import preference_loss

    X = _features("train_features", train_features)
    N, d = X.shape
    cw = _tokens("train_chosen", train_chosen, N)
    cl = _tokens("train_rejected", train_rejected, N)
    beta = _args.positive("beta", beta)
    tau = _args.positive("tau", tau)
    t_end = _args.positive("t_end", t_end)
    steps = _args.integer("steps", steps, lo=1)
    V = int(max(cw.max(), cl.max())) + 1
    if vocab_size is not None:
        V = _args.integer("vocab_size", vocab_size, lo=V)
    if W0 is None:
        g = torch.Generator().manual_seed(_args.integer("seed", seed, lo=0))
        W0t = torch.randn(V, d, generator=g, dtype=torch.float64)
    else:
        W0t = torch.as_tensor(np.asarray(W0, dtype=np.float64))
        if tuple(W0t.shape) != (V, d):
            raise _args.BadValue(f"W0: expected shape ({V}, {d}), got {tuple(W0t.shape)}")
    Xt = torch.from_numpy(X)
    iw, il = torch.from_numpy(cw), torch.from_numpy(cl)
    rows = torch.arange(N)
    with torch.no_grad():
        lp0 = torch.log_softmax(Xt @ W0t.T, dim=1)
        ref_w, ref_l = lp0[rows, iw], lp0[rows, il]
    h = t_end / steps
    rec = steps if record is None else _args.integer("record", record, lo=1, hi=steps)
    rec_steps = set(np.unique(np.round(np.linspace(0, steps, rec + 1)).astype(int)).tolist())
    ts, margins = [], []
    W = W0t.clone()
    t0 = time.perf_counter()
    for k in range(steps + 1):
        W.requires_grad_(True)
        lp = torch.log_softmax(Xt @ W.T, dim=1)
        hw, hl = lp[rows, iw] - ref_w, lp[rows, il] - ref_l
        if k in rec_steps:
            ts.append(k * h)
            margins.append((beta * (hw - hl)).detach().numpy().copy())
        if k == steps:
            break
        L = preference_loss(loss, hw, hl, beta, **(loss_params or {})).mean()
        (grad,) = torch.autograd.grad(L, W)
        with torch.no_grad():
            W = W - (h / tau) * grad
    secs = time.perf_counter() - t0
    return GDResult(np.array(ts), np.array(margins), W.detach(), steps, secs)


def lemma41_autograd_check(seed: int = 0, N: int = 9, V: int = 5, d: int = 4,
                           loss: str = "sigmoid", beta: float = 0.7, tau: float = 1.3,
                           loss_params: dict | None = None) -> dict:
    """ṙ from torch.autograd through the full softmax model (Jacobian of the margins times
    Ẇ = −∇L/τ) against the fast O(N·d) right-hand side and the N×N Gram form, at a random
    W ≠ W0 with tokens shared between samples. Returns the largest relative differences."""
    import torch

    from ..losses import preference_loss

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d))
    cw = rng.integers(0, V, N)
    cl = (cw + rng.integers(1, V, N)) % V  # y_l ≠ y_w, tokens shared across samples
    W0 = torch.tensor(rng.standard_normal((V, d)))
    W = torch.tensor(rng.standard_normal((V, d)) * 0.5) + W0
    Xt = torch.tensor(X)
    rows = torch.arange(N)
    iw, il = torch.tensor(cw), torch.tensor(cl)
    lp0 = torch.log_softmax(Xt @ W0.T, 1)

    def margins(Wm):
        lp = torch.log_softmax(Xt @ Wm.T, 1)
        return beta * ((lp[rows, iw] - lp0[rows, iw]) - (lp[rows, il] - lp0[rows, il]))

    Wg = W.clone().requires_grad_(True)
    lp = torch.log_softmax(Xt @ Wg.T, 1)
    hw, hl = lp[rows, iw] - lp0[rows, iw], lp[rows, il] - lp0[rows, il]
    Lval = preference_loss(loss, hw, hl, beta, **(loss_params or {})).mean()
    (grad,) = torch.autograd.grad(Lval, Wg)
    Wdot = -grad / tau
    J = torch.autograd.functional.jacobian(margins, W)  # (N, V, d)
    rdot_autograd = torch.einsum("nvd,vd->n", J, Wdot).numpy()
    r = margins(W).detach().numpy()
    fast = margin_rhs(X, cw, cl, r, beta=beta, tau=tau, loss=loss, loss_params=loss_params)
    gram = gram_rhs(X, cw, cl, r, beta=beta, tau=tau, loss=loss, loss_params=loss_params)
    scale = max(1e-300, float(np.max(np.abs(rdot_autograd))))
    # negative control: the same right-hand side with every margin's sign flipped (DPO: σ(+r_i)
    # in place of σ(−r_i)); it must disagree with autograd wherever the margins are not 0
    flipped = margin_rhs(X, cw, cl, -r, beta=beta, tau=tau, loss=loss, loss_params=loss_params)
    return {"max_rel_diff_fast": float(np.max(np.abs(fast - rdot_autograd)) / scale),
            "max_rel_diff_gram": float(np.max(np.abs(gram - rdot_autograd)) / scale),
            "max_rel_diff_control_margins_flipped": float(np.max(np.abs(flipped - rdot_autograd)) / scale),
            "margin_range": [float(r.min()), float(r.max())], "N": N, "V": V, "d": d,
            "loss": loss}
