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

``dpomath derive tabular-step`` and ``dpomath derive squeezing`` print the SymPy derivations.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import _args

__all__ = ["loss_partials", "logit_gradient", "step", "first_order_change", "squeeze_change",
           "dpo_first_order", "derivation", "squeezing_derivation", "symbolic_facts"]

def loss_partials(kind: str, hw, hl, beta: float, **params):
    """(∂ℓ/∂h_w, ∂ℓ/∂h_l) of a member of the loss family, elementwise (numpy, stable).

    Margin losses ℓ = f(β(h_w − h_l)): ∂ℓ/∂h_w = βf′(ρ) = −β·margin_weight(ρ), ∂ℓ/∂h_l = −∂ℓ/∂h_w.
    Flex-DPO, u = β₊h_w − β₋h_l: (−β₊σ(−u), β₋σ(−u)). SFT-DPO (its −γ log πθ(y_w) term moves
    with h_w): (−βσ(−ρ) − γ, βσ(−ρ)). Checked against ``sympy.diff`` of
    :func:`dpomath.losses.symbolic_loss` in the tests.
    """
    from .losses import get_loss, margin_weight

    spec = get_loss(kind)
    beta = _args.positive("beta", beta)
    hw = np.asarray(_args.array("hw", hw), dtype=np.float64)
    hl = np.asarray(_args.array("hl", hl), dtype=np.float64)
    if spec.kind == "flex":
        (bm,) = _take(params, kind, "beta_minus")
        bm = _args.positive("beta_minus", bm)
        s = margin_weight("sigmoid", beta * hw - bm * hl)
        return -beta * s, bm * s
    if spec.kind == "sft":
        params.pop("chosen_logps", None)   # the policy's own log π_c: it moves with h_w
        (gamma,) = _take(params, kind, "gamma")
        gamma = _args.real("gamma", gamma, lo=0.0)
        s = margin_weight("sigmoid", beta * (hw - hl))
        return -beta * s - gamma, beta * s
    s = margin_weight(spec.kind, beta * (hw - hl), beta, **params)
    return -beta * s, beta * s


def _take(params: dict, kind: str, *names: str) -> list:
    """The required ``names`` from ``params``; BadType for a missing or an unknown one."""
    missing = [n for n in names if n not in params]
    if missing:
        raise _args.BadType(f"{missing[0]}: required by loss {kind!r}")
    extra = sorted(set(params) - set(names))
    if extra:
        raise _args.BadType(f"{', '.join(extra)}: not a parameter of loss {kind!r}")
    return [params[n] for n in names]


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


def _log_softmax(z):
    from scipy.special import logsumexp

    return z - logsumexp(z)


def logit_gradient(logits, ref_logp, chosen: int, rejected, weights=None, *, kind: str = "sigmoid",
                   beta: float = 0.1, **params) -> np.ndarray:
    """g = ∂L/∂z for one prompt (formula 1 of the module docstring), L = Σ_j w_j ℓ(h_c, h_{r_j}).

    ``rejected`` is one index or a list; ``weights`` default to equal weights summing to 1.
    """
    z, ref, c, r, w = _prompt_args(logits, ref_logp, chosen, rejected, weights)
    lp = _log_softmax(z)
    pi = np.exp(lp)
    lw, ll = loss_partials(kind, lp[c] - ref[c], lp[r] - ref[r], beta, **params)
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
    lp = _log_softmax(np.asarray(logits, dtype=np.float64))
    return lp - lr * g - logsumexp(lp - lr * g)


def first_order_change(logits, ref_logp, chosen: int, rejected, weights=None, *,
                       kind: str = "sigmoid", beta: float = 0.1, **params) -> np.ndarray:
    """d log π_k/dη at η = 0: −(g_k − Σ_i π_i g_i) (multiply by the step size)."""
    g = logit_gradient(logits, ref_logp, chosen, rejected, weights, kind=kind, beta=beta, **params)
    pi = np.exp(_log_softmax(np.asarray(logits, dtype=np.float64)))
    return -(g - pi @ g)


def dpo_first_order(p_chosen, p_rejected, sigma_weight=1.0) -> dict:
    """DPO, one pair: first-order changes per unit of ηβσ(−ρ) of log π for the chosen, the
    rejected and any other response, and the log-space ratio |Δ rejected| / Δ chosen."""
    pc = _args.probability("p_chosen", p_chosen)
    pr = _args.probability("p_rejected", p_rejected)
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


# ---------------------------------------------------------------------------------------------
# symbolic side: the derivations and the facts the ledger checks

@lru_cache(maxsize=None)
def _sym(n: int = 4):
    """Symbols of an n-response prompt: logits z0..z(n−1) (0 = chosen, 1 = rejected), reference
    log-probabilities a_c, a_r, step η; π as SymPy expressions."""
    import sympy as sp

    z = sp.symbols(f"z0:{n}", real=True)
    a_c, a_r = sp.symbols("a_c a_r", real=True)
    eta = sp.Symbol("eta", positive=True)
    Z = sum(sp.exp(v) for v in z)
    logp = [v - sp.log(Z) for v in z]
    pi = [sp.exp(v) / Z for v in z]
    return z, a_c, a_r, eta, logp, pi


def symbolic_facts(n: int = 4) -> dict:
    """The tabular facts, each as (computed, claimed) SymPy expressions whose difference
    simplifies to 0 (n responses; response 0 is chosen, 1 rejected, the rest unseen):

    ``grad-<kind>-<k>``  ∂ℓ/∂z_k from ``sympy.diff`` of :func:`dpomath.losses.symbolic_loss`
                         vs ℓ_w(δ_k0 − π_k) + ℓ_l(δ_k1 − π_k), and for DPO vs −βσ(−ρ)(δ_k0 − δ_k1);
    ``step-<k>``         log softmax(z − ηg)_k vs log π_k − ηg_k − log Σ π_i e^{−ηg_i};
    ``first-<k>``        d/dη of the latter at 0 vs −(g_k − Σ π_i g_i);
    ``dpo-first-<k>``    the DPO first-order changes of point 3;
    ``chosen-exp``       e^{−Δ log π_c} vs Σ_i π_i e^{−η(g_i − g_c)};
    ``squeeze-<k>``      d/dη log softmax(z − η∇ log π_1)_k at 0 vs π_k + π_1 − Σ π_i²;
    ``mode-gap``         π_m − Σ π_i² vs Σ_i π_i (π_m − π_i) (m = 2; uses Σ π_i = 1).
    """
    import sympy as sp

    from .losses import beta, symbolic_loss

    z, a_c, a_r, eta, logp, pi = _sym(n)
    hw, hl = logp[0] - a_c, logp[1] - a_r
    rho = beta * (hw - hl)
    sig = lambda x: 1 / (1 + sp.exp(-x))  # noqa: E731
    out = {}
    d = lambda a, b: sp.Integer(int(a == b))  # noqa: E731  Kronecker delta
    bm, gam = sp.Symbol("beta_minus", positive=True), sp.Symbol("gamma", nonnegative=True)
    kinds = {
        "sigmoid": (symbolic_loss("sigmoid", hw, hl), -beta * sig(-rho), beta * sig(-rho)),
        "flex": (symbolic_loss("flex", hw, hl, beta_minus=bm),
                 -beta * sig(-(beta * hw - bm * hl)), bm * sig(-(beta * hw - bm * hl))),
        "sft": (symbolic_loss("sft", hw, hl, gamma=gam, chosen_logps=logp[0]),
                -beta * sig(-rho) - gam, beta * sig(-rho)),
    }
    for kind, (loss, lw, ll) in kinds.items():
        for k in range(n):
            claimed = lw * (d(k, 0) - pi[k]) + ll * (d(k, 1) - pi[k])
            out[f"grad-{kind}-{k}"] = (sp.diff(loss, z[k]), claimed)
    for k in range(n):
        out[f"grad-dpo-cancel-{k}"] = (sp.diff(kinds["sigmoid"][0], z[k]),
                                      -beta * sig(-rho) * (d(k, 0) - d(k, 1)))
    g = sp.symbols(f"g0:{n}", real=True)
    Zs = sum(pi[i] * sp.exp(-eta * g[i]) for i in range(n))
    Znew = sum(sp.exp(z[i] - eta * g[i]) for i in range(n))
    for k in range(n):
        exact = z[k] - eta * g[k] - sp.log(Znew)
        claimed = logp[k] - eta * g[k] - sp.log(Zs)
        out[f"step-{k}"] = (sp.exp(exact - claimed), sp.Integer(1))
        out[f"first-{k}"] = (sp.diff(exact, eta).subs(eta, 0),
                             -(g[k] - sum(pi[i] * g[i] for i in range(n))))
    # DPO: g = −βs(e_0 − e_1) with s = σ(−ρ) > 0 (a symbol here)
    s = sp.Symbol("s", positive=True)
    gd = [-beta * s * (d(i, 0) - d(i, 1)) for i in range(n)]
    first = [-(gd[k] - sum(pi[i] * gd[i] for i in range(n))) for k in range(n)]
    want = [beta * s * (1 - pi[0] + pi[1]), -beta * s * (1 + pi[0] - pi[1])] + \
           [beta * s * (pi[1] - pi[0])] * (n - 2)
    for k in range(n):
        out[f"dpo-first-{k}"] = (first[k], want[k])
    dc = eta * beta * s - sp.log(sum(pi[i] * sp.exp(-eta * gd[i]) for i in range(n)))
    out["chosen-exp"] = (sp.exp(-dc), sum(pi[i] * sp.exp(-eta * (gd[i] - gd[0])) for i in range(n)))
    # squeezing: descend on log π_1 alone
    gs = [sp.diff(logp[1], z[i]) for i in range(n)]
    q = sum(p * p for p in pi)
    for k in range(n):
        moved = z[k] - eta * gs[k] - sp.log(sum(sp.exp(z[i] - eta * gs[i]) for i in range(n)))
        d = sp.diff(moved, eta).subs(eta, 0)
        out[f"squeeze-{k}"] = (d, pi[k] + pi[1] - q if k != 1 else -(1 - 2 * pi[1] + q))
    out["mode-gap"] = (pi[2] - q, sum(pi[i] * (pi[2] - pi[i]) for i in range(n)))
    return out


def check_symbolic_facts(n: int = 4) -> dict[str, bool]:
    """Each fact of :func:`symbolic_facts` → whether SymPy reduces computed − claimed to 0."""
    return dict(_check_symbolic_facts(n))


@lru_cache(maxsize=None)
def _check_symbolic_facts(n: int) -> tuple:
    import sympy as sp

    res = {}
    for name, (a, b) in symbolic_facts(n).items():
        d = sp.simplify(sp.expand(a - b) if name.startswith(("first", "dpo", "squeeze", "mode"))
                        else a - b)
        if d != 0:
            d = sp.simplify(sp.powsimp(sp.expand(sp.together(d)), force=True))
        res[name] = d == 0
    return tuple(res.items())


def derivation():
    """``dpomath derive tabular-step``: one DPO step of the free-logit policy in closed form."""
    import sympy as sp

    from .derivations import Step
    from .losses import beta, symbolic_loss

    n = 4
    z, a_c, a_r, eta, logp, pi = _sym(n)
    hw, hl = logp[0] - a_c, logp[1] - a_r
    facts = symbolic_facts(n)
    pis = sp.symbols(f"pi0:{n}", positive=True)
    back = {pi[i]: pis[i] for i in range(n)}
    s = sp.Symbol("s", positive=True)
    g = sp.symbols(f"g0:{n}", real=True)
    k = sp.Symbol("k", integer=True)
    grad = [sp.simplify(facts[f"grad-dpo-cancel-{i}"][1]) for i in range(n)]
    return [
        Step("Free-logit policy, 4 responses (0 chosen, 1 rejected, 2–3 unseen): "
             "π = softmax(z); the log-ratios are", sp.Eq(sp.Symbol("h_w"), hw)),
        Step("DPO loss (dpomath.losses, kind 'sigmoid')", symbolic_loss("sigmoid")),
        Step("Its gradient in the logits (sympy.diff, simplified): the softmax normaliser "
             "cancels between chosen and rejected, unseen logits get no gradient",
             sp.Eq(sp.Matrix([sp.Symbol(f"dl/dz{i}") for i in range(n)]), sp.Matrix(grad))),
        Step("Flex-DPO and SFT-DPO do not cancel: ∂ℓ/∂z_k = ℓ_w (δ_k0 − π_k) + ℓ_l (δ_k1 − π_k) "
             "with ℓ_w = −β₊σ(−u), ℓ_l = β₋σ(−u) (u = β₊h_w − β₋h_l), or ℓ_w = −βσ(−ρ) − γ, "
             "ℓ_l = βσ(−ρ)", None),
        Step("One gradient step z' = z − ηg changes each log-probability exactly by",
             sp.Eq(sp.Symbol("Δlog π_k"), -eta * sp.Indexed("g", k)
                   - sp.log(sp.Sum(sp.Indexed("pi", sp.Symbol("i")) *
                                   sp.exp(-eta * sp.Indexed("g", sp.Symbol("i"))),
                                   (sp.Symbol("i"), 0, n - 1))))),
        Step("First order in η (sympy.diff at η = 0, checked for each k)",
             sp.Eq(sp.Symbol("dlog π_k/dη"),
                   -(sp.Indexed("g", k) - sp.Sum(sp.Indexed("pi", sp.Symbol("i")) *
                                                 sp.Indexed("g", sp.Symbol("i")),
                                                 (sp.Symbol("i"), 0, n - 1))))),
        Step("DPO, s = σ(−ρ): chosen, rejected, unseen (first order, per unit η)",
             sp.Matrix([facts[f"dpo-first-{i}"][1].subs(back) for i in (0, 1, 2)])),
        Step("Chosen rises for every η > 0: e^{−Δ log π_c} = Σ_i π_i e^{−η(g_i − g_c)} with "
             "g_i − g_c ∈ {0, βs, 2βs}, all ≥ 0, so each term ≤ π_i and the sum ≤ 1",
             sp.Eq(sp.exp(-sp.Symbol("Δlog π_c")), facts["chosen-exp"][1].subs(back))),
        Step("Unseen responses gain iff π_r > π_c; the log-space drop ratio "
             "|Δ log π_r| / Δ log π_c = (1 + π_c − π_r)/(1 − π_c + π_r) exceeds 1 iff π_c > π_r "
             "and → ∞ as π_c → 1", None),
    ]


def squeezing_derivation():
    """``dpomath derive squeezing``: the squeezing effect of a pure negative gradient."""
    import sympy as sp

    from .derivations import Step

    n = 4
    facts = symbolic_facts(n)
    z, a_c, a_r, eta, logp, pi = _sym(n)
    pis = sp.symbols(f"pi0:{n}", positive=True)
    back = {pi[i]: pis[i] for i in range(n)}
    return [
        Step("Free-logit policy π = softmax(z), 4 responses; descend on log π_1 alone "
             "(the rejected half of a DPO gradient, with nothing on a chosen response): "
             "z' = z − η ∇_z log π_1", None),
        Step("First-order change of log π_k per unit η, k ≠ 1 (sympy.diff at η = 0)",
             sp.Eq(sp.Symbol("dlog π_k/dη"), facts["squeeze-0"][1].subs(back).subs(pis[0], sp.Symbol("pi_k")))),
        Step("and for the pushed response itself", facts["squeeze-1"][1].subs(back)),
        Step("The gain grows with π_k; for the mode m, π_m − Σ π_i² = Σ_i π_i (π_m − π_i) ≥ 0 "
             "(each term ≥ 0), so the most likely response gains at least η π_1 > 0",
             sp.Eq(facts["mode-gap"][0].subs(back), facts["mode-gap"][1].subs(back))),
        Step("Responses with π_k < Σ π_i² − π_1 lose: mass is squeezed into the mode. In DPO the "
             "chosen response's gradient carries +π, cancelling this term exactly for a pair on "
             "one prompt (see tabular-step)", None),
    ]
