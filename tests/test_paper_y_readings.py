"""Paper Y's decision rules on hand-made cases: both coordinates, every reading, the
trajectory (checkpoints, phase, time rules), ties on a log scale (dpomath.toys.analysis)."""
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dpomath.toys import analysis as A


class _Fake:
    """A stand-in for a ToyResult: metrics by name (one setting, several seeds)."""

    def __init__(self, **m):
        self.m = {k.replace("AT", "@"): np.asarray(v, float) for k, v in m.items()}

    def metric(self, name, s):
        return self.m[name]


# --------------------------------------------------------------------------------------------
# ties on a log scale: no decision turns on float rounding

def test_compare_ties_within_the_tolerance_and_orders_beyond_it():
    a = np.array([0.0, 0.0, 0.0, -1.0])
    b = np.array([0.0, A.TIE_TOL * 0.999, A.TIE_TOL * 1.001, -2.0])
    assert A.compare(a, b).tolist() == [0, 0, -1, 1]
    assert A.compare(b, a).tolist() == [0, 0, 1, -1]


def test_compare_of_log_masses_is_not_decided_by_rounding():
    """The review's case: masses falling from 1 to 1e-23 and to 1e-17 — in float64 the relative
    changes 1e-23 − 1 and 1e-17 − 1 are both −1.0 (a rounding tie); on a log scale they are
    −53 and −39 nats apart, not a tie."""
    rel = np.array([1e-23, 1e-17]) / 1.0 - 1
    assert rel[0] == rel[1] == -1.0                     # the rounding tie of the old rule
    logs = np.log([1e-23, 1e-17])
    assert A.compare(logs[:1], logs[1:]).tolist() == [-1]
    # equal masses are a tie however small
    assert A.compare(np.log([1e-300]), np.log([1e-300])).tolist() == [0]


def test_compare_ratio_scale_is_relative_and_never_ties_opposite_signs():
    assert A.compare([30.0, 30.0, -2.0, 0.0], [30.29, 30.31, 2.0, 0.0], scale="ratio").tolist() == [0, -1, -1, 0]
    with pytest.raises(ValueError):
        A.compare([np.nan], [1.0])
    with pytest.raises(ValueError):
        A.compare([1.0], [1.0], scale="linear")


@given(st.floats(-50, 50), st.floats(-0.5, 0.5))
def test_compare_is_antisymmetric(a, d):
    assume(abs(abs(d) - A.TIE_TOL) > 1e-9)        # a + d − a is d only up to rounding
    x, y = A.compare([a], [a + d])[0], A.compare([a + d], [a])[0]
    assert x == -y
    assert (x == 0) == (abs(d) <= A.TIE_TOL)


def test_severity_p3_on_tiny_masses():
    """Y-ONPOL's P3 severity: log gain of the unseen mass from the log-sum-exp statistic."""
    r = _Fake(log_unseen_mass_start=np.log([0.16, 0.16]), log_unseen_massAT50=np.log([1e-23, 1e-17]))
    sev, scale = A.severity_at(r, None, "P3", 50)
    assert scale == "log"
    np.testing.assert_allclose(sev, np.log([1e-23 / 0.16, 1e-17 / 0.16]))
    assert A.compare(sev[:1], sev[1:]).tolist() == [-1]


# --------------------------------------------------------------------------------------------
# Y-P1 in both coordinates

def _p1_fake():
    # seed 0: log drop large (−2.1 → −20.7), chosen +0.69 in log; in probability the rejected falls by
    #         0.12 while the chosen rises by 0.12 → log yes, probability no
    # seed 1: both coordinates: rejected 0.5 → 0.01, chosen 0.1 → 0.11
    # seed 2: the rejected rises: neither
    lr0, lr1 = np.log([0.12, 0.5, 0.1]), np.log([1e-9, 0.01, 0.2])
    lc0, lc1 = np.log([0.12, 0.1, 0.3]), np.log([0.24, 0.11, 0.3])
    return _Fake(logp_rejected_start=lr0, logp_rejectedAT50=lr1, logp_chosen_start=lc0, logp_chosenAT50=lc1,
                 p_rejected_mean_start=np.exp(lr0), p_rejected_meanAT50=np.exp(lr1),
                 p_chosen_mean_start=np.exp(lc0), p_chosen_meanAT50=np.exp(lc1),
                 logp_unseen_start=lr0, logp_unseenAT50=lr1,
                 p_unseen_mass_start=2 * np.exp(lr0), p_unseen_massAT50=2 * np.exp(lr1))


def test_p1_is_decided_in_both_coordinates():
    r = _p1_fake()
    assert A.p1(r, None, 50, "log").tolist() == [True, True, False]
    assert A.p1(r, None, 50, "prob").tolist() == [False, True, False]
    # ten times tighter: log(0.12/1e-9) = 18.6 < 30·log 2 = 20.8; log(0.5/0.01) = 3.9 ≥ 30·log 1.1 = 2.9
    assert A.p1(r, None, 50, "log", kappa=30).tolist() == [False, True, False]
    # the placebo reads the unseen responses (here made equal to the rejected: same answer; the
    # probability placebo uses the per-response mass, mass / 2)
    assert A.p1(r, None, 50, "log", "placebo").tolist() == [True, True, False]
    assert A.p1(r, None, 50, "prob", "placebo").tolist() == [False, True, False]
    with pytest.raises(ValueError):
        A.p1(r, None, 50, "linear")


# --------------------------------------------------------------------------------------------
# Y-P2: per prompt, at the mean (probability and log), and the half "rather than raising"

def _p2_fake(start, peak, now, t=50):
    start, peak, now = (np.asarray(a, float) for a in (start, peak, now))
    m = {}
    for i in range(4):
        m[f"p_chosen_prompt{i + 1}_start"] = start[:, i]
        m[f"peak_p_chosen_prompt{i + 1}AT{t}"] = peak[:, i]
        m[f"p_chosen_prompt{i + 1}AT{t}"] = now[:, i]
    m["p_chosen_mean_start"], m[f"p_chosen_meanAT{t}"] = start.mean(1), now.mean(1)
    m[f"peak_p_chosen_meanAT{t}"] = np.maximum(peak.mean(1), np.maximum(start.mean(1), now.mean(1)))
    ls, ln = np.log(start).mean(1), np.log(now).mean(1)
    m["logp_chosen_start"], m[f"logp_chosenAT{t}"] = ls, ln
    m[f"peak_logp_chosenAT{t}"] = np.maximum(np.log(peak).mean(1), np.maximum(ls, ln))
    return _Fake(**m)


def test_p2_readings_side_by_side():
    """Seed 0: one prompt falls 0.12 → 0.001, three rise to 0.32 — per prompt yes, the mean
    probability rises (no), the mean log-probability falls (log 0.001 + 3 log 0.32 < 4 log 0.12).
    Seed 1: every prompt rises — no reading shows it."""
    r = _p2_fake([[0.12] * 4] * 2, [[0.13, 0.32, 0.32, 0.32], [0.3] * 4],
                 [[0.001, 0.32, 0.32, 0.32], [0.3] * 4])
    assert A.p2(r, None, 50, "per_prompt").tolist() == [True, False]
    assert A.p2(r, None, 50, "mean_prob").tolist() == [False, False]
    assert A.p2(r, None, 50, "mean_log").tolist() == [True, False]
    assert A.p2_not_raised(r, None, 50, "per_prompt").tolist() == [True, False]
    assert A.p2_not_raised(r, None, 50, "mean_prob").tolist() == [False, False]
    assert A.p2_not_raised(r, None, 50, "mean_log").tolist() == [True, False]
    with pytest.raises(ValueError):
        A.p2(r, None, 50, "median")


def test_p2_per_prompt_is_the_same_in_log_coordinates():
    """One probability per prompt: p ≤ 0.9·peak ⇔ log p ≤ log peak + log 0.9, so the per-prompt
    reading needs no second coordinate."""
    rng = np.random.default_rng(0)
    start = rng.uniform(0.01, 0.3, (50, 4))
    now = rng.uniform(0.005, 0.5, (50, 4))
    peak = np.maximum(np.maximum(start, now), rng.uniform(0.01, 0.6, (50, 4)))
    r = _p2_fake(start, peak, now)
    want = ((np.log(now) <= np.log(peak) + math.log(A.PEAK_DROP)) & (np.log(now) < np.log(start))).any(-1)
    assert A.p2(r, None, 50, "per_prompt").tolist() == want.tolist()


# --------------------------------------------------------------------------------------------
# Y-P3: narrow (9–10), broad (neither chosen nor rejected), others (other prompts' chosen)

def test_p3_readings():
    # seed 0: unseen collapse (0.16 → 1e-20), other chosen rise 0.24 → 0.5: broad mass rises
    #         (0.40 → 0.50), others rise, narrow no
    # seed 1: unseen rise 0.16 → 0.2 (narrow yes), others flat
    r = _Fake(log_unseen_mass_start=np.log([0.16, 0.16]), log_unseen_massAT50=np.log([1e-20, 0.2]),
              log_neither_mass_start=np.log([0.40, 0.40]), log_neither_massAT50=np.log([0.50, 0.44]),
              p_other_mass_start=[0.24, 0.24], p_other_massAT50=[0.5, 0.24],
              logp_unseen_start=np.log([0.08, 0.08]), logp_unseenAT50=np.log([5e-21, 0.1]),
              logp_neither_start=np.log([0.08, 0.08]), logp_neitherAT50=[-20.0, np.log(0.088)],
              logp_other_start=np.log([0.08, 0.08]), logp_otherAT50=np.log([0.16, 0.08]),
              p_rejected_mean_start=[0.12, 0.12], p_rejected_meanAT50=[0.01, 0.2],
              logp_rejected_start=np.log([0.12, 0.12]), logp_rejectedAT50=np.log([0.01, 0.2]))
    assert A.p3(r, None, 50, "narrow", "prob").tolist() == [False, True]
    assert A.p3(r, None, 50, "narrow", "log").tolist() == [False, True]
    assert A.p3(r, None, 50, "broad", "prob").tolist() == [True, False]
    assert A.p3(r, None, 50, "broad", "log").tolist() == [False, False]
    assert A.p3(r, None, 50, "others", "prob").tolist() == [True, False]
    assert A.p3(r, None, 50, "others", "log").tolist() == [True, False]
    assert A.p3(r, None, 50, "narrow", "prob", "reversed").tolist() == [False, True]
    with pytest.raises(ValueError):
        A.p3(r, None, 50, "everything", "prob")


# --------------------------------------------------------------------------------------------
# the trajectory: phase, decide_cells, time rules, conditions

def test_phase_is_read_from_the_loss():
    assert A.phase([0.069, 0.069], [0.693, 0.693]) == "saturated"          # ≤ 10 % of the start
    assert A.phase([0.07, 0.07], [0.693, 0.693]) == "unsaturated"
    assert A.phase([0.01, 0.01, 0.6], [0.69] * 3) == "saturated"           # the median decides


def _cells(pattern, epochs=(50, 250, 500)):
    """pattern[setting][epoch] -> appears; phase saturated from epoch 250 on; lr low/high."""
    out = []
    for k, row in enumerate(pattern):
        for e, a in zip(epochs, row):
            out.append(A.Cell({"lr": "low" if k % 2 else "high", "scenario": k // 2 + 1, "epoch": e,
                               "phase": "saturated" if e >= 250 else "unsaturated"}, a,
                              np.array([a] * 3 + [not a]), f"s{k}"))
    return out


def test_decide_cells_trajectory_versus_end():
    # appears early everywhere, late only where lr is high: the flex-like pattern
    cells = _cells([[True, True, True], [True, False, False], [True, True, True], [True, False, False]])
    d = A.decide_cells(cells, "trajectory")
    assert d.status == "qualified"
    assert d.by_epoch == {50: (4, 4, "confirmed"), 250: (2, 4, "qualified"), 500: (2, 4, "qualified")}
    assert d.condition == "lr=high or epoch=50"
    assert d.confirmed_epochs() == [50]
    assert "shrinks" in d.how_it_changes() and "4/4 at epoch 50" in d.how_it_changes()
    e = A.decide_cells(cells, "end")
    assert e.status == "qualified" and e.n_cells == 4 and e.condition == "lr=high"
    assert e.runs.size == 16
    # everywhere / nowhere
    assert A.decide_cells(_cells([[True] * 3] * 4)).status == "confirmed"
    assert A.decide_cells(_cells([[False] * 3] * 4)).status == "refuted"
    assert A.decide_cells([], "end").status == "inconclusive"
    with pytest.raises(ValueError):
        A.decide_cells(cells, "start")


def test_the_phase_can_be_the_condition():
    cells = _cells([[True, False, False]] * 4)
    d = A.decide_cells(cells)
    assert d.condition in ("epoch=50", "phase=unsaturated")


def test_closest_condition_when_no_exact_rule():
    cells = _cells([[True, False, False], [True, False, False], [True, False, True], [True, False, False]])
    d = A.decide_cells(cells)
    assert d.condition == ""
    rule, agree = A.closest_condition([c.factors for c in cells], [c.appears for c in cells])
    assert agree == 11 and rule in ("epoch=50", "phase=unsaturated")
    assert d.closest.startswith(rule) and "11/12" in d.closest


def test_how_it_changes_reads_the_shares_not_only_the_statuses():
    """QUALIFIED at every checkpoint yet 4/4 → 2/4 → 1/4 of the settings: it shrinks."""
    cells = _cells([[True, True, True], [True, True, False], [True, False, False], [False, False, False]])
    d = A.decide_cells(cells)
    assert [v[2] for v in d.by_epoch.values()] == ["qualified"] * 3
    assert d.how_it_changes().startswith("the share of settings where it appears shrinks")
    same = A.decide_cells(_cells([[True, True, True], [False, False, False]] * 2))
    assert same.how_it_changes().startswith("about the same")


def test_closest_rule_must_beat_everywhere_or_nowhere():
    # appears everywhere but in one cell: no two-term rule can beat 'everywhere' unless it
    # isolates that cell
    cells = _cells([[True, True, True]] * 4)
    cells[0].appears = False
    cells[4].appears = False                           # two exceptions in different settings/epochs
    d = A.decide_cells(cells)
    assert d.status == "qualified"
    rule, agree = A.closest_condition([c.factors for c in cells], [c.appears for c in cells])
    if agree > 10:
        assert d.closest == f"{rule} (agrees in {agree}/12 cells)"
    else:
        assert d.closest == "none better than 'everywhere' (10/12 cells)"


def test_seed_shift_pairs_each_seed_with_another():
    x = np.arange(5)
    y = A.seed_shift(x)
    assert sorted(y.tolist()) == x.tolist() and not np.any(y == x)
