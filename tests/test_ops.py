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
