"""Numeric twins of symbolic results: evaluate two expressions at points in high precision and
compare, the way SymPy's ``verify_numerically`` (sympy/core/random.py) does, but with mpmath at
50 digits and explicit points (drawn by Hypothesis in the tests, by the claim's seeded RNG in
the ledger).

:func:`prove_identities` is the "reduce the difference to 0 with SymPy, back it with a 50-digit
twin → PROVED / REFUTED / INCONCLUSIVE" step that the symbolic claims share.

>>> import sympy as sp
>>> x = sp.Symbol("x", positive=True)
>>> numeric_twin(sp.log(x**2), 2 * sp.log(x), [{x: 0.5}, {x: 3.0}])["ok"]
True
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import mpmath as mp
import sympy as sp

__all__ = ["rel_diff", "twin_at", "numeric_twin", "random_points", "twin_points", "TWIN_TOL",
           "reduces_to_zero", "check_identities", "prove_identities"]


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

    Parameters
    ----------
    a, b : sympy.Expr
    points : iterable of dict
        symbol → value.
    dps : int
        Digits.
    tol : float
        The relative tolerance.

    Returns
    -------
    dict
        ``twin_points``, ``twin_max_rel_diff``, ``twin_dps``, ``twin_tol``, ``ok``,
        ``twin_worst_point``.
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


def reduces_to_zero(expr) -> bool:
    """True when SymPy reduces ``expr`` exactly to 0 (``simplify``); False when it cannot —
    which is not a proof that it is non-zero (use a numeric twin for that)."""
    e = sp.sympify(expr)
    for step in (lambda x: x, sp.expand, sp.cancel):  # cheap exact rewritings first
        try:
            if step(e) == 0:
                return True
        except sp.PolynomialError:
            pass
    d = sp.simplify(e)
    return d == 0 or d.is_zero is True


#: The agreement a 50-digit twin must reach for an exact identity (relative difference).
TWIN_TOL = 1e-40


def twin_points(ctx, symbols: Sequence[sp.Symbol], ranges: Mapping[sp.Symbol, tuple] | None = None,
                n: int | None = None) -> list[dict]:
    """Points for a claim's numeric twins, from the claim's seeded generator ``ctx.rng``:
    ``n`` of them (default 8 in quick mode, 16 otherwise); see :func:`random_points`."""
    return random_points(symbols, ctx.rng, ranges, n or (8 if ctx.quick else 16))


def check_identities(pairs: Mapping[str, tuple], points, tol: float = TWIN_TOL) -> tuple[dict, dict]:
    """Each named identity ``lhs = rhs``: whether SymPy reduces lhs − rhs to 0, and its numeric
    twin at ``points``.

    Parameters
    ----------
    pairs : mapping
        name → (lhs, rhs), SymPy expressions.
    points : list of dict
        symbol → value, e.g. from :func:`twin_points`.
    tol : float
        The twin's relative tolerance at 50 digits.

    Returns
    -------
    (dict, dict)
        name → reduced exactly (bool); name → the :func:`numeric_twin` evidence.
    """
    exact, twins = {}, {}
    for name, (lhs, rhs) in pairs.items():
        exact[name] = reduces_to_zero(lhs - rhs)
        twins[name] = numeric_twin(lhs, rhs, points, tol=tol)
    return exact, twins


def identity_controls(controls: Mapping[str, tuple], points, tol: float = TWIN_TOL) -> list:
    """Negative controls of a symbolic proof: the same check (SymPy reduction and 50-digit
    twin) on deliberately false identities.

    Parameters
    ----------
    controls : mapping
        Description of the false variant → (lhs, wrong rhs).
    points : list of dict
        The twin's points.
    tol : float

    Returns
    -------
    list of dpomath.verify.fidelity.Control
        Outcome *fails* when the false identity neither reduces to 0 nor passes its twin (the
        twin is evaluated first; SymPy is asked only when the twin agrees).
    """
    from .fidelity import Control

    out = []
    for variant, (lhs, rhs) in controls.items():
        twin = numeric_twin(lhs, rhs, points, tol=tol)
        # a point where the two sides differ at 50 digits settles it; SymPy is asked only when
        # the twin cannot tell them apart (simplifying a false identity can take very long)
        exact = reduces_to_zero(sp.sympify(lhs) - sp.sympify(rhs)) if twin["ok"] else False
        holds = exact or twin["ok"]
        out.append(Control(variant, failed=not holds,
                           measured=f"twin max rel. diff {twin['twin_max_rel_diff']:.2e} (tol {tol:g})"
                                    + (f"; reduces to 0: {exact}" if twin["ok"] else
                                       "; a 50-digit point where the sides differ")))
    return out


def prove_identities(what: str, pairs: Mapping[str, tuple], points, evidence: Mapping | None = None,
                     details: str = "", tol: float = TWIN_TOL, controls: Mapping[str, tuple] | None = None,
                     scope=None):
    """The verdict on a set of exact identities: reduce each difference to 0 with SymPy and
    back it with a 50-digit twin.

    PROVED when every difference reduces to 0 and every twin agrees; REFUTED when a twin
    disagrees (its worst point is the counterexample); INCONCLUSIVE when the twins agree but
    SymPy did not reduce some difference.

    Parameters
    ----------
    what : str
        The statement, opening the verdict's summary ("Theorem 1 holds").
    pairs : mapping
        name → (lhs, rhs).
    points : list of dict
        The twin's points.
    evidence : mapping, optional
        Evidence of the claim's own, put first.
    details : str
        The verdict's longer explanation.
    tol : float
        The twin's relative tolerance.
    controls : mapping, optional
        Negative controls: description → (lhs, wrong rhs), checked the same way
        (:func:`identity_controls`).
    scope : dpomath.verify.fidelity.Scope, optional

    Returns
    -------
    dpomath.verify.ledger.Verdict
    """
    from .ledger import Verdict

    ctl = identity_controls(controls, points, tol) if controls else []
    kw = {"controls": ctl, "scope": scope}
    exact, twins = check_identities(pairs, points, tol)
    ev = dict(evidence or {})
    for name in exact:
        ev[f"{name}_reduces_to_0"] = exact[name]
        ev[f"{name}_twin_max_rel_diff"] = twins[name]["twin_max_rel_diff"]
    ev["twin_points"] = next(iter(twins.values()))["twin_points"]
    ev["twin_dps"] = 50
    ev["twin_tol"] = tol
    bad = [n for n, t in twins.items() if not t["ok"]]
    if bad:
        return Verdict.refuted(f"{what}: numeric twin disagrees for {', '.join(bad)}",
                               evidence=ev, counterexample={n: twins[n]["twin_worst_point"] for n in bad},
                               details=details, **kw)
    if all(exact.values()):
        return Verdict.proved(f"{what}: SymPy reduces every difference to 0; 50-digit twins agree "
                              f"(max rel. diff {max(t['twin_max_rel_diff'] for t in twins.values()):.1e})",
                              evidence=ev, details=details, **kw)
    return Verdict.inconclusive(f"{what}: numeric twins agree but SymPy did not reduce "
                                f"{', '.join(n for n, ok in exact.items() if not ok)} to 0",
                                evidence=ev, details=details, **kw)
