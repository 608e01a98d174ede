"""Progress bars on stderr (tqdm). Quiet under ``--json`` unless stderr is a terminal."""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

T = TypeVar("T")
_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence progress bars (the CLI does this for ``--json`` when stderr is not a TTY)."""
    global _QUIET
    _QUIET = bool(quiet)


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None,
             leave: bool = False) -> Iterable[T]:
    """``tqdm(iterable)`` on stderr, or the iterable itself when quiet."""
    if _QUIET:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=leave, file=sys.stderr,
                dynamic_ncols=True, disable=None)
