"""Numeric twins (dpomath.verify.twins): 50-digit agreement of identities, the exact reduction,
and prove_identities' three outcomes — each with a case that must fail."""
import numpy as np
import pytest
import sympy as sp

from dpomath.verify.ledger import Status
from dpomath.verify.twins import (TWIN_TOL, check_identities, numeric_twin, prove_identities,
                                  random_points, reduces_to_zero, twin_at, twin_points)

x = sp.Symbol("x", positive=True)
y = sp.Symbol("y", real=True)


class _Ctx:
    def __init__(self, quick=False):
        self.rng = np.random.default_rng(0)
        self.quick = quick


def test_twin_agrees_at_50_digits_and_catches_a_tiny_difference():
    pts = random_points([x, y], np.random.default_rng(1), {x: (0.1, 3.0)}, n=5)
    assert numeric_twin(sp.log(x ** 2) + y, 2 * sp.log(x) + y, pts)["ok"]
    off = numeric_twin(sp.log(x ** 2), 2 * sp.log(x) + sp.Rational(1, 10 ** 30), pts)
    assert not off["ok"] and 1e-32 < off["twin_max_rel_diff"] < 1e-29
    assert twin_at(sp.exp(y) * sp.exp(-y), sp.Integer(1), {y: 0.3}) == 0.0


def test_points_are_drawn_in_their_ranges():
    pts = twin_points(_Ctx(), [x, y], {y: (-1.0, 1.0)})
    assert len(pts) == 16 and len(twin_points(_Ctx(quick=True), [x])) == 8
    assert all(0.01 <= p[x] <= 1.0 and -1.0 <= p[y] <= 1.0 for p in pts)
    with pytest.raises(ValueError, match="^point"):
        numeric_twin(x + y, x, [{x: 1.0}])


def test_reduces_to_zero_can_say_no():
    assert reduces_to_zero(sp.sin(y) ** 2 + sp.cos(y) ** 2 - 1)
    assert not reduces_to_zero(sp.sin(y) ** 2 - 1)


def test_prove_identities_proved_refuted_inconclusive(monkeypatch):
    pts = twin_points(_Ctx(), [x])
    v = prove_identities("log rule", {"log": (sp.log(x ** 3), 3 * sp.log(x))}, pts, {"note": "n"})
    assert v.status is Status.PROVED and list(v.evidence)[0] == "note"
    assert v.evidence["log_reduces_to_0"] is True and v.evidence["twin_tol"] == TWIN_TOL
    bad = prove_identities("false rule", {"log": (sp.log(x ** 3), 2 * sp.log(x))}, pts)
    assert bad.status is Status.REFUTED and "log" in bad.counterexample
    # twins agree but the reduction fails (here forced): not PROVED
    monkeypatch.setattr("dpomath.verify.twins.reduces_to_zero", lambda e: False)
    exact, twins = check_identities({"log": (sp.log(x ** 3), 3 * sp.log(x))}, pts)
    assert exact == {"log": False} and twins["log"]["ok"]
    v3 = prove_identities("log rule", {"log": (sp.log(x ** 3), 3 * sp.log(x))}, pts)
    assert v3.status is Status.INCONCLUSIVE and "did not reduce log" in v3.summary
