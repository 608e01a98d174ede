"""Progress on stderr, for a terminal and for a log.

On a terminal: tqdm bars. When stderr is not a terminal (``make report > log``, CI, ``| tee``):
plain lines — one when the outermost stage starts and ends, and one at least every
:data:`INTERVAL` seconds while anything runs (a background thread), naming every active stage
with its counts, e.g.::

    dpomath: [2:31] claims 29/34 (I-EMP-RATE) › features corrigible-less-HHH 3/7 · ETA ≈ 6:10

Stages nest (the claims, inside them the feature extraction of each persona, the training per
K); :func:`stage` marks a step without a count (loading the model). The ETA covers the stages:
the claims stage is given each claim's expected duration (``weights``: the durations measured
on a reference run, :func:`claim_weights`), and the time left is the expected time of the
claims not yet done, scaled by how fast this run has been so far. Under ``--json`` only the
lines of a run longer than :data:`INTERVAL` seconds are written (stdout holds the JSON alone).
"""
from __future__ import annotations

import json
import sys
import threading
import time
from contextlib import contextmanager
from importlib import resources
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
_QUIET = False

#: Seconds between two log lines at most (when stderr is not a terminal).
INTERVAL = 30.0

__all__ = ["set_quiet", "set_brief", "progress", "stage", "claim_weights", "INTERVAL"]


_BRIEF = False


def set_quiet(quiet: bool) -> None:
    """Silence progress entirely."""
    global _QUIET
    _QUIET = bool(quiet)


def set_brief(brief: bool) -> None:
    """Log mode without the start and end lines: only the line every :data:`INTERVAL` seconds
    of a long run (the CLI does this under ``--json``, so a short run writes nothing on stderr
    and a long one still shows it is alive)."""
    global _BRIEF
    _BRIEF = bool(brief)


def _clock(s: float) -> str:
    s = int(round(max(s, 0.0)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _Stage:
    def __init__(self, desc: str, total: int | None, weights: Sequence[float] | None,
                 label: Callable[[Any], str] | None):
        self.desc, self.total, self.weights, self.label = desc, total, weights, label
        self.n = 0
        self.item = ""
        self.t0 = time.monotonic()
        self.t_item = self.t0
        self.done_weight = 0.0
        self.done_time = 0.0

    def text(self) -> str:
        count = f" {self.n}/{self.total}" if self.total is not None else (f" {self.n}" if self.n else "")
        return f"{self.desc}{count}" + (f" ({self.item})" if self.item else "")

    def eta(self) -> float | None:
        """Seconds left: the expected time of the items not done, at this run's speed."""
        if not self.weights or self.total is None:
            return None
        now = time.monotonic()
        left = sum(self.weights[self.n + 1:]) if self.n < len(self.weights) else 0.0
        current = self.weights[self.n] if self.n < len(self.weights) else 0.0
        speed = self.done_time / self.done_weight if self.done_weight > 0 else 1.0
        speed = min(max(speed, 0.05), 20.0)
        return speed * (left + current) - min(now - self.t_item, speed * current)


class _Log:
    """The active stages and the background thread writing a line every INTERVAL seconds."""

    def __init__(self) -> None:
        self.stack: list[_Stage] = []
        self.lock = threading.Lock()
        self.last = 0.0
        self.t0 = 0.0
        self.thread: threading.Thread | None = None
        self.wake = threading.Event()

    def line(self) -> str:
        parts = " › ".join(s.text() for s in self.stack)
        eta = self.stack[0].eta() if self.stack else None
        if eta is not None:
            tail = f" · ETA ≈ {_clock(eta)}"
        else:  # no expected durations: the innermost counted stage's own pace
            s = next((s for s in reversed(self.stack) if s.total and s.n), None)
            tail = ""
            if s is not None:
                left = (time.monotonic() - s.t0) / s.n * (s.total - s.n)
                tail = f" · {s.desc}: ≈ {_clock(left)} left"
        return f"dpomath: [{_clock(time.monotonic() - self.t0)}] {parts}{tail}"

    def emit(self, text: str | None = None) -> None:
        with self.lock:
            print(text if text is not None else self.line(), file=sys.stderr, flush=True)
            self.last = time.monotonic()

    def push(self, s: _Stage) -> None:
        with self.lock:
            if not self.stack:
                self.t0 = s.t0
            self.stack.append(s)
            outer = len(self.stack) == 1
        if outer:
            if not _BRIEF:
                self.emit()
            else:
                self.last = time.monotonic()
            self._start_thread()

    def pop(self, s: _Stage, finished: bool = True) -> None:
        with self.lock:
            if s in self.stack:
                self.stack.remove(s)
            outer = not self.stack
        if outer and (not finished or _BRIEF):
            self.wake.set()
        elif outer:
            count = (f" ({s.n}/{s.total})" if s.total is not None else (f" ({s.n})" if s.n else ""))
            self.emit(f"dpomath: [{_clock(time.monotonic() - self.t0)}] {s.desc}: done{count}")
            self.wake.set()

    def _start_thread(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._beat, name="dpomath-progress", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        while True:
            self.wake.wait(min(1.0, max(INTERVAL / 4, 0.05)))
            self.wake.clear()
            with self.lock:
                if not self.stack:  # the run is over: the next outermost stage starts a thread
                    self.thread = None
                    return
                due = time.monotonic() - self.last >= INTERVAL
            if due:
                self.emit()


_LOG = _Log()


def _to_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None,
             leave: bool = False, weights: Sequence[float] | None = None,
             label: Callable[[T], str] | None = None) -> Iterable[T]:
    """``iterable`` with progress on stderr: a tqdm bar on a terminal, log lines otherwise
    (see the module docstring), nothing when quiet.

    Parameters
    ----------
    iterable : iterable
    desc : str
        The stage's name.
    total : int, optional
        The number of items (default ``len(iterable)`` where it has one).
    leave : bool
        Keep the terminal bar when done.
    weights : sequence of float, optional
        Each item's expected duration (any unit): the ETA comes from them.
    label : callable, optional
        The name of an item, shown beside the count (default: its ``id`` attribute, if any).

    Returns
    -------
    iterable
        The same items, in order.
    """
    if _QUIET:
        return iterable
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)
    if label is None:
        label = lambda x: str(getattr(x, "id", ""))  # noqa: E731
    if _to_terminal():
        return _bar(iterable, desc, total, leave, weights, label)
    return _lines(iterable, desc, total, weights, label)


def _bar(iterable, desc, total, leave, weights, label):
    from tqdm.auto import tqdm

    if not weights or total is None:
        yield from tqdm(iterable, desc=desc, total=total, leave=leave, file=sys.stderr,
                        dynamic_ncols=True)
        return
    # the bar advances by expected time, so tqdm's own ETA follows the weights
    scale = [max(float(w), 1e-3) for w in weights]
    with tqdm(total=sum(scale), desc=desc, leave=leave, file=sys.stderr, dynamic_ncols=True,
              bar_format="{desc}: {postfix} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]") as bar:
        for i, x in enumerate(iterable):
            bar.set_postfix_str(f"{i}/{total} {label(x)}".strip(), refresh=True)
            yield x
            bar.update(scale[i] if i < len(scale) else 0.0)
        bar.set_postfix_str(f"{total}/{total}")


def _lines(iterable, desc, total, weights, label):
    s = _Stage(desc, total, weights, label)
    _LOG.push(s)
    finished = False
    try:
        for x in iterable:
            s.item, s.t_item = label(x), time.monotonic()
            yield x
            if weights and s.n < len(weights):
                s.done_weight += float(weights[s.n])
                s.done_time += time.monotonic() - s.t_item
            s.n += 1
            s.item = ""
        finished = True
    finally:
        _LOG.pop(s, finished)  # an interrupted stage ends silently: the error line says why


@contextmanager
def stage(desc: str) -> Iterator[None]:
    """Mark a step without a count (e.g. loading the model) in the progress lines."""
    if _QUIET or _to_terminal():
        yield
        return
    s = _Stage(desc, None, None, None)
    _LOG.push(s)
    finished = False
    try:
        yield
        finished = True
    finally:
        _LOG.pop(s, finished)


def claim_weights(claims: Sequence[Any], quick: bool) -> list[float]:
    """Each claim's expected duration in seconds, from the durations of a reference run on two
    CPU cores (``timings.json`` beside this module); the real-model claims count only when
    persona data is configured (without it they are skipped at once), at the sizes the run-size
    variables (``DPOMATH_Y_SWEEP``, ``DPOMATH_RS_BUDGET``, ``DPOMATH_FT_SWEEP``) choose. A claim the
    table does not know gets the median of those it knows."""
    import os

    try:
        table = json.loads(resources.files(__package__).joinpath("timings.json").read_text())
    except (OSError, ValueError, ModuleNotFoundError):
        table = {}
    mode = table.get("quick" if quick else "full", {})
    known = sorted(mode.values()) or [1.0]
    median = known[len(known) // 2]
    from . import ledger

    if not quick:  # the run-size variables replace some weights (timings.json "variants")
        from .provenance import RUN_SIZE_VARIABLES

        mode = dict(mode)
        for var in RUN_SIZE_VARIABLES:
            mode.update(table.get("variants", {}).get(f"{var}={os.environ.get(var, '')}", {}))
    persona = bool(os.environ.get("DPOMATH_PERSONA_DIR"))
    out = []
    for c in claims:
        if ledger.reads_persona_data(c) and not persona:
            out.append(0.05)
        else:
            out.append(float(mode.get(getattr(c, "id", ""), median)))
    return out
