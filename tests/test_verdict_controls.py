"""Every PROVED/CONFIRMED verdict has a negative control whose outcome is failure (the same
check on a deliberately false variant, rejected), and every reported verdict has a scope.

Checked live (quick mode) for every paper whose claims run without the persona data, and on the
committed full report (docs/report.json), which also holds the real-model claims."""
import json
from pathlib import Path

import pytest

from dpomath.verify import ledger

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "docs" / "report.json"

#: Papers whose verdicts do not carry their controls yet (strict: the test fails as soon as
#: they do, so the mark is removed then). Live checks: none pending.
PENDING: dict = {}
#: Papers whose rows in the committed full report (docs/report.json) predate their controls:
#: regenerate the full report, then remove the entry.
PENDING_SNAPSHOT: dict = {}


def _mark(letter, pending=PENDING):
    if letter in pending:
        return pytest.param(letter, marks=pytest.mark.xfail(strict=True, reason=pending[letter]))
    return letter


def _problems(rows):
    out = []
    for d in rows:
        if d["status"] in ("SKIPPED", "ERROR"):
            continue
        if not d.get("scope"):
            out.append(f"{d['id']}: no scope")
        if d["status"] in ("PROVED", "CONFIRMED"):
            if not any(c["outcome"] == "fails" for c in d.get("controls") or []):
                out.append(f"{d['id']} {d['status']}: no negative control that fails")
            if any(c["outcome"] == "passes" for c in d["controls"]) and not d.get("establishes"):
                out.append(f"{d['id']}: a control passes but the verdict does not say what it establishes")
    return out


@pytest.fixture(scope="module")
def quick_results():
    cache = {}

    def run(letter):
        if letter not in cache:
            claims = [c for c in ledger.select([letter], None) if c.method != "empirical"]
            cache[letter] = [r.to_dict() for r in ledger.run_claims(claims, seed=0, quick=True)]
        return cache[letter]
    return run


@pytest.mark.parametrize("letter", [_mark(p) for p in ledger.paper_letters() if p != "V"])
def test_live_verdicts_have_scope_and_a_failing_control(letter, quick_results):
    rows = quick_results(letter)
    assert rows, f"paper {letter} has no claims that run without data"
    assert not [d["id"] for d in rows if d["status"] == "ERROR"]
    assert _problems(rows) == []


@pytest.mark.parametrize("letter", [_mark(p, PENDING_SNAPSHOT) for p in ledger.paper_letters()])
def test_full_report_verdicts_have_scope_and_a_failing_control(letter):
    doc = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    rows = [d for d in doc["claims"] if d["paper"] == letter]
    assert rows, f"docs/report.json has no claims of paper {letter}"
    assert _problems(rows) == []


def test_refutations_are_never_untestable_and_counts_exclude_them():
    doc = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    for d in doc["claims"]:
        if d.get("not_testable"):
            assert d["status"] == "INCONCLUSIVE", d["id"]
    counts = ledger.count_statuses(doc["claims"])
    assert doc["counts_by_kind"] == counts
    assert sum(sum(v for k, v in c.items() if k != "not testable") for c in counts.values()) == len(doc["claims"])


def test_the_rule_itself_can_fail():
    ok = {"id": "X-1", "status": "PROVED", "scope": {"on": "x"}, "establishes": "",
          "controls": [{"variant": "wrong", "outcome": "fails", "measured": ""}]}
    assert _problems([ok]) == []
    assert _problems([{**ok, "controls": []}]) == ["X-1 PROVED: no negative control that fails"]
    assert _problems([{**ok, "controls": [{"variant": "v", "outcome": "passes", "measured": ""}]}]) == [
        "X-1 PROVED: no negative control that fails",
        "X-1: a control passes but the verdict does not say what it establishes"]
    assert _problems([{**ok, "scope": None}]) == ["X-1: no scope"]
    assert _problems([{**ok, "status": "SKIPPED", "scope": None, "controls": []}]) == []
