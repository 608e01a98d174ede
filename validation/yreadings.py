"""Paper Y's properties read on real-model runs (:mod:`dpomath.validation.ysweep`): the
per-run quantities and indicators of the claims ``Y-*-LM``, in every reading — fixed before any
run, with the toy's thresholds (:mod:`dpomath.toys.analysis`: κ = 3, the 0.9 peak drop, the
10 % rise, the 0.01-nat tie tolerance, the majority rule) where they transfer.

Coordinates. A response's *sequence* log-probability is log π(y|x) = Σₜ log π(yₜ|x, y<ₜ) (tens of
nats below 0 for a sentence: π itself is below 1e-20); its *per-token* log-probability is the
mean of log π(yₜ|·) over its tokens; its per-token probability the mean of π(yₜ|·). A mean over
responses of sequence probabilities is kept as a log (:func:`~dpomath.validation.ysweep.lse_mean`),
and changes of such means are compared on a common scale, so nothing underflows: the
probability readings are exact, not rounded to zero.

Every function ``f(res, run, t)`` returns one number for one run at evaluated step ``t``.
"""
from __future__ import annotations

import math

import numpy as np

from dpomath.toys.analysis import KAPPA, PEAK_DROP, SATURATED, TIE_TOL, UNSEEN_RISE, compare

from .ysweep import LMResult, LMRun, lse_mean

__all__ = ["P1_COORDS", "p1_changes", "p1", "p1_severity", "p2", "p2_reversed", "p2_not_raised",
           "degraded_pairs", "p2_severity", "P3_READINGS", "p3_gain", "p3", "phase_of",
           "flex_value", "sft_mean", "mean_stat", "prob_changes"]

#: Y-P1's coordinates: quantity of a set of responses ("chosen", "rejected", "unseen") at t.
P1_COORDS = ("log", "probability", "token_log", "token_prob")


def mean_stat(res: LMResult, run: LMRun, t: int, who: str, coord: str) -> float:
    """The set ``who``'s quantity at step t in ``coord``: ``log`` mean sequence log π;
    ``probability`` log of the mean sequence π (log-sum-exp); ``token_log`` mean per-token
    log π; ``token_prob`` mean per-token π."""
    row = res.at(run, t)
    if coord == "log":
        return float(np.mean(row[f"seq_{who}"]))
    if coord == "probability":
        return lse_mean(row[f"seq_{who}"])
    if coord == "token_log":
        return float(np.mean(row[f"tok_{who}"]))
    if coord == "token_prob":
        return float(np.mean(row[f"tokp_{who}"]))
    raise ValueError(f"coord: must be one of {P1_COORDS}, got {coord!r}")


def prob_changes(a_t: float, a_0: float, b_t: float, b_0: float) -> tuple[float, float]:
    """(exp a_t − exp a_0, exp b_t − exp b_0) scaled by one common positive factor e^{−M}:
    comparisons of the two changes (signs, ratios) are exact where the probabilities
    themselves are 1e-30.

    >>> prob_changes(-1000.0, -1001.0, -1002.0, -1000.0)[0] > 0
    True
    """
    m = max(a_t, a_0, b_t, b_0)
    return (math.exp(a_t - m) - math.exp(a_0 - m), math.exp(b_t - m) - math.exp(b_0 - m))


def p1_changes(res, run, t, coord: str = "log", rejected: str = "rejected") -> tuple[float, float]:
    """(Δ_r, Δ_c): the changes since step 0 of the ``rejected`` set's quantity (the paired
    rejected responses, or ``"unseen"`` for the placebo) and of the chosen's, in ``coord`` —
    on a common scale in the probability coordinates."""
    r_t, r_0 = mean_stat(res, run, t, rejected, coord), mean_stat(res, run, 0, rejected, coord)
    c_t, c_0 = mean_stat(res, run, t, "chosen", coord), mean_stat(res, run, 0, "chosen", coord)
    if coord == "probability":
        return prob_changes(r_t, r_0, c_t, c_0)
    return r_t - r_0, c_t - c_0


def p1(res, run, t, coord: str = "log", variant: str = "claim", kappa: float = KAPPA) -> bool:
    """Y-P1 at t: Δ_r < 0 and −Δ_r ≥ κ·|Δ_c|. ``variant="placebo"``: the unseen statements (in
    no pair, never pushed down) in place of the rejected."""
    dr, dc = p1_changes(res, run, t, coord, "unseen" if variant == "placebo" else "rejected")
    return bool(dr < 0 and -dr >= kappa * abs(dc))


def p1_severity(res, run, t, coord: str = "log") -> float:
    """Y-ONPOL's P1 severity: −Δ_r/|Δ_c| (compared on the ratio scale)."""
    dr, dc = p1_changes(res, run, t, coord)
    return -dr / max(abs(dc), 1e-300)


# ---------------------------------------------------------------- Y-P2

def _series(res, run, t, key: str) -> np.ndarray:
    """(steps ≤ t, pairs) array of the per-pair statistic ``key`` over the evaluated steps."""
    return np.array([row[key] for row in res.trajectory(run, t)], dtype=np.float64)


def degraded_pairs(res, run, t, who: str = "chosen") -> np.ndarray:
    """Per pair at t: log π(y_i) ≤ max over evaluated steps u ≤ t of log π(y_i) + log 0.9 and
    below its start — the toy's test (clearly below its own peak so far and below its SFT value)
    on one sequence probability, the same in log coordinates."""
    x = _series(res, run, t, f"seq_{who}")
    now, start, peak = x[-1], x[0], x.max(axis=0)
    return (now <= peak + math.log(PEAK_DROP)) & (now < start)


def _mean_series(res, run, t, who: str, coord: str) -> np.ndarray:
    return np.array([mean_stat(res, run, row["step"], who, coord) for row in res.trajectory(run, t)])


def p2(res, run, t, reading: str = "per_pair") -> bool:
    """Y-P2 (the chosen degrades) at t. ``per_pair``: some pair's chosen degrades
    (:func:`degraded_pairs`); ``mean_log`` / ``token_log``: the mean sequence / per-token log π of
    the chosen ends ≥ log(1/0.9) below its running peak and below its start; ``mean_prob``: the
    mean sequence π of the chosen ends ≤ 0.9 × its running peak and below its start (on its log);
    ``token_prob``: the mean per-token π does."""
    if reading == "per_pair":
        return bool(degraded_pairs(res, run, t).any())
    coord = {"mean_log": "log", "mean_prob": "probability", "token_log": "token_log",
             "token_prob": "token_prob"}[reading]
    x = _mean_series(res, run, t, "chosen", coord)
    if coord == "token_prob":
        return bool(x[-1] <= PEAK_DROP * x.max() and x[-1] < x[0])
    return bool(x[-1] <= x.max() + math.log(PEAK_DROP) and x[-1] < x[0])


def p2_reversed(res, run, t, reading: str = "per_pair") -> bool:
    """The negative control of Y-P2: the mirror image on the responses DPO pushes down — the
    rejected *rises* clearly above its running minimum (by ≥ log(1/0.9)) and above its start
    (some pair's, or the reading's mean)."""
    if reading == "per_pair":
        x = _series(res, run, t, "seq_rejected")
        now, start, low = x[-1], x[0], x.min(axis=0)
        return bool(((now >= low - math.log(PEAK_DROP)) & (now > start)).any())
    coord = {"mean_log": "log", "mean_prob": "probability", "token_log": "token_log",
             "token_prob": "token_prob"}[reading]
    x = _mean_series(res, run, t, "rejected", coord)
    if coord == "token_prob":
        return bool(x[-1] >= x.min() / PEAK_DROP and x[-1] > x[0])
    return bool(x[-1] >= x.min() - math.log(PEAK_DROP) and x[-1] > x[0])


def p2_not_raised(res, run, t) -> bool:
    """Y-P2's first half ('lowering the rejected rather than raising the chosen'): some pair's
    chosen is not raised by more than the tie tolerance (log π(y_w) − log π0(y_w) ≤ 0.01)."""
    x = _series(res, run, t, "seq_chosen")
    return bool((x[-1] - x[0] <= TIE_TOL).any())


def p2_severity(res, run, t) -> float:
    """Y-ONPOL's P2 severity: the largest log-fall of a pair's chosen, max_i log(π_i(0)/π_i(t))."""
    x = _series(res, run, t, "seq_chosen")
    return float(np.max(x[0] - x[-1]))


# ---------------------------------------------------------------- Y-P3

#: Y-P3's readings: name -> (what, the quantity's log-scale value at t, its reversed control).
P3_READINGS = ("unseen_prob", "unseen_log", "unseen_token", "greedy", "vocabulary", "vocabulary_chosen")


def _p3_value(res, run, t, reading: str, variant: str) -> float:
    row = res.at(run, t)
    if variant == "reversed":          # the paired rejected responses / the trained tokens themselves
        if reading in ("vocabulary", "vocabulary_chosen"):
            key = "rest_all" if reading == "vocabulary" else "rest_chosen"
            return math.log(max(1.0 - row[key], 1e-300))
        who = "rejected"
        reading = {"greedy": "unseen_log"}.get(reading, reading)
    else:
        who = "unseen"
    if reading == "unseen_prob":
        return lse_mean(row[f"seq_{who}"])
    if reading == "unseen_log":
        return float(np.mean(row[f"seq_{who}"]))
    if reading == "unseen_token":
        return float(np.mean(row[f"tok_{who}"]))
    if reading == "greedy":
        return float(np.mean(row["greedy_logps"]))
    if reading == "vocabulary":
        return math.log(row["rest_all"])
    if reading == "vocabulary_chosen":
        return math.log(row["rest_chosen"])
    raise ValueError(f"reading: must be one of {P3_READINGS}, got {reading!r}")


def p3_gain(res, run, t, reading: str = "unseen_prob", variant: str = "claim") -> float:
    """The log-scale gain since step 0 of the reading's quantity: ``unseen_prob`` the log of the
    unseen statements' mean probability (their mass); ``unseen_log`` their mean sequence log π;
    ``unseen_token`` their mean per-token log π; ``greedy`` the mean log π of the greedy
    responses (decoded anew at each step: the mass on the model's most likely response);
    ``vocabulary`` the log of the mean, over every position of the trained responses, of the
    probability on the rest of the vocabulary 1 − π(yₜ|·); ``vocabulary_chosen`` the same at the
    chosen responses' positions. ``variant="reversed"`` (the negative control): the paired
    rejected responses in place of the unseen (the trained tokens' own probability for the
    vocabulary readings)."""
    return _p3_value(res, run, t, reading, variant) - _p3_value(res, run, 0, reading, variant)


def p3(res, run, t, reading: str = "unseen_prob", variant: str = "claim") -> bool:
    """Y-P3 at t: the gain is ≥ log 1.1 (the toy's 10 % rise, on a log scale)."""
    return bool(p3_gain(res, run, t, reading, variant) >= math.log(UNSEEN_RISE))


# ---------------------------------------------------------------- phase, Flex-DPO, SFT-DPO

def phase_of(res, runs, t) -> str:
    """``saturated`` when the median over ``runs`` of the training loss at t is ≤ 10 % of its
    start (the toy's rule, on the plain-DPO runs), else ``unsaturated``."""
    r = np.median([res.at(run, t)["loss"] / res.at(run, 0)["loss"] for run in runs])
    return "saturated" if r <= SATURATED else "unsaturated"


def flex_value(res, run, t, coord: str = "log") -> float:
    """Y-FLEX's compared quantity: the rejected responses' mean log π (``log``), log of their
    mean π (``probability``) or mean per-token log π (``token_log``) at t."""
    return mean_stat(res, run, t, "rejected", coord)


def sft_mean(res, run, t, coord: str) -> tuple[float, float]:
    """(value at t, value at 0) of the chosen's mean: ``probability`` (log of the mean π) or
    ``log`` (mean log π)."""
    return mean_stat(res, run, t, "chosen", coord), mean_stat(res, run, 0, "chosen", coord)


def milder(a: np.ndarray, b: np.ndarray, scale: str) -> np.ndarray:
    """a milder than b beyond the tie tolerance (:func:`dpomath.toys.analysis.compare`)."""
    return compare(a, b, scale) < 0
