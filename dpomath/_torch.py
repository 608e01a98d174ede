"""Torch helpers shared by the package (torch is imported on first use: it is optional).

:func:`num_threads` runs a block on a given number of torch threads and restores the previous
count afterwards — the small tensor programs of dpomath (the toy's batched MLPs, row training,
the conformance kit's batches) lose far more to thread hand-offs on a shared machine than they
gain, while feature extraction picks its own count.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from . import _args

__all__ = ["torch", "num_threads", "torch_dtype"]


def torch():
    """The torch module (ImportError if torch is not installed)."""
    import torch as _t

    return _t


@contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``; the previous count is restored after it,
    also when the block raises.

    Parameters
    ----------
    n : int
        Threads for the block (>= 1).

    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with num_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    n = _args.integer("threads", n, lo=1)
    t = torch()
    saved = t.get_num_threads()
    if n != saved:
        t.set_num_threads(n)
    try:
        yield
    finally:
        if t.get_num_threads() != saved:
            t.set_num_threads(saved)


def torch_dtype(name: str):
    """``torch.float32`` or ``torch.float64`` from its name.

    Raises
    ------
    dpomath.BadValue
        For any other name.
    """
    _args.choice("dtype", name, ("float32", "float64"))
    return getattr(torch(), name)
