"""tools/compare_reports.py: two report.json agree apart from timings and new fields; any other
difference in a result is found."""
import copy
import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location(
    "compare_reports", Path(__file__).resolve().parents[1] / "tools" / "compare_reports.py")
cr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cr)

DOC = {"dpomath_version": "0.1.0", "seed": 0, "quick": True, "counts": {"PROVED": 1},
       "import_errors": {},
       "claims": [{"id": "F-T1", "paper": "F", "place": "Theorem 1", "statement": "s", "latex": "",
                   "method": "symbolic", "status": "PROVED", "summary": "holds",
                   "evidence": {"x": 0.1, "ode_seconds": 1.0, "seconds_total": 3.0,
                                "sweep_seconds_this_process": 4.0, "secondsx": 5.0},
                   "counterexample": None,
                   "figures": [], "details": "", "seed": 0, "duration_s": 1.0}]}


def test_same_apart_from_timings_and_source():
    b = copy.deepcopy(DOC)
    b["claims"][0].update(duration_s=9.0, source="proofs/paper_f.py:31")
    b["claims"][0]["evidence"].update(ode_seconds=2.0, seconds_total=6.0, sweep_seconds_this_process=1.0)
    lines, ok = cr.compare(DOC, b)
    assert ok and "1/1 claims identical" in lines[-1]


def test_a_key_that_only_contains_the_letters_is_a_result():
    b = copy.deepcopy(DOC)
    b["claims"][0]["evidence"]["secondsx"] = 6.0
    lines, ok = cr.compare(DOC, b)
    assert not ok


@pytest.mark.parametrize("path, value", [("status", "REFUTED"), ("summary", "fails"),
                                          ("evidence", {"x": 0.1 + 1e-16, "ode_seconds": 1.0, "seconds_total": 3.0,
                                                       "sweep_seconds_this_process": 4.0, "secondsx": 5.0})])
def test_a_changed_result_is_found(path, value):
    b = copy.deepcopy(DOC)
    b["claims"][0][path] = value
    lines, ok = cr.compare(DOC, b)
    assert not ok and any(f"F-T1.{path}" in ln for ln in lines)


def test_rtol_and_text_fields():
    b = copy.deepcopy(DOC)
    b["claims"][0]["evidence"]["x"] = 0.1 * (1 + 1e-12)
    b["claims"][0]["place"] = "Theorem 1'"
    lines, ok = cr.compare(DOC, b, rtol=1e-9)
    assert ok and any(ln.startswith("~") for ln in lines) and any(ln.startswith("t") for ln in lines)
    assert not cr.compare(DOC, b)[1]


def test_run_block_listed_not_failed():
    """Two runs' run blocks differ in their date (ignored) and may differ in versions or
    commit: listed with 'p', never a failure; a report without a run block compares too."""
    a, b = copy.deepcopy(DOC), copy.deepcopy(DOC)
    a["run"] = {"date": "2025-01-01T00:00:00Z", "duration_s": 3.0, "packages": {"numpy": "2.0"}}
    b["run"] = {"date": "2025-02-01T00:00:00Z", "duration_s": 9.0, "packages": {"numpy": "2.0"}}
    lines, ok = cr.compare(a, b)
    assert ok and not any(ln.startswith("p ") for ln in lines)
    b["run"]["packages"]["numpy"] = "2.1"
    lines, ok = cr.compare(a, b)
    assert ok and "p run.packages.numpy: '2.0' -> '2.1'" in lines
    lines, ok = cr.compare(DOC, b)
    assert ok and any(ln.startswith("p run") for ln in lines)
