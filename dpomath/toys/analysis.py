"""Paper Y's toy runs read as evidence: per-run indicators of the 3D-properties, their
severities, and the decision rule of the paper-Y claims — fixed here before any run.

* a *run* is one (setting, seed) of the sweep (:mod:`dpomath.toys.sweeps`); each property has a
  per-run indicator, read at an epoch ``t`` (a checkpoint of the trajectory, see below) in one
  *coordinate* — log-probabilities (``"log"``) or probabilities (``"prob"``) — and, where the
  statement admits several fair readings, under each (:func:`p1`, :func:`p2`, :func:`p2_not_raised`,
  :func:`p3`);
* in a *cell* — a setting at a checkpoint — the property **appears** when it shows in more than
  half of the runs (:data:`MAJORITY`); every fraction is reported with its exact
  (Clopper–Pearson) 95 % interval (:func:`frac_str`);
* **the trajectory**: every run is read at the checkpoints of
  :data:`dpomath.toys.mlp.CHECKPOINT_FRACTIONS` (early, middle, end: epochs 50, 250, 500 of 500),
  and each cell also gets its *phase*, from the data: ``saturated`` when the median over seeds of
  the setting's plain-DPO loss has fallen to :data:`SATURATED` of its start, else
  ``unsaturated`` (:func:`phase`);
* :func:`decide` turns per-cell flags into CONFIRMED / QUALIFIED / REFUTED;
  :func:`decide_cells` does it over the cells of a claim — every checkpoint (time rule
  ``"trajectory"``) or the last (``"end"``) — and reports the status at each checkpoint;
  :func:`describe_condition` names the simplest condition on the factors (epoch and phase
  included) where the property appears;
* two measured values are compared by :func:`compare` on a log scale with the tolerance
  :data:`TIE_TOL`: ties are ties, counted as such, so no decision turns on float rounding.

The claims themselves (their readings, ranks, time rules, controls, verdicts) are in
``proofs/paper_y.py``.

>>> decide([True, False, True])
'qualified'
>>> fmt_interval(0.0, 0.0031)
'0.000–0.003'
>>> compare(np.log([1e-23, 1e-17, 0.5]), np.log([1e-17, 1e-17, 0.502])).tolist()
[-1, 0, 0]
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from dataclasses import dataclass, field

from ..verify.stats import clopper_pearson
from .mlp import N_PROMPTS

__all__ = ["KAPPA", "PEAK_DROP", "UNSEEN_RISE", "MAJORITY", "CONFIDENCE", "TIE_TOL", "SATURATED",
           "COORDS", "interval", "fmt_interval", "frac_str", "decide", "describe_condition",
           "by_factor", "factors", "setting_label", "swept_text", "dpo_settings", "indicator_p1",
           "prompt_chosen", "degraded_prompts", "indicator_p2", "indicator_p2_mean",
           "indicator_p3", "severity", "value", "change", "compare", "p1", "p2", "p2_not_raised",
           "p3", "severity_at", "phase", "closest_condition", "P1_STATS", "P3_STATS", "P2_READINGS", "degraded_at", "Cell", "Decision", "decide_cells", "seed_shift"]

# thresholds of the operational definitions (fixed before the runs)

KAPPA = 3.0          # Y-P1: "much faster" = the rejected log-prob falls ≥ 3× the chosen's |change|
PEAK_DROP = 0.9      # Y-P2: the chosen probability ends at ≤ 90 % of its peak ...
UNSEEN_RISE = 1.1    # Y-P3: the unseen mass ends ≥ 10 % above its start
MAJORITY = 0.5       # a property appears in a setting when its run fraction exceeds this
CONFIDENCE = 0.95    # Clopper–Pearson level

# fixed before the trajectory and coordinate readings were run (outside review, issue 10)

TIE_TOL = 0.01       # two values on a log scale (nats) within 0.01 (1 % relative) are a tie
SATURATED = 0.1      # a cell is saturated when its plain-DPO median loss is ≤ 10 % of its start
COORDS = ("log", "prob")   # log-probabilities, probabilities


# ---------------------------------------------------------------------------------------------
# statistics and the decision rule

def interval(k: int, n: int) -> tuple[float, float]:
    """The exact (Clopper–Pearson) interval at the level :data:`CONFIDENCE` for k successes in
    n trials (:func:`dpomath.verify.stats.clopper_pearson` with α = 1 − CONFIDENCE)."""
    return clopper_pearson(k, n, 1 - CONFIDENCE)


def _decimals(*values: float, least: int = 2) -> int:
    """Decimals that show every value in [0, 1] distinct from 0 and from 1 unless it equals them."""
    d = least
    for v in values:
        for gap in (v, 1.0 - v):
            if 0 < gap < 1:
                d = max(d, -math.floor(math.log10(gap)))
    return d


def fmt_interval(lo: float, hi: float, sep: str = "–") -> str:
    """'lo–hi' with enough decimals that a nonzero bound never prints as 0 (nor a bound below 1
    as 1): 0.000–0.003, not 0.00–0.00."""
    d = _decimals(lo, hi)
    return f"{lo:.{d}f}{sep}{hi:.{d}f}"


def frac_str(x: np.ndarray) -> str:
    k, n = int(np.sum(x)), int(np.size(x))
    lo, hi = interval(k, n)
    d = _decimals(k / n, lo, hi)
    return f"{k / n:.{d}f} [{fmt_interval(lo, hi, ', ')}]"


def decide(appears: list[bool]) -> str:
    """CONFIRMED / QUALIFIED / REFUTED from per-setting 'appears' flags."""
    if not appears:
        raise ValueError("appears: no settings")
    if all(appears):
        return "confirmed"
    if not any(appears):
        return "refuted"
    return "qualified"


def describe_condition(factors: list[dict], appears: list[bool], max_terms: int = 3) -> str:
    """The simplest condition on the factors that holds exactly where the property appears: a
    conjunction of up to ``max_terms`` terms ``factor=level`` or ``factor∈{levels}`` (distinct
    factors), or a disjunction of two ``factor=level`` terms; '' if there is none."""
    keys = list(factors[0])
    app = np.array(appears, dtype=bool)
    terms = []                                      # (factor, frozenset of levels), simplest first
    for k in keys:
        levels = sorted({f[k] for f in factors}, key=str)
        for size in range(1, len(levels)):
            for sub in itertools.combinations(levels, size):
                terms.append((k, sub))
    terms.sort(key=lambda t: len(t[1]))
    sat = {t: np.array([f[t[0]] in t[1] for f in factors]) for t in terms}

    def text(t):
        return f"{t[0]}={t[1][0]}" if len(t[1]) == 1 else f"{t[0]}∈{{{', '.join(map(str, t[1]))}}}"

    for n in range(1, max_terms + 1):
        best = None
        for combo in itertools.combinations(terms, n):
            if len({t[0] for t in combo}) < n:
                continue
            mask = np.logical_and.reduce([sat[t] for t in combo])
            if np.array_equal(mask, app):
                cost = sum(len(t[1]) for t in combo)
                if best is None or cost < best[0]:
                    best = (cost, " and ".join(text(t) for t in combo))
        if best:
            return best[1]
        if n == 1:
            singles = [t for t in terms if len(t[1]) == 1]
            for a, b in itertools.combinations(singles, 2):
                if a[0] != b[0] and np.array_equal(sat[a] | sat[b], app):
                    return f"{text(a)} or {text(b)}"
    return ""


def closest_condition(factors: list[dict], appears: list[bool]) -> tuple[str, int]:
    """The rule of at most two terms (``factor=level`` / ``factor∈{levels}``, a conjunction of two,
    or a disjunction of two single levels) that agrees with ``appears`` in the most cells, and
    that number; simpler rules win ties. Descriptive only — it decides no status (it names the
    closest rule where :func:`describe_condition` finds no exact one).

    >>> f = [{"phase": p, "lr": l} for p in ("saturated", "unsaturated") for l in ("low", "high")]
    >>> closest_condition(f, [False, True, True, True])
    ('phase=unsaturated or lr=high', 4)
    >>> closest_condition(f + [{"phase": "saturated", "lr": "low"}], [False, False, True, True, True])
    ('phase=unsaturated', 4)
    """
    keys = list(factors[0])
    app = np.array(appears, dtype=bool)
    terms = []
    for k in keys:
        levels = sorted({f[k] for f in factors}, key=str)
        for size in range(1, len(levels)):
            for sub in itertools.combinations(levels, size):
                terms.append((k, sub))
    terms.sort(key=lambda t: len(t[1]))
    sat = {t: np.array([f[t[0]] in t[1] for f in factors]) for t in terms}

    def text(t):
        return f"{t[0]}={t[1][0]}" if len(t[1]) == 1 else f"{t[0]}∈{{{', '.join(map(str, t[1]))}}}"

    best = (-1, 0, 0, "")                                   # (agree, -terms, -cost, text)
    for t in terms:
        cand = (int(np.sum(sat[t] == app)), -1, -len(t[1]), text(t))
        best = max(best, cand, key=lambda c: c[:3])
    for a, b in itertools.combinations(terms, 2):
        if a[0] == b[0]:
            continue
        cost = -(len(a[1]) + len(b[1]))
        cand = (int(np.sum((sat[a] & sat[b]) == app)), -2, cost, f"{text(a)} and {text(b)}")
        best = max(best, cand, key=lambda c: c[:3])
        if len(a[1]) == len(b[1]) == 1:
            cand = (int(np.sum((sat[a] | sat[b]) == app)), -2, cost, f"{text(a)} or {text(b)}")
            best = max(best, cand, key=lambda c: c[:3])
    return best[3], best[0]


def by_factor(factors: list[dict], appears: list[bool]) -> str:
    """'factor: level k/n, ...; ...' — in how many settings of each level the property appears."""
    parts = []
    for key in factors[0]:
        levels = sorted({f[key] for f in factors}, key=str)
        cells = []
        for lv in levels:
            sel = [a for f, a in zip(factors, appears) if f[key] == lv]
            cells.append(f"{lv} {sum(sel)}/{len(sel)}")
        parts.append(f"{key}: " + ", ".join(cells))
    return "; ".join(parts)


# ---------------------------------------------------------------------------------------------
# reading a sweep: factors, labels, per-run indicators and severities

def factors(spec, s, with_scenario: bool = True) -> dict:
    lrs = spec.lr_values(s.optimizer)
    f = {"scenario": s.scenario} if with_scenario else {}
    f.update({"width": s.width, "optimizer": s.optimizer,
              "lr": ("low" if s.lr == min(lrs) else "high") if len(lrs) > 1 else "only",
              "beta": s.beta})
    return f


def setting_label(s, with_scenario: bool = True) -> str:
    arch = "free-logit" if s.width == 0 else f"w{s.width}"
    head = f"S{s.scenario} " if with_scenario else ""
    return f"{head}{arch} {s.optimizer} lr={s.lr:g} β={s.beta:g}"


def swept_text(spec, extra: str = "") -> str:
    lrs = "; ".join(f"{o}: {', '.join(f'{v:g}' for v in spec.lr_values(o))}" for o in spec.optimizers)
    return (f"scenario ∈ {{{', '.join(map(str, spec.scenarios))}}} × width ∈ "
            f"{{{', '.join(map(str, spec.widths))}}} × optimizer ∈ {{{', '.join(spec.optimizers)}}} × "
            f"lr ∈ {{{lrs}}}{extra}; {spec.seeds} seeds per setting; {spec.epochs} full-batch "
            f"epochs; {spec.pairs_per_prompt} pairs per prompt; ReLU MLP 4→H→H→10")


def dpo_settings(res, spec, free_logit: bool = False):
    width_ok = (lambda w: w == 0) if free_logit else (lambda w: w > 0)
    return [s for s in res.settings if s.loss == "sigmoid" and width_ok(s.width)
            and s.beta in spec.betas]


def _m(res, name, s):
    return res.metric(name, s)


def indicator_p1(res, s, when: str = "end") -> np.ndarray:
    dr = _m(res, f"logp_rejected_{when}", s) - _m(res, "logp_rejected_start", s)
    dc = _m(res, f"logp_chosen_{when}", s) - _m(res, "logp_chosen_start", s)
    return (dr < 0) & (-dr >= KAPPA * np.abs(dc))


def prompt_chosen(res, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, peak, end) of π(chosen_i | prompt_i), each (seeds, prompts)."""
    def get(fmt):
        return np.stack([_m(res, fmt.format(i + 1), s) for i in range(N_PROMPTS)], axis=-1)

    return get("p_chosen_prompt{}_start"), get("peak_p_chosen_prompt{}"), get("p_chosen_prompt{}_end")


def degraded_prompts(res, s) -> np.ndarray:
    """(seeds, prompts) bool: prompt i's chosen ends ≤ PEAK_DROP × its own peak and below its start."""
    start, peak, end = prompt_chosen(res, s)
    return (end <= PEAK_DROP * peak) & (end < start)


def indicator_p2(res, s) -> np.ndarray:
    """Y-P2 per run: at least one prompt's chosen probability degrades (:func:`degraded_prompts`)."""
    return degraded_prompts(res, s).any(axis=-1)


def indicator_p2_mean(res, s) -> np.ndarray:
    """The first, superseded Y-P2 definition (secondary evidence only): the same test on the mean
    over prompts of π(chosen_i | prompt_i), which averages away a single prompt's fall."""
    end, peak, start = (_m(res, "p_chosen_mean_end", s), _m(res, "peak_p_chosen", s),
                        _m(res, "p_chosen_mean_start", s))
    return (end <= PEAK_DROP * peak) & (end < start)


def indicator_p3(res, s) -> np.ndarray:
    return _m(res, "p_unseen_mass_end", s) >= UNSEEN_RISE * _m(res, "p_unseen_mass_start", s)


def severity(res, s, prop: str) -> np.ndarray:
    if prop == "P1":
        dr = _m(res, "logp_rejected_end", s) - _m(res, "logp_rejected_start", s)
        dc = _m(res, "logp_chosen_end", s) - _m(res, "logp_chosen_start", s)
        return -dr / np.maximum(np.abs(dc), 1e-12)
    if prop == "P2":
        start, _, end = prompt_chosen(res, s)
        return np.max(1 - end / start, axis=-1)
    if prop == "P2-mean":
        return 1 - _m(res, "p_chosen_mean_end", s) / _m(res, "p_chosen_mean_start", s)
    return _m(res, "p_unseen_mass_end", s) / _m(res, "p_unseen_mass_start", s) - 1


# ---------------------------------------------------------------------------------------------
# the trajectory, the coordinates and the readings (fixed before these runs; outside review)

def value(res, name: str, s, t) -> np.ndarray:
    """Statistic ``name`` of setting ``s`` at epoch ``t`` (0 = start; a checkpoint epoch; or
    ``"end"``/``"early"``/``"start"``), one value per seed. Running peaks are ``peak_<stat>``."""
    if isinstance(t, str):
        return res.metric(f"{name}_{t}", s)
    if t == 0 and not name.startswith("peak_"):
        return res.metric(f"{name}_start", s)
    return res.metric(f"{name}@{int(t)}", s)


def change(res, name: str, s, t) -> np.ndarray:
    """value at t − value at the start (per seed)."""
    return value(res, name, s, t) - value(res, name, s, 0)


def compare(a, b, scale: str = "log", tol: float = TIE_TOL) -> np.ndarray:
    """Elementwise −1 (a < b), 0 (tie), +1 (a > b), decided so that float rounding cannot.

    ``scale="log"``: a and b are already on a log scale (nats: log-probabilities, log mass
    ratios); a tie is |a − b| ≤ ``tol``. ``scale="ratio"``: a and b are dimensionless ratios of
    either sign; a tie is |a − b| ≤ ``tol``·max(|a|, |b|) (a relative difference of at most
    ``tol``, the log-scale tie for values of one sign). NaN is an error.

    >>> compare([0.0, 0.0, 1.0], [0.005, 0.02, 1.0]).tolist()
    [0, -1, 0]
    >>> compare([30.0, -2.0], [30.2, 2.0], scale="ratio").tolist()
    [0, -1]
    """
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("compare: NaN among the values")
    if scale not in ("log", "ratio"):
        raise ValueError(f"scale: must be 'log' or 'ratio', got {scale!r}")
    with np.errstate(invalid="ignore"):
        diff = a - b
        tie = (np.abs(diff) <= tol) if scale == "log" else \
            (np.abs(diff) <= tol * np.maximum(np.abs(a), np.abs(b)))
        tie |= (a == b)                                  # equal infinities
    return np.where(tie, 0, np.sign(np.nan_to_num(diff, posinf=1.0, neginf=-1.0))).astype(int)


def seed_shift(x: np.ndarray) -> np.ndarray:
    """The placebo pairing of the controls: seed k's value replaced by seed k+1's (cyclic), so
    each run is compared with a run of another seed of the same setting."""
    return np.roll(np.asarray(x), -1, axis=0)


#: Y-P1's two quantities per coordinate: (rejected, chosen).
P1_STATS = {"log": ("logp_rejected", "logp_chosen"), "prob": ("p_rejected_mean", "p_chosen_mean")}
#: Y-P1's placebo: the unseen responses 9–10 in place of the rejected (per response: mass / 2).
_P1_PLACEBO = {"log": ("logp_unseen", 1.0), "prob": ("p_unseen_mass", 0.5)}


def _coord(coord):
    if coord not in COORDS:
        raise ValueError(f"coord: must be one of {COORDS}, got {coord!r}")
    return coord


def p1(res, s, t, coord: str = "log", variant: str = "claim", kappa: float = KAPPA) -> np.ndarray:
    """Y-P1 per run at epoch t: Δ_r < 0 and −Δ_r ≥ κ·|Δ_c|, with Δ_r, Δ_c the changes since the
    start of the mean log π (``coord="log"``) or mean π (``"prob"``) of the paired rejected and
    of the chosen responses.

    ``variant`` (the negative controls): ``"placebo"`` — the unseen responses 9–10 (in no pair)
    in place of the rejected; ``"reversed"`` — the roles swapped: the chosen rises by ≥ κ·|Δ_r|.
    """
    rej, cho = P1_STATS[_coord(coord)]
    dc = change(res, cho, s, t)
    if variant == "placebo":
        name, scale = _P1_PLACEBO[coord]
        dr = scale * change(res, name, s, t)
    else:
        dr = change(res, rej, s, t)
    if variant == "reversed":
        return (dc > 0) & (dc >= kappa * np.abs(dr))
    if variant not in ("claim", "placebo"):
        raise ValueError(f"variant: must be 'claim', 'placebo' or 'reversed', got {variant!r}")
    return (dr < 0) & (-dr >= kappa * np.abs(dc))


def _prompts_at(res, s, t):
    """(start, running peak, value at t) of p_i = π(chosen_i | prompt_i), each (seeds, prompts)."""
    start = np.stack([value(res, f"p_chosen_prompt{i + 1}", s, 0) for i in range(N_PROMPTS)], -1)
    peak = np.stack([value(res, f"peak_p_chosen_prompt{i + 1}", s, t) for i in range(N_PROMPTS)], -1)
    now = np.stack([value(res, f"p_chosen_prompt{i + 1}", s, t) for i in range(N_PROMPTS)], -1)
    return start, peak, now


def degraded_at(res, s, t) -> np.ndarray:
    """(seeds, prompts) bool at epoch t: p_i(t) ≤ PEAK_DROP·max_{u≤t} p_i(u) and p_i(t) < p_i(0).
    A test on one probability: the same in log coordinates (log p_i(t) ≤ log max + log 0.9)."""
    start, peak, now = _prompts_at(res, s, t)
    return (now <= PEAK_DROP * peak) & (now < start)


#: Y-P2's mean readings: (statistic, its running peak, coordinate).
_P2_MEAN = {"mean_prob": ("p_chosen_mean", "prob"), "mean_log": ("logp_chosen", "log")}
P2_READINGS = ("per_prompt", "mean_log", "mean_prob")


def p2(res, s, t, reading: str = "per_prompt") -> np.ndarray:
    """Y-P2 (degradation) per run at epoch t.

    ``per_prompt``: some prompt's chosen degrades (:func:`degraded_at`; the same in both
    coordinates). ``mean_prob``: the mean p̄ = mean_i p_i ends ≤ 0.9 × its running peak and below
    its start. ``mean_log``: the mean log-probability ℓ̄ = mean_i log p_i ends ≥ log(1/0.9) below
    its running peak and below its start.
    """
    if reading == "per_prompt":
        return degraded_at(res, s, t).any(axis=-1)
    if reading not in _P2_MEAN:
        raise ValueError(f"reading: must be one of {P2_READINGS}, got {reading!r}")
    name, coord = _P2_MEAN[reading]
    now, start, peak = value(res, name, s, t), value(res, name, s, 0), value(res, f"peak_{name}", s, t)
    if coord == "prob":
        return (now <= PEAK_DROP * peak) & (now < start)
    return (now <= peak + math.log(PEAK_DROP)) & (now < start)


def p2_not_raised(res, s, t, reading: str = "per_prompt") -> np.ndarray:
    """Y-P2's first half, "lowering the rejected *rather than raising the chosen*", per run at
    epoch t: the chosen is not raised by more than :data:`TIE_TOL` on a log scale —
    ``per_prompt``: for some prompt, log(p_i(t)/p_i(0)) ≤ TIE_TOL; ``mean_prob``:
    log(p̄(t)/p̄(0)) ≤ TIE_TOL; ``mean_log``: ℓ̄(t) − ℓ̄(0) ≤ TIE_TOL."""
    if reading == "per_prompt":
        start, _, now = _prompts_at(res, s, t)
        return (np.log(now) - np.log(start) <= TIE_TOL).any(axis=-1)
    if reading not in _P2_MEAN:
        raise ValueError(f"reading: must be one of {P2_READINGS}, got {reading!r}")
    name, coord = _P2_MEAN[reading]
    now, start = value(res, name, s, t), value(res, name, s, 0)
    d = (np.log(now) - np.log(start)) if coord == "prob" else (now - start)
    return d <= TIE_TOL


#: Y-P3's quantity per (reading, coordinate), all on a log scale: the log of the mass
#: (probability reading) or the mean log-probability (log reading) of the responses.
P3_STATS = {("narrow", "prob"): "log_unseen_mass", ("narrow", "log"): "logp_unseen",
            ("broad", "prob"): "log_neither_mass", ("broad", "log"): "logp_neither",
            ("others", "prob"): "p_other_mass", ("others", "log"): "logp_other"}
_P3_REVERSED = {"prob": "p_rejected_mean", "log": "logp_rejected"}


def p3(res, s, t, reading: str = "narrow", coord: str = "prob", variant: str = "claim") -> np.ndarray:
    """Y-P3 (dispersion) per run at epoch t: the responses' quantity rises by ≥ log(UNSEEN_RISE)
    on a log scale since the start — ``coord="prob"``: their mass m(t) ≥ 1.1·m(0);
    ``"log"``: their mean log-probability rises by ≥ log 1.1. ``reading="narrow"``: the unseen
    responses 9–10; ``"broad"``: the responses neither chosen nor rejected for the prompt (other
    prompts' chosen and 9–10); ``"others"``: the other prompts' chosen responses alone. ``variant="reversed"`` (a control): the paired rejected responses
    in their place (the responses DPO pushes down)."""
    _coord(coord)
    if variant == "reversed":
        name = _P3_REVERSED[coord]
        x = value(res, name, s, t), value(res, name, s, 0)
        d = (np.log(x[0]) - np.log(x[1])) if coord == "prob" else (x[0] - x[1])
    elif variant == "claim":
        if (reading, coord) not in P3_STATS:
            raise ValueError(f"reading: must be 'narrow', 'broad' or 'others', got {reading!r}")
        name = P3_STATS[(reading, coord)]
        if name.startswith("p_"):                       # a mass not tiny: its log is exact
            d = np.log(value(res, name, s, t)) - np.log(value(res, name, s, 0))
        else:
            d = change(res, name, s, t)
    else:
        raise ValueError(f"variant: must be 'claim' or 'reversed', got {variant!r}")
    return d >= math.log(UNSEEN_RISE)


def severity_at(res, s, prop: str, t, coord: str = "log", reading: str = "narrow") -> tuple[np.ndarray, str]:
    """Y-ONPOL's severities per run at epoch t and the scale they are compared on
    (:func:`compare`): ``P1`` −Δ_r/|Δ_c| in ``coord`` (``"ratio"``); ``P2`` the largest log-fall
    max_i log(p_i(0)/p_i(t)) of a prompt's chosen (``"log"``); ``P3`` the log gain
    log(m(t)/m(0)) of the mass on the ``reading``'s responses (``"log"``)."""
    if prop == "P1":
        rej, cho = P1_STATS[_coord(coord)]
        dr, dc = change(res, rej, s, t), change(res, cho, s, t)
        return -dr / np.maximum(np.abs(dc), 1e-12), "ratio"
    if prop == "P2":
        start, _, now = _prompts_at(res, s, t)
        return np.max(np.log(start) - np.log(now), axis=-1), "log"
    if prop == "P3":
        return change(res, P3_STATS[(reading, "prob")], s, t), "log"
    raise ValueError(f"prop: must be 'P1', 'P2' or 'P3', got {prop!r}")


def phase(loss_t, loss_0) -> str:
    """The phase of a cell from its plain-DPO runs' losses (arrays over seeds): ``"saturated"``
    when median(loss_t / loss_0) ≤ :data:`SATURATED`, else ``"unsaturated"``.

    >>> phase([0.05, 0.06, 0.9], [0.69, 0.69, 0.69]), phase([0.5], [0.69])
    ('saturated', 'unsaturated')
    """
    r = np.median(np.asarray(loss_t, float) / np.asarray(loss_0, float))
    return "saturated" if r <= SATURATED else "unsaturated"


@dataclass
class Cell:
    """One setting at one checkpoint: its factors (``epoch`` and ``phase`` included), whether the
    property appears there, and the per-run (or per-comparison) outcomes behind it."""

    factors: dict
    appears: bool
    runs: np.ndarray
    label: str = ""

    @property
    def epoch(self) -> int:
        return int(self.factors["epoch"])


@dataclass
class Decision:
    """A claim (under one reading) decided over its cells.

    ``status`` (confirmed / qualified / refuted / inconclusive) over the cells the time rule
    takes; ``by_epoch`` {epoch: (settings where it appears, settings, status)}; ``condition``
    the simplest rule where it appears (QUALIFIED only); ``runs`` the per-run outcomes pooled
    over the cells decided."""

    status: str
    time_rule: str
    by_epoch: dict
    condition: str = ""
    by_factor: str = ""
    runs: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    n_cells: int = 0
    k_cells: int = 0
    closest: str = ""         # QUALIFIED without an exact condition: the closest rule, in words

    def confirmed_epochs(self) -> list[int]:
        """The checkpoints at which the property appears in every setting."""
        return [e for e, (_, _, st) in sorted(self.by_epoch.items()) if st == "confirmed"]

    def trajectory_text(self) -> str:
        """'epoch 50: 23/32 (qualified); 250: …; 500: …'."""
        parts = [f"{e}: {k}/{n} ({st})" for e, (k, n, st) in sorted(self.by_epoch.items())]
        return "epoch " + "; ".join(parts) if parts else "no cells"

    def how_it_changes(self) -> str:
        """How the share of settings where the property appears changes with training, in words
        (the shares at the checkpoints, and the trend when they differ by more than 5 points)."""
        items = sorted(self.by_epoch.items())
        if not items:
            return "no checkpoint decided"
        fr = [k / n if n else float("nan") for _, (k, n, _) in items]
        shares = ", ".join(f"{k}/{n} at epoch {e}" for e, (k, n, _) in items)
        if max(fr) - min(fr) <= 0.05:
            return f"about the same at every checkpoint ({shares})"
        trend = ("grows" if all(b >= a for a, b in zip(fr, fr[1:])) else
                 "shrinks" if all(b <= a for a, b in zip(fr, fr[1:])) else "changes")
        return f"the share of settings where it appears {trend} with training ({shares})"


TIME_RULES = ("trajectory", "end")


def decide_cells(cells: list[Cell], time_rule: str = "trajectory") -> Decision:
    """Decide a claim over its cells.

    ``time_rule="trajectory"``: CONFIRMED iff the property appears in every cell (every setting
    at every checkpoint), REFUTED iff in none, else QUALIFIED with the condition mined over the
    factors, ``epoch`` and ``phase`` included. ``"end"``: the same over the cells of the last
    checkpoint (``phase`` still a factor). INCONCLUSIVE when no cell is decided. The status at
    each checkpoint is reported either way.
    """
    if time_rule not in TIME_RULES:
        raise ValueError(f"time_rule: must be one of {TIME_RULES}, got {time_rule!r}")
    epochs = sorted({c.epoch for c in cells})
    by_epoch = {}
    for e in epochs:
        app = [c.appears for c in cells if c.epoch == e]
        by_epoch[e] = (sum(app), len(app), decide(app))
    used = cells if time_rule == "trajectory" else [c for c in cells if epochs and c.epoch == epochs[-1]]
    if not used:
        return Decision("inconclusive", time_rule, by_epoch)
    app = [c.appears for c in used]
    status = decide(app)
    facs = [dict(c.factors) if time_rule == "trajectory"
             else {k: v for k, v in c.factors.items() if k != "epoch"} for c in used]
    cond = describe_condition(facs, app) if status == "qualified" else ""
    closest = ""
    if status == "qualified" and not cond:
        rule, agree = closest_condition(facs, app)
        k = sum(app)
        trivial = max(k, len(app) - k)                  # 'everywhere' or 'nowhere'
        closest = (f"{rule} (agrees in {agree}/{len(app)} cells)" if agree > trivial else
                   f"none better than '{'everywhere' if 2 * k >= len(app) else 'nowhere'}' "
                   f"({trivial}/{len(app)} cells)")
    runs = np.concatenate([np.asarray(c.runs).ravel() for c in used])
    return Decision(status, time_rule, by_epoch, cond, by_factor(facs, app), runs,
                    len(used), sum(app), closest)
