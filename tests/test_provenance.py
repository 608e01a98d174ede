"""The run block of a report (dpomath.verify.provenance): the git state of the checkout, the
persona data (count, coverage of the paper's 135 behaviours, content hash), versions."""
import shutil
import subprocess

import pytest

from dpomath.verify import provenance


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin:/usr/local/bin"})


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_state_clean_dirty_and_absent(tmp_path):
    assert provenance.git_state(tmp_path)["commit"] is None
    assert "not a git checkout" in provenance.git_state(tmp_path)["note"]
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", "a.py")
    _git(tmp_path, "commit", "-q", "-m", "one")
    clean = provenance.git_state(tmp_path)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False and clean["changed"] == []
    (tmp_path / "untracked.txt").write_text("a report folder, say")
    assert provenance.git_state(tmp_path)["dirty"] is False   # untracked files are not changes
    (tmp_path / "a.py").write_text("x = 2\n")
    dirty = provenance.git_state(tmp_path)
    assert dirty["commit"] == clean["commit"] and dirty["dirty"] is True and dirty["changed"] == ["a.py"]


def test_persona_data_count_coverage_and_hash(tmp_path):
    from dpomath.validation.data import PAPER_BEHAVIOURS, write_example_personas

    n = len(PAPER_BEHAVIOURS)
    a = write_example_personas(tmp_path / "a", PAPER_BEHAVIOURS[:5], n=4)
    (a / "README.md").write_text("not a persona file")
    p = provenance.persona_data(a)
    assert p["configured"] and p["files"] == 5 and p["paper_behaviours"] == f"5 of {n}"
    assert p["missing"] == list(PAPER_BEHAVIOURS[5:]) and "not_in_paper" not in p
    # the same files elsewhere: the same hash; one byte changed or one file fewer: another
    b = tmp_path / "b"
    shutil.copytree(a, b)
    assert provenance.persona_data(b)["sha256"] == p["sha256"]
    f = b / f"{PAPER_BEHAVIOURS[0]}.jsonl"
    f.write_text(f.read_text().replace("statement 0", "statement O"))
    assert provenance.persona_data(b)["sha256"] != p["sha256"]
    (a / f"{PAPER_BEHAVIOURS[4]}.jsonl").unlink()
    q = provenance.persona_data(a)
    assert q["files"] == 4 and q["paper_behaviours"] == f"4 of {n}" and q["sha256"] != p["sha256"]
    write_example_personas(a, ["my-own-persona"], n=2)
    assert provenance.persona_data(a)["not_in_paper"] == ["my-own-persona"]


def test_persona_data_absent_or_wrong():
    assert provenance.persona_data(None) == {
        "configured": False, "note": "no persona data configured (DPOMATH_PERSONA_DIR is not set): "
                                     "the real-model claims are skipped"}
    p = provenance.persona_data("/nonexistent/persona")
    assert p["configured"] and p["note"] == "not a directory"


def test_versions_and_machine():
    v = provenance.package_versions(["numpy", "no-such-distribution-here"])
    import numpy

    assert v == {"numpy": numpy.__version__, "no-such-distribution-here": "not installed"}
    m = provenance.machine()
    assert m["cpus"] and m["arch"] and "host" not in " ".join(m)


def test_shared_persona_copy_shows_its_coverage(persona_dir_shared):
    """The shared copy holds 115 of the 135 behaviours: the run block says so."""
    p = provenance.persona_data(persona_dir_shared)
    have = int(p["paper_behaviours"].split()[0])
    assert p["files"] >= have and p["paper_behaviours"].endswith("of 135")
    assert len(p["missing"]) == 135 - have
