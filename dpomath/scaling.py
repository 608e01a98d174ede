"""Theorem 4.3 of paper I and its scaling law: the bound R(P) ≤ 2KQ²e^{−Q/45}, the sample size
Q*(K, ε) it asks for, Q* = Θ(log K) proved, and Monte-Carlo risk on the cluster model.

The bound B(K, Q) = 2KQ²e^{−Q/45} rises to its peak at Q = 90 (B = 2K·8100/e² ≈ 2192K) and
falls after; Q*(K, ε) is the smallest integer Q past the peak with B ≤ ε. From
Q²e^{−Q/45} = ε/(2K), i.e. (−Q/90)e^{−Q/90} = −√(ε/(2K))/90, the real root past the peak is
Q = −90 W₋₁(−√(ε/(2K))/90) (Lambert W, branch −1); Q* is the integer at or above it.

>>> from dpomath.scaling import q_star
>>> q_star(10, 0.05)["Q_star"]
880
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _args

__all__ = ["risk_bound", "log_risk_bound", "PEAK_Q", "bound_peak", "q_star", "q_star_real",
           "vacuous_below", "logk_asymptotics", "clopper_pearson", "risk_at_tau1", "mc_risk",
           "empirical_q"]

#: The bound's peak: d/dQ log(2KQ²e^{−Q/45}) = 2/Q − 1/45 = 0.
PEAK_Q = 90
_DPS = 50


def log_risk_bound(K, Q):
    """log(2KQ²e^{−Q/45}) (numpy, any shapes)."""
    K = np.asarray(K, float)
    Q = np.asarray(Q, float)
    if np.any(K < 1) or np.any(Q <= 0):
        raise _args.BadValue("K, Q: need K >= 1 and Q > 0")
    return np.log(2.0 * K) + 2.0 * np.log(Q) - Q / 45.0


def risk_bound(K, Q):
    """Theorem 4.3's bound 2KQ²e^{−Q/45} (≥ 1 means vacuous)."""
    out = np.exp(log_risk_bound(K, Q))
    return float(out) if np.ndim(out) == 0 else out


def _bound_mp(K: int, Q: int):
    import mpmath as mp

    return 2 * K * mp.mpf(Q) ** 2 * mp.exp(-mp.mpf(Q) / 45)


def bound_peak(K: int) -> dict:
    """The peak of the bound: Q = 90, B = 2K·8100·e^{−2}."""
    K = _args.integer("K", K, lo=1)
    return {"Q": PEAK_Q, "bound": 2 * K * 8100 * math.exp(-2.0)}


def q_star_real(K: int, eps: float):
    """The real root past the peak, −90 W₋₁(−√(ε/(2K))/90), as a 50-digit mpmath number;
    None when ε is at least the peak value (then every Q ≥ 90 meets the bound)."""
    import mpmath as mp

    K = _args.integer("K", K, lo=1)
    eps = _args.positive("eps", eps)
    with mp.workdps(_DPS):
        x = mp.sqrt(mp.mpf(eps) / (2 * K)) / 90
        if x >= 1 / mp.e:
            return None
        return -90 * mp.lambertw(-x, -1).real


def q_star(K: int, eps: float) -> dict:
    """Q*(K, ε): the smallest integer Q past the bound's peak (Q ≥ 90) with 2KQ²e^{−Q/45} ≤ ε.

    Exact: the Lambert-W root at 50 digits, then an integer search with the bound evaluated at
    50 digits on each side. Returns Q_star, Q_real, N_star = 2K·Q*, the bound at Q* and Q* − 1,
    the peak and the smallest Q past it where the bound drops below 1 (below: vacuous).
    """
    import mpmath as mp

    K = _args.integer("K", K, lo=1)
    eps = _args.positive("eps", eps)
    with mp.workdps(_DPS):
        root = q_star_real(K, eps)
        e = mp.mpf(eps)
        Q = PEAK_Q if root is None else max(PEAK_Q, int(mp.floor(root)) - 1)
        while _bound_mp(K, Q) > e:
            Q += 1
        while Q - 1 >= PEAK_Q and _bound_mp(K, Q - 1) <= e:
            Q -= 1
        out: dict[str, Any] = {
            "K": K, "eps": eps, "Q_star": Q,
            "Q_real": None if root is None else float(root),
            "N_star": 2 * K * Q,
            "bound_at_Q_star": float(_bound_mp(K, Q)),
            "bound_at_Q_star_minus_1": float(_bound_mp(K, Q - 1)) if Q > 1 else None,
            "peak_Q": PEAK_Q, "peak_bound": float(_bound_mp(K, PEAK_Q)),
            "vacuous_below_Q": vacuous_below(K),
            "Q_bracket": _bracket(K, eps),
            "method": "Lambert W (branch -1) at 50 digits, then integer search past the peak",
        }
    if root is None:
        out["note"] = f"eps >= the bound's peak {out['peak_bound']:.6g}: every Q >= 90 meets it"
    return out


def _bracket(K: int, eps: float):
    """[Q_lo, Q_hi] of :func:`logk_asymptotics` around the real root (needs L = log(2K/ε) > 2)."""
    L = math.log(2 * K / eps)
    if L <= 2:
        return None
    lo = 45 * L + 90 * math.log(45 * L)
    return [lo, lo + 180 * math.log(45 * L) / (L - 2)]


def vacuous_below(K: int) -> int:
    """The smallest Q past the peak with 2KQ²e^{−Q/45} < 1 (for Q below it the bound says nothing)."""
    import mpmath as mp

    K = _args.integer("K", K, lo=1)
    with mp.workdps(_DPS):
        x = mp.sqrt(mp.mpf(1) / (2 * K)) / 90
        Q = max(PEAK_Q, int(-90 * mp.lambertw(-x, -1).real) - 1)
        while _bound_mp(K, Q) >= 1:
            Q += 1
        while Q - 1 >= PEAK_Q and _bound_mp(K, Q - 1) < 1:
            Q -= 1
    return Q


def logk_asymptotics() -> dict:
    """Q*(K, ε) = Θ(log K), proved with SymPy (a sandwich, since SymPy has no limits of W₋₁).

    With L = log(2K/ε) and g(Q) = L + 2 log Q − Q/45 (so B ≤ ε ⇔ g ≤ 0; g′ = 2/Q − 1/45 < 0
    past Q = 90): Q_lo = 45L + 90 log(45L) has g(Q_lo) = 2 log(1 + 2 log(45L)/L) > 0, and
    Q_hi = Q_lo + η, η = 180 log(45L)/(L − 2), has g(Q_hi) = 2 log(1 + a) − η/45 with 2a − η/45 = 0
    exactly, so g(Q_hi) < 0 (log(1 + a) < a). Hence Q_lo < Q_real < Q_hi for L > 2, η → 0, and
    Q* = ⌈Q_real⌉ = 45 log K + 90 log log K + 45 log(2/ε) + 90 log 45 + o(1) + [0, 1).

    Returns each step's SymPy result (differences that must be 0, limits) and ``proved``.
    """
    import sympy as sp

    L, Q, a = sp.symbols("L Q a", positive=True)
    K, eps = sp.symbols("K epsilon", positive=True)
    g = L + 2 * sp.log(Q) - Q / 45
    bound = 2 * K * Q ** 2 * sp.exp(-Q / 45)
    z = lambda e: sp.simplify(sp.expand_log(e, force=True))  # noqa: E731
    steps: dict[str, Any] = {}
    steps["log_bound_minus_eps_is_g"] = z(sp.log(bound / eps) - g.subs(L, sp.log(2 * K / eps)))
    gp = sp.diff(g, Q)
    steps["g_prime"] = gp
    steps["g_prime_zero"] = sp.solve(sp.Eq(gp, 0), Q)
    steps["g_prime_negative_past_peak"] = sp.simplify(gp.subs(Q, 90 + a)).is_negative
    Qlo = 45 * L + 90 * sp.log(45 * L)
    steps["g_at_Q_lo_identity"] = z(g.subs(Q, Qlo) - 2 * sp.log(1 + 2 * sp.log(45 * L) / L))
    eta = 180 * sp.log(45 * L) / (L - 2)
    av = (90 * sp.log(45 * L) + eta) / (45 * L)
    Qhi = Qlo + eta
    steps["g_at_Q_hi_identity"] = z(g.subs(Q, Qhi) - (2 * sp.log(1 + av) - eta / 45))
    steps["two_a_minus_eta_over_45"] = sp.simplify(2 * av - eta / 45)
    steps["log1p_below_identity_derivative"] = sp.simplify(sp.diff(a - sp.log(1 + a), a))
    steps["log1p_below_at_0"] = (a - sp.log(1 + a)).subs(a, 0)
    steps["eta_limit"] = sp.limit(eta, L, sp.oo)
    steps["Q_lo_over_45L_limit"] = sp.limit(Qlo / (45 * L), L, sp.oo)
    QloK = Qlo.subs(L, sp.log(2 * K / eps))
    steps["Q_over_logK_limit"] = sp.limit(QloK / sp.log(K), K, sp.oo)
    steps["next_term_limit"] = sp.limit(
        sp.expand_log(QloK - 45 * sp.log(K) - 90 * sp.log(sp.log(K)), force=True), K, sp.oo)
    const = 45 * sp.log(2 / eps) + 90 * sp.log(45)
    steps["next_term_constant_check"] = z(steps["next_term_limit"] - const)
    proved = (steps["log_bound_minus_eps_is_g"] == 0 and steps["g_prime_zero"] == [90]
              and steps["g_prime_negative_past_peak"] is True
              and steps["g_at_Q_lo_identity"] == 0 and steps["g_at_Q_hi_identity"] == 0
              and steps["two_a_minus_eta_over_45"] == 0
              and steps["log1p_below_identity_derivative"] == a / (a + 1)
              and steps["log1p_below_at_0"] == 0 and steps["eta_limit"] == 0
              and steps["Q_lo_over_45L_limit"] == 1 and steps["Q_over_logK_limit"] == 45
              and steps["next_term_constant_check"] == 0)
    return {"steps": steps, "proved": bool(proved), "leading": 45 * sp.log(K),
            "next": 90 * sp.log(sp.log(K)), "constant": const, "Q_lo": Qlo, "Q_hi": Qhi,
            "L": L, "K": K, "eps": eps}


def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper–Pearson) two-sided 1 − α interval for a binomial proportion k/n."""
    from scipy.stats import beta as beta_dist

    n = _args.integer("n", n, lo=1)
    k = _args.integer("k", k, lo=0, hi=n)
    alpha = _args.real("alpha", alpha, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    lo = 0.0 if k == 0 else float(beta_dist.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta_dist.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def risk_at_tau1(K: int, Q: int, d: int, v: float, *, l_b: float = 0.25, Z: int = 1,
                 beta: float = 0.01, tau: float = 1.0, seed: int = 0, test_per_cluster: int = 1000,
                 delta: float = 0.0, delta_mode: str = "random", t: float | None = None,
                 rtol: float = 1e-8, atol: float = 1e-11) -> dict:
    """The population risk R(P) = Pr[r(x) ≤ 0] of the model trained to τ1 on one draw.

    A fresh sample's margin is linear in its features, r(x) = β(ΔW_{y_w} − ΔW_{y_l})·g(x), so
    on a cluster N(μ, v²I) it is exactly N(a·μ, v²‖a‖²): the conditional risk is
    (1/2K) Σ_c Φ(−a_c·μ_c/(v‖a_c‖)) (``log10_risk_exact`` via log Φ, exact even at 1e-300).
    Beside it, ``test_per_cluster`` fresh samples per cluster are pushed through the model and
    counted: ``errors`` of ``n_test`` with a Clopper–Pearson interval for this model's risk.
    """
    from scipy.special import log_ndtr, logsumexp

    from .clusters import sample_clusters
    from .guarantees import tau1 as tau1_fn
    from .margins import solve_margins

    data = sample_clusters(K, Q, d, v=v, l_b=l_b, Z=Z, delta=delta, delta_mode=delta_mode,
                           seed=seed)
    T = tau1_fn(K, beta, tau) if t is None else _args.positive("t", t)
    sol = solve_margins(data.features, data.chosen, data.rejected, beta=beta, tau=tau, t_end=T,
                        t_eval=[T], rtol=rtol, atol=atol, track_weights=True)
    dW = sol.delta_W(T)
    vocab = sol.field.vocab
    row = {int(tok): i for i, tok in enumerate(vocab)}
    means = data.cluster_means()
    log_risks = []
    a_list = []
    for c in range(2 * K):
        i, s = divmod(c, 2)
        u, w_ = data.pair_tokens[i]
        yw, yl = (u, w_) if s == 0 else (w_, u)
        a = beta * (dW[row[int(yw)]] - dW[row[int(yl)]])
        a_list.append(a)
        m = float(a @ means[c])
        sd = v * float(np.linalg.norm(a))
        if sd == 0.0:
            log_risks.append(0.0 if m <= 0 else -np.inf)
        else:
            log_risks.append(float(log_ndtr(-m / sd)))
    log_risk = float(logsumexp(log_risks) - math.log(2 * K))
    test = data.draw(test_per_cluster, seed=np.random.default_rng([seed, 7]))
    A = np.stack(a_list)
    test_margins = np.einsum("nd,nd->n", test.features, A[test.cluster])
    errors = int(np.sum(test_margins <= 0))
    n = int(test.N)
    lo, hi = clopper_pearson(errors, n)
    return {"K": K, "Q": Q, "d": d, "v": v, "l_b": l_b, "Z": Z, "seed": seed, "t": T,
            "log10_risk_exact": log_risk / math.log(10.0),
            "risk_exact": math.exp(log_risk), "errors": errors, "n_test": n,
            "risk_mc": errors / n, "cp_low": lo, "cp_high": hi,
            "train_margin_min": float(sol.train[-1].min()),
            "train_margin_max": float(sol.train[-1].max()),
            "test_margin_mean": float(test_margins.mean()),
            "bound": risk_bound(K, Q), "nfev": sol.nfev}


def mc_risk(K: int, Q: int, *, d: int | None = None, v: float | None = None, l_b: float = 0.25,
            Z: int = 1, draws: int = 4, test_per_cluster: int = 1000, seed: int = 0,
            beta: float = 0.01, alpha: float = 0.05, **kw) -> dict:
    """Monte-Carlo R(P) at τ1 over ``draws`` training sets (defaults: d = min(5Q, 64) but at
    least K + 1, v = 1/(32√Q), the edge of Theorem 4.2's conditions).

    Pools the fresh-sample counts of all draws for ``risk_mc`` with a Clopper–Pearson interval:
    exact for the risk of one trained model (one draw; its fresh samples are i.i.d.), and with
    several draws an interval for E R(P) that ignores the spread between models —
    ``risk_exact_se`` is the between-draw standard error of the exact conditional risks,
    ``risk_exact_mean`` their mean; ``cp_high_max`` is the largest per-draw upper limit.
    Compare with ``bound`` = 2KQ²e^{−Q/45}.
    """
    K = _args.integer("K", K, lo=1)
    Q = _args.integer("Q", Q, lo=1)
    d = max(K + 1, min(5 * Q, 64)) if d is None else _args.integer("d", d, lo=K + 1)
    v = 1.0 / (32.0 * math.sqrt(Q)) if v is None else _args.real("v", v, lo=0.0)
    draws = _args.integer("draws", draws, lo=1)
    runs = [risk_at_tau1(K, Q, d, v, l_b=l_b, Z=Z, beta=beta, seed=int(s),
                         test_per_cluster=test_per_cluster, **kw)
            for s in np.random.default_rng([seed, K, Q]).integers(0, 2 ** 31, size=draws)]
    errors = sum(r["errors"] for r in runs)
    n = sum(r["n_test"] for r in runs)
    lo, hi = clopper_pearson(errors, n, alpha)
    from scipy.special import logsumexp

    l10 = [r["log10_risk_exact"] for r in runs]
    mean_log10 = float(logsumexp(np.array(l10) * math.log(10.0)) - math.log(draws)) / math.log(10.0)
    return {"K": K, "Q": Q, "d": d, "v": v, "l_b": l_b, "Z": Z, "draws": draws,
            "errors": errors, "n_test": n, "risk_mc": errors / n, "cp_low": lo, "cp_high": hi,
            "cp_high_max": max(r["cp_high"] for r in runs),
            "log10_risk_exact_mean": mean_log10,
            "log10_risk_exact_max": max(l10),
            "risk_exact_mean": 10.0 ** mean_log10,
            "risk_exact_draws": [r["risk_exact"] for r in runs],
            "risk_exact_se": (float(np.std([r["risk_exact"] for r in runs], ddof=1) / math.sqrt(draws))
                              if draws > 1 else None),
            "bound": risk_bound(K, Q), "bound_vacuous": risk_bound(K, Q) >= 1.0,
            "train_margin_min": min(r["train_margin_min"] for r in runs),
            "train_margin_max": max(r["train_margin_max"] for r in runs)}


def empirical_q(K: int, eps: float, *, draws: int = 2, seed: int = 0, q_max: int = 4096,
                beta: float = 0.01) -> dict:
    """The smallest Q inside Theorem 4.2's conditions (v = 1/(32√Q), d = K + 1 ≤ 5Q, l_b = 1/4,
    Z = 1) at which the simulated model's exact risk at τ1, averaged over ``draws`` training
    sets, is ≤ ε — the dynamics' own answer to the question Q*(K, ε) answers from the bound."""
    K = _args.integer("K", K, lo=1)
    eps = _args.real("eps", eps, lo=0.0, hi=1.0, lo_open=True)
    Q = max(1, -(-(K + 1) // 5))
    rng = np.random.default_rng([seed, K])
    while Q <= q_max:
        runs = [risk_at_tau1(K, Q, K + 1, 1.0 / (32.0 * math.sqrt(Q)), seed=int(s), beta=beta,
                             test_per_cluster=200)
                for s in rng.integers(0, 2 ** 31, draws)]
        from scipy.special import logsumexp

        l10 = float(logsumexp(np.array([r["log10_risk_exact"] for r in runs]) * math.log(10.0))
                    - math.log(draws)) / math.log(10.0)
        if l10 <= math.log10(eps):
            return {"K": K, "eps": eps, "Q": Q, "d": K + 1, "log10_risk_exact": l10,
                    "errors": sum(r["errors"] for r in runs),
                    "n_test": sum(r["n_test"] for r in runs), "Q_min_allowed": Q == max(1, -(-(K + 1) // 5))}
        Q = Q + 1 if Q < 16 else int(Q * 1.25)
    return {"K": K, "eps": eps, "Q": None, "d": K + 1, "log10_risk_exact": None}
