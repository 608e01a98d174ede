"""Numeric twins of symbolic results: evaluate two expressions at points in high precision and
compare, the way SymPy's ``verify_numerically`` (sympy/core/random.py) does, but with mpmath at
50 digits and explicit points (drawn by Hypothesis in the tests, by the claim's seeded RNG in
the ledger).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import mpmath as mp
import sympy as sp

__all__ = ["rel_diff", "twin_at", "numeric_twin"]


def _value(expr: sp.Expr, point: Mapping[sp.Symbol, object], dps: int) -> mp.mpf:
    # floats enter exactly (their binary value), not through a decimal repr
    subs = {s: v if isinstance(v, sp.Basic) else sp.Float(v, dps + 10) for s, v in point.items()}
    val = sp.sympify(expr).evalf(dps, subs=subs, strict=False)
    val = sp.N(val, dps)
    if not val.is_number:
        free = ", ".join(sorted(map(str, val.free_symbols)))
        raise ValueError(f"point: no value given for {free}")
    with mp.workdps(dps):
        return mp.mpmathify(complex(val) if val.has(sp.I) else str(val))


def rel_diff(a, b, dps: int = 50) -> mp.mpf:
    """|a − b| / max(1, |a|, |b|) in mpmath at ``dps`` digits."""
    with mp.workdps(dps):
        return abs(a - b) / max(mp.mpf(1), abs(a), abs(b))


def twin_at(a: sp.Expr, b: sp.Expr, point: Mapping[sp.Symbol, object], dps: int = 50) -> float:
    """Relative difference of expressions ``a`` and ``b`` at ``point`` (50 digits)."""
    return float(rel_diff(_value(a, point, dps), _value(b, point, dps), dps))


def numeric_twin(a: sp.Expr, b: sp.Expr, points: Iterable[Mapping[sp.Symbol, object]],
                 dps: int = 50, tol: float = 1e-40) -> dict:
    """Evaluate a − b at every point; evidence dict with the worst relative difference.

    ``ok`` is True when every point agrees to ``tol`` (relative, 50-digit arithmetic).
    """
    worst, worst_point, n = 0.0, None, 0
    for pt in points:
        d = twin_at(a, b, pt, dps)
        n += 1
        if d > worst or worst_point is None:
            worst, worst_point = max(worst, d), {str(k): float(v) for k, v in pt.items()}
    return {"twin_points": n, "twin_max_rel_diff": worst, "twin_dps": dps, "twin_tol": tol,
            "ok": n > 0 and worst <= tol, "twin_worst_point": str(worst_point)}


def random_points(symbols: Sequence[sp.Symbol], rng, ranges: Mapping[sp.Symbol, tuple] | None = None,
                  n: int = 20) -> list[dict]:
    """``n`` points drawn uniformly from per-symbol ranges (default (0.01, 1) for positive
    symbols, (−5, 5) otherwise) with a numpy Generator."""
    ranges = dict(ranges or {})
    pts = []
    for _ in range(n):
        pt = {}
        for s in symbols:
            lo, hi = ranges.get(s, (0.01, 1.0) if s.is_positive else (-5.0, 5.0))
            pt[s] = float(rng.uniform(lo, hi))
        pts.append(pt)
    return pts
