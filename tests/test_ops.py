"""The stable primitives equal their symbolic definitions (50-digit mpmath) and stay finite."""
import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from dpomath.losses.ops import MPMATH, NUMPY, SYMPY, torch_ops

x = sp.Symbol("x", real=True)
PRIMS = ["softplus", "log_sigmoid", "sigmoid", "relu", "square"]


def _ref(name, v):
    with mp.workdps(50):
        return getattr(MPMATH, name)(mp.mpf(v))


@pytest.mark.parametrize("name", PRIMS)
@given(v=st.floats(-1e4, 1e4, allow_nan=False))
def test_numpy_primitive_matches_mpmath(name, v):
    got = float(getattr(NUMPY, name)(np.float64(v)))
    ref = _ref(name, v)
    assert np.isfinite(got)
    assert abs(got - float(ref)) <= 1e-13 * max(1.0, abs(float(ref)))


@pytest.mark.parametrize("name", PRIMS)
@given(v=st.floats(-1e4, 1e4, allow_nan=False))
def test_torch_primitive_matches_mpmath(name, v):
    torch = pytest.importorskip("torch")
    got = float(getattr(torch_ops(), name)(torch.tensor(v, dtype=torch.float64)))
    ref = float(_ref(name, v))
    assert abs(got - ref) <= 1e-13 * max(1.0, abs(ref))


@pytest.mark.parametrize("name", PRIMS)
@given(v=st.floats(-30, 30, allow_nan=False))
def test_sympy_primitive_is_the_definition(name, v):
    expr = getattr(SYMPY, name)(x)
    with mp.workdps(50):
        val = mp.mpf(str(sp.N(expr.subs(x, sp.Float(v, 60)), 50)))
        ref = _ref(name, v)
        assert abs(val - ref) <= mp.mpf("1e-40") * max(1, abs(ref))


@given(v=st.floats(-1e4, 0.0, exclude_max=True, allow_nan=False))
def test_log1mexp_matches_mpmath(v):
    """log(1 − e^x) for x < 0 (ORPO's log-odds), numpy and torch, to 1e-13 relative."""
    torch = pytest.importorskip("torch")
    ref = float(_ref("log1mexp", v))
    for got in (float(NUMPY.log1mexp(np.float64(v))),
                float(torch_ops().log1mexp(torch.tensor(v, dtype=torch.float64)))):
        assert abs(got - ref) <= 1e-13 * max(1.0, abs(ref)), (v, got, ref)


def test_log1mexp_gradient_is_finite_and_the_definition_is_sympys():
    torch = pytest.importorskip("torch")
    t = torch.tensor([-1e4, -5.0, -0.7, -0.69, -1e-3], dtype=torch.float64, requires_grad=True)
    torch_ops().log1mexp(t).sum().backward()
    want = -np.exp(t.detach().numpy()) / -np.expm1(t.detach().numpy())  # d/dx log(1 − e^x)
    assert np.allclose(t.grad.numpy(), want, rtol=1e-12, atol=0)
    assert SYMPY.log1mexp(x) == sp.log(1 - sp.exp(x))
