"""Paper I's experiments (dpomath.lastlayer.runs): ``dpomath simulate`` and claim I-T42 are one
experiment and cannot disagree; the results are dataclasses with ``to_dict``."""
import json

import pytest
from hypothesis import given, settings

from dpomath.lastlayer.runs import ATOL, RTOL, simulate, theorem42_outcome
from dpomath.lastlayer.theorem42 import v_limit
from dpomath.strategies import theorem42_params


@settings(max_examples=8)
@given(p=theorem42_params(max_K=3, max_Q=4, max_d=20))
def test_simulate_is_the_theorem42_experiment(p):
    """Same draw, same solver policy, same window test: the same verdict and the same numbers."""
    sim = simulate(K=p["K"], Q=p["Q"], d=p["d"], v=p["v"], l_b=p["l_b"], Z=p["Z"], seed=p["seed"])
    out = theorem42_outcome(**p)
    assert sim.within_bounds is out.ok
    assert sim.train_margin_min == out.r_tau1_min and sim.train_margin_max == out.r_tau1_max
    assert sim.window_test["min_ratio_to_r_L"] == out.min_ratio_to_r_L
    assert (sim.r_L_tau1, sim.r_U_tau1) == tuple(out.window)


def test_outside_the_conditions_both_fail_together():
    """d far above 5Q with v at its limit breaks r_U (initial rate 1 + v²d/(2Q) > 5)."""
    out = theorem42_outcome(K=1, Q=1, d=12288, v=1 / 32, l_b=0.25)
    sim = simulate(K=1, Q=1, d=12288, v=1 / 32, l_b=0.25)
    assert not out.ok and not out.ok_upper and not sim.within_bounds
    assert not sim.conditions_hold


def test_results_are_dataclasses_with_to_dict():
    out = theorem42_outcome(K=2, Q=3, d=8, v=v_limit(3), l_b=0.25, seed=1)
    d = out.to_dict()
    assert list(d)[:4] == ["ok", "ok_lower", "ok_upper", "ok_window"] and "test_error" not in d
    json.dumps(d)
    with pytest.warns(DeprecationWarning, match=r"\.ok"):  # the old dict access still works
        assert out["ok"] is out.ok
    sim = simulate(K=2, Q=3)
    doc = sim.to_dict()
    assert "outcome" not in doc and doc["within_bounds"] is sim.within_bounds
    assert f"rtol={RTOL:g} atol={ATOL:g}" in doc["solver"]
    json.dumps(doc)
