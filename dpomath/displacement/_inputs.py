"""Argument checks shared by the displacement modules: numpy or torch in, float64 numpy out,
every failure a :class:`dpomath.BadValue` / :class:`dpomath.BadType` naming the parameter."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _args
from .._args import is_torch


def f64(name: str, x) -> np.ndarray:
    """A finite float array (numpy, list or torch tensor) as a float64 numpy array."""
    a = _args.array(name, x)
    if is_torch(a):
        a = a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=np.float64)


def matrix(name: str, x, *, min_rows: int = 1, min_cols: int = 1) -> np.ndarray:
    a = f64(name, x)
    if a.ndim != 2 or a.shape[0] < min_rows or a.shape[1] < min_cols:
        raise _args.BadValue(f"{name}: expected a 2-D array with at least {min_rows} rows and "
                             f"{min_cols} columns, got shape {a.shape}")
    return a


def vector(name: str, x, *, size: int | None = None, min_size: int = 1) -> np.ndarray:
    a = f64(name, x)
    if a.ndim != 1 or a.size < min_size or (size is not None and a.size != size):
        want = f"length {size}" if size is not None else f"length >= {min_size}"
        raise _args.BadValue(f"{name}: expected a 1-D array of {want}, got shape {a.shape}")
    return a


def token(name: str, value, vocab_size: int) -> int:
    """A token index in [0, vocab_size − 1] (numpy integers accepted, bools refused)."""
    if isinstance(value, np.integer):
        value = int(value)
    return _args.integer(name, value, lo=0, hi=vocab_size - 1)


def token_pair(chosen, rejected, vocab_size: int) -> tuple[int, int]:
    c = token("chosen", chosen, vocab_size)
    r = token("rejected", rejected, vocab_size)
    if c == r:
        raise _args.BadValue(f"rejected: must differ from chosen, both are {c}")
    return c, r


def distribution(name: str, p, *, tol: float = 1e-9) -> np.ndarray:
    """A probability vector: 1-D, at least 2 entries, all > 0, summing to 1 within ``tol``."""
    a = vector(name, p, min_size=2)
    if np.any(a <= 0) or abs(a.sum() - 1.0) > tol:
        raise _args.BadValue(f"{name}: expected a probability vector (entries > 0 summing to 1), got "
                             f"min {a.min():g}, sum {a.sum():.12g}")
    return a


def real(name: str, value, **kw) -> float:
    if isinstance(value, np.floating):
        value = float(value)
    return _args.real(name, value, **kw)


def positive(name: str, value) -> float:
    return real(name, value, lo=0.0, lo_open=True)


def is_int(value) -> bool:
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, bool)
