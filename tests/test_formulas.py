"""The REPL objects of papers F and Y (dpomath.gradients.formulas) and the numeric field (dpomath.field):
every symbolic identity checked at Hypothesis-drawn points with mpmath at 50 digits; the float
forms against the symbolic ones; bad input named."""
import functools
import subprocess
import sys

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import dpomath as dm
from dpomath.gradients import formulas as S
from dpomath.verify.twins import reduces_to_zero
from dpomath._args import BadValue
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


# ------------------------------------------------------------------ the REPL surface

def test_import_does_no_sympy_work():
    code = "import sys, dpomath; assert 'sympy' not in sys.modules, 'sympy imported'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_repl_names_and_printing():
    assert dm.x1 is S.x1 and dm.beta is S.beta
    assert dm.x1.is_positive and dm.beta.is_positive
    assert str(dm.update_ratio) == "x2/x1"
    assert str(dm.dpo_gradient_x[0]) == "-beta*x2**beta/(x1*(x1**beta + x2**beta))"
    assert str(dm.dpo_gradient_x[1]) == "beta*x2**(beta - 1)/(x1**beta + x2**beta)"
    assert str(dm.paper_f_loss) == "-log(x1**beta/(x1**beta + x2**beta))"
    assert str(dm.update_ratio_h) == "1"
    assert str(dm.yan_ratio) == "-pi_+/pi_-"
    for obj in (dm.dpo_loss_x, dm.dpo_gradient_x, dm.update_ratio, dm.yan_loss):
        assert "\\" in obj._repr_latex_() or "$" in obj._repr_latex_()
    assert "update_ratio" in dir(S)
    with pytest.raises(AttributeError):
        S.no_such_expression  # noqa: B018


def test_loss_in_x_is_the_family_definition():
    from dpomath.losses import symbolic_loss

    L = symbolic_loss("sigmoid", sp.log(S.x1), sp.log(S.x2), S.beta)
    assert reduces_to_zero(S.dpo_loss_x - L)
    assert reduces_to_zero(S.dpo_loss_x - S.paper_f_loss)
    assert not reduces_to_zero(S.dpo_loss_x - S.paper_f_loss - S.x1)  # can say no


def test_limits_by_beta_and_cases():
    lims = S.limits_by_beta(S.paper_f_gradient[1], S.x2, 0)
    assert lims == {"beta<1": sp.oo, "beta=1": 1 / S.x1, "beta>1": 0}
    assert S.beta_case("beta=1") == 1
    with pytest.raises(BadValue, match="^name:"):
        S.beta_case("beta<0")


# ------------------------------------------------------------------ identities at 50 digits

@functools.lru_cache(maxsize=None)
def _GRAD_X():
    return tuple(S.gradient_in_x("sigmoid"))


@given(x1=X, x2=X, b=B)
def test_theorem1_partials_at_50_digits(x1, x2, b):
    g = [mp50(e, (S.x1, S.x2, S.beta)) for e in _GRAD_X()]
    p = [mp50(e, (S.x1, S.x2, S.beta)) for e in S.paper_f_gradient]
    for gi, pi in zip(g, p):
        assert close50(gi(x1, x2, b), pi(x1, x2, b))


@given(x1=X, x2=X, b=B)
def test_update_ratio_and_euler_at_50_digits(x1, x2, b):
    g1, g2 = (mp50(e, (S.x1, S.x2, S.beta)) for e in S.paper_f_gradient)
    with mp.workdps(50):
        a1, a2 = g1(x1, x2, b), g2(x1, x2, b)
        assert close50(abs(a1 / a2), mp.mpf(x2) / mp.mpf(x1))
        assert close50(mp.mpf(x1) * a1 + mp.mpf(x2) * a2, mp.mpf(0), tol=mp.mpf("1e-40"))


@given(hw=H, hl=H, b=B)
def test_log_coordinates_equal_and_opposite_at_50_digits(hw, hl, b):
    g1, g2 = (mp50(e, (S.h_w, S.h_l, S.beta)) for e in S.dpo_gradient_h)
    with mp.workdps(50):
        a1, a2 = g1(hw, hl, b), g2(hw, hl, b)
        sig = 1 / (1 + mp.exp(mp.mpf(b) * (mp.mpf(hw) - mp.mpf(hl))))
        assert close50(a1, -mp.mpf(b) * sig) and close50(a2, mp.mpf(b) * sig)


@given(pp=P, pm=P, a=st.floats(1e-3, 1e3), b=B)
def test_yan_gradient_at_50_digits(pp, pm, a, b):
    args = (S.pi_plus, S.pi_minus, S.alpha, S.beta)
    gp, gm = (mp50(e, args) for e in S.yan_gradient)
    with mp.workdps(50):
        vp, vm = gp(pp, pm, a, b), gm(pp, pm, a, b)
        s = mp.mpf(a) * (mp.mpf(pm) / mp.mpf(pp)) ** b
        assert close50(vp, -(mp.mpf(b) / mp.mpf(pp)) * s / (1 + s))
        assert close50(vm / vp, -mp.mpf(pp) / mp.mpf(pm))


@given(rp=st.floats(-50, 50), rm=st.floats(-50, 50))
def test_reward_model_gradient_at_50_digits(rp, rm):
    gp, gm = (mp50(e, (S.r_plus, S.r_minus)) for e in S.rm_gradient)
    with mp.workdps(50):
        want = 1 / (1 + mp.exp(mp.mpf(rp) - mp.mpf(rm)))
        assert close50(gp(rp, rm), -want) and close50(gm(rp, rm), want)


def test_loss_in_x_names_a_bad_kind():
    with pytest.raises(BadValue, match="^kind"):
        S.loss_in_x("nope")
