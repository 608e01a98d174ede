"""Lemma 4.1 of paper I derived with SymPy in explicit small dimensions (``dpomath derive
lemma-4.1``); its check against ``torch.autograd`` is
:func:`dpomath.lastlayer.descent.lemma41_autograd_check`.

Model: πθ(y|x) = softmax(W g(x))ᵀy, W ∈ R^{|V|×d} trained, reference W0, single-token
responses. The derivation uses |V| = 3 tokens, d = 2 and three samples whose response pairs
share tokens — (0 ≻ 1), (1 ≻ 2), (1 ≻ 0) — so every sign of (Δy_j)ᵀ(Δy_i) occurs, and a general
margin loss f (DPO is f(r) = −log σ(r), whose −f′ is σ(−r)). Steps:

1. log π_W(y|x) = (W g)_y − log Σ_v e^{(W g)_v}; the log-partition is the same for y_w and y_l,
   so r = β[(h_w) − (h_l)] = β (Δy)ᵀ(W − W0) g exactly (difference reduces to 0).
2. L = (1/N) Σ_i f(r_i); gradient flow τ Ẇ = −∂L/∂W; ṙ_j = Σ_ab (∂r_j/∂W_ab) Ẇ_ab.
3. τ ṙ_j − (β²/N) Σ_i (−f′(r_i)) (Δy_j)ᵀ(Δy_i) g_iᵀ g_j reduces to 0 for every j.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..verify.derive import Step, derivation

__all__ = ["lemma_41", "lemma41_system", "lemma41_proof", "lemma41_dpo_pair"]

#: (chosen, rejected) token of each sample in the symbolic derivation
PAIRS = ((0, 1), (1, 2), (1, 0))
V_TOKENS, D_DIM = 3, 2


@lru_cache(maxsize=1)
def lemma41_system() -> dict:
    """The symbolic objects of the derivation (cached): W, W0, features, margins in the full
    softmax model, the loss with a general f, the gradient-flow ṙ_j and Lemma 4.1's RHS."""
    beta, tau = sp.symbols("beta tau", positive=True)
    N = len(PAIRS)
    W = sp.Matrix(V_TOKENS, D_DIM, lambda a, b: sp.Symbol(f"W_{a}{b}", real=True))
    W0 = sp.Matrix(V_TOKENS, D_DIM, lambda a, b: sp.Symbol(f"Wref_{a}{b}", real=True))
    g = [sp.Matrix(D_DIM, 1, lambda k, _l, i=i: sp.Symbol(f"g_{i}{k}", real=True)) for i in range(N)]
    f = sp.Function("f")

    def logp(Wm, gi, y):
        z = Wm * gi
        return z[y] - sp.log(sum(sp.exp(z[v]) for v in range(V_TOKENS)))

    def dy(i):
        e = sp.zeros(V_TOKENS, 1)
        e[PAIRS[i][0]] += 1
        e[PAIRS[i][1]] -= 1
        return e

    hw = [logp(W, g[i], PAIRS[i][0]) - logp(W0, g[i], PAIRS[i][0]) for i in range(N)]
    hl = [logp(W, g[i], PAIRS[i][1]) - logp(W0, g[i], PAIRS[i][1]) for i in range(N)]
    r = [beta * (hw[i] - hl[i]) for i in range(N)]
    r_linear = [beta * (dy(i).T * (W - W0) * g[i])[0, 0] for i in range(N)]
    L = sum(f(r[i]) for i in range(N)) / N
    Wdot = W.applyfunc(lambda w: -sp.diff(L, w) / tau)
    rdot = [sum(sp.diff(r[j], W[a, b]) * Wdot[a, b] for a in range(V_TOKENS) for b in range(D_DIM))
            for j in range(N)]
    x = sp.Symbol("x", real=True)
    fprime = lambda e: sp.diff(f(x), x).subs(x, e)  # noqa: E731
    lemma = [beta ** 2 / (N * tau) * sum(-fprime(r[i]) * (dy(j).T * dy(i))[0, 0]
                                           * (g[i].T * g[j])[0, 0] for i in range(N))
             for j in range(N)]
    return {"beta": beta, "tau": tau, "W": W, "W0": W0, "g": g, "f": f, "hw": hw, "hl": hl,
            "r": r, "r_linear": r_linear, "L": L, "Wdot": Wdot, "rdot": rdot, "lemma": lemma,
            "dy": [dy(i) for i in range(len(PAIRS))], "logp": logp, "N": N}


def lemma41_proof() -> dict:
    """Each reduction of the derivation: the differences that must be 0, for every sample."""
    s = lemma41_system()
    part = [sp.simplify(s["r"][i] - s["r_linear"][i]) for i in range(s["N"])]
    # the log-partition is present in h_w but absent from h_w − h_l
    has_partition = [bool(s["hw"][i].atoms(sp.log)) for i in range(s["N"])]
    diffs = [sp.simplify(sp.expand(s["rdot"][j] - s["lemma"][j])) for j in range(s["N"])]
    # DPO: f(r) = −log σ(r) has −f′(r) = σ(−r)
    from ..losses import rho, symbolic_margin_loss

    fdpo, dfdpo = symbolic_margin_loss("sigmoid")
    dpo = sp.simplify(-sp.diff(fdpo, rho) - 1 / (1 + sp.exp(rho)))
    dpo_weight = sp.simplify(-dfdpo - 1 / (1 + sp.exp(rho)))
    return {"partition_differences": part, "h_w_has_log_partition": has_partition,
            "rhs_differences": diffs, "dpo_weight_difference": dpo,
            "dpo_dmargin_difference": dpo_weight,
            "proved": all(p == 0 for p in part) and all(has_partition)
            and all(dd == 0 for dd in diffs) and dpo == 0 and dpo_weight == 0}


def lemma41_dpo_pair(j: int = 0) -> tuple[sp.Expr, sp.Expr, list[sp.Symbol]]:
    """(ṙ_j from the full softmax model, Lemma 4.1's RHS) for DPO, as closed expressions in
    W, W0, g, β, τ — for the 50-digit numeric twin."""
    s = lemma41_system()
    rho_ = sp.Symbol("rho_", real=True)
    dpo_f = sp.Lambda(rho_, sp.log(1 + sp.exp(-rho_)))
    lhs = s["rdot"][j].subs(s["f"], dpo_f).doit()
    rhs = s["lemma"][j].subs(s["f"], dpo_f).doit()
    syms = sorted((lhs.free_symbols | rhs.free_symbols), key=lambda q: q.name)
    return lhs, rhs, syms


@derivation("lemma-4.1")
def lemma_41() -> list[Step]:
    """Paper I, Lemma 4.1: the margins' gradient flow of last-layer DPO, from the model (``dpomath derive lemma-4.1``)."""
    s = lemma41_system()
    proof = lemma41_proof()
    tau = s["tau"]
    rs = sp.symbols("r_0:3", real=True)
    fp = sp.Function("f'")

    def short(e):  # f′ evaluated at a margin's expression -> f'(r_i)
        rep = {}
        for sub in e.atoms(sp.Subs):
            pt = sub.point[0]
            for i in range(s["N"]):
                if sp.expand(pt - s["r_linear"][i]) == 0:
                    rep[sub] = fp(rs[i])
        return e.xreplace(rep)

    steps = [
        Step("Last-layer model with |V| = 3 tokens, d = 2 and three samples (y_w, y_l) = (0,1), "
             "(1,2), (1,0); W is trained, Wref = W0 is the reference, g_i = g(x_i). "
             "log π_W(y|x) = (W g)_y − log Σ_v exp((W g)_v); for sample 0, log π_W(y_w|x_0) =",
             s["logp"](s["W"], s["g"][0], 0)),
        Step("Its log-ratio h_w = log π_W(y_w|x) − log π_W0(y_w|x) carries both log-partitions:",
             s["hw"][0]),
        Step("In the margin r = β(h_w − h_l) they cancel exactly (same x, same partition): "
             "r_i − β Δy_iᵀ(W − W0) g_i reduces to, for i = 0, 1, 2,",
             sp.Matrix(proof["partition_differences"])),
        Step("so every margin is linear in W and starts at 0 when W = W0:",
             sp.Eq(sp.Matrix(rs), sp.Matrix(s["r_linear"]))),
        Step("Loss L = (1/N) Σ_i f(r_i) for a margin loss f; gradient flow τ Ẇ = −∂L/∂W, e.g. "
             "τ Ẇ_00 =", short(sp.simplify(tau * s["Wdot"][0, 0]))),
        Step("Chain rule ṙ_j = Σ_ab (∂r_j/∂W_ab) Ẇ_ab; Lemma 4.1's right-hand side "
             "(β²/(Nτ)) Σ_i (−f′(r_i)) (Δy_j)ᵀ(Δy_i) g_iᵀ g_j for j = 0 reads",
             sp.Eq(sp.Symbol("rdot_0"), short(s["lemma"][0]))),
        Step("ṙ_j − (Lemma 4.1's right-hand side) reduces to 0 for j = 0, 1, 2:",
             sp.Matrix(proof["rhs_differences"])),
        Step("DPO: f(r) = −log σ(r) has −f′(r) = σ(−r); −f′(r) − 1/(1 + e^r) reduces to",
             proof["dpo_weight_difference"]),
        Step("Hence τ ṙ_j = (1/N) Σ_i β² σ(−r_i) (y_w,j − y_l,j)ᵀ(y_w,i − y_l,i) Σ_ij with "
             "Σ_ij = g_iᵀ g_j (Lemma 4.1), and with −f′(r_i) for σ(−r_i) for any margin loss "
             "(GPO). W0 drops out: the margins' flow does not depend on the reference."
             + ("" if proof["proved"] else "  [WARNING: a reduction did not give 0]")),
    ]
    return steps
