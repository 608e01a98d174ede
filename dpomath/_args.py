"""Argument checks shared by the public functions: each raises TypeError/ValueError naming the
parameter and what is allowed. Nothing is clipped or coerced silently."""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["BadValue", "BadType", "real", "positive", "integer", "array", "probability", "choice",
           "is_torch", "same_shape", "DpomathWarning", "folder_problem"]


class BadValue(ValueError):
    """An argument with a value outside what is allowed (the message names the parameter)."""


class BadType(TypeError):
    """An argument of the wrong type (the message names the parameter)."""


class DpomathWarning(UserWarning):
    """Something the user should know that does not stop the work (malformed records skipped,
    a value outside what a theorem speaks for); the command line prints it as one line."""


# Users catch them as dpomath.BadValue / dpomath.BadType; tracebacks print them so too.
BadValue.__module__ = BadType.__module__ = DpomathWarning.__module__ = "dpomath"


def is_torch(x) -> bool:
    """True for a torch tensor or parameter (checked by type name: torch is not imported)."""
    t = type(x)
    return t.__module__.startswith("torch") and t.__name__ in ("Tensor", "Parameter")


def real(name: str, value, *, lo: float | None = None, hi: float | None = None,
         lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite real number in the given range, as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadType(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise BadValue(f"{name}: must be finite, got {v!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise BadValue(f"{name}: must be {'>' if lo_open else '>='} {lo:g}, got {v!r}")
    if hi is not None and (v > hi or (hi_open and v == hi)):
        raise BadValue(f"{name}: must be {'<' if hi_open else '<='} {hi:g}, got {v!r}")
    return v


def positive(name: str, value) -> float:
    """A finite real number > 0."""
    return real(name, value, lo=0.0, lo_open=True)


def integer(name: str, value, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer (not bool) in [lo, hi]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BadType(f"{name}: expected an integer, got {type(value).__name__} {value!r}")
    v = int(value)
    if lo is not None and v < lo:
        raise BadValue(f"{name}: must be >= {lo}, got {v}")
    if hi is not None and v > hi:
        raise BadValue(f"{name}: must be <= {hi}, got {v}")
    return v


def array(name: str, x):
    """A finite float array: numpy arrays/scalars/lists become float64 (or keep their float
    dtype); torch tensors stay tensors (must be floating point). NaN/inf raise ValueError."""
    if is_torch(x):
        import torch

        if not torch.is_floating_point(x):
            raise BadType(f"{name}: torch tensor must be floating point, got {x.dtype}")
        if not bool(torch.isfinite(x).all()):
            bad = "NaN" if bool(torch.isnan(x).any()) else "inf"
            raise BadValue(f"{name}: must be finite, found {bad}")
        return x
    try:
        a = np.asarray(x)
    except Exception as e:  # ragged lists and the like
        raise BadType(f"{name}: expected an array of real numbers ({e})") from None
    if a.dtype.kind in "iub":
        a = a.astype(np.float64)
    elif a.dtype.kind != "f":
        raise BadType(f"{name}: expected real numbers, got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        bad = "NaN" if np.any(np.isnan(a)) else "inf"
        raise BadValue(f"{name}: must be finite, found {bad}")
    return a


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def same_shape(*named) -> tuple:
    """Paired arrays must have one shape: ``same_shape(("chosen_logratios", hw),
    ("rejected_logratios", hl))`` returns the common shape or raises BadValue naming both
    parameters. Nothing is broadcast: shapes (3, 1) and (3,) would otherwise make a 3×3 result
    whose mean looks plausible and is wrong.

    >>> same_shape(("a", np.zeros(2)), ("b", np.zeros(2)))
    (2,)
    >>> same_shape(("a", np.zeros(2)), ("b", np.zeros(1)))
    Traceback (most recent call last):
    ...
    dpomath.BadValue: a, b: shapes (2,) and (1,) differ (paired arrays are not broadcast; pass one shape)
    """
    shapes = [(n, _shape(x)) for n, x in named]
    first = shapes[0][1]
    for n, s in shapes[1:]:
        if s != first:
            raise BadValue(f"{shapes[0][0]}, {n}: shapes {first} and {s} differ (paired arrays "
                           "are not broadcast; pass one shape)")
    return first


def folder_problem(path, pattern: str, what: str = "") -> str | None:
    """What is wrong with a folder the user gave — it does not exist, is not a folder, holds no
    ``pattern`` file — or None when it is usable (the caller names the parameter).

    >>> folder_problem("/nonexistent/persona", "*.jsonl")
    '/nonexistent/persona does not exist'
    """
    from pathlib import Path

    d = Path(path).expanduser()
    if not d.exists():
        return f"{d} does not exist"
    if not d.is_dir():
        return f"{d} is not a folder"
    if not any(d.glob(pattern)):
        return f"no {what + ' ' if what else ''}{pattern} files in {d}"
    return None


def probability(name: str, p) -> np.ndarray:
    """Probabilities in (0, 1] (array or scalar), as float64 numpy."""
    a = array(name, p)
    if is_torch(a):
        a = a.detach().cpu().double().numpy()
    if np.any(a <= 0) or np.any(a > 1):
        raise BadValue(f"{name}: probabilities must lie in (0, 1], got values in "
                         f"[{np.min(a):g}, {np.max(a):g}]")
    return a


def choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise BadValue(f"{name}: must be one of {', '.join(map(str, allowed))}, got {value!r}")
    return value
