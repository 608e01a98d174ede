"""The verification ledger: claims, verdicts and the registry that ``proofs/`` and
``validation/`` fill.

A *claim* is a statement of a paper (ID from THEORY.md) with a check function; running the
check gives a *verdict* (status + evidence). ``proofs`` and ``validation`` modules register
claims with the :func:`claim` decorator; :func:`discover` imports them by name, so this module
never imports them directly.

Each claim records where its check is defined (``Claim.source``, e.g. ``proofs/paper_f.py:72``):
``dpomath verify --list`` prints it, and the report and ``verify --json`` show it. The papers and
their order come from one table, :data:`PAPERS` (adding a paper letter is one entry there).

Check functions take a :class:`Context` and return a :class:`Verdict`::

    @claim("F-C1", paper="F", place="Corollary 1", method="symbolic",
           statement="|dL/dx1 / dL/dx2| = x2/x1", latex=r"\\left|...\\right| = x_2/x_1")
    def _(ctx):
        ...
        return Verdict.proved("SymPy reduces the difference to 0", evidence={...})

Raise :class:`Skip` (with the command that enables the check) when an optional dependency,
data set or model is missing; a ``ModuleNotFoundError`` for an optional dependency
(:data:`dpomath._optional.EXTRAS`) becomes a SKIPPED verdict with its ``pip install`` line;
any other exception becomes an ``ERROR`` verdict.
"""
from __future__ import annotations

import enum
import importlib
import importlib.util
import inspect
import math
import pkgutil
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .._args import BadType, BadValue
from .._optional import hint, missing_optional
from .fidelity import Control, Revision, Scope

__all__ = [
    "Status", "Verdict", "Claim", "Context", "Skip", "require_installed", "claim", "registry", "get_claim",
    "discover", "select", "run_claims", "Result", "Results", "PAPERS", "side_by_side", "paper_letters",
    "OWN_CHECKS",
    "is_own_check", "Scope", "Control", "Revision", "count_statuses",
]

#: Paper letter -> citation: **the one table of papers**. Its order is the report's order; the
#: command line's ``--paper`` choices come from it. "G" holds this package's own results beyond
#: the papers; "V" the empirical checks on real models that the papers do not state.
PAPERS: dict[str, str] = {
    "F": "Feng et al. 2024, field-theory analysis of DPO (arXiv 2404.04626)",
    "Y": "Yan et al., ICLR 2025, the 3D-properties of DPO (arXiv 2406.07327)",
    "G": "dpomath's own results (beyond the papers)",
    "I": "Im & Li, NeurIPS 2025, DPO and diverse values: a scaling law (arXiv 2408.03459)",
    "R": ("Razin, Malladi, Bhaskar, Chen, Arora & Hanin, ICLR 2025, Unintentional Unalignment: "
          "Likelihood Displacement in Direct Preference Optimization (arXiv 2410.08847)"),
    "S": "Ren & Sutherland, ICLR 2025, Learning Dynamics of LLM Finetuning (arXiv 2407.10490)",
    "V": "dpomath's empirical checks on real language models",
}


def paper_letters() -> list[str]:
    """The paper letters in report order (the keys of :data:`PAPERS`)."""
    return list(PAPERS)


#: The letters of :data:`PAPERS` that hold dpomath's own checks rather than a paper's claims.
#: Every count (report, CLI, README) keeps the two apart.
OWN_CHECKS: frozenset[str] = frozenset({"G", "V"})


def is_own_check(paper: str) -> bool:
    """True for dpomath's own checks (:data:`OWN_CHECKS`), False for a paper's claims."""
    return paper in OWN_CHECKS


def count_statuses(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Status counts of result dicts (``Result.to_dict()``), kept apart by kind.

    Returns
    -------
    dict
        ``{"papers": {status: n}, "own": {status: n}}`` in status order, zero counts left
        out; a ``"not testable"`` entry counts the INCONCLUSIVE verdicts whose setting cannot
        show the property (they are INCONCLUSIVE, never refutations).
    """
    out: dict[str, dict[str, int]] = {"papers": {}, "own": {}}
    for kind in out:
        rs = [r for r in rows if is_own_check(r["paper"]) == (kind == "own")]
        for s in Status:
            n = sum(r["status"] == s.value for r in rs)
            if n:
                out[kind][s.value] = n
        nt = sum(bool(r.get("not_testable")) for r in rs)
        if nt:
            out[kind]["not testable"] = nt
    return out

#: Modules that register claims, imported by :func:`discover`.
CLAIM_PACKAGES = ("dpomath.proofs", "dpomath.validation")


class Status(str, enum.Enum):
    PROVED = "PROVED"
    CONFIRMED = "CONFIRMED"
    QUALIFIED = "QUALIFIED"
    REFUTED = "REFUTED"
    INCONCLUSIVE = "INCONCLUSIVE"
    SKIPPED = "SKIPPED"
    ERROR = "ERROR"

    def __str__(self) -> str:  # prints as PROVED, not Status.PROVED
        return self.value


METHODS = ("symbolic", "numeric", "property", "empirical")


class Skip(Exception):
    """Raised by a check when something optional is missing.

    ``Skip("torch is not installed", enable="pip install 'dpomath[validation]'")``
    """

    def __init__(self, reason: str, enable: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.enable = enable

    def verdict(self) -> "Verdict":
        """The SKIPPED verdict: the reason and the command that enables the check."""
        summary = self.reason + (f" (enable with: {self.enable})" if self.enable else "")
        return Verdict(Status.SKIPPED, summary, evidence={"enable": self.enable or ""})


def require_installed(*modules: str, enable: str | None = None, why: str = "") -> None:
    """Raise :class:`Skip` naming the first of ``modules`` that is not installed.

    Parameters
    ----------
    *modules : str
        Top-level module names (``"torch"``, ``"peft"``), checked in order.
    enable : str, optional
        The command that installs what the check needs (``"pip install 'dpomath[train]'"``, when
        it needs more than the missing module's own extra); default: the missing module's extra
        (:func:`dpomath._optional.hint`).
    why : str, optional
        Appended to the reason in parentheses (``"LoRA runs"``).

    Examples
    --------
    >>> require_installed("numpy")
    >>> try:
    ...     require_installed("numpy", "no_such_module_xyz", enable="pip install xyz", why="demo")
    ... except Skip as s:
    ...     print(s.verdict().summary)
    no_such_module_xyz is not installed (demo) (enable with: pip install xyz)
    """
    for mod in modules:
        if importlib.util.find_spec(mod) is None:
            raise Skip(f"{mod} is not installed" + (f" ({why})" if why else ""),
                       enable=enable or hint(mod))


def _jsonable(value: Any) -> Any:
    """Evidence values as plain JSON types (numpy scalars/arrays, Paths, sympy numbers)."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else repr(v)  # "inf", "-inf", "nan": JSON has no such numbers
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    try:  # sympy numbers and other numeric types
        return _jsonable(float(value))
    except (TypeError, ValueError):
        return str(value)


@dataclass
class Verdict:
    """The outcome of one check: a status, a one-line summary and the evidence behind it.

    ``evidence`` is a flat dict of JSON-able numbers and strings; ``counterexample`` is given
    for REFUTED/QUALIFIED verdicts; ``figures`` are paths written under the context's
    figure directory.
    """

    status: Status
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    counterexample: Any = None
    figures: list[str] = field(default_factory=list)
    details: str = ""  # longer explanation (Markdown) for the report's claim section
    # What the verdict rests on (dpomath.verify.fidelity): scope, negative controls, disclosed
    # revisions, readings decided side by side, "not testable in this setting".
    scope: Scope | None = None
    controls: list[Control] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    establishes: str = ""      # what a PROVED/CONFIRMED establishes when a control also passes
    not_testable: str = ""     # why the setting cannot show the property (status INCONCLUSIVE)
    readings: list[dict] = field(default_factory=list)   # Reading.to_dict(), headline first
    headline_reading: str = ""
    reading_rule: str = ""
    # Real-model claims decided per model (dpomath.verify.per_model): one row per model and
    # the rule that combined them.
    models: list[dict] = field(default_factory=list)
    model_rule: str = ""

    def __post_init__(self) -> None:
        self.status = Status(self.status)
        if not isinstance(self.summary, str) or not self.summary:
            raise ValueError("summary: a non-empty one-line string is required")
        self.evidence = _jsonable(dict(self.evidence))
        self.counterexample = _jsonable(self.counterexample)
        self.figures = [str(f) for f in self.figures]
        if self.scope is not None and not isinstance(self.scope, Scope):
            raise TypeError(f"scope: a dpomath.verify.fidelity.Scope, got {type(self.scope).__name__}")
        self.controls = list(self.controls)
        self.revisions = list(self.revisions)
        for c in self.controls:
            if not isinstance(c, Control):
                raise TypeError(f"controls: Control records, got {type(c).__name__}")
        for r in self.revisions:
            if not isinstance(r, Revision):
                raise TypeError(f"revisions: Revision records, got {type(r).__name__}")
        if self.not_testable and self.status is not Status.INCONCLUSIVE:
            raise ValueError("not_testable: only an INCONCLUSIVE verdict can be 'not testable'")

    def problems(self) -> list[str]:
        """What makes this verdict unfit to report (checked by :meth:`Claim.run`): a PROVED or
        CONFIRMED with a control that also passes must say what it establishes."""
        out = []
        if self.status in (Status.PROVED, Status.CONFIRMED):
            passing = [c.variant for c in self.controls if not c.failed]
            if passing and not self.establishes.strip():
                out.append(f"establishes: the control(s) {passing} also pass, so the verdict must "
                           "say what the check does establish")
        return out

    @property
    def control_fails(self) -> bool:
        """True when at least one negative control failed (the check can fail)."""
        return any(c.failed for c in self.controls)

    # Constructors, one per status, so checks read as sentences.
    @classmethod
    def proved(cls, summary: str, **kw: Any) -> "Verdict":
        return cls(Status.PROVED, summary, **kw)

    @classmethod
    def confirmed(cls, summary: str, **kw: Any) -> "Verdict":
        return cls(Status.CONFIRMED, summary, **kw)

    @classmethod
    def qualified(cls, summary: str, **kw: Any) -> "Verdict":
        return cls(Status.QUALIFIED, summary, **kw)

    @classmethod
    def refuted(cls, summary: str, **kw: Any) -> "Verdict":
        return cls(Status.REFUTED, summary, **kw)

    @classmethod
    def inconclusive(cls, summary: str, **kw: Any) -> "Verdict":
        return cls(Status.INCONCLUSIVE, summary, **kw)

    @classmethod
    def untestable(cls, summary: str, why: str, **kw: Any) -> "Verdict":
        """INCONCLUSIVE because the setting structurally cannot show the property (``why``);
        counted apart and never as a refutation."""
        if not isinstance(why, str) or not why.strip():
            raise ValueError("why: the reason the setting cannot show the property is required")
        return cls(Status.INCONCLUSIVE, summary, not_testable=why, **kw)

    def to_fields(self) -> dict[str, Any]:
        """The new keys of a result's JSON (scope, controls, revisions, readings, ...)."""
        return {"scope": self.scope.to_dict() if self.scope else None,
                "controls": [c.to_dict() for c in self.controls],
                "revisions": [r.to_dict() for r in self.revisions],
                "establishes": self.establishes, "not_testable": self.not_testable,
                "readings": self.readings, "headline_reading": self.headline_reading,
                "reading_rule": self.reading_rule,
                "models": _jsonable(self.models), "model_rule": self.model_rule}

    def _repr_html_(self) -> str:  # Jupyter
        from .display import verdict_html

        return verdict_html(self.status.value, self.summary, self.evidence, self.counterexample)

    def _repr_latex_(self) -> str:
        from .display import latex_text

        return f"$\\textbf{{{self.status.value}}}\\ {latex_text(self.summary)}$"


@dataclass
class Context:
    """What a check gets: the seed, quick mode, and where (if anywhere) to draw figures.

    ``rng`` is seeded from the run seed and the claim ID, so one claim run alone gives the
    same verdict as the same claim run among all others.
    """

    claim_id: str
    seed: int = 0
    quick: bool = False
    figure_dir: Path | None = None
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng([self.seed, self.claim_seed])

    @property
    def claim_seed(self) -> int:
        """A stable 32-bit integer for this claim (independent of run order and hashing)."""
        return zlib.crc32(self.claim_id.encode())

    @property
    def want_figures(self) -> bool:
        return self.figure_dir is not None

    def figure_path(self, name: str) -> Path | None:
        """``figure_dir / name`` (directories created), or None when figures are off."""
        if self.figure_dir is None:
            return None
        self.figure_dir.mkdir(parents=True, exist_ok=True)
        return self.figure_dir / name


@dataclass(frozen=True)
class Claim:
    """A registered claim: its ID, paper, place, statement (plain and LaTeX), method, check, and
    where the check is defined (``module``; ``source`` = repository path:line of the
    ``@claim`` line)."""

    id: str
    paper: str
    place: str
    statement: str
    latex: str
    method: str
    check: Callable[[Context], Verdict]
    module: str = ""
    source: str = ""
    scope: Scope | None = None  # the default scope of its verdicts (a verdict may give its own)
    links: tuple = ()           # IDs of claims deciding the same statement in another setting

    def run(self, seed: int = 0, quick: bool = False, figure_dir: Path | None = None) -> "Result":
        ctx = Context(self.id, seed=seed, quick=quick, figure_dir=figure_dir)
        t0 = time.perf_counter()
        try:
            verdict = self.check(ctx)
            if not isinstance(verdict, Verdict):
                raise TypeError(f"check of {self.id} returned {type(verdict).__name__}, not Verdict")
            if verdict.scope is None and verdict.status not in (Status.SKIPPED, Status.ERROR):
                verdict.scope = self.scope
            bad = verdict.problems()
            if bad:
                raise ValueError(f"verdict of {self.id}: " + "; ".join(bad))
        except Skip as s:
            verdict = s.verdict()
        except Exception as e:  # the check itself crashed: the report shows the error
            missing = missing_optional(e)
            if missing is not None:  # an optional dependency is not installed: SKIPPED
                verdict = Skip(f"{missing} is not installed (this check needs it)",
                               enable=hint(missing)).verdict()
            else:
                tb = traceback.format_exc(limit=8)
                verdict = Verdict(Status.ERROR, f"{type(e).__name__}: {e}".splitlines()[0],
                                  details=f"```\n{tb}```")
        return Result(self, verdict, seed=seed, duration_s=time.perf_counter() - t0)


@dataclass
class Result:
    claim: Claim
    verdict: Verdict
    seed: int
    duration_s: float

    @property
    def summary_line(self) -> str:
        """The verdict's summary with its scope at the head: ``[scope] summary``."""
        v = self.verdict
        return f"[{v.scope.label()}] {v.summary}" if v.scope is not None else v.summary

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON: the contract's keys (``id``, ``paper``, ``status``, ``summary``
        — with the scope at its head — ``evidence``, ...) and the keys of
        :meth:`Verdict.to_fields`; ``kind`` is ``"paper"`` or ``"own"`` (:data:`OWN_CHECKS`)."""
        c, v = self.claim, self.verdict
        return {
            "id": c.id, "paper": c.paper, "place": c.place, "statement": c.statement,
            "latex": c.latex, "method": c.method, "source": c.source, "status": v.status.value,
            "summary": self.summary_line, "evidence": v.evidence, "counterexample": v.counterexample,
            "figures": v.figures, "details": v.details, "seed": self.seed,
            "duration_s": round(self.duration_s, 3),
            "kind": "own" if is_own_check(c.paper) else "paper", "summary_text": v.summary,
            "links": list(c.links),
            **v.to_fields(),
        }

    def _repr_html_(self) -> str:  # Jupyter: the claim, its statement in LaTeX, the verdict
        from .display import result_html

        return result_html(self.to_dict())

    def _repr_latex_(self) -> str:
        from .display import latex_text

        c, v = self.claim, self.verdict
        head = latex_text(f"{c.id} ({c.place}): ") + f"\\textbf{{{v.status.value}}}"
        return f"$${head}" + (f"\\quad {c.latex}" if c.latex else "") + "$$"


class Results(list):
    """The list :func:`run_claims` returns: :class:`Result` objects, shown in Jupyter as a table
    (ID, place, status, time, summary)."""

    def _repr_html_(self) -> str:
        from .display import results_html

        return results_html(r.to_dict() for r in self)


_REGISTRY: dict[str, Claim] = {}
_ORDER_SEEN: list[str] = []  # registration order


def claim(id: str, *, paper: str, place: str, statement: str, method: str,
          latex: str = "", scope: Scope | None = None, links: tuple = ()
          ) -> Callable[[Callable[[Context], Verdict]], Callable[[Context], Verdict]]:
    """Register the decorated function as the check of claim ``id``.

    Parameters
    ----------
    id : str
        The ID from THEORY.md, starting with its paper letter (``"F-T1"``).
    paper : str
        A letter of :data:`PAPERS`.
    place : str
        Where in the paper ("Theorem 4.2").
    statement, latex : str
        The claim in words and in LaTeX.
    method : {"symbolic", "numeric", "property", "empirical"}
    scope : Scope, optional
        The default scope of the claim's verdicts (what the check covers); a verdict may give
        its own.
    links : tuple of str, optional
        IDs of claims that decide the same statement in another setting (paper Y's toy claim
        beside its real-model claim): the report and ``dpomath verify`` show their verdicts
        side by side (:func:`side_by_side`).

    Returns
    -------
    callable
        The decorator (it returns the function unchanged).
    """
    if isinstance(links, str) or not all(isinstance(x, str) for x in links):
        raise ValueError(f"links: must be a tuple of claim IDs, got {links!r}")
    if paper not in PAPERS:
        raise ValueError(f"paper: must be one of {sorted(PAPERS)}, got {paper!r}")
    if method not in METHODS:
        raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
    if not id.startswith(paper + "-"):
        raise ValueError(f"id: {id!r} must start with its paper letter {paper!r}-")

    def register(fn: Callable[[Context], Verdict]) -> Callable[[Context], Verdict]:
        existing = _REGISTRY.get(id)
        if existing is not None and existing.module != fn.__module__:
            raise ValueError(f"claim {id} registered twice ({existing.module}, {fn.__module__})")
        _REGISTRY[id] = Claim(id, paper, place, statement, latex, method, fn, fn.__module__,
                              source_of(fn), scope, tuple(links))
        if id not in _ORDER_SEEN:
            _ORDER_SEEN.append(id)
        return fn

    return register


def source_path(module: str) -> str:
    """The repository path of a module: ``dpomath.proofs.paper_f`` → ``proofs/paper_f.py``
    (proofs/ and validation/ install as ``dpomath.proofs``/``dpomath.validation``),
    ``dpomath.x.y`` → ``dpomath/x/y.py``."""
    for pkg in CLAIM_PACKAGES:
        if module == pkg or module.startswith(pkg + "."):
            module = module[len("dpomath."):]
            break
    return module.replace(".", "/") + ".py"


def source_of(fn: Callable) -> str:
    """``path:line`` of a check function: its module's repository path and the line of its
    first decorator (the ``@claim`` line)."""
    code = getattr(inspect.unwrap(fn), "__code__", None)  # the check itself, not a wrapper
    line = code.co_firstlineno if code is not None else 0
    return f"{source_path(fn.__module__)}:{line}"


_DISCOVERED = False
_IMPORT_ERRORS: dict[str, str] = {}


def discover() -> dict[str, str]:
    """Import every module of the claim packages (once); returns {module: error} for failures.

    A module that fails to import (say, a missing optional dependency imported at top level)
    does not stop the others; the CLI reports it.
    """
    global _DISCOVERED
    if not _DISCOVERED:
        for pkg_name in CLAIM_PACKAGES:
            try:
                pkg = importlib.import_module(pkg_name)
            except ImportError as e:
                _IMPORT_ERRORS[pkg_name] = str(e)
                continue
            for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                if info.name.startswith("_"):
                    continue
                name = f"{pkg_name}.{info.name}"
                try:
                    importlib.import_module(name)
                except Exception as e:  # noqa: BLE001 - reported, not hidden
                    _IMPORT_ERRORS[name] = f"{type(e).__name__}: {e}"
        _DISCOVERED = True
    return dict(_IMPORT_ERRORS)


def _id_key(cid: str) -> tuple:
    """Report order: papers in the order of :data:`PAPERS`; within a paper, the claim packages
    in the order of :data:`CLAIM_PACKAGES`, their modules alphabetically, and in a module the
    order the claims are defined (which follows THEORY.md) — the order :func:`discover`
    imports them in, whatever imported them first."""
    order = paper_letters()
    paper = cid.split("-", 1)[0]
    c = _REGISTRY[cid]
    pkg = next((i for i, p in enumerate(CLAIM_PACKAGES) if c.module.startswith(p + ".")),
               len(CLAIM_PACKAGES))
    line = int(c.source.rsplit(":", 1)[1]) if ":" in c.source else 0
    return (order.index(paper) if paper in order else len(order), pkg, c.module, line,
            _ORDER_SEEN.index(cid))


def registry() -> dict[str, Claim]:
    """All registered claims, by ID, in report order (see :func:`_id_key`).

    Returns
    -------
    dict
        ID → :class:`Claim`.
    """
    discover()
    return {cid: _REGISTRY[cid] for cid in sorted(_REGISTRY, key=_id_key)}


def reads_persona_data(claim: Any) -> bool:
    """Whether a claim's check reads the persona data: a K-sweep claim (``on_sweep``), a per-model
    real-model claim (``per_model``) or one marked ``reads_persona_data``."""
    check = getattr(claim, "check", None)
    return (hasattr(check, "on_sweep") or getattr(check, "per_model", False)
            or getattr(check, "reads_persona_data", False))


def get_claim(cid: str) -> Claim:
    """The claim ``cid`` (any case: ``f-t1`` is ``F-T1``); BadValue naming the known IDs (and
    any claim module that failed to import, which may be why the ID is unknown).

    Parameters
    ----------
    cid : str
        A claim ID.

    Returns
    -------
    Claim
    """
    claims = registry()
    if not isinstance(cid, str):
        raise BadType(f"claim: expected a claim ID string, got {type(cid).__name__} {cid!r}")
    by_case = {k.casefold(): c for k, c in claims.items()}
    if cid.casefold() not in by_case:
        why = "; ".join(f"{m} failed to import: {e}" for m, e in _IMPORT_ERRORS.items())
        raise BadValue(f"claim: unknown claim ID {cid!r}; known: {', '.join(claims) or 'none'}"
                       + (f" ({why})" if why else ""))
    return by_case[cid.casefold()]


def select(papers: Iterable[str] | None = None, ids: Iterable[str] | None = None) -> list[Claim]:
    """Claims of the given papers and/or IDs (validated), in report order.

    Parameters
    ----------
    papers : iterable of str, optional
        Paper letters.
    ids : iterable of str, optional
        Claim IDs (any case).

    Returns
    -------
    list of Claim
    """
    if isinstance(papers, str):
        papers = [papers]
    if isinstance(ids, str):
        ids = [ids]
    claims = registry()
    out = list(claims.values())
    if papers:
        papers = [p.upper() for p in papers]
        for p in papers:
            if p not in PAPERS:
                raise BadValue(f"paper: must be one of {', '.join(PAPERS)}, got {p!r}")
        out = [c for c in out if c.paper in papers]
    if ids:
        wanted = {get_claim(cid).id for cid in ids}
        out = [c for c in out if c.id in wanted]
    return out


def run_claims(claims: Iterable[Claim | str] | str | None = None, seed: int = 0, quick: bool = False,
               figure_dir: Path | None = None,
               progress: Callable[[Claim], None] | None = None) -> "Results":
    """Run claims' checks and return their verdicts (the one run loop: ``dpomath verify`` and
    the report use it).

    Each check gets a :class:`Context` seeded from ``seed`` and the claim ID, so a claim run
    alone gives the verdict it gets among all others. A check that raises :class:`Skip` gives a
    SKIPPED verdict (its summary says how to enable it); any other exception an ERROR verdict
    with the traceback in ``details``.

    Parameters
    ----------
    claims : iterable of Claim or str, or str, optional
        The claims to run: :class:`Claim` objects or claim IDs (any case, e.g. ``"F-C1"``), a
        single ID, or None for every registered claim (:func:`registry`; the real-model claims
        are SKIPPED unless ``DPOMATH_PERSONA_DIR`` is set).
    seed : int
        The run's seed (default 0).
    quick : bool
        Smaller sweeps and samples (a sweep-based verdict can differ from the full run).
    figure_dir : Path, optional
        Where checks draw their figures (None: no figures).
    progress : callable, optional
        Called with each claim before it runs.

    Returns
    -------
    Results
        A list of :class:`Result` (claim, verdict, seed, duration); in Jupyter it shows as a
        table.

    Raises
    ------
    dpomath.BadValue
        An unknown claim ID (the message lists the known ones).

    Examples
    --------
    >>> import dpomath as dm
    >>> [r] = dm.run_claims(["F-C1"])
    >>> r.claim.id, r.verdict.status
    ('F-C1', <Status.PROVED: 'PROVED'>)
    """
    if claims is None:
        claims = list(registry().values())
    elif isinstance(claims, (str, Claim)):
        claims = [claims]
    results = Results()
    for c in claims:
        if isinstance(c, str):
            c = get_claim(c)
        elif not isinstance(c, Claim):
            raise BadType(f"claims: expected Claim objects or claim IDs, got {type(c).__name__} {c!r}")
        if progress is not None:
            progress(c)
        results.append(c.run(seed=seed, quick=quick, figure_dir=figure_dir))
    return results


def side_by_side(results: Iterable[dict]) -> list[dict]:
    """Rows of linked claims (``links``) among result dicts (:meth:`Result.to_dict`): for each
    claim that links to others present, one row — the statement, then each linked claim's ID,
    status and scope, the claim's own last — with the per-model statuses where a claim has them.

    >>> rows = side_by_side([{"id": "Y-P1", "status": "QUALIFIED", "scope": {"on": "toy"}, "links": []},
    ...                      {"id": "Y-P1-LM", "status": "REFUTED", "scope": {"on": "LM"},
    ...                       "links": ["Y-P1"], "statement": "s"}])
    >>> [(c["id"], c["status"]) for c in rows[0]["claims"]]
    [('Y-P1', 'QUALIFIED'), ('Y-P1-LM', 'REFUTED')]
    """
    by_id = {r["id"]: r for r in results}
    out = []
    for r in by_id.values():
        linked = [by_id[x] for x in r.get("links") or () if x in by_id]
        if not linked:
            continue
        cells = []
        for c in linked + [r]:
            models = [(m.get("key") or m.get("model"), m["status"]) for m in c.get("models") or []]
            cells.append({"id": c["id"], "status": c["status"],
                          "scope": (c.get("scope") or {}).get("on", ""),
                          "models": models if len(models) > 1 else []})
        out.append({"statement": r.get("statement", ""), "claims": cells})
    return out
