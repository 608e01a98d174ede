"""What a verdict rests on (dpomath.verify.fidelity): scope, negative controls, revisions,
readings side by side, 'not testable', counts kept apart, log-scale comparisons."""
import json

import pytest

from dpomath.verify import ledger
from dpomath.verify.fidelity import (READING_RULE, Control, Reading, Revision, Scope, control,
                                     decide_readings, log_compare)
from dpomath.verify.ledger import Status, Verdict, claim, get_claim, registry


@pytest.fixture
def throwaway():
    made = []

    def register(cid, fn, **kw):
        kw = {"paper": "G", "place": "test", "statement": "a throwaway claim", "method": "numeric", **kw}
        claim(cid, **kw)(fn)
        made.append(cid)
        return get_claim(cid)

    yield register
    for cid in made:
        ledger._REGISTRY.pop(cid, None)
    assert not any(c.startswith("G-ZZ") for c in registry())


def test_scope_heads_the_summary_line_and_json(throwaway):
    c = throwaway("G-ZZSCOPE", lambda ctx: Verdict.proved(
        "holds", controls=[control("a wrong constant", holds=False, measured="diff 1")]),
        scope=Scope("SymPy on an instance (n = 3)", kind="instance"))
    r = c.run()
    d = r.to_dict()
    assert d["summary"] == "[SymPy on an instance (n = 3)] holds" == r.summary_line
    assert d["summary_text"] == "holds"
    assert d["scope"] == {"on": "SymPy on an instance (n = 3)", "reading": "", "kind": "instance"}
    assert d["controls"] == [{"variant": "a wrong constant", "outcome": "fails", "measured": "diff 1"}]
    # the JSON contract's keys are all still there
    for k in ("id", "paper", "status", "summary", "evidence", "place", "statement", "method",
              "source", "details", "seed", "duration_s", "figures", "counterexample"):
        assert k in d
    json.dumps(d)


def test_verdict_scope_overrides_the_claims(throwaway):
    c = throwaway("G-ZZSC2", lambda ctx: Verdict.confirmed(
        "ok", scope=Scope("toy, 3 seeds", kind="toy"), controls=[Control("shuffled", failed=True)]),
        scope=Scope("general"))
    assert c.run().to_dict()["scope"]["on"] == "toy, 3 seeds"


def test_bad_records_are_rejected():
    with pytest.raises(ValueError, match="on"):
        Scope("")
    with pytest.raises(ValueError, match="kind"):
        Scope("x", kind="galaxy")
    with pytest.raises(ValueError, match="variant"):
        Control("", failed=True)
    with pytest.raises(ValueError, match="reason"):
        Revision("a", "REFUTED", "b", "")
    with pytest.raises(TypeError, match="controls"):
        Verdict.proved("x", controls=["not a control"])
    with pytest.raises(ValueError, match="not_testable"):
        Verdict.refuted("x", not_testable="why")
    with pytest.raises(ValueError, match="why"):
        Verdict.untestable("x", why="")


def test_a_confirmation_whose_control_passes_must_say_what_it_establishes(throwaway):
    weak = throwaway("G-ZZWEAK", lambda ctx: Verdict.confirmed(
        "holds", controls=[Control("window 10x tighter", failed=False)]))
    r = weak.run()
    assert r.verdict.status is Status.ERROR and "establishes" in r.verdict.summary
    ok = throwaway("G-ZZWEAK2", lambda ctx: Verdict.confirmed(
        "holds", controls=[Control("window 10x tighter", failed=False), Control("1000x", failed=True)],
        establishes="holds trivially where the bound is non-vacuous (slack 1e3)"))
    d = ok.run().to_dict()
    assert d["status"] == "CONFIRMED" and d["establishes"].startswith("holds trivially")
    assert [k["outcome"] for k in d["controls"]] == ["passes", "fails"]


def test_revision_is_recorded():
    rv = Revision("old rule", "REFUTED", "new rule", "outside review")
    v = Verdict.qualified("x", revisions=[rv])
    assert v.to_fields()["revisions"] == [{"old_rule": "old rule", "old_verdict": "REFUTED",
                                          "new_rule": "new rule", "reason": "outside review"}]


def _readings(strong_rank, weak_rank):
    strong = Reading("size", "'vanishes' = |grad| -> 0", strong_rank, "the words 'vanishes'",
                     Verdict.refuted("diverges", controls=[Control("flipped", failed=True)]))
    weak = Reading("flow", "'vanishes' = flow lines end", weak_rank, "'in the area of low x1' too",
                   Verdict.qualified("holds for beta < 1"))
    return [strong, weak]


def test_readings_headline_is_the_best_ranked_not_the_stronger():
    v = decide_readings(_readings(2, 1))
    assert v.status is Status.QUALIFIED and v.headline_reading == "flow"
    assert [r["name"] for r in v.readings] == ["flow", "size"]
    assert v.readings[1]["status"] == "REFUTED" and "'size' reading: REFUTED" in v.summary
    assert v.reading_rule == READING_RULE and v.scope.reading
    assert v.controls[0].variant.startswith("[size]")  # no reading's control is hidden
    v2 = decide_readings(_readings(1, 2))
    assert v2.status is Status.REFUTED and v2.headline_reading == "size"


def test_readings_need_distinct_ranks():
    with pytest.raises(ValueError, match="rank"):
        decide_readings(_readings(1, 1))
    with pytest.raises(ValueError, match="two"):
        decide_readings(_readings(1, 2)[:1])


def test_untestable_is_inconclusive_and_counted_apart(throwaway):
    c = throwaway("V-ZZNT", lambda ctx: Verdict.untestable("rows move exactly opposite",
                                                          why="shared tokens"), paper="V")
    d = c.run().to_dict()
    assert d["status"] == "INCONCLUSIVE" and d["not_testable"] == "shared tokens"
    counts = ledger.count_statuses([d, {"paper": "F", "status": "REFUTED"}])
    assert counts == {"papers": {"REFUTED": 1}, "own": {"INCONCLUSIVE": 1, "not testable": 1}}
    ledger._REGISTRY.pop("V-ZZNT", None)


def test_counts_keep_papers_apart_from_own_checks():
    rows = [{"paper": p, "status": s} for p, s in
            [("F", "PROVED"), ("I", "REFUTED"), ("G", "PROVED"), ("V", "REFUTED"), ("Y", "PROVED")]]
    assert ledger.count_statuses(rows) == {"papers": {"PROVED": 2, "REFUTED": 1},
                                          "own": {"PROVED": 1, "REFUTED": 1}}
    assert ledger.is_own_check("G") and ledger.is_own_check("V") and not ledger.is_own_check("F")
    assert ledger.OWN_CHECKS <= set(ledger.PAPERS)


@pytest.mark.parametrize("a,b,expected", [
    (1e-23 - 1, -1.0, 0),          # float rounding made them equal: a tie, not a decision
    (-1.0 + 1e-3, -1.0, 1), (2.0, 1.0, 1), (1.0, 2.0, -1), (1.0, 1.0 + 1e-9, 0),
    (0.0, 0.0, 0), (0.0, 1e-300, -1), (-1.0, 1.0, -1), (1e-17, 1e-23, 1)])
def test_log_compare(a, b, expected):
    assert log_compare(a, b, rtol=1e-6) == expected


def test_log_compare_absolute_tolerance():
    assert log_compare(0.0, 1e-20, atol=1e-12) == 0
    assert log_compare(float("inf"), 1.0) == 1
