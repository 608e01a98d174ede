"""Paper F's claims: each runs (quick) to a definite verdict with the evidence it promises;
the facts behind the verdicts are re-checked here at Hypothesis-drawn points."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpomath.gradients.field import gradient_field, gradient_flow
from dpomath.verify.ledger import Status, get_claim
from dpomath.strategies import betas

X = st.floats(1e-3, 1.0, allow_nan=False)


@pytest.fixture(scope="module")
def results():
    # figures are drawn and checked in tests/test_cli.py (the report)
    return {cid: get_claim(cid).run(seed=0, quick=True)
            for cid in ("F-T1", "F-C1", "F-R1", "F-R2", "F-FIELD", "F-R3")}


@pytest.mark.parametrize("cid, status", [
    ("F-T1", Status.PROVED), ("F-C1", Status.PROVED), ("F-R1", Status.QUALIFIED),
    ("F-R2", Status.QUALIFIED), ("F-FIELD", Status.QUALIFIED), ("F-R3", Status.CONFIRMED)])
def test_verdicts(results, cid, status):
    v = results[cid].verdict
    assert v.status is status, (v.summary, v.evidence)


def test_theorem1_evidence(results):
    ev = results["F-T1"].verdict.evidence
    assert ev["dL_dx1_reduces_to_0"] and ev["dL_dx2_reduces_to_0"] and ev["loss_equals_paper_eq1_reduces_to_0"]
    assert ev["dL_dx1_twin_max_rel_diff"] <= 1e-40 and ev["twin_points"] >= 8


def test_remark1_counterexamples(results):
    v = results["F-R1"].verdict
    ce = v.counterexample
    assert ce["initialisation (policy = reference)"]["x2/x1"] == "1"
    assert ce["paper F's own top-left regime (Fig. 1b)"]["x2/x1"] == "9"
    assert ce["rejected preferred over the reference (r < 0)"]["x2/x1"] == "4"
    assert v.evidence["disagreements"] == 0
    assert 0.4 < v.evidence["fraction_of_unit_square_with_ratio<1"] < 0.6


def test_field_limits(results):
    v = results["F-FIELD"].verdict
    ev = v.evidence
    assert ev["dL_dx2 at bottom edge (x2->0, x1 fixed)"] == str(
        {"beta<1": "oo", "beta=1": "1/x1", "beta>1": "0"})
    assert ev["grad_never_zero (no saddle, no stationary point)"] is True
    assert ev["|grad|_at_(1,1)"] == "sqrt(2)*beta/2"
    assert ev["slow_top_right_beta_0.5"] is True and ev["slow_top_right_beta_2"] is False
    assert v.figures == []  # no figure directory, no figures


def test_flow_evidence(results):
    ev = results["F-R3"].verdict.evidence
    assert ev["conserved_x1^2+x2^2_proved"] and ev["conserved_hw+hl_in_log_flow_proved"]
    assert abs(ev["max_end_map_amplification"] - 1.0) < 1e-5
    assert ev["check_time_vs_quadrature_max_rel"] < 1e-8
    assert ev["check_rk4_fixed_step_vs_solve_ivp_max_rel"] < 1e-8


def test_same_seed_same_verdicts():
    a = get_claim("F-R1").run(seed=3, quick=True)
    b = get_claim("F-R1").run(seed=3, quick=True)
    assert a.verdict.evidence == b.verdict.evidence


# ------------------------------------------------------------------ the facts, re-checked

@given(x1=X, x2=X, b=betas(1e-2, 5.0))
def test_ratio_below_one_iff_margin_positive(x1, x2, b):
    g1, g2 = gradient_field(x1, x2, b)
    ratio = abs(float(g1) / float(g2))
    margin = b * (math.log(x1) - math.log(x2))
    if abs(margin) > 1e-12:
        assert (ratio < 1) == (margin > 0)
    # Remark 2: x2 gets the larger push exactly then
    if abs(x1 - x2) > 1e-9 * max(x1, x2):
        assert (abs(float(g2)) > abs(float(g1))) == (x1 > x2)


@given(x1=X, b=betas(1e-2, 5.0))
def test_low_x2_limits_by_beta(x1, b):
    g1, g2 = gradient_field(x1, 1e-200, b)
    # x1 barely moves for every β: |∂L/∂x1| = (β/x1)σ(−ρ) < (β/x1)(x2/x1)^β → 0
    assert abs(float(g1)) <= (b / x1) * (1e-200 / x1) ** b * (1 + 1e-12)
    if b < 0.9:
        assert abs(float(g2)) > 1e15                          # diverges
    elif b > 1.1:
        assert abs(float(g2)) < 1e-15                         # vanishes


@settings(max_examples=15)  # each example integrates a flow
@given(s=st.tuples(st.floats(0.05, 1.0), st.floats(0.05, 1.0)))
def test_probability_flow_keeps_radius(s):
    f = gradient_flow(s, 0.5, stop_margin=0.5 * math.log(1e3))
    assert f.stop[0] == pytest.approx(math.hypot(*s) / math.sqrt(1 + 1e-6), rel=1e-8)
