"""Backends for writing a formula once and evaluating it symbolically or numerically.

A formula in dpomath is a Python function of an *ops* namespace ``o`` and its arguments, e.g.
``lambda o, rho: o.softplus(-rho)``. Called with :data:`SYMPY` it gives the SymPy expression
(the mathematical definition); with :data:`NUMPY` or :data:`TORCH` the numerically stable
float form; with :data:`MPMATH` a high-precision reference. The stable primitives are checked
once against their symbolic definitions (tests/test_ops.py), so every formula built from them
is stable and exact by construction — one definition, four evaluations.

Primitives: ``exp, log, softplus(x) = log(1 + e^x), log_sigmoid(x) = -softplus(-x),
sigmoid(x) = 1/(1 + e^-x), relu(x) = max(0, x), heaviside(x) = [x > 0], square(x)``.
"""
from __future__ import annotations

import types
from functools import lru_cache

import numpy as np
import scipy.special as sps
import sympy as sp

__all__ = ["SYMPY", "NUMPY", "MPMATH", "torch_ops", "ops_for"]


def _ns(name: str, **fns) -> types.SimpleNamespace:
    ns = types.SimpleNamespace(name=name, **fns)
    if not hasattr(ns, "log_sigmoid"):
        ns.log_sigmoid = lambda x: -ns.softplus(-x)
    ns.square = lambda x: x * x
    return ns


SYMPY = _ns(
    "sympy",
    exp=sp.exp,
    log=sp.log,
    softplus=lambda x: sp.log(1 + sp.exp(x)),
    sigmoid=lambda x: 1 / (1 + sp.exp(-x)),
    relu=lambda x: sp.Max(0, x),
    heaviside=lambda x: sp.Heaviside(x, 0),
)

NUMPY = _ns(
    "numpy",
    exp=np.exp,
    log=np.log,
    softplus=lambda x: np.logaddexp(0.0, x),
    log_sigmoid=sps.log_expit,
    sigmoid=sps.expit,
    relu=lambda x: np.maximum(x, 0.0),
    heaviside=lambda x: np.heaviside(x, 0.0),
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
    )


def is_torch(x) -> bool:
    t = type(x)
    return t.__module__.startswith("torch") and t.__name__ in ("Tensor", "Parameter")


def ops_for(*arrays) -> types.SimpleNamespace:
    """NUMPY, or the torch backend when any argument is a torch tensor."""
    return torch_ops() if any(is_torch(a) for a in arrays) else NUMPY
