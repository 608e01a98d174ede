"""Persona data: the reader reports bad records with file and line and keeps the rest; the
paper's persona sets are reproduced exactly; missing personas are replaced (seeded, noted);
nested sets nest; the per-persona split is 90/10, seeded and persona-local."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from dpomath._args import BadType, BadValue
from dpomath.validation import data as D

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "persona"


def _rec(q="Is it?", yes=True, **kw):
    r = {"question": q, "statement": "it", "label_confidence": 0.9,
         "answer_matching_behavior": " Yes" if yes else " No",
         "answer_not_matching_behavior": " No" if yes else " Yes"}
    r.update(kw)
    return json.dumps(r)


def test_reader_reports_bad_records_with_file_and_line_and_keeps_the_rest(tmp_path):
    lines = [_rec("q1"), "{not json", "", _rec("q2", yes=False), json.dumps({"question": "q3"}),
             _rec("q4", answer_not_matching_behavior=" Yes"), json.dumps([1, 2]),
             _rec("q5", label_confidence=1.5), _rec("q6", question=7), _rec("q7")]
    p = tmp_path / "agreeableness.jsonl"
    p.write_text("\n".join(lines) + "\n")
    f = D.read_persona_file(p)
    assert [s.line for s in f.statements] == [1, 4, 10]
    assert [s.question for s in f.statements] == ["q1", "q2", "q7"]
    assert f.statements[1].chosen == " No" and f.statements[1].rejected == " Yes"
    assert f.counts == {"kept": 3, "rejected": 6, "blank": 1}
    bad = {b.line: b.reason for b in f.rejected}
    assert set(bad) == {2, 5, 6, 7, 8, 9}
    assert "invalid JSON" in bad[2] and "missing field" in bad[5] and "equals" in bad[6]
    assert "JSON object" in bad[7] and "label_confidence" in bad[8] and "question" in bad[9]
    assert str(f.rejected[0]).startswith(f"{p}:2: ")
    assert f.sha256 == __import__("hashlib").sha256(p.read_bytes()).hexdigest()


def test_reader_limit_caps_kept_records(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text("\n".join(_rec(f"q{i}") for i in range(10)) + "\n")
    f = D.read_persona_file(p, limit=4)
    assert len(f.statements) == 4 and f.limited and [s.line for s in f.statements] == [1, 2, 3, 4]
    assert not D.read_persona_file(p, limit=10).limited
    with pytest.raises(BadValue, match="^limit"):
        D.read_persona_file(p, limit=0)


def test_paper_behaviour_list_is_sorted_and_complete():
    assert len(D.PAPER_BEHAVIOURS) == 135 == len(set(D.PAPER_BEHAVIOURS))
    assert list(D.PAPER_BEHAVIOURS) == sorted(D.PAPER_BEHAVIOURS)


def test_paper_selection_reproduces_the_papers_sets():
    sel = D.select_personas(D.PAPER_BEHAVIOURS, D.PAPER_KS)
    # indices printed by paper I's persona_selection.py and hard-coded in its training script
    assert sel.sets[16] == tuple(D.PAPER_BEHAVIOURS[i] for i in
                                 [23, 46, 29, 3, 128, 124, 63, 16, 119, 17, 22, 131, 11, 69, 77, 123])
    assert sel.sets[1] == (D.PAPER_BEHAVIOURS[112],)
    assert sel.sets[2] == tuple(D.PAPER_BEHAVIOURS[i] for i in [29, 1])
    assert not sel.notes and sel.scheme == "paper"
    # asking for a subset of K gives the same sets (the stream always draws 1, 2, 4, 8, 16)
    sub = D.select_personas(D.PAPER_BEHAVIOURS, [4, 1])
    assert sub.sets == {1: sel.sets[1], 4: sel.sets[4]}


def test_missing_personas_are_replaced_from_those_present_and_noted():
    full = D.select_personas(D.PAPER_BEHAVIOURS, D.PAPER_KS)
    gone = {full.sets[16][0], full.sets[1][0]}
    avail = [p for p in D.PAPER_BEHAVIOURS if p not in gone]
    sel = D.select_personas(avail, D.PAPER_KS)
    for k, s in sel.sets.items():
        assert len(s) == k == len(set(s)) and set(s) <= set(avail)
        kept = [p for p in full.sets[k] if p not in gone]
        assert [p for p in s if p in kept] == kept  # the paper's present members stay, in order
    assert set(sel.substituted) == gone and sel.notes
    assert D.select_personas(avail, D.PAPER_KS).sets == sel.sets  # seeded


def test_own_collection_is_drawn_from_present_names():
    names = [f"value-{i:02d}" for i in range(20)]
    sel = D.select_personas(names, [1, 2, 4, 8])
    assert all(set(s) <= set(names) and len(s) == k for k, s in sel.sets.items())
    assert any("none of the 135" in n for n in sel.notes)


def test_nested_sets_nest_and_start_with_the_papers_k16_draw():
    sel = D.select_personas(D.PAPER_BEHAVIOURS, [1, 2, 4, 8, 16, 20], nested=True)
    paper16 = D.select_personas(D.PAPER_BEHAVIOURS, [16]).sets[16]
    assert sel.sets[16] == paper16
    for a, b in zip([1, 2, 4, 8, 16], [2, 4, 8, 16, 20]):
        assert sel.sets[b][:a] == sel.sets[a]
    assert len(set(sel.sets[20])) == 20


def test_too_many_personas_is_a_clear_error():
    with pytest.raises(BadValue, match="^Ks: K=8 needs 8 personas"):
        D.select_personas(["a", "b", "c"], [1, 8])
    with pytest.raises(BadType, match="^Ks"):
        D.select_personas(["a"], [1.5])


@given(n=st.integers(1, 3000), seed=st.integers(0, 2**31), name=st.text(min_size=1, max_size=20))
def test_split_is_90_10_disjoint_and_seeded(n, seed, name):
    tr, te = D.split_indices(n, name, seed)
    assert len(tr) == min(int(np.floor(0.9 * n)), n - 1) and len(te) == n - len(tr) >= 1
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n))
    tr2, te2 = D.split_indices(n, name, seed)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)


def test_split_depends_on_persona_and_seed():
    a = D.split_indices(100, "agreeableness", 0)[1]
    assert not np.array_equal(a, D.split_indices(100, "narcissism", 0)[1])
    assert not np.array_equal(a, D.split_indices(100, "agreeableness", 1)[1])


def test_template_checks():
    s = D.Statement("p", 1, "Q?", " Yes", " No", statement="S")
    assert D.render_prompt(D.DEFAULT_TEMPLATE, s) == "Q?\n"
    assert D.render_prompt("Human: {statement}\nAssistant:", s) == "Human: S\nAssistant:"
    for bad in ("{answer}", "no fields", "{0}"):
        with pytest.raises(BadValue, match="^template"):
            D.check_template(bad)


def test_example_personas_round_trip(tmp_path):
    d = D.write_example_personas(tmp_path, n=6)
    names = D.list_personas(d)
    sel = D.select_personas(names, [1, 2, 4])
    assert not sel.notes  # the example set holds the paper's K <= 4 personas
    f = D.read_persona_file(d / f"{names[0]}.jsonl")
    assert f.counts == {"kept": 6, "rejected": 0, "blank": 0}
    assert {s.chosen for s in f.statements} == {" Yes", " No"}


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared persona data not present")
def test_shared_persona_data_reads_cleanly():
    sel = D.select_personas(D.list_personas(SHARED), D.PAPER_KS)
    for p in sel.personas:
        f = D.read_persona_file(SHARED / f"{p}.jsonl")
        assert f.rejected == [] and len(f.statements) > 400
        assert {s.chosen for s in f.statements} == {" Yes", " No"}
