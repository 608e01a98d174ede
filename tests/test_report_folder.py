"""Nothing lost: ``dpomath report --out DIR`` writes only what the report owns (its manifest),
never deletes or replaces a user's files, refuses a folder of someone else's files before
anything runs, and writes atomically (a failed run leaves the earlier report as it was)."""
import json
import os
from pathlib import Path

import pytest

from dpomath import BadValue
from dpomath.verify import ledger
from dpomath.verify.cli import main
from dpomath.verify.ledger import Claim, Verdict, source_of
from dpomath.verify.report import build_report, write_report

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ".dpomath-report"  # dpomath.verify.folder.MANIFEST (imported in the tests that need more)


def _check(ctx):
    p = ctx.figure_path("mine.png")
    if p is not None:
        p.write_bytes(b"png")
    return Verdict.proved("holds", evidence={"x": 1}, figures=[str(p)] if p else [])


def _results():
    return [Claim("F-X1", "F", "Theorem 0", "s", "", "symbolic", _check, __name__,
                  source_of(_check)).run(seed=0)]


def _tree(d: Path) -> dict:
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def test_a_users_figures_survive_report_out(tmp_path, capsys):
    """The review's case: DIR/figures/important_plot.png was deleted by rmtree(DIR/figures)."""
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "important_plot.png").write_bytes(b"my plot")
    (tmp_path / "index.html").write_text("my page")
    before = _tree(tmp_path)
    assert main(["report", "--out", str(tmp_path), "--paper", "F"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("dpomath report: --out: ")
    assert "figures, index.html" in err[0]  # what is in the way, named
    assert _tree(tmp_path) == before  # nothing deleted, nothing overwritten, nothing added


def test_out_dot_in_the_repository_root_touches_nothing(monkeypatch, capsys):
    """``--out .`` in the repository root must not touch the tracked figures/ (it is refused
    before any claim runs)."""
    monkeypatch.chdir(ROOT)
    figures = _tree(ROOT / "figures")
    top = sorted(p.name for p in ROOT.iterdir())
    assert main(["report", "--out", ".", "--paper", "F"]) == 2
    assert "holds files that no dpomath report wrote" in capsys.readouterr().err
    assert _tree(ROOT / "figures") == figures
    assert sorted(p.name for p in ROOT.iterdir()) == top


def test_a_rerun_replaces_its_own_files_and_keeps_the_users(tmp_path):
    from dpomath.verify.folder import MANIFEST as name

    assert name == MANIFEST
    out = tmp_path / "r"
    write_report(_results(), out)
    owned = json.loads((out / MANIFEST).read_text())["files"]
    assert {"index.html", "report.json", "report.md"} <= set(owned)
    assert all((out / f).is_file() for f in owned) and owned == sorted(owned)
    (out / "notes.txt").write_text("mine")                      # the user's, added later
    (out / "figures").mkdir()
    (out / "figures" / "keep.png").write_bytes(b"mine too")
    # an earlier run's figure, listed in the manifest: the report's own, so it may go
    (out / "figures" / "stale.png").write_bytes(b"old")
    doc = json.loads((out / MANIFEST).read_text())
    doc["files"].append("figures/stale.png")
    (out / MANIFEST).write_text(json.dumps(doc))
    (out / "index.html").write_text("old report")
    write_report(_results(), out)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "figures" / "keep.png").read_bytes() == b"mine too"
    assert not (out / "figures" / "stale.png").exists()
    assert "F-X1" in (out / "index.html").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".dpomath-report-staging")]


def test_a_file_of_the_user_under_a_reports_name_is_not_replaced(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"written_by": "dpomath report", "files": []}))
    (out / "report.md").write_text("the user's own notes")
    with pytest.raises(BadValue, match="^out: report.md in .* not written by a dpomath report"):
        write_report(_results(), out)
    assert (out / "report.md").read_text() == "the user's own notes"
    assert not (out / "index.html").exists()


def test_a_failed_run_leaves_the_earlier_report(tmp_path, monkeypatch):
    out = tmp_path / "r"
    write_report(_results(), out)
    before = _tree(out)

    def crash(claims, **kw):
        for c in claims:
            pass
        (kw["figure_dir"]).mkdir(parents=True, exist_ok=True)
        (kw["figure_dir"] / "half.png").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(ledger, "run_claims", crash)
    with pytest.raises(KeyboardInterrupt):
        build_report(out, papers=["F"])
    assert _tree(out) == before
    assert [p.name for p in out.iterdir() if p.name.startswith(".dpomath-report-staging")] == []


def test_new_and_empty_folders_are_fine_and_get_a_manifest(tmp_path):
    from dpomath.verify.folder import ReportFolder

    empty = tmp_path / "empty"
    empty.mkdir()
    for d in (empty, tmp_path / "new" / "nested"):
        with ReportFolder(d) as f:
            f.write_text("a/b.txt", "x")
        assert (d / "a" / "b.txt").read_text() == "x"
        assert json.loads((d / MANIFEST).read_text())["files"] == ["a/b.txt"]


@pytest.mark.parametrize("rel", ["../escape.txt", "/abs.txt", MANIFEST])
def test_the_folder_writes_only_inside_itself(tmp_path, rel):
    from dpomath.verify.folder import ReportFolder

    with pytest.raises(BadValue, match="^rel: "):
        with ReportFolder(tmp_path / "r") as f:
            f.write_text(rel, "x")


def test_an_unwritable_out_is_one_line_exit_2(capsys):
    target = "/proc/dpomath-report" if os.path.isdir("/proc") else "/dev/null/x"
    assert main(["report", "--out", target, "--paper", "F"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("dpomath report: --out: ")


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "x"
    f.write_text("a file")
    assert main(["report", "--out", str(f), "--paper", "F"]) == 2
    assert "is not a folder" in capsys.readouterr().err and f.read_text() == "a file"


def test_a_killed_report_leaves_the_earlier_one_and_no_staging(tmp_path):
    """SIGTERM (a CI timeout, ``kill``) unwinds like Ctrl-C: the earlier report stays as it was
    and the staging folder goes; a staging folder of a process that no longer exists (kill -9)
    is removed by the next run."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r"
    write_report(_results(), out)
    before = _tree(out)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dpomath", "report", "--out", str(out),
                             "--paper", "F", "--paper", "Y"], cwd=tmp_path, env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(1200):  # until the run has started writing (its staging folder exists)
            if any(p.name.startswith(".dpomath-report-staging") for p in out.iterdir()):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the report never started")
        proc.send_signal(signal.SIGTERM)
        err = proc.communicate(timeout=300)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "dpomath report: interrupted"
    assert _tree(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".dpomath-report-staging")]
    stale = out / ".dpomath-report-staging-999999999-x"  # no such process
    stale.mkdir()
    (stale / "half.png").write_bytes(b"half")
    write_report(_results(), out)
    assert not stale.exists()


def test_figures_drawn_inside_out_become_the_reports_own(tmp_path):
    """write_report after the claims drew their figures into DIR/figures (as the browser test
    and notebooks do): those figures are the report's, listed in the manifest; anything else
    in DIR still makes it someone else's folder."""
    out = tmp_path / "r"
    results = [Claim("F-X1", "F", "Theorem 0", "s", "", "symbolic", _check, __name__,
                     source_of(_check)).run(seed=0, figure_dir=out / "figures")]
    write_report(results, out)
    assert {"figures/mine.png", "index.html", "report.json", "report.md"} <= set(
        json.loads((out / MANIFEST).read_text())["files"])
    assert 'src="figures/mine.png"' in (out / "index.html").read_text()
    other = tmp_path / "o"
    results = [Claim("F-X1", "F", "Theorem 0", "s", "", "symbolic", _check, __name__,
                     source_of(_check)).run(seed=0, figure_dir=other / "figures")]
    (other / "notes.txt").write_text("mine")
    with pytest.raises(BadValue, match=r"holds files that no dpomath report wrote \(notes.txt\)"):
        write_report(results, other)
