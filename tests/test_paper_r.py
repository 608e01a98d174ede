"""Paper R's claims in quick mode: verdicts, scope, negative controls that fail."""
import numpy as np
import pytest

from dpomath.verify.ledger import Status, get_claim

pytest.importorskip("torch")

EXPECTED = {"R-STEP": Status.PROVED, "R-DISPLACE": Status.PROVED, "R-GAIN": Status.PROVED,
            "R-THM6": Status.CONFIRMED, "R-CHES": Status.CONFIRMED}


@pytest.fixture(scope="module")
def results():
    return {cid: get_claim(cid).run(seed=0, quick=True) for cid in EXPECTED}


@pytest.mark.parametrize("cid", EXPECTED)
def test_verdict_scope_and_failing_control(results, cid):
    v = results[cid].verdict
    assert v.status is EXPECTED[cid], v.summary
    assert v.evidence["scope"]
    assert v.evidence["negative_control"] and v.evidence["negative_control_failed"] is True


def test_numbers(results):
    ev = results["R-STEP"].verdict.evidence
    assert ev["facts_not_reduced"] == [] and ev["exact_vs_autograd_max_rel"] < 1e-9
    assert ev["twin_max_rel_diff"] < 1e-40 and ev["negative_control_symbolic_reduces"] is False
    ev = results["R-DISPLACE"].verdict.evidence
    agree, counted = map(int, ev["sign_agreement_at_eta_1e-3"].split("/"))
    assert agree == counted > 0 and ev["m_nonnegative"] and ev["d_bracket_d_alignment_negative"]
    ev = results["R-GAIN"].verdict.evidence
    assert ev["finite_step_order_equals_score_order"] == f"{ev['cases']}/{ev['cases']}"
    assert results["R-CHES"].verdict.evidence["ches_vs_loop_twin_max_rel"] <= 1e-6


def test_same_verdict_alone_and_by_seed():
    a = get_claim("R-GAIN").run(seed=3, quick=True).verdict
    b = get_claim("R-GAIN").run(seed=3, quick=True).verdict
    assert a.evidence == b.evidence


def test_ches_loop_twin_of_the_ledger_rejects_a_wrong_convention():
    """The ledger's own loop twin (proofs.paper_r.ches_loops) differs from the companion-script
    convention (final position kept)."""
    from dpomath.proofs.paper_r import ches_loops

    rng = np.random.default_rng(0)
    H1, H2 = rng.normal(0, 1, (1, 5, 3)), rng.normal(0, 1, (1, 4, 3))
    c, _ = ches_loops(H1.tolist(), H2.tolist(), [1], [1])
    s1, s2 = H1[0, 1:].sum(0), H2[0, 1:].sum(0)          # keeps the final position
    assert abs(c[0] - (s1 @ s2 - s1 @ s1)) > 1e-3
    s1, s2 = H1[0, 1:-1].sum(0), H2[0, 1:-1].sum(0)      # ches.py
    assert c[0] == pytest.approx(s1 @ s2 - s1 @ s1, rel=1e-12)


def test_cli_verify_selects_papers_r_and_s(capsys):
    import json

    from dpomath.verify.cli import main

    assert main(["verify", "--paper", "R", "--paper", "S", "--claim", "R-CHES", "S-FROB", "--quick", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in doc["claims"]] == ["R-CHES", "S-FROB"]
    assert {c["paper"] for c in doc["claims"]} == {"R", "S"}
