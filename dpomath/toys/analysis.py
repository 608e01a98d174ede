"""Paper Y's toy runs read as evidence: per-run indicators of the 3D-properties, their
severities, and the decision rule of the paper-Y claims — fixed here before any run.

* a *run* is one (setting, seed) of the sweep (:mod:`dpomath.toys.sweeps`); each property has a
  per-run indicator (:func:`indicator_p1`, :func:`indicator_p2`, :func:`indicator_p3`);
* in a *setting* the property **appears** when it shows in more than half of the runs
  (:data:`MAJORITY`); every fraction is reported with its exact (Clopper–Pearson) 95 % interval
  (:func:`frac_str`);
* :func:`decide` turns per-setting flags into CONFIRMED / QUALIFIED / REFUTED, and
  :func:`describe_condition` names the simplest condition on the factors where the property
  appears. The claims themselves (their definitions in words, their verdicts) are in
  ``proofs/paper_y.py``.

>>> decide([True, False, True])
'qualified'
>>> fmt_interval(0.0, 0.0031)
'0.000–0.003'
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ..verify.stats import clopper_pearson
from .mlp import N_PROMPTS

__all__ = ["KAPPA", "PEAK_DROP", "UNSEEN_RISE", "MAJORITY", "CONFIDENCE", "interval",
           "fmt_interval", "frac_str", "decide", "describe_condition", "by_factor", "factors",
           "setting_label", "swept_text", "dpo_settings", "indicator_p1", "prompt_chosen",
           "degraded_prompts", "indicator_p2", "indicator_p2_mean", "indicator_p3", "severity"]

# thresholds of the operational definitions (fixed before the runs)

KAPPA = 3.0          # Y-P1: "much faster" = the rejected log-prob falls ≥ 3× the chosen's |change|
PEAK_DROP = 0.9      # Y-P2: the chosen probability ends at ≤ 90 % of its peak ...
UNSEEN_RISE = 1.1    # Y-P3: the unseen mass ends ≥ 10 % above its start
MAJORITY = 0.5       # a property appears in a setting when its run fraction exceeds this
CONFIDENCE = 0.95    # Clopper–Pearson level


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
