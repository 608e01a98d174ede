"""Paper F's field numerically (dpomath.gradients.field): the float field against the symbolic
partials at 50 digits, finite at extreme margins, the gradient flows against their conserved
quantities and closed forms, bad input named."""
import functools
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from dpomath._args import BadType, BadValue
from dpomath.gradients import formulas as S
from dpomath.gradients.field import field_grid, gradient_field, gradient_flow, probability_ratios
from dpomath.strategies import betas

X = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)
H = st.floats(-30.0, 30.0, allow_nan=False, allow_infinity=False)
B = betas(1e-2, 5.0)
P = st.floats(1e-6, 1.0, allow_nan=False)


@functools.lru_cache(maxsize=None)
def mp50(expr, args):
    """A 50-digit evaluator of ``expr`` (arguments enter as exact mpf of the floats)."""
    f = sp.lambdify(args, expr, "mpmath")

    def call(*vals):
        with mp.workdps(50):
            return f(*[mp.mpf(v) for v in vals])
    return call


def close50(a, b, tol=mp.mpf("1e-40")):
    with mp.workdps(50):
        return abs(a - b) <= tol * max(mp.mpf(1), abs(a), abs(b))


# ------------------------------------------------------------------ float field vs symbolic

@given(x1=X, x2=X, b=B)
def test_float_field_matches_symbolic(x1, x2, b):
    g1, g2 = gradient_field(x1, x2, b)
    s1, s2 = (mp50(e, (S.x1, S.x2, S.beta))(x1, x2, b) for e in S.paper_f_gradient)
    assert float(g1) == pytest.approx(float(s1), rel=1e-12, abs=1e-300)
    assert float(g2) == pytest.approx(float(s2), rel=1e-12, abs=1e-300)
    h1, h2 = gradient_field(math.log(x1), math.log(x2), b, coords="log")
    assert float(h1) == pytest.approx(float(x1 * g1), rel=1e-12, abs=1e-300)
    assert float(h1) == -float(h2)


def test_field_finite_at_extreme_margins():
    for hw, hl in ((1e4, -1e4), (-1e4, 1e4)):
        g = gradient_field(hw, hl, 1.0, coords="log")
        assert all(np.isfinite(v) for v in g)
    g1, g2 = gradient_field(np.array([1e-300, 1.0]), np.array([1.0, 1e-300]), 0.5)
    assert np.all(np.isfinite(g1)) and np.all(np.isfinite(g2))


def test_field_grid_shapes():
    g = field_grid(0.5, "probability", n=7)
    assert g["u"].shape == g["loss"].shape == g["du"].shape == (7, 7)
    assert np.all(g["du"] < 0) and np.all(g["dv"] > 0)


# ------------------------------------------------------------------ flows

def test_probability_flow_conserves_radius_and_ends_on_axis():
    f = gradient_flow((0.3, 0.8), 0.5, stop_margin=0.5 * math.log(1e6))
    assert f.stopped
    xs = f.at(np.linspace(0, f.t_stop, 50))
    R = math.hypot(0.3, 0.8)
    assert np.max(np.abs(np.hypot(xs[0], xs[1]) - R)) < 1e-9
    assert f.stop[0] == pytest.approx(R, rel=1e-9)


def test_log_flow_closed_form():
    b, r0 = 0.5, 0.5 * math.log(0.3 / 0.8)
    f = gradient_flow((math.log(0.3), math.log(0.8)), b, coords="log", stop_margin=2.0)
    T = (2.0 + math.exp(2.0) - r0 - math.exp(r0)) / (2 * b * b)
    assert f.t_stop == pytest.approx(T, rel=1e-9)
    assert sum(f.stop) == pytest.approx(math.log(0.3) + math.log(0.8), abs=1e-9)


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("call, name", [
    (lambda: gradient_field(1.0, 1.0, 0.0), "beta"),
    (lambda: gradient_field(1.0, 1.0, -1.0), "beta"),
    (lambda: gradient_field(1.0, 1.0, float("nan")), "beta"),
    (lambda: gradient_field(0.0, 1.0, 0.5), "x1"),
    (lambda: gradient_field(1.0, float("nan"), 0.5), "x2"),
    (lambda: gradient_field(1.0, 1.0, 0.5, coords="polar"), "coords"),
    (lambda: gradient_field(1.0, 1.0, 0.5, kind="nope"), "kind"),
    (lambda: gradient_field(float("inf"), 1.0, 0.5, coords="log"), "h_w"),
    (lambda: probability_ratios(1.5, 0.5), "policy_chosen"),
    (lambda: probability_ratios(0.5, 0.0), "policy_rejected"),
    (lambda: probability_ratios(0.5, 0.5, reference_chosen=float("nan")), "reference_chosen"),
    (lambda: probability_ratios(0.5, 0.5, reference_rejected=-0.1), "reference_rejected"),
    (lambda: gradient_flow((0.5, 0.5), 0.0), "beta"),
    (lambda: gradient_flow((0.0, 0.5), 0.5), "start"),
    (lambda: gradient_flow((0.5, 0.5), 0.5, stop_margin=-1.0), "stop_margin"),
    (lambda: gradient_flow(0.5, 0.5), "start"),
    (lambda: field_grid(0.0), "beta"),
    (lambda: field_grid(0.5, lo=0.0), "lo"),
    (lambda: field_grid(0.5, n=1), "n"),
    (lambda: field_grid(0.5, coords="x"), "coords"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises((BadValue, BadType)) as e:
        call()
    assert str(e.value).startswith(name)


def test_probability_ratios_ok():
    x1, x2 = probability_ratios(0.2, 0.1, reference_chosen=0.4, reference_rejected=0.5)
    assert float(x1) == pytest.approx(0.5) and float(x2) == pytest.approx(0.2)
