"""Backends for writing a formula once and evaluating it symbolically or numerically.

A formula in dpomath is a Python function of an *ops* namespace ``o`` and its arguments, e.g.
``lambda o, rho: o.softplus(-rho)``. Called with :data:`SYMPY` it gives the SymPy expression
(the mathematical definition); with :data:`NUMPY` or :data:`TORCH` the numerically stable
float form; with :data:`MPMATH` a high-precision reference. The stable primitives are checked
once against their symbolic definitions (tests/test_ops.py), so every formula built from them
is stable and exact by construction — one definition, four evaluations.

Primitives: ``exp, log, softplus(x) = log(1 + e^x), log_sigmoid(x) = -softplus(-x),
sigmoid(x) = 1/(1 + e^-x), relu(x) = max(0, x), heaviside(x) = [x > 0], square(x)``,
``log1mexp(x) = log(1 − e^x)`` for x < 0 (the log-odds of ORPO; Mächler 2012's two-branch form:
log(−expm1(x)) for x > −log 2, log1p(−e^x) below).

Each backend is built on first use (SymPy, SciPy and torch are imported then), so importing the
loss family costs NumPy only.

>>> import sympy as sp
>>> sympy_ops().softplus(sp.Symbol("x"))
log(exp(x) + 1)
"""
from __future__ import annotations

import types
from functools import lru_cache

import numpy as np

from .._args import is_torch

__all__ = ["SYMPY", "NUMPY", "MPMATH", "sympy_ops", "numpy_ops", "torch_ops", "ops_for"]


def _ns(name: str, **fns) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(name=name, **fns)
    if not hasattr(ns, "log_sigmoid"):
        ns.log_sigmoid = lambda x: -ns.softplus(-x)
    ns.square = lambda x: x * x
    return ns


@lru_cache(maxsize=1)
def sympy_ops() -> types.SimpleNamespace:
    """The SymPy backend (:data:`SYMPY`): the definitions."""
    import sympy as sp

    return _ns(
        "sympy",
        exp=sp.exp,
        log=sp.log,
        softplus=lambda x: sp.log(1 + sp.exp(x)),
        sigmoid=lambda x: 1 / (1 + sp.exp(-x)),
        relu=lambda x: sp.Max(0, x),
        heaviside=lambda x: sp.Heaviside(x, 0),
        log1mexp=lambda x: sp.log(1 - sp.exp(x)),
    )


_LOG_HALF = -0.6931471805599453  # log(1/2): where the two forms of log(1 − e^x) trade accuracy


def _np_log1mexp(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > _LOG_HALF, np.log(-np.expm1(np.maximum(x, _LOG_HALF))),
                        np.log1p(-np.exp(np.minimum(x, _LOG_HALF))))


@lru_cache(maxsize=1)
def numpy_ops() -> types.SimpleNamespace:
    """The NumPy backend (:data:`NUMPY`): stable float forms (SciPy's log_expit, expit)."""
    import scipy.special as sps

    return _ns(
        "numpy",
        exp=np.exp,
        log=np.log,
        softplus=lambda x: np.logaddexp(0.0, x),
        log_sigmoid=sps.log_expit,
        sigmoid=sps.expit,
        relu=lambda x: np.maximum(x, 0.0),
        heaviside=lambda x: np.heaviside(x, 0.0),
        log1mexp=_np_log1mexp,
    )


def _mp():
    import mpmath as mp
    return mp


MPMATH = _ns(
    "mpmath",
    exp=lambda x: _mp().exp(x),
    log=lambda x: _mp().log(x),
    softplus=lambda x: _mp().log(1 + _mp().exp(x)),
    sigmoid=lambda x: 1 / (1 + _mp().exp(-x)),
    relu=lambda x: max(_mp().mpf(0), x),
    heaviside=lambda x: _mp().mpf(1) if x > 0 else _mp().mpf(0),
    log1mexp=lambda x: _mp().log(-_mp().expm1(x)),  # 1 − e^x without cancellation
)


@lru_cache(maxsize=1)
def torch_ops() -> types.SimpleNamespace:
    """The torch backend (imported on first use: torch is an optional dependency)."""
    import torch
    import torch.nn.functional as F

    return _ns(
        "torch",
        exp=torch.exp,
        log=torch.log,
        softplus=lambda x: torch.logaddexp(torch.zeros_like(x), x),  # exact; F.softplus thresholds
        log_sigmoid=F.logsigmoid,
        sigmoid=torch.sigmoid,
        relu=torch.relu,
        heaviside=lambda x: (x > 0).to(x.dtype),
        # both branches evaluated on clamped inputs, so neither produces inf/NaN gradients
        log1mexp=lambda x: torch.where(
            x > _LOG_HALF, torch.log(-torch.expm1(torch.clamp(x, min=_LOG_HALF))),
            torch.log1p(-torch.exp(torch.clamp(x, max=_LOG_HALF)))),
    )


def ops_for(*arrays) -> types.SimpleNamespace:
    """NUMPY, or the torch backend when any argument is a torch tensor."""
    return torch_ops() if any(is_torch(a) for a in arrays) else numpy_ops()


def __getattr__(name: str):
    if name == "SYMPY":
        return sympy_ops()
    if name == "NUMPY":
        return numpy_ops()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
