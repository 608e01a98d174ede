"""Hypothesis strategies for paper I's cluster model: parameters inside Theorem 4.2's
conditions, or with exactly one broken (users import them as ``dpomath.strategies``)."""
from __future__ import annotations

import math

from hypothesis import strategies as st

from .. import _args
from .theorem42 import d_limit, v_limit, z_limit

__all__ = ["theorem42_params"]

_T42_BREAKS = (None, "Z", "d", "v", "l_b")


@st.composite
def _theorem42_params(draw, max_K, max_Q, max_d, break_condition, max_d_broken, max_v_broken,
                      max_l_b_broken):
    """Each parameter is drawn as an offset from the edge of its condition, so Hypothesis's
    simplest examples (and its shrinking) sit on the edge: v = 1/(32√Q), d = 5Q, Z = 1/(4 l_b²)
    inside; just past the edge for the broken condition."""
    if break_condition == "Z":  # Z > 1/(4 l_b²) needs Z ≥ 2 (l_b ≤ 1/2)
        K = draw(st.integers(2, max_K))
        Z = K - draw(st.integers(0, K - 2))
        lo = max(0.25, 1.0 / (2.0 * math.sqrt(Z)))
        l_b = 0.5 - draw(st.floats(0.0, 0.5 - lo, exclude_max=True, allow_nan=False)
                         .filter(lambda x: Z > z_limit(0.5 - x)))
    else:
        K = draw(st.integers(1, max_K))
        if break_condition == "l_b":  # below 1/4 only: above 1/2 would break Z ≤ 1/(4 l_b²) too
            l_b = 0.25 - draw(st.floats(0.0, 0.25, exclude_min=True, allow_nan=False)
                              .filter(lambda x: 0.25 - x < 0.25))
        else:
            l_b = 0.25 + draw(st.floats(0.0, 0.25, allow_nan=False))
        zmax = max([z for z in range(1, K + 1) if z <= z_limit(l_b)] or [1])
        Z = zmax - draw(st.integers(0, zmax - 1))
    qmin = max(1, -(-(K + 1) // 5))  # d ≥ K + 1 and d ≤ 5Q
    Q = draw(st.integers(qmin, max(qmin, max_Q)))
    if break_condition == "d":  # log-scale offset past 5Q: failures need d ≫ 5Q
        lo = max(d_limit(Q) + 1, K + 1)
        hi = max(lo, max_d_broken)
        e = draw(st.floats(0.0, math.log2(hi / lo), allow_nan=False))
        d = min(hi, max(lo, int(round(lo * 2.0 ** e))))
    else:
        top = max(K + 1, min(d_limit(Q), max_d))
        d = top - draw(st.integers(0, top - (K + 1)))
    vmax = v_limit(Q)
    if break_condition == "v":
        v = vmax * (1.0 + draw(st.floats(0.0, max(1.0, max_v_broken / vmax - 1.0),
                                         exclude_min=True, allow_nan=False)
                               .filter(lambda x: vmax * (1.0 + x) > vmax)))
    else:
        v = vmax * (1.0 - draw(st.floats(0.0, 1.0, allow_nan=False)))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return {"K": K, "Q": Q, "d": d, "v": v, "l_b": l_b, "Z": Z, "seed": seed}


def theorem42_params(max_K: int = 4, max_Q: int = 12, max_d: int = 64,
                     break_condition: str | None = None, max_d_broken: int = 20000,
                     max_v_broken: float = 4.0, max_l_b_broken: float = 0.25
                     ) -> st.SearchStrategy[dict]:
    """Parameters (K, Q, d, v, l_b, Z, seed) of paper I's cluster model inside Theorem 4.2's
    conditions (Z ≤ 1/(4 l_b²), d ≤ 5Q, v ≤ 1/(32√Q), 1/4 ≤ l_b ≤ 1/2, and d ≥ K + 1), or with
    exactly one of them broken (``break_condition`` = "Z", "d", "v" or "l_b"; l_b is broken
    below 1/4, since above 1/2 it would also break the Z condition). Use with
    :func:`dpomath.lastlayer.runs.theorem42_outcome`::

        @given(p=theorem42_params())
        def test_margins_in_window(p):
            assert theorem42_outcome(**p).ok
    """
    K = _args.integer("max_K", max_K, lo=1)
    Q = _args.integer("max_Q", max_Q, lo=1)
    d = _args.integer("max_d", max_d, lo=2)
    _args.choice("break_condition", break_condition, _T42_BREAKS)
    if break_condition == "Z" and K < 2:
        raise _args.BadValue("max_K: breaking the Z condition needs max_K >= 2")
    dB = _args.integer("max_d_broken", max_d_broken, lo=2)
    vB = _args.positive("max_v_broken", max_v_broken)
    lB = _args.positive("max_l_b_broken", max_l_b_broken)
    return _theorem42_params(K, Q, d, break_condition, dB, vB, lB)
