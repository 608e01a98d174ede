"""Multi-token responses in the unconstrained features model: Theorem 6 of Razin et al.

Every prefix has its own trainable hidden embedding h_{x,z<k} (k = 1 is the prompt's own,
h_x, shared by both responses) and the unembedding W is trained too (arXiv 2410.08847, §4.1,
Appendix D.2). For one pair with y⁺_1 ≠ y⁻_1, under gradient flow on ℓ(ln π(y⁺) − ln π(y⁻))::

    d/dt ln π(y⁺|x) = −ℓ′ [ m + S − Σ_{k,k′} α⁻_{k,k′}⟨h_{x,y⁺<k}, h_{x,y⁻<k′}⟩
                                  + Σ_{k,k′} α⁺_{k,k′}⟨h_{x,y⁺<k}, h_{x,y⁺<k′}⟩ ]

    α⁻_{k,k′} = ⟨e_{y⁺_k} − π(·|x, y⁺<k), e_{y⁻_{k′}} − π(·|x, y⁻<k′)⟩,   α⁺ likewise with y⁺ twice,
    m = (1 − π(y⁺_1|x))‖W_{y⁺_1}‖² + π(y⁻_1|x)‖W_{y⁻_1}‖² + Σ_{k≥2} ‖W_{y⁺_k} − Σ_z π(z|x, y⁺<k) W_z‖²,
    S = −(1 − π(y⁺_1|x) + π(y⁻_1|x))⟨W_{y⁺_1}, W_{y⁻_1}⟩ − Σ_{z∉{y⁺_1, y⁻_1}} π(z|x)⟨W_z, W_{y⁺_1} − W_{y⁻_1}⟩.

It is the inner product −ℓ′⟨∇ ln π(y⁺), ∇ ln π(y⁺) − ∇ ln π(y⁻)⟩ written out: the W part gives the
α terms (∇_W ln π(y) = Σ_k (e_{y_k} − π_k) h_kᵀ), the hidden part gives m + S. Setting every α to 1
leaves −CHES (Definition 2), which is how the paper derives the CHES score.
"""
from __future__ import annotations

import numpy as np

from . import _inputs
from .. import _args

__all__ = ["theorem6_terms"]


def _softmax_rows(Z: np.ndarray) -> np.ndarray:
    from scipy.special import softmax

    return softmax(Z, axis=-1)


def theorem6_terms(W, hidden_chosen, hidden_rejected, chosen_tokens, rejected_tokens, *,
                   loss_slope: float = 1.0) -> dict:
    """The terms of Razin et al.'s Theorem 6 for one preference pair.

    Parameters
    ----------
    W : array (|V|, d)
        Token unembedding.
    hidden_chosen : array (|y⁺|, d)
        Row k − 1 is h_{x, y⁺<k}: row 0 is the prompt's hidden embedding h_x, row k − 1 the one
        after the first k − 1 response tokens (the hidden state that predicts y⁺_k).
    hidden_rejected : array (|y⁻|, d)
        The same for y⁻; row 0 must equal ``hidden_chosen``'s row 0 (both are h_x).
    chosen_tokens, rejected_tokens : sequences of int
        y⁺ and y⁻ as token indices, with y⁺_1 ≠ y⁻_1.
    loss_slope : float
        −ℓ′ > 0 at the current margin (for DPO β σ(−β(margin − r))); the rate is this times the
        bracket.

    Returns
    -------
    dict
        ``alpha_minus`` (|y⁺|, |y⁻|), ``alpha_plus`` (|y⁺|, |y⁺|), ``m``, ``S``,
        ``preferred_dispreferred`` Σ α⁻⟨h⁺, h⁻⟩, ``preferred_preferred`` Σ α⁺⟨h⁺, h⁺⟩,
        ``bracket`` m + S − Σα⁻⟨·,·⟩ + Σα⁺⟨·,·⟩, ``rate`` loss_slope·bracket, and ``ches``
        (the hidden term with every α = 1, sign flipped: ⟨Σh⁺, Σh⁻⟩ − ‖Σh⁺‖²).
    """
    W = _inputs.matrix("W", W, min_rows=2)
    V, d = W.shape
    Hp = _inputs.matrix("hidden_chosen", hidden_chosen)
    Hm = _inputs.matrix("hidden_rejected", hidden_rejected)
    for name, H in (("hidden_chosen", Hp), ("hidden_rejected", Hm)):
        if H.shape[1] != d:
            raise _args.BadValue(f"{name}: expected {d} columns (the width of W), got {H.shape[1]}")
    if not np.array_equal(Hp[0], Hm[0]):
        raise _args.BadValue("hidden_rejected: row 0 must equal hidden_chosen's row 0 (both are the "
                             "prompt's hidden embedding h_x)")
    yp = [_inputs.token("chosen_tokens", t, V) for t in np.atleast_1d(chosen_tokens).tolist()]
    ym = [_inputs.token("rejected_tokens", t, V) for t in np.atleast_1d(rejected_tokens).tolist()]
    if len(yp) != Hp.shape[0] or len(ym) != Hm.shape[0]:
        raise _args.BadValue(f"chosen_tokens/rejected_tokens: need one hidden row per token, got "
                             f"{len(yp)} tokens for {Hp.shape[0]} rows and {len(ym)} for {Hm.shape[0]}")
    if yp[0] == ym[0]:
        raise _args.BadValue("rejected_tokens: Theorem 6 assumes y⁺_1 ≠ y⁻_1 (the responses differ "
                             "at their first token)")
    slope = _inputs.positive("loss_slope", loss_slope)
    Pp, Pm = _softmax_rows(Hp @ W.T), _softmax_rows(Hm @ W.T)
    Ep, Em = np.eye(V)[yp] - Pp, np.eye(V)[ym] - Pm       # rows e_{y_k} − π_k
    a_minus, a_plus = Ep @ Em.T, Ep @ Ep.T
    G_minus, G_plus = Hp @ Hm.T, Hp @ Hp.T
    p1, n1 = yp[0], ym[0]
    pi1 = Pp[0]
    D1 = W[p1] - W[n1]
    m = (1 - pi1[p1]) * (W[p1] @ W[p1]) + pi1[n1] * (W[n1] @ W[n1])
    m += sum(float(np.sum((W[yp[k]] - Pp[k] @ W) ** 2)) for k in range(1, len(yp)))
    mask = np.ones(V, dtype=bool)
    mask[[p1, n1]] = False
    S = -(1 - pi1[p1] + pi1[n1]) * (W[p1] @ W[n1]) - pi1[mask] @ (W[mask] @ D1)
    pd, pp = float(np.sum(a_minus * G_minus)), float(np.sum(a_plus * G_plus))
    bracket = float(m + S - pd + pp)
    sp_, sm_ = Hp.sum(0), Hm.sum(0)
    return {"alpha_minus": a_minus, "alpha_plus": a_plus, "m": float(m), "S": float(S),
            "preferred_dispreferred": pd, "preferred_preferred": pp, "bracket": bracket,
            "rate": slope * bracket, "ches": float(sp_ @ sm_ - sp_ @ sp_)}
