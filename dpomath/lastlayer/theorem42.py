"""Theorem 4.2 of paper I (Im & Li 2025): its conditions, its margin window, its probability,
and the exact mean-field margin that the window brackets.

Theorem 4.2. If Z ≤ 1/(4 l_b²), d ≤ 5Q, v ≤ 1/(32√Q) and 1/4 ≤ l_b ≤ 1/2, then with
probability at least 1 − 8KQ^{9/4} exp(−min(c√Q/5, Q^{3/4}/256)) every training margin satisfies
r_L(t) ≤ r_i(t) ≤ r_U(t) for t ≤ τ1, where r_L(t) = β²t/(8Kτ), r_U(t) = 5β²t/(Kτ) and
τ1 = Kτ log 3/(5β²); at τ1 every margin lies in [log 3/40, log 3].

(THEORY.md writes Z ≤ 1/(4 l_b²); a summary of the paper prints Z ≤ (1/4) l_b², which no
Z ≥ 1 can meet for l_b ≤ 1/2 — 1/(4 l_b²) ∈ [1, 4] is the reading that makes sense. With Z ≥ 1
it already implies l_b ≤ 1/2.)

Mean field. When every sample sits at its cluster mean (v = 0) the margins are all equal and
τ ṙ = (2β²/K) w(r) exactly (the ± clusters of a pair push together, other pairs cancel):
DPO: r + e^r = 1 + 2β²t/(Kτ), i.e. r = c − ω(c) with ω the Wright omega function;
IPO (paper I form, w = 2(1 − r)): r = 1 − e^{−4β²t/(Kτ)}; SLiC (w = [r < 1]): r = min(1, 2β²t/(Kτ)).
At τ1 the DPO margin is c* − ω(c*), c* = 1 + (2/5) log 3, ≈ 0.2081.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _args

__all__ = ["LOG3", "L_B_RANGE", "CONDITION_NAMES", "z_limit", "d_limit", "v_limit", "tau1",
           "r_lower", "r_upper", "window", "theorem42_conditions", "conditions_hold",
           "training_probability_bound", "probability_bound_nonvacuous_Q", "typical_margin",
           "mean_field_margin", "mean_field_rate"]

#: log 3: the margin at which a pair's preference probability σ(r) reaches 3/4.
LOG3 = math.log(3.0)
#: The allowed range of the shared component's norm l_b.
L_B_RANGE = (0.25, 0.5)
CONDITION_NAMES = ("Z", "d", "v", "l_b")


def z_limit(l_b: float) -> float:
    """Z's limit 1/(4 l_b²) (∞ at l_b = 0).

    >>> z_limit(0.25)
    4.0
    """
    den = 4.0 * l_b * l_b
    return math.inf if den == 0.0 else 1.0 / den


def d_limit(Q: int) -> int:
    """d's limit 5Q."""
    return 5 * Q


def v_limit(Q: int) -> float:
    """v's limit 1/(32√Q): the edge of the cluster-spread condition.

    >>> v_limit(4)
    0.015625
    """
    return 1.0 / (32.0 * math.sqrt(Q))


def tau1(K: int, beta: float, tau: float = 1.0) -> float:
    """τ1 = Kτ log 3/(5β²), the end of the guaranteed window.

    Parameters
    ----------
    K : int
        Values, K ≥ 1.
    beta, tau : float
        β > 0, τ > 0.

    Returns
    -------
    float
    """
    K = _args.integer("K", K, lo=1)
    tau = _args.positive("tau", tau)
    beta = _args.positive("beta", beta)
    # in logs: β² or K·τ can leave the float range where τ1 itself would not
    log_t1 = math.log(K) + math.log(tau) + math.log(LOG3 / 5.0) - 2.0 * math.log(beta)
    if not (-700.0 < log_t1 < 700.0 and beta < 1e150):
        raise _args.BadValue(f"beta: τ1 = Kτ log 3/(5β²) = e^{log_t1:.4g} at beta={beta:g} "
                             f"(K={K}, tau={tau:g}) is outside what float64 represents "
                             "(e^±700, β < 1e150)")
    return K * tau * LOG3 / (5.0 * beta ** 2)


def _times(t) -> np.ndarray:
    """Times t ≥ 0 (the flow starts at t = 0), as a float64 array."""
    a = np.asarray(_args.array("t", t), dtype=np.float64)
    if a.size and a.min() < 0:
        raise _args.BadValue(f"t: times must be >= 0 (the flow starts at t = 0), got {a.min():g}")
    return a


def r_lower(t, K: int, beta: float, tau: float = 1.0):
    """r_L(t) = β² t/(8Kτ).

    Parameters
    ----------
    t : array_like
    K : int
    beta, tau : float

    Returns
    -------
    numpy.ndarray
    """
    return _args.positive("beta", beta) ** 2 * _times(t) / (
        8.0 * _args.integer("K", K, lo=1) * _args.positive("tau", tau))


def r_upper(t, K: int, beta: float, tau: float = 1.0):
    """r_U(t) = 5β² t/(Kτ).

    Parameters
    ----------
    t : array_like
    K : int
    beta, tau : float

    Returns
    -------
    numpy.ndarray
    """
    return 5.0 * _args.positive("beta", beta) ** 2 * _times(t) / (
        _args.integer("K", K, lo=1) * _args.positive("tau", tau))


def window(low: float | None = None) -> tuple[float, float]:
    """The window every margin lies in at τ1: [log 3/40, log 3] (Appendix C: low = log 3/80).

    >>> window() == (LOG3 / 40, LOG3)
    True
    """
    return (LOG3 / 40.0 if low is None else float(low), LOG3)


def theorem42_conditions(K: int, Q: int, d: int, v: float, l_b: float, Z: int = 1) -> dict:
    """Which of Theorem 4.2's conditions hold, with their values.

    Returns ``{name: {"holds": bool, "value": float, "limit": float or [lo, hi], "text": str}}``
    for ``Z`` (Z ≤ 1/(4 l_b²)), ``d`` (d ≤ 5Q), ``v`` (v ≤ 1/(32√Q)), ``l_b`` (1/4 ≤ l_b ≤ 1/2).

    Parameters
    ----------
    K, Q, d : int
    v, l_b : float
    Z : int

    Returns
    -------
    dict

    >>> c = theorem42_conditions(K=4, Q=50, d=300, v=0.001, l_b=0.25)
    >>> [k for k, x in c.items() if not x["holds"]], c["d"]["text"]
    (['d'], 'd = 300 > 5Q = 250')
    """
    K = _args.integer("K", K, lo=1)
    Q = _args.integer("Q", Q, lo=1)
    d = _args.integer("d", d, lo=1)
    v = _args.real("v", v, lo=0.0)
    l_b = _args.real("l_b", l_b, lo=0.0)
    Z = _args.integer("Z", Z, lo=1)
    zlim = z_limit(l_b)
    vlim = v_limit(Q)
    dlim = d_limit(Q)
    lo, hi = L_B_RANGE
    out = {
        "Z": {"holds": Z <= zlim, "value": Z, "limit": zlim,
              "text": f"Z = {Z} {'<=' if Z <= zlim else '>'} 1/(4 l_b^2) = {zlim:.6g}"},
        "d": {"holds": d <= dlim, "value": d, "limit": dlim,
              "text": f"d = {d} {'<=' if d <= dlim else '>'} 5Q = {dlim}"},
        "v": {"holds": v <= vlim, "value": v, "limit": vlim,
              "text": f"v = {v:.6g} {'<=' if v <= vlim else '>'} 1/(32 sqrt Q) = {vlim:.6g}"},
        "l_b": {"holds": lo <= l_b <= hi, "value": l_b, "limit": [lo, hi],
                "text": f"l_b = {l_b:.6g} {'in' if lo <= l_b <= hi else 'not in'} [1/4, 1/2]"},
    }
    return out


def conditions_hold(K: int, Q: int, d: int, v: float, l_b: float, Z: int = 1) -> bool:
    return all(c["holds"] for c in theorem42_conditions(K, Q, d, v, l_b, Z).values())


def training_probability_bound(K: int, Q: int, c: float) -> float:
    """1 − 8KQ^{9/4} exp(−min(c√Q/5, Q^{3/4}/256)) (may be negative: then vacuous)."""
    K = _args.integer("K", K, lo=1)
    Q = _args.integer("Q", Q, lo=1)
    c = _args.positive("c", c)
    m = min(c * math.sqrt(Q) / 5.0, Q ** 0.75 / 256.0)
    return 1.0 - math.exp(math.log(8 * K) + 2.25 * math.log(Q) - m)


def probability_bound_nonvacuous_Q(K: int) -> int:
    """The smallest Q for which 8KQ^{9/4}e^{−Q^{3/4}/256} < 1: below it Theorem 4.2's
    probability is ≤ 0 whatever the constant c (the min is at most Q^{3/4}/256)."""
    K = _args.integer("K", K, lo=1)
    f = lambda q: math.log(8 * K) + 2.25 * math.log(q) - q ** 0.75 / 256.0  # noqa: E731
    # f rises to its maximum at q^{3/4} = 768 and then falls: bisect past the maximum
    lo = int((2.25 * 256 / 0.75) ** (4 / 3))
    if f(lo) < 0:  # never >= 0 (cannot happen for K >= 1, kept for safety)
        return 1
    hi = 2 * lo
    while f(hi) >= 0:
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if f(mid) >= 0 else (lo, mid)
    return hi


def mean_field_rate(v: float = 0.0, d: int = 0, Q: int = 1) -> float:
    """E[K τ ṙ_j(0)/β²] = 1 + v²d/(2Q) (the expected initial growth rate times K/β²)."""
    return 1.0 + _args.real("v", v, lo=0.0) ** 2 * _args.integer("d", d, lo=0) / (
        2.0 * _args.integer("Q", Q, lo=1))


def mean_field_margin(t, K: int, beta: float, tau: float = 1.0, loss: str = "sigmoid",
                      rate: float = 1.0):
    """The exact margin when every sample sits at its cluster mean: τṙ = (2β²/K)·rate·w(r),
    r(0) = 0. DPO: c − ω(c), c = 1 + 2·rate·β²t/(Kτ); ipo-margin: 1 − e^{−4·rate·β²t/(Kτ)};
    hinge: min(1, 2·rate·β²t/(Kτ)).

    Parameters
    ----------
    t : array_like
    K : int
    beta, tau, rate : float
    loss : str
        A member with a mean-field closed form (``LossSpec.mean_field``).

    Returns
    -------
    numpy.ndarray
    """
    from ..losses import LOSSES, get_loss

    spec = get_loss(loss)
    s = 2.0 * _args.positive("rate", rate) * _args.positive("beta", beta) ** 2 * _times(t) / (
        _args.integer("K", K, lo=1) * _args.positive("tau", tau))
    if spec.mean_field is None:
        known = ", ".join(k for k, m in LOSSES.items() if m.mean_field is not None)
        raise _args.BadValue(f"loss: closed form known for {known}; got {spec.kind!r}")
    return spec.mean_field(s)


def typical_margin(t, K: int, beta: float, tau: float = 1.0, rate: float = 1.0):
    """The mean-field DPO margin r(t) = c − ω(c), c = 1 + 2·rate·β²t/(Kτ); at τ1 with rate 1:
    c* − ω(c*), c* = 1 + (2/5) log 3 ≈ 1.4394, r ≈ 0.2081.

    Parameters
    ----------
    t : array_like
        Times, t ≥ 0.
    K : int
    beta, tau : float
    rate : float
        The initial growth rate in units of β²/(Kτ) (1 at the cluster means).

    Returns
    -------
    float or numpy.ndarray
    """
    out = mean_field_margin(t, K, beta, tau, "sigmoid", rate)
    return float(out) if np.ndim(out) == 0 else out
