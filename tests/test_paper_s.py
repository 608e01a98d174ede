"""Paper S's claims in quick mode: verdicts, scope, negative controls, the revision record."""
import pytest

from dpomath.verify.ledger import Status, get_claim

pytest.importorskip("torch")

DECIDED = {"S-SQUEEZE": Status.PROVED, "S-TOPK": Status.PROVED, "S-FROB": Status.PROVED,
           "S-AKG": Status.CONFIRMED}


@pytest.fixture(scope="module")
def results():
    ids = list(DECIDED) + ["S-SMALL", "S-PEAKY"]
    return {cid: get_claim(cid).run(seed=0, quick=True) for cid in ids}


@pytest.mark.parametrize("cid", DECIDED)
def test_verdict_scope_and_failing_control(results, cid):
    v = results[cid].verdict
    assert v.status is DECIDED[cid], v.summary
    assert v.evidence["scope"]
    assert v.evidence["negative_control"] and v.evidence["negative_control_failed"] is True


def test_qualitative_statements_follow_their_fixed_rule(results):
    from dpomath.proofs.paper_s import READINGS

    for cid in ("S-SMALL", "S-PEAKY"):
        v = results[cid].verdict
        assert v.evidence["reading"] == READINGS[cid]
        if v.status is Status.CONFIRMED:
            assert v.evidence["violations" if cid == "S-PEAKY" else "violations_y*_gain"] == 0
            assert v.evidence["negative_control_failed"] is True
        else:
            assert v.status is Status.QUALIFIED and v.counterexample


def test_squeeze_numbers_and_revision(results):
    ev = results["S-SQUEEZE"].verdict.evidence
    assert ev["ybar_not_falling"] == 0 and ev["mode_not_rising"] == 0
    assert ev["closed_form_vs_autograd_max_abs"] < 1e-10
    rev = ev["revision"]
    assert rev["old_rule"] and rev["new_rule"] and rev["old_rule_verdict_this_run"] in ("PROVED", "INCONCLUSIVE")
    ev = results["S-TOPK"].verdict.evidence
    assert ev["rises_iff_threshold_violations"] == 0 and ev["not_top_k_violations"] == 0
    assert ev["first_order_vs_G_SQUEEZE_squeeze_change_max_abs"] < 1e-4
    lo, hi = results["S-AKG"].verdict.evidence["error_ratio_eta_over_half_eta_mlp"]
    assert 3.5 <= lo <= hi <= 4.5
