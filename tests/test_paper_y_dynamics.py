"""Paper Y dynamics claims: the statistics, the decision rule, and quick-mode verdicts."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpomath import ledger
from dpomath.proofs import paper_y_dynamics as pyd

torch = pytest.importorskip("torch")

IDS = ["Y-P1", "Y-P2", "Y-P3", "Y-ONPOL", "Y-FLEX", "Y-SFT"]


@given(st.integers(1, 200), st.data())
def test_clopper_pearson_matches_scipy(n, data):
    from scipy.stats import binomtest

    k = data.draw(st.integers(0, n))
    lo, hi = pyd.clopper_pearson(k, n)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert lo == pytest.approx(ci.low, abs=1e-12) and hi == pytest.approx(ci.high, abs=1e-12)
    assert lo <= k / n <= hi


def test_decision_rule():
    assert pyd.decide([True, True]) == "confirmed"
    assert pyd.decide([False, False]) == "refuted"
    assert pyd.decide([True, False]) == "qualified"
    with pytest.raises(ValueError):
        pyd.decide([])


def test_condition_is_found_when_one_exists_and_not_invented():
    factors = [{"optimizer": o, "lr": lr, "scenario": sc}
               for o in ("adam", "sgd") for lr in ("low", "high") for sc in (1, 2, 3, 4)]
    appears = [f["optimizer"] == "sgd" and f["lr"] == "low" for f in factors]
    assert pyd.describe_condition(factors, appears) == "optimizer=sgd and lr=low"
    appears = [f["scenario"] in (2, 4) for f in factors]
    assert pyd.describe_condition(factors, appears) == "scenario∈{2, 4}"
    appears = [f["optimizer"] == "sgd" and f["lr"] == "low" and f["scenario"] in (1, 2) for f in factors]
    assert pyd.describe_condition(factors, appears) == "optimizer=sgd and lr=low and scenario∈{1, 2}"
    appears = [f["optimizer"] == "sgd" or f["scenario"] == 3 for f in factors]
    assert pyd.describe_condition(factors, appears) == "optimizer=sgd or scenario=3"
    appears = [f["scenario"] == 1 for f in factors]
    appears[0] = not appears[0]                      # one exception: no exact rule
    assert pyd.describe_condition(factors, appears) == ""
    assert "scenario: 1" in pyd.by_factor(factors, [True] * len(factors))


class _Fake:
    """A stand-in for a ToyResult with chosen metrics set by hand (one setting, 4 seeds)."""

    def __init__(self, **m):
        self.m = {k: np.asarray(v, float) for k, v in m.items()}

    def metric(self, name, s):
        return self.m[name]


def test_indicators_can_show_and_not_show():
    r = _Fake(logp_rejected_end=[-10, -10, -1, -3], logp_rejected_start=[-2, -2, -2, -2],
              logp_chosen_end=[-1.9, -0.5, -1, -2.5], logp_chosen_start=[-2, -2, -2, -2],
              p_chosen_mean_end=[0.05, 0.2, 0.12, 0.10], peak_p_chosen=[0.3, 0.2, 0.2, 0.12],
              p_chosen_mean_start=[0.12] * 4, p_unseen_mass_end=[0.5, 0.1, 0.12, 0.2],
              p_unseen_mass_start=[0.1] * 4)
    assert list(pyd.indicator_p1(r, None)) == [True, True, False, False]
    assert list(pyd.indicator_p2(r, None)) == [True, False, False, True]
    assert list(pyd.indicator_p3(r, None)) == [True, False, True, True]


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


def test_property_verdicts_follow_the_rule(quick_results):
    for cid in ("Y-P1", "Y-P2", "Y-P3"):
        ev = quick_results[cid].verdict.evidence
        k, n = map(int, ev["settings_where_it_appears"].split("/"))
        want = "CONFIRMED" if k == n else "REFUTED" if k == 0 else "QUALIFIED"
        assert quick_results[cid].verdict.status.value == want
        assert len(ev["per_setting"]) == n and len(ev["absent_in"]) == n - k


def test_g_claims_are_proved():
    for cid in ("G-TABULAR", "G-SQUEEZE"):
        v = ledger.get_claim(cid).run(seed=0, quick=True).verdict
        assert v.status.value == "PROVED", (cid, v.summary, v.evidence)


def test_figures_are_written(tmp_path):
    figs = []
    for cid in ("Y-P1", "Y-P3", "Y-FLEX"):
        figs += ledger.get_claim(cid).run(seed=0, quick=True, figure_dir=tmp_path).verdict.figures
    assert len(figs) >= 4
    for f in figs:
        assert f.endswith(".png") and (tmp_path / f.split("/")[-1]).stat().st_size > 10_000
