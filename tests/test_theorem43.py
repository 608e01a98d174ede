"""Theorem 4.3's bound, Q*(K, ε) by Lambert W and integer search, the Θ(log K) proof, exact
binomial intervals, and the risk of the trained model."""
import json
import math

import mpmath as mp
import pytest
from hypothesis import given, strategies as st

from dpomath._args import BadType, BadValue
from dpomath.lastlayer.theorem43 import (PEAK_Q, bound_peak, logk_asymptotics, q_star, q_star_real,
                                         risk_bound, vacuous_below)
from dpomath.verify.stats import clopper_pearson
from dpomath.lastlayer.runs import risk_at_tau1


def B(K, Q):
    with mp.workdps(50):
        return 2 * K * mp.mpf(Q) ** 2 * mp.exp(-mp.mpf(Q) / 45)


@given(K=st.integers(1, 10 ** 6), eps=st.floats(1e-12, 1.0))
def test_q_star_is_the_smallest_q_past_the_peak(K, eps):
    q = q_star(K, eps)
    Q = q.Q_star
    assert Q >= PEAK_Q
    assert B(K, Q) <= eps
    assert Q == PEAK_Q or B(K, Q - 1) > eps
    # the Lambert-W root solves the equation and Q* is the integer at or above it
    with mp.workdps(50):
        root = q_star_real(K, eps)
        assert abs(B(K, root) - eps) <= mp.mpf(10) ** -35 * eps
    assert Q - 1 < float(root) <= Q
    lo, hi = q.Q_bracket or (-math.inf, math.inf)
    assert lo < float(root) < hi


def test_q_star_above_the_peak_and_vacuity():
    peak = bound_peak(3)["bound"]
    assert q_star(3, peak * 1.01).Q_star == PEAK_Q
    v = vacuous_below(5)
    assert B(5, v) < 1 <= B(5, v - 1)
    assert risk_bound(5, v) < 1


def test_bad_arguments():
    with pytest.raises(BadValue, match="^eps:"):
        q_star(10, 0.0)
    with pytest.raises(BadValue, match="^K:"):
        q_star(0, 0.1)
    with pytest.raises(BadType, match="^K:"):
        q_star(1.5, 0.1)


def test_log_k_asymptotics_are_proved():
    out = logk_asymptotics()
    assert out["proved"], out["steps"]


def test_clopper_pearson():
    lo, hi = clopper_pearson(0, 100)
    assert lo == 0 and hi == pytest.approx(1 - 0.025 ** (1 / 100), rel=1e-10)
    lo, hi = clopper_pearson(100, 100)
    assert hi == 1 and lo == pytest.approx(0.025 ** (1 / 100), rel=1e-10)
    a, b = clopper_pearson(7, 40)
    c, d = clopper_pearson(33, 40)
    assert a == pytest.approx(1 - d) and b == pytest.approx(1 - c)
    with pytest.raises(BadValue, match="^k:"):
        clopper_pearson(5, 4)


def test_exact_risk_matches_monte_carlo_where_it_is_not_tiny():
    # outside Theorem 4.2 (v = 0.5) the risk is a few percent: the exact Gaussian formula must
    # fall inside a 99.9% Clopper-Pearson interval of 40 000 fresh samples
    r = risk_at_tau1(2, 10, 16, 0.5, seed=3, test_per_cluster=10000)
    lo, hi = clopper_pearson(r["errors"], r["n_test"], alpha=1e-3)
    assert 0.005 < r["risk_exact"] < 0.5
    assert lo <= r["risk_exact"] <= hi


def test_cli_qstar(capsys):
    from dpomath.verify.cli import main

    assert main(["qstar", "--K", "10", "--eps", "0.05", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["Q_star"] == q_star(10, 0.05).Q_star and doc["N_star"] == 20 * doc["Q_star"]
    assert main(["qstar", "--K", "10", "--eps", "-1"]) == 2
