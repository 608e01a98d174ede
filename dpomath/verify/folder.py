"""The report's output folder: written atomically, and only what the report owns.

``dpomath report --out DIR`` may write into a folder that is new, empty, or an earlier report's
folder. An earlier report is recognised by its manifest, :data:`MANIFEST` (``.dpomath-report``,
the list of the files that run wrote): those files, and only those, are replaced or removed.
Anything else in the folder is never touched, and a folder that holds other files but no
manifest (a project folder, a repository root with its own ``figures/``) is refused with
:class:`dpomath.BadValue` before any claim runs.

Everything is first written into a staging folder inside ``DIR`` (so that the final moves are
renames on one file system); only when the whole report is ready are its files moved into
place, each with ``os.replace`` (atomic), the manifest written last. An interrupted or failed
run leaves the earlier report as it was and removes its staging folder.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "r"
>>> with ReportFolder(out) as f:
...     _ = f.write_text("index.html", "<p>hi</p>")
>>> sorted(p.name for p in out.iterdir())
['.dpomath-report', 'index.html']
>>> _ = (out / "mine.txt").write_text("a user's file")
>>> with ReportFolder(out) as f:
...     _ = f.write_text("report.md", "# hi")
>>> sorted(p.name for p in out.iterdir())   # index.html was the earlier run's: removed
['.dpomath-report', 'mine.txt', 'report.md']
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from .._args import BadValue

__all__ = ["ReportFolder", "MANIFEST"]

#: The manifest: a JSON document ``{"written_by": "dpomath report", "files": [...]}`` listing
#: the files (POSIX paths relative to the folder) that the last report wrote.
MANIFEST = ".dpomath-report"
_STAGING_PREFIX = ".dpomath-report-staging-"


def _owned(folder: Path) -> list[str] | None:
    """The files an earlier report wrote into ``folder`` (its manifest), or None without one."""
    m = folder / MANIFEST
    if not m.is_file():
        return None
    try:
        doc = json.loads(m.read_text(encoding="utf-8"))
        files = doc["files"]
        if doc.get("written_by") != "dpomath report" or not all(isinstance(f, str) for f in files):
            raise ValueError("not a dpomath report manifest")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise BadValue(f"out: {m} is not a readable report manifest ({e}); remove it or choose "
                       "another folder") from None
    return [f for f in files if _safe(f)]


def _safe(rel: str) -> bool:
    """A relative path inside the folder (no '..', not absolute, not the manifest)."""
    p = PurePosixPath(rel)
    return bool(rel) and not p.is_absolute() and ".." not in p.parts and rel != MANIFEST


class ReportFolder:
    """Write a report into ``out`` owning only what it writes (see the module docstring).

    Use as a context manager: on entering, ``out`` is checked (created if absent) and a
    staging folder made; :meth:`write_text`, :meth:`write_bytes`, :meth:`copy` and
    :attr:`staging` (for files that others write, like the claims' figures) fill it; on a
    normal exit the files move into place; on an exception nothing in ``out`` changes.

    Parameters
    ----------
    out : str or Path
        The report's folder.
    adopt : iterable of path, optional
        Files already inside ``out`` that the report takes as its own (figures drawn there by
        the claims before :func:`~dpomath.verify.report.write_report`): they do not make the
        folder "someone else's", and the manifest lists them.

    Raises
    ------
    dpomath.BadValue
        ``out`` is a file, cannot be created or written, or holds files of its own and no
        report manifest (the message names them).
    """

    def __init__(self, out: str | Path, adopt=()):
        self.out = Path(out)
        self.staging: Path | None = None
        self.previous: list[str] = []
        self.adopted = sorted(self._inside(p) for p in adopt if self._inside(p) is not None)

    def _inside(self, p) -> str | None:
        """``p`` as a POSIX path relative to ``out`` when it is a file inside it, else None."""
        try:
            rel = Path(p).resolve().relative_to(self.out.resolve()).as_posix()
        except (ValueError, OSError):
            return None
        return rel if _safe(rel) and (self.out / rel).is_file() else None

    # ------------------------------------------------------------ checks
    def check(self) -> None:
        """Refuse a folder the report may not write into (before anything is computed)."""
        out = self.out
        if out.exists() and not out.is_dir():
            raise BadValue(f"out: {out} exists and is not a folder")
        if not out.exists():
            return
        owned = _owned(out)
        if owned is None:
            adopted = set(self.adopted)
            theirs = sorted({Path(rel).parts[0] for rel in _files(out) if rel not in adopted})
            if theirs:
                shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5 else "")
                raise BadValue(f"out: {out} holds files that no dpomath report wrote ({shown}); "
                               "choose a new or empty folder (nothing was written)")
            return
        self.previous = owned

    def __enter__(self) -> "ReportFolder":
        self.check()
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            _remove_stale_staging(self.out)
            self.staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-",
                                                 dir=self.out))
        except OSError as e:
            raise BadValue(f"out: cannot write into {self.out}: {e.strerror or e}") from None
        self._written: list[str] = []
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._commit()
        finally:
            if self.staging is not None and self.staging.exists():
                shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    # ------------------------------------------------------------ writing
    def path(self, rel: str) -> Path:
        """The staging path of ``rel`` (parent folders created); write the file there."""
        if self.staging is None:
            raise RuntimeError("ReportFolder: use it as a context manager")
        if not _safe(rel):
            raise BadValue(f"rel: {rel!r} is not a relative path inside the report folder")
        p = self.staging / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def write_text(self, rel: str, text: str) -> Path:
        """Write ``text`` (UTF-8) as ``rel``; returns its staging path."""
        p = self.path(rel)
        p.write_text(text, encoding="utf-8")
        return p

    def write_bytes(self, rel: str, data: bytes) -> Path:
        """Write ``data`` as ``rel``; returns its staging path."""
        p = self.path(rel)
        p.write_bytes(data)
        return p

    def copy(self, rel: str, src: str | Path) -> Path:
        """Copy the file ``src`` in as ``rel`` (e.g. a bundled script); returns its staging path."""
        p = self.path(rel)
        shutil.copyfile(src, p)
        return p

    def staged_files(self) -> list[str]:
        """Every file in the staging folder, as sorted POSIX paths relative to it."""
        return sorted(p.relative_to(self.staging).as_posix()
                      for p in self.staging.rglob("*") if p.is_file())

    def _commit(self) -> None:
        staged = self.staged_files()
        new = sorted(set(staged) | set(self.adopted))
        out = self.out
        previous = set(self.previous) | set(self.adopted)
        clash = [r for r in staged if (out / r).exists() and r not in previous]
        if clash:
            raise BadValue(f"out: {', '.join(clash[:5])} in {out} were not written by a dpomath "
                           "report; not replaced (nothing was written)")
        try:
            # the manifest first names old and new files, so an interruption leaves every file
            # the report wrote listed; then the moves; then the files of the earlier report that
            # this run did not write again; the manifest last
            self._write_manifest(sorted(previous | set(new)))
            for rel in staged:
                dst = out / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                if dst.is_dir():
                    raise BadValue(f"out: {dst} is a folder; not replaced")
                os.replace(self.staging / rel, dst)
            for rel in sorted(previous - set(new)):
                dst = out / rel
                if dst.is_file() or dst.is_symlink():
                    dst.unlink()
                _prune(dst.parent, out)
            self._write_manifest(new)
        except OSError as e:
            raise BadValue(f"out: cannot write into {out}: {e.strerror or e}") from None
        self.written = new

    def _write_manifest(self, files: list[str]) -> None:
        doc = {"written_by": "dpomath report", "files": files,
               "note": "dpomath report replaces or removes only the files listed here"}
        tmp = self.staging / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.out / MANIFEST)


def _files(out: Path) -> list[str]:
    """Every file (or link) under ``out`` outside staging folders, relative POSIX paths."""
    found = []
    for p in out.rglob("*"):
        rel = p.relative_to(out)
        if rel.parts[0].startswith(_STAGING_PREFIX):
            continue
        if p.is_file() or p.is_symlink() or (p.is_dir() and not any(p.iterdir())):
            found.append(rel.as_posix())
    return found


def _remove_stale_staging(out: Path) -> None:
    """Remove the staging folders of runs that were killed (their process is gone): the name
    carries the process id, so a concurrent run's staging folder is left alone."""
    for p in out.glob(_STAGING_PREFIX + "*"):
        pid = p.name[len(_STAGING_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _prune(folder: Path, top: Path) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``top``."""
    folder, top = folder.resolve(), top.resolve()
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()  # only if empty
        except OSError:
            return
        folder = folder.parent
