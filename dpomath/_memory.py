"""Sizes checked against the memory available *before* allocating: a run that cannot fit
fails at once with :class:`dpomath.BadValue` naming the parameters that set its size, rather
than in a ``MemoryError`` (or the system's out-of-memory killer) minutes later.

>>> require(1024, "n", "a tiny array")            # fits: returns the estimate
1024
>>> fmt_bytes(3 * 2 ** 30)
'3.0 GiB'
"""
from __future__ import annotations

import os

from ._args import BadValue

__all__ = ["available_bytes", "require", "fmt_bytes"]


def available_bytes() -> int | None:
    """Memory available to a new allocation: ``MemAvailable`` of /proc/meminfo (Linux), else
    the free physical pages; None where neither is known (then nothing is refused)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def fmt_bytes(n: float) -> str:
    """``n`` bytes in GiB/MiB/KiB, one decimal."""
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def require(nbytes: float, names: str, what: str) -> int:
    """Refuse (BadValue naming ``names``) when an estimated ``nbytes`` exceeds the memory
    available; returns the estimate.

    Parameters
    ----------
    nbytes : float
        The estimated peak memory of the work.
    names : str
        The parameters that set the size, as the message's prefix (``"K, Q, d"``).
    what : str
        What needs the memory, in words.

    Returns
    -------
    int
    """
    avail = available_bytes()
    if avail is not None and nbytes > avail:
        raise BadValue(f"{names}: {what} needs about {fmt_bytes(nbytes)}, more than the "
                       f"{fmt_bytes(avail)} of memory available; choose smaller sizes")
    return int(nbytes)
