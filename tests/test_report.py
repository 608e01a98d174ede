"""The report (dpomath.verify.report) only reads verdicts: the same results give the same
report.json apart from timings; every claim shows where its check is defined."""
import json

import copy

from dpomath.verify.ledger import Claim, Result, Skip, Verdict, source_of, source_path
from dpomath.verify.report import build_report, to_html, to_markdown, write_report


def _check(ctx):
    return Verdict.proved("holds exactly", evidence={"x": 1.5, "n": 3})


def _skipped(ctx):
    raise Skip("no data", enable="set DATA")


def _results():
    a = Claim("F-X1", "F", "Theorem 0", "a statement | with a bar", "x = x", "symbolic", _check,
              __name__, source_of(_check))
    b = Claim("V-X2", "V", "a check", "a statement", "", "empirical", _skipped, __name__,
              source_of(_skipped))
    return [a.run(seed=3), b.run(seed=3)]


def test_report_files_and_source(tmp_path):
    results = _results()
    doc = write_report(results, tmp_path, seed=3)
    assert doc["counts"] == {"PROVED": 1, "SKIPPED": 1}
    data = json.loads((tmp_path / "report.json").read_text())
    first = data["claims"][0]
    assert first["source"] == f"{source_path(__name__)}:{_check.__code__.co_firstlineno}"
    assert first["evidence"] == {"x": 1.5, "n": 3} and data["claims"][1]["status"] == "SKIPPED"
    md = (tmp_path / "report.md").read_text()
    assert f"**Source.** `{first['source']}`" in md and "a statement \\| with a bar" in md
    html = (tmp_path / "index.html").read_text()
    assert f"<code>{first['source']}</code>" in html


def test_same_results_same_json_apart_from_timings(tmp_path):
    a = write_report(_results(), tmp_path / "a", seed=3)
    b = write_report(_results(), tmp_path / "b", seed=3)
    assert to_markdown(a) == to_markdown(b) and to_html(a).count("<section") == 2
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for d in (a, b):
        for c in d["claims"]:
            c.pop("duration_s")
    assert a == b


def test_build_report_runs_selected_papers(tmp_path):
    out = build_report(tmp_path / "r", seed=0, quick=True, papers=["Y"])
    data = json.loads((out / "report.json").read_text())
    ids = [c["id"] for c in data["claims"]]
    assert ids and all(i.startswith("Y-") for i in ids)
    assert all(c["source"].startswith("proofs/paper_y.py:") for c in data["claims"])
    assert Result  # the run loop is ledger.run_claims (imported by the report)
