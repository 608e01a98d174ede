"""What a verdict rests on: its scope, its negative controls, its disclosed revisions and the
readings of the statement it decided.

A verdict is only as good as the reader's idea of what was checked, whether the check could have
failed, and whether a fair reading would change it. Four small records carry that, beside the
status and the evidence (see :class:`dpomath.verify.ledger.Verdict`):

* :class:`Scope` — which reading of the statement, checked on what (a general symbolic proof, an
  instance of given sizes, the toy with its settings, a model and its data). It is shown at the
  head of the verdict's summary line (``[scope] summary``), in the JSON and in the report.
* :class:`Control` — a negative control: the same check run on a deliberately false variant of
  the statement (a wrong constant, a flipped sign, a window ten times tighter, shuffled labels).
  A ``PROVED``/``CONFIRMED`` needs at least one control whose outcome is *fails*: the check can
  tell the statement from a false one. A control that *passes* shows where the check has no
  power; the verdict then says what it does establish (``Verdict.establishes``).
* :class:`Revision` — a disclosed change of a verdict's rule after numbers were seen: the old rule
  and old verdict beside the new rule and the reason.
* :class:`Reading` — one fair reading of a statement that admits several, decided on its own;
  :func:`decide_readings` puts them side by side and takes the headline by a rule fixed before
  any number is seen (the reading most consistent with the paper's own words), never by which
  verdict is stronger.

A check whose setting structurally cannot show the property returns
:meth:`~dpomath.verify.ledger.Verdict.untestable`: status ``INCONCLUSIVE`` with the reason in
``not_testable``; it is never counted as a refutation.

Decisions that compare two measured quantities use :func:`log_compare` (a log-scale comparison
with a stated tolerance whose ties are ties), so no verdict turns on float rounding.

Example::

    from dpomath.verify.fidelity import Control, Scope
    from dpomath.verify.ledger import Verdict

    def check(ctx):
        holds = bound(Q) >= risk(Q)                # the statement
        wrong = bound(Q) / 1e3 >= risk(Q)          # a false variant: the bound 1000x tighter
        return Verdict.confirmed(
            "R(P) <= bound", scope=Scope("numeric: K in {1, 4}, Q in [40, 1200]"),
            controls=[Control("bound 1000x tighter", failed=not wrong, measured="...")],
            establishes="" if not wrong else "holds trivially where the bound is non-vacuous")
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

__all__ = ["Scope", "Control", "Revision", "Reading", "decide_readings", "READING_RULE",
           "REVIEW", "log_compare", "control", "control_from_evidence"]

#: The kinds of scope, from strongest to most specific.
SCOPE_KINDS = ("general", "instance", "sampled", "bound", "toy", "model")

#: The rule that picks the headline among several readings (stated once, for every claim).
READING_RULE = ("headline = the reading most consistent with the paper's own words (each "
                "reading's rank and the words behind it are fixed in the check before it runs); "
                "never the reading with the stronger verdict")

#: The reason of the revisions made after the outside review of the verdicts.
REVIEW = "outside review of the verdicts (issue 10)"


@dataclass(frozen=True)
class Scope:
    """What a verdict covers.

    Parameters
    ----------
    on : str
        What was checked, short (shown in the summary line): ``"general symbolic: x1, x2 > 0,
        β > 0"``, ``"SymPy on an instance (|V| = 3, d = 2, N = 3) + numeric"``, ``"toy MLP, 64
        settings × 20 seeds"``, ``"SmolLM2-135M-Instruct, persona data, K ≤ 16"``.
    reading : str, optional
        Which reading of the statement was decided (``"'vanishes' = the flow lines end at
        x2 = 0"``); empty when the statement admits one reading.
    kind : str, optional
        One of :data:`SCOPE_KINDS`: ``general`` (a proof for every value), ``instance`` (exact on
        given sizes), ``sampled`` (numeric draws), ``bound`` (a statement about a bound, not the
        quantity), ``toy`` (a toy model), ``model`` (a real model and data).
    """

    on: str
    reading: str = ""
    kind: str = "general"

    def __post_init__(self) -> None:
        if not isinstance(self.on, str) or not self.on.strip():
            raise ValueError("on: a non-empty string naming what was checked is required")
        if self.kind not in SCOPE_KINDS:
            raise ValueError(f"kind: must be one of {SCOPE_KINDS}, got {self.kind!r}")

    def label(self) -> str:
        """The text shown at the head of the summary line."""
        return self.on + (f"; reading: {self.reading}" if self.reading else "")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Control:
    """A negative control: the check run on a deliberately false variant of the statement.

    Parameters
    ----------
    variant : str
        The false statement that was checked (``"window ten times tighter: [log 3/4, log 3/10]"``).
    failed : bool
        True when the check rejected the false variant (what a check with power does); False
        when the false variant passed too — the check cannot tell it from the statement.
    measured : str, optional
        The numbers that decided the control.
    """

    variant: str
    failed: bool
    measured: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.variant, str) or not self.variant.strip():
            raise ValueError("variant: a non-empty description of the false statement is required")
        object.__setattr__(self, "failed", bool(self.failed))

    @property
    def outcome(self) -> str:
        """``"fails"`` (the check rejects the false variant) or ``"passes"``."""
        return "fails" if self.failed else "passes"

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "outcome": self.outcome, "measured": self.measured}


def control(variant: str, holds: bool, measured: str = "") -> Control:
    """A :class:`Control` from whether the check's criterion *held* on the false variant
    (``holds=False`` is the wanted outcome: the control fails)."""
    return Control(variant, failed=not holds, measured=measured)


@dataclass(frozen=True)
class Revision:
    """A disclosed change of a verdict's rule.

    Parameters
    ----------
    old_rule, old_verdict : str
        The rule before the change and the verdict it gave (``"REFUTED"``).
    new_rule : str
        The rule now applied (its verdict is the claim's current status).
    reason : str
        Why it changed (:data:`REVIEW` and the finding, for the outside review).
    """

    old_rule: str
    old_verdict: str
    new_rule: str
    reason: str

    def __post_init__(self) -> None:
        for name in ("old_rule", "old_verdict", "new_rule", "reason"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ValueError(f"{name}: a non-empty string is required")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Reading:
    """One reading of a statement and its verdict.

    Parameters
    ----------
    name : str
        Short name (``"flow"``).
    text : str
        The statement as read (``"'vanishes' = the flow lines of −∇L end at x2 = 0"``).
    rank : int
        Consistency with the paper's own words, 1 = most consistent; fixed in the check's code
        before it runs.
    why : str
        The paper's words behind the rank.
    verdict : Verdict
        The decision under this reading.
    """

    name: str
    text: str
    rank: int
    why: str
    verdict: Any  # ledger.Verdict (not imported: the ledger imports this module)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "text": self.text, "rank": self.rank, "why": self.why,
                "status": self.verdict.status.value, "summary": self.verdict.summary}


def decide_readings(readings: Sequence[Reading], rule: str = READING_RULE):
    """The headline verdict of several readings decided side by side.

    The headline is the reading of rank 1 (most consistent with the paper's words); its status,
    evidence and details become the verdict's, the others are listed in ``readings`` and named
    in the summary. Two readings of the same best rank are an error (the author must rank them).

    Parameters
    ----------
    readings : sequence of Reading
    rule : str
        The stated rule (default :data:`READING_RULE`).

    Returns
    -------
    Verdict
    """
    if len(readings) < 2:
        raise ValueError("readings: at least two readings are needed to decide side by side")
    names = [r.name for r in readings]
    if len(set(names)) != len(names):
        raise ValueError(f"readings: names must be distinct, got {names}")
    best = min(r.rank for r in readings)
    top = [r for r in readings if r.rank == best]
    if len(top) != 1:
        raise ValueError(f"readings: {', '.join(r.name for r in top)} share rank {best}; rank them")
    head = top[0]
    v = head.verdict
    others = "; ".join(f"'{r.name}' reading: {r.verdict.status.value}"
                       for r in sorted(readings, key=lambda r: r.rank) if r is not head)
    v.summary = f"{v.summary} (other readings — {others})"
    v.readings = [r.to_dict() for r in sorted(readings, key=lambda r: r.rank)]
    v.headline_reading = head.name
    v.reading_rule = rule
    if v.scope is None or not v.scope.reading:
        from dataclasses import replace

        base = v.scope or Scope("see the claim's scope")
        v.scope = replace(base, reading=head.text if len(head.text) <= 80 else head.name)
    # the headline carries the controls and revisions of every reading (none is hidden)
    for r in readings:
        if r is head:
            continue
        v.controls += [Control(f"[{r.name}] {c.variant}", c.failed, c.measured)
                       for c in r.verdict.controls]
    return v


def log_compare(a: float, b: float, rtol: float = 1e-6, atol: float = 0.0) -> int:
    """Compare two quantities on a log scale: -1 (a < b), 0 (a tie), +1 (a > b).

    A tie is ``|log|a| − log|b|| ≤ log(1 + rtol)``, or ``|a − b| ≤ atol``; values of opposite
    sign are never tied (unless within ``atol``). Use it wherever a verdict compares two measured
    numbers, so float rounding cannot decide (and report the ties as ties).

    Parameters
    ----------
    a, b : float
    rtol : float
        Relative tolerance of the tie (stated in the criterion).
    atol : float
        Absolute tolerance (for quantities that may be exactly 0).

    Returns
    -------
    int

    Examples
    --------
    >>> log_compare(1e-23 - 1, -1.0)     # rounding made these equal: a tie
    0
    >>> log_compare(2.0, 1.0), log_compare(1.0, 1.0 + 1e-9)
    (1, 0)
    """
    a, b = float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b)):
        return (a > b) - (a < b)
    if abs(a - b) <= atol:
        return 0
    if a == b:
        return 0
    if (a > 0) != (b > 0) or a == 0 or b == 0:
        return (a > b) - (a < b)
    if abs(math.log(abs(a)) - math.log(abs(b))) <= math.log1p(rtol):
        return 0
    return (a > b) - (a < b)


def control_from_evidence(evidence: dict) -> list[Control]:
    """The negative control a check recorded in its evidence under the keys
    ``negative_control`` (the false variant) and ``negative_control_failed`` (bool), with the
    other ``negative_control_*`` numbers as its measurement; [] when absent."""
    if "negative_control" not in evidence or "negative_control_failed" not in evidence:
        return []
    measured = "; ".join(f"{k[len('negative_control_'):]}: {v}" for k, v in evidence.items()
                         if k.startswith("negative_control_") and k != "negative_control_failed")
    return [Control(str(evidence["negative_control"]), failed=bool(evidence["negative_control_failed"]),
                    measured=measured)]
