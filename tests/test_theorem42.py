"""Theorem 4.2 (dpomath.lastlayer.theorem42): its constants as the single source (log 3, the
v/d/Z limits, the window, r_L, r_U, τ1), its conditions, the vacuity of its probability, the
mean-field closed forms against their ODEs."""
import math

import numpy as np
import pytest

from dpomath._args import BadType, BadValue
from dpomath.lastlayer.theorem42 import (LOG3, d_limit, mean_field_margin, probability_bound_nonvacuous_Q,
                                         r_lower, r_upper, tau1, theorem42_conditions,
                                         typical_margin, v_limit, window, z_limit)


def test_constants_and_limits():
    assert LOG3 == math.log(3.0)
    assert v_limit(16) == 1 / 128 and d_limit(7) == 35
    assert z_limit(0.25) == 4.0 and z_limit(0.5) == 1.0 and z_limit(0.0) == math.inf
    assert window() == (LOG3 / 40, LOG3) and window(LOG3 / 80)[0] == LOG3 / 80


def test_window_ends_are_r_L_and_r_U_at_tau1():
    for K, beta, tau in ((1, 0.01, 1.0), (7, 0.3, 2.5)):
        T = tau1(K, beta, tau)
        assert T == pytest.approx(K * tau * LOG3 / (5 * beta ** 2), rel=1e-15)
        lo, hi = window()
        assert float(r_lower(T, K, beta, tau)) == pytest.approx(lo, rel=1e-14)
        assert float(r_upper(T, K, beta, tau)) == pytest.approx(hi, rel=1e-14)


def test_typical_margin_at_tau1():
    """r + e^r = 1 + (2/5) log 3 at τ1 (the mean-field DPO margin), ≈ 0.2081."""
    r = typical_margin(tau1(3, 0.01), 3, 0.01)
    assert r + math.exp(r) == pytest.approx(1 + 0.4 * LOG3, rel=1e-13)
    assert LOG3 / 40 < r < LOG3


def test_conditions_at_their_edges():
    for Q in (1, 4, 50):
        c = theorem42_conditions(K=2, Q=Q, d=max(3, d_limit(Q)), v=v_limit(Q), l_b=0.25)
        assert all(x["holds"] for x in c.values()), c
        c = theorem42_conditions(K=2, Q=Q, d=d_limit(Q) + 1, v=v_limit(Q) * (1 + 1e-12), l_b=0.25)
        assert not c["d"]["holds"] and not c["v"]["holds"]


def test_bad_arguments_name_the_parameter():
    with pytest.raises(BadValue, match="^beta"):
        tau1(1, 0.0)
    with pytest.raises(BadType, match="^K"):
        tau1(1.5, 0.1)
    with pytest.raises(BadValue, match="^loss"):
        mean_field_margin(1.0, 1, 0.1, loss="exponential")
    with pytest.raises(BadValue, match="^v"):
        theorem42_conditions(1, 1, 2, -1.0, 0.25)


def test_conditions_report_values():
    c = theorem42_conditions(K=2, Q=10, d=60, v=0.02, l_b=0.6, Z=2)
    assert not c["d"]["holds"] and c["d"]["limit"] == 50
    assert not c["v"]["holds"] and c["v"]["limit"] == pytest.approx(1 / (32 * math.sqrt(10)))
    assert not c["Z"]["holds"] and not c["l_b"]["holds"]


def test_probability_bound_vacuity_threshold():
    for K in (1, 16):
        Q = probability_bound_nonvacuous_Q(K)
        f = lambda q: 8 * K * q ** 2.25 * math.exp(-q ** 0.75 / 256)  # noqa: E731
        assert f(Q) < 1 <= f(Q - 1)


@pytest.mark.parametrize("loss", ["sigmoid", "ipo-margin", "hinge"])
def test_mean_field_closed_forms_solve_their_odes(loss):
    from dpomath.losses import margin_weight

    K, beta = 3, 0.1
    t = np.linspace(1.0, 600.0, 50)
    h = 1e-4
    r = mean_field_margin(t, K, beta, loss=loss)
    drdt = (mean_field_margin(t + h, K, beta, loss=loss) - mean_field_margin(t - h, K, beta, loss=loss)) / (2 * h)
    mask = np.abs(r - 1) > 1e-3  # the hinge kink
    rhs = 2 * beta ** 2 / K * margin_weight(loss, r)
    assert np.max(np.abs(drdt - rhs)[mask]) <= 1e-8
