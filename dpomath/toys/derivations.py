"""The free-logit policy (:mod:`dpomath.toys.free_logit`) derived with SymPy: the facts claim
G-TABULAR and G-SQUEEZE check (:func:`symbolic_facts`) and the step-by-step derivations printed
by ``dpomath derive tabular-step`` and ``dpomath derive squeezing``.
"""
from __future__ import annotations

from functools import lru_cache

from ..losses import symbolic_loss
from ..symbols import beta
from ..verify.derive import Step, derivation

__all__ = ["prompt_symbols", "symbolic_facts", "check_symbolic_facts", "tabular_step", "squeezing"]


@lru_cache(maxsize=None)
def prompt_symbols(n: int = 4):
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


    z, a_c, a_r, eta, logp, pi = prompt_symbols(n)
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


@derivation("tabular-step")
def tabular_step():
    """One DPO step of the free-logit policy in closed form (``dpomath derive tabular-step``)."""
    import sympy as sp


    n = 4
    z, a_c, a_r, eta, logp, pi = prompt_symbols(n)
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


@derivation("squeezing")
def squeezing():
    """The squeezing effect of a pure negative gradient (``dpomath derive squeezing``)."""
    import sympy as sp


    n = 4
    facts = symbolic_facts(n)
    z, a_c, a_r, eta, logp, pi = prompt_symbols(n)
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
