"""The README's verdict table and counts are generated from docs/report.json (the full report)
and must be current: regenerate with ``python -m dpomath.verify.readme_verdicts report/report.json``
after a full ``make report``."""
import json
from pathlib import Path

import pytest

from dpomath.verify import ledger
from dpomath.verify.readme_verdicts import BEGIN, END, readme_block, update_readme, verdicts_markdown

ROOT = Path(__file__).resolve().parents[1]
DOC = json.loads((ROOT / "docs" / "report.json").read_text(encoding="utf-8"))


def test_readme_block_is_generated_from_the_committed_report():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_block(DOC) in text, (
        "README.md's verdict block is out of date: run `python -m dpomath.verify.readme_verdicts`")


def test_the_committed_report_covers_every_registered_claim():
    assert [c["id"] for c in DOC["claims"]] == list(ledger.registry()), (
        "docs/report.json does not match the registered claims: re-run the full report and "
        "`python -m dpomath.verify.readme_verdicts report/report.json`")
    assert not DOC["quick"] and not DOC["import_errors"]


def test_counts_keep_the_papers_apart_from_dpomaths_own_checks():
    md = verdicts_markdown(DOC)
    assert "**the papers' claims** (" in md and "**dpomath's own checks** (G, V)" in md
    for c in DOC["claims"]:
        assert f"| {c['id']} | {'own' if c['paper'] in ledger.OWN_CHECKS else 'paper'} |" in md


def test_update_readme_rewrites_only_the_block(tmp_path):
    p = tmp_path / "README.md"
    p.write_text(f"intro\n{BEGIN}\nstale\n{END}\noutro\n", encoding="utf-8")
    assert update_readme(p, DOC)
    text = p.read_text(encoding="utf-8")
    assert text.startswith("intro\n") and text.endswith("\noutro\n") and "stale" not in text
    assert not update_readme(p, DOC)
    (tmp_path / "bad.md").write_text("no markers", encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        update_readme(tmp_path / "bad.md", DOC)
