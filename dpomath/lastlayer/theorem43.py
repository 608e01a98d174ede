"""Theorem 4.3 of paper I and its scaling law: the bound R(P) ≤ 2KQ²e^{−Q/45}, the sample size
Q*(K, ε) it asks for, Q* = Θ(log K) proved, and Monte-Carlo risk on the cluster model.

The bound B(K, Q) = 2KQ²e^{−Q/45} rises to its peak at Q = 90 (B = 2K·8100/e² ≈ 2192K) and
falls after; Q*(K, ε) is the smallest integer Q past the peak with B ≤ ε. From
Q²e^{−Q/45} = ε/(2K), i.e. (−Q/90)e^{−Q/90} = −√(ε/(2K))/90, the real root past the peak is
Q = −90 W₋₁(−√(ε/(2K))/90) (Lambert W, branch −1); Q* is the integer at or above it.

>>> from dpomath.lastlayer.theorem43 import q_star
>>> q_star(10, 0.05).Q_star
880
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _args
from .._results import Record

__all__ = ["log_bound", "bound", "risk_bound", "log_risk_bound", "PEAK_Q", "bound_peak", "q_star",
           "QStar", "q_star_real", "vacuous_below", "logk_asymptotics", "conditions_floor",
           "conditions_overtake"]

#: The bound's peak: d/dQ log(2KQ²e^{−Q/45}) = 2/Q − 1/45 = 0.
PEAK_Q = 90
_DPS = 50


def log_bound(o, K, Q):
    """Theorem 4.3's bound in log form, log B(K, Q) = log(2K) + 2 log Q − Q/45, written once over
    an ops backend ``o`` (:mod:`dpomath.losses.ops`): NUMPY for arrays, MPMATH at 50 digits,
    SYMPY for the proofs. B itself is ``o.exp(log_bound(o, K, Q))`` (:func:`bound`)."""
    return o.log(2 * K) + 2 * o.log(Q) - Q / 45


def bound(o, K, Q):
    """Theorem 4.3's bound B(K, Q) = 2KQ²e^{−Q/45} over an ops backend (see :func:`log_bound`).

    >>> import sympy as sp
    >>> from dpomath.losses.ops import SYMPY
    >>> bound(SYMPY, *sp.symbols("K Q", positive=True))
    2*K*Q**2*exp(-Q/45)
    """
    return o.exp(log_bound(o, K, Q))


def _ops(name: str):
    from ..losses import ops

    return getattr(ops, name)


def log_risk_bound(K, Q):
    """log(2KQ²e^{−Q/45}) (numpy, any shapes).

    Parameters
    ----------
    K, Q : array_like
        K ≥ 1 values, Q > 0 samples per cluster.

    Returns
    -------
    numpy.ndarray
    """
    K = np.asarray(K, float)
    Q = np.asarray(Q, float)
    if np.any(K < 1) or np.any(Q <= 0):
        raise _args.BadValue("K, Q: need K >= 1 and Q > 0")
    return log_bound(_ops("NUMPY"), K, Q)


def risk_bound(K, Q):
    """Theorem 4.3's bound 2KQ²e^{−Q/45} (≥ 1 means vacuous).

    Parameters
    ----------
    K, Q : array_like
        K ≥ 1, Q > 0.

    Returns
    -------
    float or numpy.ndarray
    """
    out = np.exp(log_risk_bound(K, Q))
    return float(out) if np.ndim(out) == 0 else out


def _bound_mp(K: int, Q: int):
    import mpmath as mp

    return bound(_ops("MPMATH"), K, mp.mpf(Q))


def bound_peak(K: int) -> dict:
    """The peak of the bound: Q = 90, B = 2K·8100·e^{−2}."""
    K = _args.integer("K", K, lo=1)
    return {"Q": PEAK_Q, "bound": 2 * K * PEAK_Q ** 2 * math.exp(-PEAK_Q / 45)}


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


@dataclass
class QStar(Record):
    """The answer of :func:`q_star` (``dpomath qstar``); ``to_dict()`` is the JSON document."""

    K: int
    eps: float
    Q_star: int                         #: the smallest integer Q past the peak with B ≤ ε
    Q_real: float | None                #: the real root −90 W₋₁(−√(ε/(2K))/90) (None past the peak)
    N_star: int                         #: 2K·Q*, the total sample size
    bound_at_Q_star: float
    bound_at_Q_star_minus_1: float | None
    peak_Q: int
    peak_bound: float
    vacuous_below_Q: int                #: the smallest Q past the peak with B < 1
    Q_bracket: list | None              #: [Q_lo, Q_hi] of logk_asymptotics around Q_real
    method: str
    note: str | None = None

    OPTIONAL = ("note",)


def q_star(K: int, eps: float) -> QStar:
    """Q*(K, ε): the smallest integer Q past the bound's peak (Q ≥ 90) with 2KQ²e^{−Q/45} ≤ ε.

    Exact: the Lambert-W root at 50 digits, then an integer search with the bound evaluated at
    50 digits on each side.

    Parameters
    ----------
    K : int
        Number of values, K ≥ 1.
    eps : float
        The target risk ε > 0.

    Returns
    -------
    QStar
        Q_star, Q_real, N_star = 2K·Q*, the bound at Q* and Q* − 1, the peak and the smallest
        Q past it where the bound drops below 1 (below: vacuous).
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
        out = QStar(
            K=K, eps=eps, Q_star=Q,
            Q_real=None if root is None else float(root),
            N_star=2 * K * Q,
            bound_at_Q_star=float(_bound_mp(K, Q)),
            bound_at_Q_star_minus_1=float(_bound_mp(K, Q - 1)) if Q > 1 else None,
            peak_Q=PEAK_Q, peak_bound=float(_bound_mp(K, PEAK_Q)),
            vacuous_below_Q=vacuous_below(K),
            Q_bracket=_bracket(K, eps),
            method="Lambert W (branch -1) at 50 digits, then integer search past the peak")
    for name, v in out.to_dict().items():
        vals = v if isinstance(v, list) else [v]
        if any(isinstance(x, float) and not math.isfinite(x) for x in vals):
            raise _args.BadValue(f"K: {name} leaves the float64 range at K ≈ 1e{len(str(K)) - 1}; "
                                 "K up to 1e300 is supported")
    if root is None:
        out.note = f"eps >= the bound's peak {out.peak_bound:.6g}: every Q >= 90 meets it"
    elif eps >= 1:
        out.note = ("eps >= 1: vacuous as a risk target (the risk is a probability); "
                    "Theorem 4.3 speaks for eps < 1")
    return out


def _bracket(K: int, eps: float):
    """[Q_lo, Q_hi] of :func:`logk_asymptotics` around the real root (needs L = log(2K/ε) > 2)."""
    L = math.log(2 * K) - math.log(eps)  # 2K/ε itself overflows for tiny ε
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
    B = bound(_ops("SYMPY"), K, Q)
    z = lambda e: sp.simplify(sp.expand_log(e, force=True))  # noqa: E731
    steps: dict[str, Any] = {}
    steps["log_bound_minus_eps_is_g"] = z(sp.log(B / eps) - g.subs(L, sp.log(2 * K / eps)))
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


def conditions_floor(K: int) -> int:
    """The smallest Q Theorem 4.2's own conditions allow: orthogonal c_1..c_K and b ⟂ c_i need
    d ≥ K + 1, and d ≤ 5Q, so Q ≥ ⌈(K + 1)/5⌉ — linear in K.

    Parameters
    ----------
    K : int

    Returns
    -------
    int

    Examples
    --------
    >>> conditions_floor(10), conditions_floor(6000)
    (3, 1201)
    """
    K = _args.integer("K", K, lo=1)
    return -(-(K + 1) // 5)


def conditions_overtake(eps: float, K_max: int = 10 ** 7) -> dict:
    """Where the conditions' floor ⌈(K + 1)/5⌉ overtakes Q*(K, ε): the smallest integer K with
    ⌈(K + 1)/5⌉ > Q*(K, ε), and the real crossing (K + 1)/5 = Q*_real(K, ε). Past it the
    sample size the theorems need is max(Q*, (K + 1)/5) = Θ(K), not Θ(log K).

    Bisection: (K + 1)/5 − Q*(K, ε) increases in K once K > 225 (its slope 1/5 − 45/K − … > 0),
    and it is negative for every smaller K (Q* ≥ 90 there).

    Parameters
    ----------
    eps : float
    K_max : int

    Returns
    -------
    dict
        ``K_integer``, ``K_real`` (the smallest integer K past the real crossing), and Q* and
        the floor at ``K_integer``.
    """
    eps = _args.real("eps", eps, lo=0.0, lo_open=True)

    def bisect(pred) -> int:
        lo, hi = 1, K_max
        if not pred(hi):
            raise _args.BadValue(f"K_max: the floor does not overtake Q* below K_max = {K_max}")
        while hi - lo > 1:
            m = (lo + hi) // 2
            lo, hi = (lo, m) if pred(m) else (m, hi)
        return hi

    Ki = bisect(lambda K: conditions_floor(K) > q_star(K, eps).Q_star)
    Kr = bisect(lambda K: (K + 1) / 5 > float(q_star_real(K, eps)))
    return {"K_integer": Ki, "K_real": Kr, "Q_star_at_K_integer": q_star(Ki, eps).Q_star,
            "floor_at_K_integer": conditions_floor(Ki)}
