"""The report (dpomath.verify.report) only reads verdicts: the same results give the same
report.json apart from the run-specific fields; every claim shows where its check is defined;
the run block says where the report comes from; cells are never cut; numbers and SymPy text are
readable; evidence the text already shows is not printed twice."""
import copy
import json
import re
import pathlib

import pytest

from dpomath.verify import provenance
from dpomath.verify.ledger import Claim, Result, Skip, Verdict, source_of, source_path
from dpomath.verify.report import (RUN_SPECIFIC, assets, build_report, to_html, to_markdown,
                                   without_run_specific, write_report)


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
    # the renderer travels with the report: every asset copied, linked relatively
    copied = [rel for rel, _ in assets()]
    assert "katex/katex.min.js" in copied and "katex/LICENSE" in copied
    assert all((tmp_path / rel).is_file() for rel in copied)
    assert 'src="katex/katex.min.js"' in html and 'href="katex/katex.min.css"' in html
    assert '<div class="math" data-tex="x = x">' in html


def _strip_run_specific(doc: dict) -> dict:
    return without_run_specific(doc)


def test_same_results_same_json_apart_from_run_specific_fields(tmp_path):
    import datetime as dt

    t = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    runs = [provenance.collect(seed=3, quick=False, now=t, duration_s=1.0),
            provenance.collect(seed=3, quick=False, now=t + dt.timedelta(hours=5), duration_s=9.0)]
    a = write_report(_results(), tmp_path / "a", seed=3, run=runs[0])
    b = write_report(_results(), tmp_path / "b", seed=3, run=runs[1])
    assert RUN_SPECIFIC == ("run.date", "run.duration_s", "claims[].duration_s",
                            "claims[].evidence.*seconds")
    assert a["run"]["date"] != b["run"]["date"]           # the run-specific fields do differ
    assert a != b
    assert _strip_run_specific(a) == _strip_run_specific(b)
    assert to_html(a).count('<section class="claim"') == 2
    # ... and the comparison is not blind: a changed result is seen
    c = copy.deepcopy(b)
    c["claims"][0]["evidence"]["ode_seconds"] = 2.5    # a timing: run-specific
    assert _strip_run_specific(a) == _strip_run_specific(c)
    c["claims"][0]["evidence"]["x"] = 1.5000001         # a result: seen
    assert _strip_run_specific(a) != _strip_run_specific(c)
    # the Markdown and HTML differ only where the date and wall time are printed
    strip = lambda s: re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|\| wall time \|[^\n]*|"
                             r"<dt>wall time</dt><dd>[^<]*</dd>|\d+\.\d\d s</i>", "", s)
    assert strip(to_markdown(a)) == strip(to_markdown(b))
    assert strip(to_html(a)) == strip(to_html(b))


PROVENANCE_WORDS = ("date", "dpomath", "mode", "seed", "Python", "NumPy", "SciPy", "SymPy",
                    "torch", "transformers", "machine", "device", "model", "persona data")


def test_run_block_at_the_top_of_every_document(tmp_path):
    doc = write_report(_results(), tmp_path, seed=3, quick=True)
    data = json.loads((tmp_path / "report.json").read_text())
    assert list(data)[:4] == ["dpomath_version", "seed", "quick", "run"]
    run = data["run"]
    for key in ("date", "dpomath", "python", "packages", "machine", "device", "mode", "seed",
                "papers", "model", "persona_data", "duration_s"):
        assert key in run, key
    assert run["mode"] == "quick" and run["seed"] == 3
    assert set(provenance.PACKAGES) <= set(run["packages"])
    assert "commit" in run["dpomath"]
    if run["dpomath"]["commit"] is None:
        assert "not a git checkout" in run["dpomath"]["note"] or "git" in run["dpomath"]["note"]
    else:
        assert re.fullmatch(r"[0-9a-f]{40}", run["dpomath"]["commit"]) and "dirty" in run["dpomath"]
    md = (tmp_path / "report.md").read_text()
    html = (tmp_path / "index.html").read_text()
    head_md = md[:md.index("## Claims")]
    head_html = html[:html.index('id="claims"')]
    for word in PROVENANCE_WORDS:
        assert word in head_md, word
        assert word in head_html, word
    assert run["packages"]["numpy"] in head_md and run["packages"]["sympy"] in head_html


def test_persona_data_in_the_run_block(tmp_path, monkeypatch):
    from dpomath.validation.data import PAPER_BEHAVIOURS, write_example_personas

    d = write_example_personas(tmp_path / "persona", PAPER_BEHAVIOURS[:3], n=4)
    monkeypatch.setenv("DPOMATH_PERSONA_DIR", str(d))
    monkeypatch.setenv("DPOMATH_MODEL", str(tmp_path / "no-such-model"))
    run = provenance.collect(seed=0, quick=True)
    p = run["persona_data"]
    assert p["files"] == 3 and p["paper_behaviours"] == f"3 of {len(PAPER_BEHAVIOURS)}"
    assert len(p["missing"]) == len(PAPER_BEHAVIOURS) - 3
    assert run["model"]["used"] is False and "not available" in run["model"]["note"]
    doc = write_report(_results(), tmp_path / "r", seed=0, run=run)
    md = to_markdown(doc)
    assert f"3 JSONL files" in md and f"3 of {len(PAPER_BEHAVIOURS)}" in md
    assert f"{len(PAPER_BEHAVIOURS) - 3} missing" in md and p["sha256"][:16] in md
    # several configured models: one record each, all of them named in the run block
    from dpomath.verify.per_model import using_models
    with using_models([str(tmp_path / "no-such-model"), str(tmp_path / "other-model")]):
        run = provenance.collect(seed=0, quick=True)
    assert [m["used"] for m in run["model"]["models"]] == [False, False]
    md = to_markdown(write_report(_results(), tmp_path / "r2", seed=0, run=run))
    assert "no-such-model" in md and "other-model" in md


def _claim_doc(**fields) -> dict:
    c = {"id": "G-Z1", "paper": "G", "place": "a place", "statement": "a statement", "latex": "",
         "method": "numeric", "source": "x.py:1", "status": "CONFIRMED", "summary": "ok",
         "evidence": {}, "counterexample": None, "figures": [], "details": "", "seed": 0,
         "duration_s": 0.1}
    c.update(fields)
    return {"dpomath_version": "0", "seed": 0, "quick": True, "run": None,
            "counts": {c["status"]: 1}, "import_errors": {}, "claims": [c]}


def test_no_cell_is_cut():
    """The claims table shows each summary whole: a SKIPPED row keeps its enable hint."""
    hint = ("DPOMATH_PERSONA_DIR=/path/to/evals/persona dpomath verify --paper I --paper V "
            "(a copy of github.com/anthropics/evals persona/)")
    summary = "no persona data configured (DPOMATH_PERSONA_DIR is not set) " * 3 + f"(enable with: {hint})"
    doc = _claim_doc(status="SKIPPED", summary=summary, evidence={"enable": hint,
                                                                 "a_long_list": list(range(200))})
    html, md = to_html(doc), to_markdown(doc)
    assert len(summary) > 300
    cell = re.search(r'<td class="result">(.*?)</td>', html, re.S).group(1)
    assert cell == summary  # nothing cut, nothing added
    assert summary in md
    assert ", 199]" in html and "..." not in html and "..." not in md


def test_numbers_and_sympy_sets_readable():
    doc = _claim_doc(summary="value 0.22499999999999998 in Interval.open(0, oo)",
                     evidence={"ratio<1_iff": "rho in Interval.open(0, oo)", "x": 0.22499999999999998,
                               "err": 3.1171273719867976e-05, "twin": "{'beta': 0.6164748663065536}",
                               "set": "Interval(1, oo)", "none": "EmptySet"},
                     details="| member | f'(rho) = 0 on |\n|---|---|\n| hinge | Interval(1, oo) |\n"
                             "| flex | x2**beta_minus*(x1**beta + 1) |\n\nsee `Interval(1, oo)` in code")
    html, md = to_html(doc), to_markdown(doc)
    for out in (html, md):
        assert "0.22499999999999998" not in out and "0.225" in out
        assert "3.11713e-05" in out and "0.616475" in out
        assert "(0, ∞)" in out and "[1, ∞)" in out and "∅" in out
        assert "x2^beta_minus" in out
    assert "<code>Interval(1, oo)</code>" in html   # code is shown as written
    # report.json keeps the value as the check returned it
    assert doc["claims"][0]["evidence"]["x"] == 0.22499999999999998


def test_evidence_the_text_shows_is_not_repeated():
    definition = "per run, Δ_r = change of the mean log π(rejected) over training; drastic iff −Δ_r ≥ 3|Δ_c|"
    per = ["S1 w16 adam lr=0.01 β=0.1: 1.00 [0.63, 1.00]", "S2 w16 adam lr=0.01 β=0.1: 0.50 [0.2, 0.8]"]
    details = (f"**Definition.** {definition}.\n\n| setting | fraction |\n|---|---|\n"
               "| S1 w16 adam lr=0.01 β=0.1 | 1.00 [0.63, 1.00] |\n| S2 w16 adam lr=0.01 β=0.1 | 0.50 [0.2, 0.8] |")
    doc = _claim_doc(evidence={"definition": definition, "per_setting": per, "n_runs": 64,
                               "other": "something the text does not say at all"},
                     details=details)
    html, md = to_html(doc), to_markdown(doc)
    assert html.count("drastic iff") == 1 and md.count("drastic iff") == 1
    assert "Also in the evidence (shown above): definition, per_setting." in html
    assert "something the text does not say at all" in html and ">64<" in html
    # a value the text does not contain is shown, however similar its key
    doc2 = _claim_doc(evidence={"definition": definition}, details="**Definition.** another one.")
    assert "drastic iff" in to_html(doc2)


def test_fidelity_fields_rendered():
    """Scope (under the summary and in the section), negative controls, revisions and
    readings side by side (the fields of dpomath.verify.fidelity)."""
    doc = _claim_doc(
        status="REFUTED", summary="[toy MLP; reading: log] the text", summary_text="the text",
        scope={"on": "toy MLP", "reading": "log", "kind": "toy"},
        controls=[{"variant": "labels shuffled", "outcome": "fails", "measured": "3% of runs"}],
        revisions=[{"old_rule": "κ = 3", "old_verdict": "CONFIRMED", "new_rule": "both readings",
                    "reason": "outside review"}],
        readings=[{"name": "log", "text": "changes of log π", "rank": 1, "why": "'drastically'",
                   "status": "REFUTED", "summary": "no"},
                  {"name": "probability", "text": "changes of π", "rank": 2, "why": "-",
                   "status": "CONFIRMED", "summary": "yes"}],
        reading_rule="rank 1 heads", establishes="", not_testable="")
    html, md = to_html(doc), to_markdown(doc)
    cell = re.search(r'<td class="result">(.*?)</td>', html, re.S).group(1)
    assert cell.startswith("the text") and "scope: toy MLP (toy); reading: log" in cell
    assert "negative controls: 1/1 fail" in cell and "rule revised" in cell
    assert "*(scope: toy MLP (toy); reading: log · negative controls: 1/1 fail · rule revised" in md
    for part in ("Negative controls", "labels shuffled", "outcome-fails", "Revisions of the rule",
                 "κ = 3", "Readings", "changes of log π"):
        assert part in html, part
    for part in ("**Scope.** toy MLP (toy); reading: log", "| labels shuffled | fails | 3% of runs |",
                 "| κ = 3 | CONFIRMED | both readings | REFUTED | outside review |"):
        assert part in md, part


def test_build_report_runs_selected_papers(tmp_path):
    out = build_report(tmp_path / "r", seed=0, quick=True, papers=["Y"])
    data = json.loads((out / "report.json").read_text())
    ids = [c["id"] for c in data["claims"]]
    assert ids and all(i.startswith("Y-") for i in ids)
    # the toy's claims in proofs/, their real-model twins (Y-*-LM, linked to them) in validation/
    assert all(c["source"].startswith("validation/paper_y.py:" if c["id"].endswith("-LM")
                                      else "proofs/paper_y.py:") for c in data["claims"])
    assert any(c["id"].endswith("-LM") for c in data["claims"])
    assert data["run"]["papers"] == ["Y"] and data["run"]["mode"] == "quick"
    assert data["run"]["duration_s"] > 0
    # the toy runs on torch: the run block names the device it used
    assert data["run"]["device"].startswith(("cpu", "cuda"))
    assert Result  # the run loop is ledger.run_claims (imported by the report)


def test_side_by_side_is_html_in_the_page_and_markdown_in_the_md():
    # the committed full report links the toy and real-model claims of paper Y
    doc = json.loads((pathlib.Path(__file__).resolve().parents[1] / "docs" / "report.json").read_text(encoding="utf-8"))
    page = to_html(doc)
    assert '<section id="side-by-side">' in page and '<a href="#claim-y-p1-lm">Y-P1-LM</a>' in page
    assert "## Side by side" not in page and "](#claim-" not in page
    assert "## Side by side" in to_markdown(doc)


def test_each_models_figures_are_paths_inside_the_report(tmp_path):
    """A per-model claim's rows (``models``) carry each model's figures; they were left as the
    absolute paths of the folder the report is built in (a staging folder, renamed after), so
    report.json named files that no longer existed and a machine's paths."""
    from dpomath.verify.fidelity import Control, Scope
    from dpomath.verify.ledger import Status
    from dpomath.verify.per_model import per_model, using_models

    out = tmp_path / "rep"

    @per_model
    def check(ctx, model):
        p = ctx.figure_path("fig.png")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"png")
        return Verdict(Status.CONFIRMED, "ran", figures=[str(p)], controls=[Control("v", failed=True)],
                       scope=Scope(f"{model.name}, fake", kind="model"))

    models = []
    for i in range(2):
        (tmp_path / f"m{i}").mkdir()
        (tmp_path / f"m{i}" / "config.json").write_text("{}")
        models.append(str(tmp_path / f"m{i}"))
    c = Claim("V-X3", "V", "a check", "a statement", "", "empirical", check, __name__, source_of(check))
    with using_models(models):
        r = c.run(seed=0, figure_dir=out / "figures")
    doc = write_report([r], out, seed=0)
    rows = doc["claims"][0]["models"]
    assert [row["figures"] for row in rows] == [["figures/m0_fig.png"], ["figures/m1_fig.png"]]
    assert sorted(doc["claims"][0]["figures"]) == ["figures/m0_fig.png", "figures/m1_fig.png"]
    assert str(out) not in (out / "report.json").read_text()
