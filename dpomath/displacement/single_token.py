"""One DPO step on single-token responses when the hidden state and the unembedding both train.

The model of Razin et al. (ICLR 2025, arXiv 2410.08847, §4 and Appendix D.1): a prompt x with
hidden embedding h ∈ ℝᵈ and the token unembedding W ∈ ℝ^{|V|×d}; logits z = W h, π = softmax(z);
both h and W are trainable (the *unconstrained features model*). One preference pair of single
tokens y⁺ ≻ y⁻ and the DPO loss ℓ = −log σ(β(z_{y⁺} − z_{y⁻} − r)), where r is the reference
margin log π_ref(y⁺) − log π_ref(y⁻) (the softmax normaliser cancels in the margin).

With c = −ℓ′ = β σ(−β(z_{y⁺} − z_{y⁻} − r)) > 0, u = e_{y⁺} − e_{y⁻} and D = Wᵀu = W_{y⁺} − W_{y⁻}:

1. Gradients: ∂ℓ/∂W = −c u hᵀ, ∂ℓ/∂h = −c D.
2. One gradient step of size η (W′ = W + ηc u hᵀ, h′ = h + ηc D) changes the logits *exactly* by::

       Δz = ηc (W D + ‖h‖² u) + η²c² ⟨h, D⟩ u                       (:func:`step_logit_change`)

   i.e. Δz_k = ηc [⟨W_k, D⟩ + ‖h‖² (1[k = y⁺] − 1[k = y⁻])] + O(η²), and for every token k other
   than y⁺ and y⁻ exactly Δz_k = ηc ⟨W_k, D⟩ (no η² term).
3. Gradient flow (η → 0): d/dt ln π(k) = Δz_k/η − Σ_j π_j Δz_j/η  (:func:`log_prob_rates`), which is
   the paper's Theorem 4 for y⁺ (:func:`theorem4_terms`)::

       d/dt ln π(y⁺) = c [ m − (1 − π⁺ + π⁻) ⟨W_{y⁺}, W_{y⁻}⟩ − Σ_{z ∉ {y⁺, y⁻}} π_z ⟨W_z, D⟩ ],
       m = (1 − π⁺)‖W_{y⁺}‖² + π⁻‖W_{y⁻}‖² + (1 − π⁺ + π⁻)‖h‖² ≥ 0,

   and Theorem 5 for every other token: d/dt ln π(z) = c [⟨W_z, D⟩ + c(t)] with
   c(t) = (π⁻ − π⁺)‖h‖² − Σ_{z′} π_{z′}⟨W_{z′}, D⟩ independent of z.
4. Consequences. ln π(y⁺) falls when W_{y⁻} projects strongly onto W_{y⁺} (the bracket decreases
   with ⟨W_{y⁺}, W_{y⁻}⟩ at rate 1 − π⁺ + π⁻ > 0); the tokens that gain are those with large
   ⟨W_k, W_{y⁺} − W_{y⁻}⟩ (:func:`gain_scores`) — and for one step of *any* size, among the tokens
   other than y⁺, y⁻ the change of ln π is an increasing affine function of that score.

``dpomath derive likelihood-displacement`` prints the SymPy derivation; :func:`symbolic_facts`
holds the identities (general |V| and d: index notation and matrix symbols), which the ledger
(claims R-STEP, R-DISPLACE, R-GAIN) reduces to 0.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _inputs
from ..verify.derive import derivation as _register
from .. import _args

__all__ = ["dpo_coefficient", "step_logit_change", "log_prob_rates", "theorem4_terms",
           "theorem5_rates", "gain_scores", "symbolic_facts", "check_symbolic_facts", "derivation"]


def _model(W, h, chosen, rejected):
    W = _inputs.matrix("W", W, min_rows=2)
    h = _inputs.vector("h", h, size=W.shape[1])
    c, r = _inputs.token_pair(chosen, rejected, W.shape[0])
    return W, h, c, r


def _log_softmax(z: np.ndarray) -> np.ndarray:
    from scipy.special import logsumexp

    return z - logsumexp(z)


def dpo_coefficient(W, h, chosen: int, rejected: int, *, beta: float, ref_margin: float = 0.0) -> float:
    """c = −ℓ′ = β σ(−β(z_{y⁺} − z_{y⁻} − r)) for z = W h: the DPO weight of the pair.

    Parameters
    ----------
    W : array (|V|, d)
        Token unembedding (rows W_k), numpy or torch.
    h : array (d,)
        Hidden embedding of the prompt.
    chosen, rejected : int
        Token indices of y⁺ and y⁻ (distinct).
    beta : float
        DPO β > 0.
    ref_margin : float
        r = log π_ref(y⁺|x) − log π_ref(y⁻|x) (0 at the reference model itself).

    Returns
    -------
    float
        c > 0.

    >>> round(dpo_coefficient([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0], 0, 1, beta=0.1), 6)
    0.05
    """
    from scipy.special import expit

    W, h, c, r = _model(W, h, chosen, rejected)
    beta = _inputs.positive("beta", beta)
    ref = _inputs.real("ref_margin", ref_margin)
    z = W @ h
    return float(beta * expit(-beta * (z[c] - z[r] - ref)))


def step_logit_change(W, h, chosen: int, rejected: int, *, beta: float, lr: float,
                      ref_margin: float = 0.0, order: str = "exact") -> np.ndarray:
    """Change of every logit after one gradient-descent step of size ``lr`` on the DPO loss of the
    pair, with W and h both trained (formula 2 of the module docstring).

    Parameters
    ----------
    W, h, chosen, rejected, beta, ref_margin
        As in :func:`dpo_coefficient`.
    lr : float
        Step size η ≥ 0.
    order : {"exact", "first"}
        ``"exact"``: ηc(W D + ‖h‖² u) + η²c²⟨h, D⟩u (the step is bilinear, so this is exact);
        ``"first"``: the first-order part ηc(W D + ‖h‖² u).

    Returns
    -------
    numpy.ndarray (|V|,)
        Δz.

    >>> W = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]); h = np.array([0.5, 0.5])
    >>> np.round(step_logit_change(W, h, 0, 1, beta=1.0, lr=0.1, order="first"), 4)
    array([ 0.0385, -0.0385, -0.033 ])
    """
    W, h, c_tok, r_tok = _model(W, h, chosen, rejected)
    lr = _inputs.real("lr", lr, lo=0.0)
    _args.choice("order", order, ("exact", "first"))
    c = dpo_coefficient(W, h, c_tok, r_tok, beta=beta, ref_margin=ref_margin)
    D = W[c_tok] - W[r_tok]
    u = np.zeros(W.shape[0])
    u[c_tok], u[r_tok] = 1.0, -1.0
    out = lr * c * (W @ D + (h @ h) * u)
    if order == "exact":
        out = out + (lr * c) ** 2 * (h @ D) * u
    return out


def log_prob_rates(W, h, chosen: int, rejected: int, *, beta: float, ref_margin: float = 0.0) -> np.ndarray:
    """d/dt ln π(k|x) for every token k under gradient flow on the pair's DPO loss: the first-order
    logit change per unit step minus its π-average (formula 3).

    Returns
    -------
    numpy.ndarray (|V|,)
    """
    dz = step_logit_change(W, h, chosen, rejected, beta=beta, lr=1.0, ref_margin=ref_margin, order="first")
    W = _inputs.matrix("W", W)
    pi = np.exp(_log_softmax(W @ _inputs.vector("h", h, size=W.shape[1])))
    return dz - pi @ dz


def theorem4_terms(W, h, chosen: int, rejected: int, *, beta: float, ref_margin: float = 0.0) -> dict:
    """The terms of Razin et al.'s Theorem 4 (Appendix D.1) and the rate they give.

    Returns
    -------
    dict
        ``c`` (= −ℓ′), ``m`` (the non-negative term), ``alignment`` ⟨W_{y⁺}, W_{y⁻}⟩,
        ``alignment_weight`` 1 − π⁺ + π⁻, ``others`` Σ_{z∉{y⁺,y⁻}} π_z⟨W_z, W_{y⁺} − W_{y⁻}⟩,
        ``bracket`` m − weight·alignment − others, and ``rate`` = c·bracket = d/dt ln π(y⁺|x).
    """
    W, h, ct, rt = _model(W, h, chosen, rejected)
    c = dpo_coefficient(W, h, ct, rt, beta=beta, ref_margin=ref_margin)
    pi = np.exp(_log_softmax(W @ h))
    D = W[ct] - W[rt]
    mask = np.ones(W.shape[0], dtype=bool)
    mask[[ct, rt]] = False
    weight = 1 - pi[ct] + pi[rt]
    m = (1 - pi[ct]) * (W[ct] @ W[ct]) + pi[rt] * (W[rt] @ W[rt]) + weight * (h @ h)
    align = float(W[ct] @ W[rt])
    others = float(pi[mask] @ (W[mask] @ D))
    bracket = m - weight * align - others
    return {"c": c, "m": float(m), "alignment": align, "alignment_weight": float(weight),
            "others": others, "bracket": float(bracket), "rate": c * float(bracket)}


def theorem5_rates(W, h, chosen: int, rejected: int, *, beta: float, ref_margin: float = 0.0) -> np.ndarray:
    """Razin et al.'s Theorem 5: c [⟨W_z, D⟩ + c(t)] for every token z (meaningful for
    z ∉ {y⁺, y⁻}; the entries at y⁺ and y⁻ are returned as NaN)."""
    W, h, ct, rt = _model(W, h, chosen, rejected)
    c = dpo_coefficient(W, h, ct, rt, beta=beta, ref_margin=ref_margin)
    pi = np.exp(_log_softmax(W @ h))
    D = W[ct] - W[rt]
    ct_term = (pi[rt] - pi[ct]) * (h @ h) - pi @ (W @ D)
    out = c * (W @ D + ct_term)
    out[[ct, rt]] = np.nan
    return out


def gain_scores(W, chosen: int, rejected: int) -> np.ndarray:
    """⟨W_k, W_{y⁺} − W_{y⁻}⟩ for every token k: the tokens with the largest score gain most
    (Theorem 5; exactly the ranking of the log-probability change of the tokens other than y⁺, y⁻
    after one gradient step of any size).

    >>> gain_scores([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]], 0, 1)
    array([ 0.2, -0.2, -0.6])
    """
    W = _inputs.matrix("W", W, min_rows=2)
    ct, rt = _inputs.token_pair(chosen, rejected, W.shape[0])
    return W @ (W[ct] - W[rt])


# ---------------------------------------------------------------------------------------------
# symbolic side: identities for general |V| and d

@lru_cache(maxsize=None)
def _symbols():
    import sympy as sp

    V, d = sp.symbols("V d", integer=True, positive=True)
    W = sp.MatrixSymbol("W", V, d)
    h = sp.MatrixSymbol("h", d, 1)
    u = sp.MatrixSymbol("u", V, 1)          # e_{y+} − e_{y−}
    eta, beta = sp.symbols("eta beta", positive=True)
    c = sp.Symbol("c", positive=True)       # −ℓ′ at the current margin
    return V, d, W, h, u, eta, beta, c


def symbolic_facts() -> dict:
    """The identities behind the module docstring, each as (computed, claimed) SymPy objects whose
    difference reduces to 0. All are general in |V| and d:

    ``margin``         (z_p − LSE(z)) − (z_n − LSE(z)) vs z_p − z_n (index notation, any V);
    ``dloss-dz``       sympy.diff of the DPO loss in the logit z_k (IndexedBase) vs −c(δ_kp − δ_kn);
    ``dloss-dm``       dℓ/dm for ℓ = −log σ(β(m − r)) vs −c;
    ``dm-dW``, ``dm-dh``  matrix derivatives of m = uᵀW h (sympy.diff of Trace) vs u hᵀ and Wᵀu;
    ``step``           (W + ηc u hᵀ)(h + ηc Wᵀu) − W h vs ηc(W Wᵀu + u hᵀh) + η²c² u hᵀWᵀu;
    ``first-order``    d/dη [z_k + ηΔ_k − log Σ_j e^{z_j + ηΔ_j}] at 0 vs Δ_k − Σ_j π_j Δ_j (any V);
    ``theorem4``       the first-order change of ln π(y⁺) per unit ηc vs Theorem 4's bracket;
    ``theorem5``       the same for a token z ∉ {y⁺, y⁻} vs ⟨W_z, D⟩ + c(t).

    In ``theorem4``/``theorem5`` the objects that depend on |V| and d enter through the symbols
    a = ‖W_{y⁺}‖², b = ‖W_{y⁻}‖², g = ⟨W_{y⁺}, W_{y⁻}⟩, H = ‖h‖², w = ⟨W_z, D⟩ and
    S = Σ_{z∉{y⁺,y⁻}} π_z ⟨W_z, D⟩; ⟨W_{y⁺}, D⟩ = a − g, ⟨W_{y⁻}, D⟩ = g − b and
    Σ_j π_j⟨W_j, D⟩ = π⁺(a − g) + π⁻(g − b) + S hold by the definitions for every |V| and d.
    """
    import sympy as sp

    V, d, W, h, u, eta, beta, c = _symbols()
    out = {}
    k, j, p, n = sp.symbols("k j p n", integer=True)
    z, Dk = sp.IndexedBase("z"), sp.IndexedBase("Delta")
    r = sp.Symbol("r", real=True)
    lse = sp.log(sp.Sum(sp.exp(z[j]), (j, 0, V - 1)))
    margin = (z[p] - lse) - (z[n] - lse)
    out["margin"] = (margin, z[p] - z[n])
    loss = -sp.log(1 / (1 + sp.exp(-beta * (margin - r))))
    c_of_z = beta / (1 + sp.exp(beta * (z[p] - z[n] - r)))
    out["dloss-dz"] = (sp.diff(loss, z[k]), -c_of_z * (sp.KroneckerDelta(k, p) - sp.KroneckerDelta(k, n)))
    m = sp.Symbol("m", real=True)
    out["dloss-dm"] = (sp.diff(-sp.log(1 / (1 + sp.exp(-beta * (m - r)))), m),
                       -beta / (1 + sp.exp(beta * (m - r))))
    mW = sp.Trace(u.T * W * h)
    out["dm-dW"] = (sp.diff(mW, W), u * h.T)
    out["dm-dh"] = (sp.diff(mW, h), W.T * u)
    new = (W + eta * c * u * h.T) * (h + eta * c * W.T * u)
    out["step"] = (new - W * h, eta * c * (W * W.T * u + u * (h.T * h)) + eta ** 2 * c ** 2 * u * (h.T * (W.T * u)))
    moved = z[k] + eta * Dk[k] - sp.log(sp.Sum(sp.exp(z[j] + eta * Dk[j]), (j, 0, V - 1)))
    Z = sp.Sum(sp.exp(z[j]), (j, 0, V - 1))
    out["first-order"] = (sp.diff(moved, eta).subs(eta, 0),
                          Dk[k] - sp.Sum(sp.exp(z[j]) * Dk[j], (j, 0, V - 1)) / Z)
    a, b, g, H, w, S = sp.symbols("a b g H w S", real=True)
    pp, pn = sp.symbols("pi_plus pi_minus", positive=True)
    full = pp * (a - g) + pn * (g - b) + S          # Σ_j π_j ⟨W_j, D⟩
    mean = full + H * (pp - pn)                     # Σ_j π_j Δz_j / (ηc)
    m4 = (1 - pp) * a + pn * b + (1 - pp + pn) * H
    out["theorem4"] = ((a - g) + H - mean, m4 - (1 - pp + pn) * g - S)
    out["theorem5"] = (w - mean, w + ((pn - pp) * H - full))
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
        if isinstance(a, sp.MatrixExpr) or isinstance(b, sp.MatrixExpr):
            diff = (a - b).expand()
            res[name] = bool(diff == sp.ZeroMatrix(*diff.shape) or sp.simplify(diff).is_ZeroMatrix)
        elif name == "first-order":
            res[name] = reduces_to_zero(sp.together(a - b))
        else:
            res[name] = reduces_to_zero(a - b)
    return tuple(res.items())


@_register("likelihood-displacement")
def derivation():
    """``dpomath derive likelihood-displacement``: one DPO step with h and W trained."""
    import sympy as sp

    from ..verify.derive import Step

    facts = symbolic_facts()
    V, d, W, h, u, eta, beta, c = _symbols()
    return [
        Step("Unconstrained features (Razin et al. §4.1): logits z = W h, W ∈ ℝ^{V×d}, h ∈ ℝ^d both "
             "trained; single tokens y⁺ ≻ y⁻, u = e_{y⁺} − e_{y⁻}. The softmax normaliser cancels "
             "in the margin (any V):", sp.Eq(facts["margin"][0], facts["margin"][1], evaluate=False)),
        Step("DPO loss ℓ = −log σ(β(m − r)), m = uᵀW h; its derivative in the margin is −c:",
             sp.Eq(sp.Symbol("dℓ/dm"), facts["dloss-dm"][1])),
        Step("Matrix derivatives of m (sympy.diff on Trace(uᵀWh)), so ∂ℓ/∂W = −c u hᵀ, ∂ℓ/∂h = −c Wᵀu:",
             sp.Matrix([[facts["dm-dW"][1], facts["dm-dh"][1]]])),
        Step("One gradient step W′ = W + ηc u hᵀ, h′ = h + ηc Wᵀu changes the logits exactly by "
             "(expanded with matrix symbols, general V and d):",
             sp.Eq(sp.MatrixSymbol("Delta_z", V, 1), facts["step"][1], evaluate=False)),
        Step("Row k: Δz_k = ηc[⟨W_k, D⟩ + ‖h‖²u_k] + η²c²⟨h, D⟩u_k with D = W_{y⁺} − W_{y⁻}; for k ∉ {y⁺, y⁻} "
             "exactly ηc⟨W_k, D⟩", None),
        Step("First order in η (any V): Δ ln π_k/η → Δ_k − Σ_j π_j Δ_j; for y⁺ this rearranges to "
             "Theorem 4 (a = ‖W_{y⁺}‖², b = ‖W_{y⁻}‖², g = ⟨W_{y⁺}, W_{y⁻}⟩, H = ‖h‖², "
             "S = Σ_{z∉{y⁺,y⁻}} π_z⟨W_z, D⟩):",
             sp.Eq(sp.Symbol("(d/dt) ln π(y⁺) / c"), facts["theorem4"][1])),
        Step("and for z ∉ {y⁺, y⁻} to Theorem 5 (w = ⟨W_z, D⟩): the gain is w plus a z-independent term",
             sp.Eq(sp.Symbol("(d/dt) ln π(z) / c"), facts["theorem5"][1])),
    ]
