"""Paper Y: the algebra claims, the toy claims' statistics and decision rule
(dpomath.toys.analysis), and their quick-mode verdicts."""
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpomath.verify import ledger
from dpomath.proofs import paper_y as pyd
from dpomath.toys import analysis as A

torch = pytest.importorskip("torch")

IDS = ["Y-P1", "Y-P2", "Y-P3", "Y-ONPOL", "Y-FLEX", "Y-SFT"]


@given(st.integers(1, 200), st.data())
def test_clopper_pearson_matches_scipy(n, data):
    from scipy.stats import binomtest

    k = data.draw(st.integers(0, n))
    lo, hi = A.interval(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    assert lo <= k / n <= hi


def test_decision_rule():
    assert A.decide([True, True]) == "confirmed"
    assert A.decide([False, False]) == "refuted"
    assert A.decide([True, False]) == "qualified"
    with pytest.raises(ValueError):
        A.decide([])


def test_condition_is_found_when_one_exists_and_not_invented():
    factors = [{"optimizer": o, "lr": lr, "scenario": sc}
               for o in ("adam", "sgd") for lr in ("low", "high") for sc in (1, 2, 3, 4)]
    appears = [f["optimizer"] == "sgd" and f["lr"] == "low" for f in factors]
    assert A.describe_condition(factors, appears) == "optimizer=sgd and lr=low"
    appears = [f["scenario"] in (2, 4) for f in factors]
    assert A.describe_condition(factors, appears) == "scenario∈{2, 4}"
    appears = [f["optimizer"] == "sgd" and f["lr"] == "low" and f["scenario"] in (1, 2) for f in factors]
    assert A.describe_condition(factors, appears) == "optimizer=sgd and lr=low and scenario∈{1, 2}"
    appears = [f["optimizer"] == "sgd" or f["scenario"] == 3 for f in factors]
    assert A.describe_condition(factors, appears) == "optimizer=sgd or scenario=3"
    appears = [f["scenario"] == 1 for f in factors]
    appears[0] = not appears[0]                      # one exception: no exact rule
    assert A.describe_condition(factors, appears) == ""
    assert "scenario: 1" in A.by_factor(factors, [True] * len(factors))


class _Fake:
    """A stand-in for a ToyResult with metrics set by hand (one setting, 4 seeds)."""

    def __init__(self, **m):
        self.m = {k: np.asarray(v, float) for k, v in m.items()}

    def metric(self, name, s):
        return self.m[name]


def _prompts(start, peak, end):
    """Per-prompt chosen metrics from (seeds, 4) arrays, with their means as the aggregate ones."""
    start, peak, end = (np.asarray(a, float) for a in (start, peak, end))
    m = {}
    for i in range(4):
        m[f"p_chosen_prompt{i + 1}_start"] = start[:, i]
        m[f"peak_p_chosen_prompt{i + 1}"] = peak[:, i]
        m[f"p_chosen_prompt{i + 1}_end"] = end[:, i]
    m["p_chosen_mean_start"], m["p_chosen_mean_end"] = start.mean(1), end.mean(1)
    m["peak_p_chosen"] = np.maximum(peak.mean(1), np.maximum(start.mean(1), end.mean(1)))
    return m


def test_indicators_can_show_and_not_show():
    s0 = [[0.12] * 4] * 4
    r = _Fake(logp_rejected_end=[-10, -10, -1, -3], logp_rejected_start=[-2, -2, -2, -2],
              logp_chosen_end=[-1.9, -0.5, -1, -2.5], logp_chosen_start=[-2, -2, -2, -2],
              p_unseen_mass_end=[0.5, 0.1, 0.12, 0.2], p_unseen_mass_start=[0.1] * 4,
              **_prompts(s0,
                         [[0.3, 0.2, 0.2, 0.2], [0.2] * 4, [0.12, 0.2, 0.2, 0.2], [0.12, 0.2, 0.2, 0.2]],
                         # seed 0: prompt 1 ends far below its peak and its start
                         # seed 1: every prompt ends at its peak; seed 2: prompt 1 ends below its
                         # start but within 90 % of its (start) peak; seed 3: prompt 1 ends at
                         # 0.10 ≤ 0.9·0.12 and < 0.12
                         [[0.05, 0.2, 0.2, 0.2], [0.2] * 4, [0.11, 0.2, 0.2, 0.2], [0.10, 0.2, 0.2, 0.2]]))
    assert list(A.indicator_p1(r, None)) == [True, True, False, False]
    assert list(A.indicator_p2(r, None)) == [True, False, False, True]
    assert list(A.indicator_p3(r, None)) == [True, False, True, True]
    assert A.degraded_prompts(r, None).sum() == 2


def test_one_falling_prompt_is_degradation_even_when_the_mean_rises():
    """The case the mean-over-prompts definition missed: three prompts' chosen rise, one falls
    from 0.12 to 0.01 — the mean rises (0.12 → 0.2425), the run degrades."""
    start = [[0.12] * 4]
    end = [[0.01, 0.32, 0.32, 0.32]]
    peak = [[0.13, 0.32, 0.32, 0.32]]
    r = _Fake(**_prompts(start, peak, end))
    assert r.metric("p_chosen_mean_end", None)[0] > r.metric("p_chosen_mean_start", None)[0]
    assert list(A.indicator_p2_mean(r, None)) == [False]
    assert list(A.indicator_p2(r, None)) == [True]
    assert A.degraded_prompts(r, None).tolist() == [[True, False, False, False]]
    assert A.severity(r, None, "P2")[0] == pytest.approx(1 - 0.01 / 0.12)
    assert A.severity(r, None, "P2-mean")[0] < 0
    # the same run with no prompt below its start: no degradation
    r2 = _Fake(**_prompts(start, [[0.5, 0.32, 0.32, 0.32]], [[0.13, 0.32, 0.32, 0.32]]))
    assert list(A.indicator_p2(r2, None)) == [False]


@pytest.mark.parametrize("lo, hi, want", [(0.0, 0.0029, "0.000–0.003"), (0.0, 0.17, "0.00–0.17"),
                                          (0.9987, 1.0, "0.999–1.000"), (2e-5, 0.004, "0.00002–0.00400"),
                                          (0.51, 0.57, "0.51–0.57")])
def test_intervals_never_round_a_nonzero_bound_to_zero(lo, hi, want):
    assert A.fmt_interval(lo, hi) == want


@given(st.integers(1, 5000), st.data())
def test_fraction_strings_show_nonzero_bounds(n, data):
    k = data.draw(st.integers(0, n))
    text = A.frac_str(np.arange(n) < k)
    frac, lo, hi = (float(v) for v in text.replace("[", "").replace("]", "").replace(",", "").split())
    lo_, hi_ = A.interval(k, n)
    for shown, true in ((frac, k / n), (lo, lo_), (hi, hi_)):
        assert (shown == 0) == (true == 0) and (shown == 1) == (true == 1)


@pytest.fixture(scope="module")
def quick_results():
    return {cid: ledger.get_claim(cid).run(seed=0, quick=True) for cid in IDS}


@pytest.mark.parametrize("cid", IDS)
def test_claims_give_non_error_verdicts_in_quick_mode(quick_results, cid):
    v = quick_results[cid].verdict
    assert v.status.value not in ("ERROR", "SKIPPED"), v.summary
    assert v.evidence["definition"] == pyd.DEFINITIONS[cid]
    assert v.evidence["criterion"] == pyd.CRITERIA[cid]
    assert "settings_swept" in v.evidence and v.evidence["n_seeds"] >= 8
    assert v.evidence["time_rule"] == pyd.TIME_RULE[cid][0]


def test_property_verdicts_follow_the_rule(quick_results):
    """The headline status is the rank-1 reading's, decided over its cells by the time rule."""
    for cid in ("Y-P1", "Y-P2", "Y-P3"):
        d = quick_results[cid].to_dict()
        head = min(pyd.READINGS[cid], key=lambda r: r[2])[0]
        assert d["headline_reading"] == head
        assert d["readings"][0]["name"] == head and d["readings"][0]["status"] == d["status"]
        k, n = map(int, d["evidence"]["cells"].split("appears in ")[1].split(" cells")[0].split("/"))
        want = "CONFIRMED" if k == n else "REFUTED" if k == 0 else "QUALIFIED"
        assert d["status"] == want
        tr = pyd.TIME_RULE[cid][0]
        ncp = len(d["evidence"]["checkpoints"])
        assert n == d["evidence"]["n_settings"] * (ncp if tr == "trajectory" else 1)


@pytest.mark.parametrize("cid", IDS)
def test_every_verdict_is_scoped_with_readings_and_revisions(quick_results, cid):
    d = quick_results[cid].to_dict()
    assert d["scope"]["kind"] == "toy" and "toy" in d["summary"] and d["summary"].startswith("[")
    assert [r["name"] for r in d["readings"]] == [r[0] for r in sorted(pyd.READINGS[cid], key=lambda r: r[2])]
    assert len(d["revisions"]) >= 1
    for rv in d["revisions"]:
        assert all(rv[k].strip() for k in ("old_rule", "old_verdict", "new_rule", "reason"))
        assert rv["old_verdict"] in ("CONFIRMED", "QUALIFIED", "REFUTED", "INCONCLUSIVE")
    assert any("outside review" in rv["reason"] for rv in d["revisions"])
    # the trajectory is reported at every checkpoint
    for e in d["evidence"]["checkpoints"]:
        assert f"{e}:" in d["evidence"]["readings_side_by_side"][0] or d["readings"][0]["status"] == "INCONCLUSIVE"


@pytest.mark.parametrize("cid", IDS)
def test_every_confirmed_reading_has_a_control_that_fails(quick_results, cid):
    """A CONFIRMED verdict (the headline or any reading) has a negative control whose outcome is
    failure; a control that passes comes with what the check establishes."""
    d = quick_results[cid].to_dict()
    for r in d["readings"]:
        if r["status"] != "CONFIRMED":
            continue
        mine = [c for c in d["controls"]
                if c["variant"].startswith(f"[{r['name']}] ") or (r["name"] == d["headline_reading"]
                                                                 and not c["variant"].startswith("["))]
        assert mine, (cid, r["name"])
        assert any(c["outcome"] == "fails" for c in mine), (cid, r["name"], mine)
    if any(c["outcome"] == "passes" for c in d["controls"]):
        assert d["establishes"].strip()


def test_first_revisions_stay_visible(quick_results):
    """Y-P2, Y-SFT and Y-ONPOL keep the first (mean over prompts → per prompt) revision, with the
    verdict of the mean-based rule recomputed on the same sweep."""
    for cid in ("Y-P2", "Y-SFT", "Y-ONPOL"):
        d = quick_results[cid].to_dict()
        first = [rv for rv in d["revisions"] if "paper_y_toy_adam.png" in rv["reason"]]
        assert len(first) == 1 and "mean over prompts" in (first[0]["old_rule"] + first[0]["reason"])
        # shown by the report from the verdict's fields (the details do not repeat them)
        from dpomath.verify import report
        shown = "\n".join(report._md_fidelity(d))
        assert "Revisions of the rule" in shown and first[0]["old_verdict"] in shown


def test_y_p1_is_decided_in_both_coordinates(quick_results):
    d = quick_results["Y-P1"].to_dict()
    assert {r["name"] for r in d["readings"]} == {"log", "probability"}
    assert "median_ratio_prob_at_end" in d["evidence"] and "median_ratio_log_at_end" in d["evidence"]


def test_g_claims_are_proved():
    for cid in ("G-TABULAR", "G-SQUEEZE"):
        v = ledger.get_claim(cid).run(seed=0, quick=True).verdict
        assert v.status.value == "PROVED", (cid, v.summary, v.evidence)


def test_figures_are_written(tmp_path):
    figs = []
    for cid in ("Y-P1", "Y-P3", "Y-FLEX"):
        figs += ledger.get_claim(cid).run(seed=0, quick=True, figure_dir=tmp_path).verdict.figures
    assert len(figs) >= 5 and any(f.endswith("paper_y_flex_saturation.png") for f in figs)
    for f in figs:
        assert f.endswith(".png") and (tmp_path / f.split("/")[-1]).stat().st_size > 10_000
