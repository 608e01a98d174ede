"""Paper Y's properties on a real language model: the claims Y-P1-LM, Y-P2-LM, Y-P3-LM,
Y-ONPOL-LM, Y-FLEX-LM and Y-SFT-LM.

Each decides the statement of the toy claim it is linked to (Y-P1 … Y-SFT in
``proofs/paper_y.py``; ``links`` on the claim, shown side by side in the report) with DPO on
real multi-token text: the persona statement pairs of the training engine (paper I's K = 2
persona set, statements the persona would and would not say, unseen statements in no pair) —
or a user's preference JSONL (``DPOMATH_Y_DATA``) — for each model, training mode and seed of
:mod:`dpomath.validation.ysweep`. The toy's definitions are used where they transfer
(:mod:`dpomath.validation.yreadings`); where they cannot, the definitions below say so.

Everything below — definitions, readings and their ranks, time rules, decision rules,
controls — is fixed before any run (it is the same rule as the toy claims': a *cell* is a
setting (model × mode; × γ for SFT-DPO) at a checkpoint — a tenth, half and all of training; a
property appears in a cell when it shows in more than half of the seeds; CONFIRMED iff it
appears in every cell the time rule takes, REFUTED iff in none, else QUALIFIED with the simplest
condition over model, mode, step and phase).

Configuration: ``DPOMATH_PERSONA_DIR`` (required unless ``DPOMATH_Y_DATA`` names a preference
JSONL), the models (``dpomath verify --models``, ``$DPOMATH_MODELS``; each model decided on its
own, :mod:`dpomath.verify.per_model`), ``DPOMATH_CACHE_DIR`` (the runs are cached there and an
interrupted sweep resumes). Quick mode: last-layer, one persona, 2 seeds, 6 updates; full mode:
:data:`dpomath.validation.ysweep.FULL` on SmolLM2, :data:`~dpomath.validation.ysweep.FULL_OTHER`
on other models (``DPOMATH_Y_SWEEP=full``: the whole sweep on every model;
``DPOMATH_Y_SWEEP=cpu``: the part of it run on a 2-core CPU machine,
:data:`~dpomath.validation.ysweep.CPU` and :data:`~dpomath.validation.ysweep.CPU_OTHER`).
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from dpomath._args import BadValue
from dpomath.toys.analysis import (KAPPA, MAJORITY, TIE_TOL, UNSEEN_RISE, Cell, compare,
                                   decide_cells, frac_str, seed_shift)
from dpomath.verify.fidelity import (Control, Reading, Revision, Scope, control,
                                     decide_readings)
from dpomath.verify.ledger import Skip, Status, Verdict, claim, require_installed
from dpomath.verify.per_model import per_model

from .data import ENABLE_PERSONA_DATA

__all__ = ["DEFINITIONS", "CRITERIA", "TIME_RULE", "READINGS", "CONTROLS", "TRANSFER", "TOY_OF",
           "lm_result"]

# ---------------------------------------------------------------------------------------------
# fixed before any run

#: The toy claim each real-model claim decides on a real model.
TOY_OF = {"Y-P1-LM": "Y-P1", "Y-P2-LM": "Y-P2", "Y-P3-LM": "Y-P3", "Y-ONPOL-LM": "Y-ONPOL",
          "Y-FLEX-LM": "Y-FLEX", "Y-SFT-LM": "Y-SFT"}

#: Where the toy's definition transfers and where it cannot.
TRANSFER = {
    "Y-P1-LM": ("transfers: the toy's mean over the (prompt, rejected) pairs becomes the mean over "
                "the training pairs; κ = 3. New: the per-token coordinates (sequence probabilities "
                "are ~1e-30, so each property is also stated per token). Cannot transfer: the "
                "toy's free-logit control (a language model has no parameter-free counterpart); "
                "its placebo uses the unseen statements"),
    "Y-P2-LM": ("transfers with 'prompt i's chosen' → 'pair i's chosen' (one persona prompt holds "
                "several pairs here); the running peak is taken over the evaluated steps, not "
                "every update (it can only be lower, so degradation is, if anything, "
                "under-counted). Cannot transfer: the free-logit control; replaced by the "
                "mirror image on the rejected responses"),
    "Y-P3-LM": ("the toy's unseen responses 9–10 (in no pair) → the unseen persona statements "
                "(in no pair, scored under their persona's prompt); the toy's 'neither chosen nor "
                "rejected' set → the rest of the vocabulary at each position of the trained "
                "responses; new: the greedy response (decoded anew at each evaluation). The toy "
                "sums over all 10 responses; a language model's responses cannot be enumerated, "
                "so every reading is a sample of them"),
    "Y-ONPOL-LM": ("scenario 1 (both on-policy) → pairs of responses sampled from the reference "
                   "model itself; scenario 4 (both off-policy) → the persona statements; the "
                   "toy's on-policy probability 0.12 vs off-policy 0.02 becomes 'sampled by the "
                   "model' vs 'written by people' (the reference's per-token log π of each set is "
                   "reported). Scenarios 2–3 (mixed) are not run"),
    "Y-FLEX-LM": "transfers: β₊ = 0.1, the paper's β₋ sweep; compared with DPO at the same seed",
    "Y-SFT-LM": ("transfers with 'prompt' → 'pair' (as Y-P2-LM); γ ∈ {0.01, 0.1, 1} as the toy; "
                 "γ multiplies a sequence log-likelihood here (tens of nats), the toy's a "
                 "single-response log-probability"),
}

DEFINITIONS = {
    "Y-P1-LM": ("per run and checkpoint t: Δ_r = change since step 0 of the mean over the training "
                "pairs of the rejected response's quantity, Δ_c the same for the chosen; drastic "
                f"drop at t iff Δ_r < 0 and −Δ_r ≥ {KAPPA:g}·|Δ_c|. Quantity by reading: sequence "
                "log π(y|x) (log), sequence π (probability: the mean of π kept as a log-sum-exp, "
                "changes compared on one common scale), per-token mean log π (token_log), "
                "per-token mean π (token_prob)"),
    "Y-P2-LM": ("per run and checkpoint t, with c_i(u) = log π(chosen_i | prompt_i) at evaluated "
                "steps u: pair i's chosen degrades at t iff c_i(t) ≤ max_(u≤t) c_i(u) + log 0.9 "
                "and c_i(t) < c_i(0); per-pair reading: the run degrades iff some pair's chosen "
                "does; mean readings: the same test on the mean over pairs of sequence log π "
                "(mean_log), of sequence π (mean_prob, on its log), of per-token log π "
                "(token_log), of per-token π (token_prob: ≤ 0.9 × peak). The half 'rather than "
                "raising the chosen' (some pair's chosen not raised by more than 0.01 nats) is "
                "recorded beside it"),
    "Y-P3-LM": ("per run and checkpoint t: the reading's quantity gains ≥ log 1.1 on a log scale "
                "since step 0 (the toy's 10 % rise): unseen_prob — the unseen statements' mean "
                "sequence probability (their mass); unseen_log — their mean sequence log π; "
                "unseen_token — their mean per-token log π; greedy — the mean log π of the "
                "greedy response to each persona prompt, decoded anew at t (the mass on the "
                "model's most likely response, in no pair); vocabulary — the mean over every "
                "position of the trained responses (chosen and rejected) of the probability on "
                "the rest of the vocabulary, 1 − π(yₜ|·); vocabulary_chosen — the same at the "
                "chosen responses' positions"),
    "Y-ONPOL-LM": ("severities per run at checkpoint t as the toy: P1 = −Δ_r/|Δ_c| (Y-P1-LM's "
                   "ratio), P2 = max_i log(π_i(0)/π_i(t)) (the largest log-fall of a pair's "
                   "chosen), P3 = the log gain of the unseen statements' mass (the same unseen "
                   "statements in both runs of a seed); for each model, mode and seed the "
                   "on-policy run (pairs sampled from the reference) is milder than the "
                   "off-policy run (persona statement pairs) iff its severity is smaller beyond "
                   "the tie tolerance (0.01 nats on a log scale; 1 % relative for P1's ratio); "
                   "ties count as not milder"),
    "Y-FLEX-LM": ("Flex-DPO with β₊ = 0.1 against DPO (β = 0.1) at the same seed, at each "
                  "checkpoint t: the rejected drop is moderated iff the rejected responses' mean "
                  "sequence log π (log), log of mean π (probability) or mean per-token log π "
                  "(token_log) at t is higher than DPO's beyond the tie tolerance (0.01 nats)"),
    "Y-SFT-LM": ("SFT-DPO (β = 0.1, γ swept) against DPO (γ = 0) at the same seed and setting, at "
                 "each checkpoint t, with Y-P2-LM's per-pair test: a (setting, γ, t) is "
                 "informative when the DPO run degrades (some pair's chosen degrades) in a "
                 "majority of seeds; among those seeds SFT-DPO prevents the degradation iff no "
                 "pair's chosen degrades ('prevents'), reduces it iff fewer pairs degrade "
                 "('reduces'); mean readings: informative when DPO's mean chosen (sequence π: "
                 "mean_prob; sequence log π: mean_log) falls below its start in a majority of "
                 "seeds, and SFT-DPO keeps it ≥ its start"),
}

RULE = ("a cell is a setting (model × training mode) at a checkpoint (a tenth, half and all of "
        "training); a property appears in a cell when it shows in > 50 % of the seeds; "
        "CONFIRMED iff it appears in every cell the time rule takes, REFUTED iff in none, "
        "QUALIFIED otherwise — then the simplest condition over model, mode, step (called "
        "'epoch' by the shared decision code) and phase ('saturated' when the median DPO loss "
        "is ≤ 10 % of its start) is named")

CRITERIA = {
    "Y-P1-LM": RULE,
    "Y-P2-LM": RULE,
    "Y-P3-LM": RULE,
    "Y-ONPOL-LM": ("per (model × mode, checkpoint) and property: holds when the on-policy run is "
                   "milder than the off-policy run in > 50 % of the seeds (ties count as not "
                   "milder); a cell holds when all three properties hold; CONFIRMED iff every "
                   "cell holds, REFUTED iff none, else QUALIFIED"),
    "Y-FLEX-LM": ("per (model × mode, checkpoint): holds when, for every swept β₋ < β₊, > 50 % of "
                  "the seeds have a moderated drop; CONFIRMED iff every cell holds, REFUTED iff "
                  "none, else QUALIFIED. β₋ > β₊ is not decided: it is the reversed negative control; the "
                  "paper's 'best near 0.08' is a task-quality statement not measured here"),
    "Y-SFT-LM": ("per (informative setting, γ, checkpoint): holds when SFT-DPO prevents (reduces, "
                 "keeps the mean — by reading) the degradation in > 50 % of the paired seeds whose "
                 "DPO run degrades; CONFIRMED iff every such cell holds, REFUTED iff none, "
                 "QUALIFIED otherwise; INCONCLUSIVE (not testable) if no cell is informative"),
}

#: The toy claims' time rules (proofs/paper_y.py TIME_RULE), unchanged.
TIME_RULE = {
    "Y-P1-LM": ("trajectory", "'during DPO the rejected response's likelihood falls much faster'"),
    "Y-P2-LM": ("end", "'DPO ends up lowering the rejected response'"),
    "Y-P3-LM": ("trajectory", "'likelihood moves to' unseen responses during training"),
    "Y-ONPOL-LM": ("trajectory", "'the properties are mildest on-policy', as the properties, during training"),
    "Y-FLEX-LM": ("trajectory", "'moderates the drop': the drop of Y-P1, during training"),
    "Y-SFT-LM": ("trajectory", "'keeps the chosen likelihood from falling': at every point of training"),
}

#: Readings ranked as the toy claims rank theirs (1 = the headline, the reading most consistent
#: with the paper's words); the readings new on a real model follow the toy's.
READINGS = {
    "Y-P1-LM": (
        ("log", "in sequence log-likelihood: −Δ log π(rejected) ≥ 3·|Δ log π(chosen)|", 1,
         "the toy's headline: a drastic drop of a likelihood is a ratio (a change of log π)"),
        ("probability", "in sequence probability: −Δπ(rejected) ≥ 3·|Δπ(chosen)| (π ~ 1e-30, exact)", 2,
         "the toy's second reading: the probabilities the paper states its corollaries in"),
        ("token_log", "per token: the mean per-token log π", 3,
         "the log reading normalised by length (responses of 9–30 tokens)"),
        ("token_prob", "per token: the mean per-token π", 4,
         "the probability reading per token (numbers of order 0.1, not 1e-30)"),
    ),
    "Y-P2-LM": (
        ("per_pair", "some pair's chosen likelihood ends clearly below its peak and its start", 1,
         "the toy's headline ('the chosen likelihood can itself fall': some chosen)"),
        ("mean_log", "the mean over pairs of sequence log π(chosen) does", 2,
         "the toy's second reading: what DPO training logs report (logps/chosen)"),
        ("mean_prob", "the mean over pairs of sequence π(chosen) does", 3, "the toy's third reading"),
        ("token_log", "the mean per-token log π(chosen) does", 4, "per token"),
        ("token_prob", "the mean per-token π(chosen) does", 5, "per token, in probability"),
    ),
    "Y-P3-LM": (
        ("unseen_prob", "the unseen statements' probability mass rises ≥ 10 %", 1,
         "the toy's headline: 'dispersion effect on unseen responses' — responses in no pair — "
         "and 'likelihood moves to' them: mass"),
        ("unseen_log", "their mean sequence log π rises ≥ log 1.1", 2, "the toy's second reading"),
        ("unseen_token", "their mean per-token log π rises ≥ log 1.1", 3, "per token"),
        ("greedy", "the greedy response's log π rises ≥ log 1.1", 4,
         "the model's most likely response, in no pair: mass concentrating on it"),
        ("vocabulary", "the probability on the rest of the vocabulary at the trained responses' "
                       "positions rises ≥ 10 %", 5,
         "the toy's broad reading ('neither chosen nor rejected') at the token level"),
        ("vocabulary_chosen", "the same at the chosen responses' positions only", 6,
         "mass leaving the chosen tokens for others"),
    ),
    "Y-ONPOL-LM": (
        ("headline", "each property as its own claim's headline reads it: P1 in sequence log π, "
                     "P2 per pair, P3 the unseen mass", 1, "the toy's headline"),
        ("p1_prob", "P1 in sequence probability (P2, P3 as the headline)", 2, "the toy's second reading"),
        ("p3_log", "P3 as the unseen statements' mean sequence log π (P1, P2 as the headline)", 3,
         "Y-P3-LM's second reading"),
    ),
    "Y-FLEX-LM": (
        ("log", "the rejected responses' mean log π is higher than DPO's", 1, "the toy's headline"),
        ("probability", "the log of their mean π is higher than DPO's", 2, "the toy's second reading"),
        ("token_log", "their mean per-token log π is higher than DPO's", 3, "per token"),
    ),
    "Y-SFT-LM": (
        ("prevents", "no pair's chosen degrades under SFT-DPO (seeds whose DPO run degrades)", 1,
         "the toy's headline ('keeps the chosen likelihood from falling')"),
        ("reduces", "fewer pairs' chosen degrade than under DPO", 2, "the toy's second reading"),
        ("mean_prob", "the mean sequence π(chosen) ends at or above its start where DPO's falls", 3,
         "the toy's third reading"),
        ("mean_log", "the mean sequence log π(chosen) does", 4, "the toy's fourth reading"),
    ),
}

#: Negative controls (deliberately false variants decided by the same rule on the same cells);
#: run for every reading CONFIRMED at some checkpoint, judged there.
CONTROLS = {
    "Y-P1-LM": {"placebo": "the unseen statements (in no pair, never pushed down) in place of the "
                           "rejected",
                "tighter": "a threshold ten times tighter: −Δ_r ≥ 30·|Δ_c|"},
    "Y-P2-LM": {"reversed": "the mirror image on the responses DPO pushes down: the rejected rises "
                            "clearly above its running minimum and its start"},
    "Y-P3-LM": {"reversed": "the paired rejected responses (the trained tokens' own probability for "
                            "the vocabulary readings) in place of the reading's responses"},
    "Y-ONPOL-LM": {"placebo": "the off-policy run against the off-policy run at another seed: "
                              "'milder' by chance"},
    "Y-FLEX-LM": {"placebo": "DPO against DPO at another seed: 'moderated' by chance",
                  "reversed": "the swept β₋ > β₊ in place of β₋ < β₊ (the same seeds and data): "
                              "'moderated' by any change of β₋"},
    "Y-SFT-LM": {"placebo": "plain DPO at another seed in place of SFT-DPO: 'kept' by chance"},
}

ESTABLISHES = {
    ("Y-P1-LM", "placebo"): "the unseen statements fall as fast: every non-chosen response's "
                            "likelihood falls much faster than the chosen's rises, not a drop "
                            "specific to the rejected",
    ("Y-P1-LM", "tighter"): "the drop is even ≥ 30× the chosen's change",
    ("Y-P2-LM", "reversed"): "the rejected also rises in some pair: the per-pair test fires on "
                             "movement in either direction, so it does not isolate a fall of the chosen",
    ("Y-P3-LM", "reversed"): "the rejected responses' quantity rises as well: the reading does not "
                             "tell the responses in no pair from those DPO pushes down",
    ("Y-ONPOL-LM", "placebo"): "a run is 'milder' than another of the same data in a majority of "
                               "seeds: the comparison is met by chance",
    ("Y-FLEX-LM", "placebo"): "DPO is 'moderated' against itself at another seed: met by chance "
                              "(the seeds draw different statements, so this comparison is decided "
                              "by the data, not a 50/50 null)",
    ("Y-FLEX-LM", "reversed"): "β₋ > β₊ 'moderates' the drop as well: the comparison does not tell "
                               "the direction of β₋ from any change of it",
    ("Y-SFT-LM", "placebo"): "plain DPO at another seed 'keeps' the chosen as often: met by chance",
}

#: Y-FLEX-LM's second control, added after its first was seen to have no power (disclosed in
#: every verdict that uses it; the status rule is unchanged).
FLEX_CONTROL_REVISION = Revision(
    old_rule="negative control: DPO against DPO at another seed ('moderated' by chance) only",
    old_verdict="CONFIRMED on SmolLM2-135M-Instruct and Gemma-3-270M with the headline reading's "
                "only control passing (0.67 [0.30, 0.93] of comparisons on both): no control "
                "with power on the headline reading",
    new_rule="the same status rule; controls: the seed-shift placebo (kept, reported) and the "
             "reversed control — the swept β₋ > β₊ (0.12, 0.14) decided by the same rule in place "
             "of β₋ < β₊, on the same seeds and data; it must fail",
    reason="own finding (2026-12-01): the seeds draw different persona statements, so 'DPO at "
           "another seed' is decided by which seed's rejected statements are longer, not by "
           "chance; the reversed control compares runs on identical data. Its numbers were "
           "already in the evidence when it was added (moderated fraction for β₋ > β₊: 0.00 "
           "[0.00, 0.46] at every step on SmolLM2)")

_ENABLE_DATA = ENABLE_PERSONA_DATA + " (or DPOMATH_Y_DATA=pairs.jsonl, a preference JSONL)"
_ENABLE_DEPS = "pip install 'dpomath[train]'"


# ---------------------------------------------------------------------------------------------
# the runs

def _source() -> str:
    data = os.environ.get("DPOMATH_Y_DATA")
    if data:
        if not Path(data).is_file():  # a path the user gave that is wrong is an error
            raise BadValue(f"DPOMATH_Y_DATA: {data} is not a file")
        return data
    from .data import configured_persona_dir

    return str(configured_persona_dir(_ENABLE_DATA))


def lm_result(ctx, model, needs: str = "properties"):
    """The real-model runs of one model (:class:`~dpomath.verify.per_model.ModelChoice`) for a
    ledger context — run once per process, cached on disk — or Skip with the command that
    enables them. ``needs`` (:data:`~dpomath.validation.ysweep.NEEDS`): the runs the claim
    reads; the on-policy runs and the Flex-DPO/SFT-DPO sweep are part of the documented sweep on
    the default model only."""
    require_installed("torch", "transformers", "peft", enable=_ENABLE_DEPS)
    source = _source()
    from .ysweep import SamplingShortfall, get_result, needed_runs, spec_for

    spec = spec_for(model.key, ctx.quick).with_models((model.arg,))
    if (needs == "onpolicy" and not spec.onpolicy) or (needs == "sweep" and not spec.sweep_modes):
        why = ("the CPU subset of the sweep (DPOMATH_Y_SWEEP=cpu)" if spec.name.startswith("cpu")
               else "the documented sweep on this model (compute: it runs them on SmolLM2)")
        raise Skip(f"{model.name}: the {'on-policy runs are' if needs == 'onpolicy' else 'Flex-DPO/SFT-DPO sweep is'} "
                   f"not part of {why}",
                   enable="DPOMATH_Y_SWEEP=full dpomath verify --paper Y --models " + model.key)
    cache = os.environ.get("DPOMATH_CACHE_DIR") or None
    try:
        return get_result(spec, source, cache, runs=needed_runs(spec, needs))
    except SamplingShortfall as e:  # nothing trained: the on-policy pairs could not be drawn
        raise Skip(f"{model.name}: {e}", enable="a model that ends its responses with an end-of-turn "
                   "token (an instruct model with a chat template)") from None


# ---------------------------------------------------------------------------------------------
# deciding

def _settings(res, **match):
    return res.settings(**match)


def _factors(setting) -> dict:
    return {"model": setting.model, "mode": setting.mode}


def _dpo(setting):
    from dataclasses import replace

    return replace(setting, data="statements", loss="sigmoid", beta_minus=None, gamma=None)


def _phase(res, setting, t) -> str:
    from .yreadings import phase_of

    return phase_of(res, res.seeds(_dpo(setting)), t)


def _label(setting) -> str:
    return f"{setting.model} {setting.mode}"


def _step_text(text: str) -> str:
    return text.replace("epoch ", "step ").replace("epoch=", "step=").replace("epoch:", "step:")


def _cells(res, settings, ind) -> list[Cell]:
    """One cell per (setting, checkpoint); ``ind(run, t)`` gives one run's outcome."""
    out = []
    for s in settings:
        for t in res.checkpoints:
            x = np.array([bool(ind(r, t)) for r in res.seeds(s)], dtype=bool)
            out.append(Cell({**_factors(s), "epoch": t, "phase": _phase(res, s, t)},
                            bool(x.mean() > MAJORITY), x, _label(s)))
    return out


def _cells_text(dec) -> str:
    frac = frac_str(dec.runs) if dec.runs.size else "no runs"
    return _step_text(f"{dec.status.upper()}: appears in {dec.k_cells}/{dec.n_cells} cells; by "
                      f"{dec.trajectory_text()}; {frac} of runs")


def _scope(res, what: str = "") -> Scope:
    sp = res.spec
    first = next(iter(res.records.values())) if res.records else {}
    name = first.get("model", ", ".join(sp.models)).split(" (")[0]
    src = first.get("data", {}).get("counts", {})
    return Scope(f"{name}, {'/'.join(sp.modes)}: {what}{src.get('train', '?')} training "
                 f"pairs, {src.get('unseen', 0)} unseen statements, {sp.steps} updates of "
                 f"{sp.batch_size}, {sp.seeds} seeds, read at steps "
                 f"{'/'.join(map(str, res.checkpoints))}", kind="model")


def _control(cid, key, dec, vdec) -> Control:
    eps = dec.confirmed_epochs()
    holds = bool(eps) and all(vdec.by_epoch.get(e, (0, 0, "none"))[2] == "confirmed" for e in eps)
    at = "" if dec.status == "confirmed" else f" (judged at step {', '.join(map(str, eps))})"
    return control(CONTROLS[cid][key], holds=holds, measured=_cells_text(vdec) + at)


def _by_model(dec_cells) -> dict:
    """Per model: in how many cells the property appears, and the status that gives."""
    out = {}
    for m in sorted({c.factors["model"] for c in dec_cells}):
        app = [c.appears for c in dec_cells if c.factors["model"] == m]
        st = "confirmed" if all(app) else "refuted" if not any(app) else "qualified"
        out[m] = f"{st.upper()} ({sum(app)}/{len(app)} cells)"
    return out


def _decided(cid, name, cells, res, ctrl_cells=None, scope_what="", extra=None) -> Verdict:
    tr = TIME_RULE[cid][0]
    dec = decide_cells(cells, tr)
    ctrls = {}
    if dec.confirmed_epochs():
        for key, vc in (ctrl_cells or {}).items():
            ctrls[key] = _control(cid, key, dec, decide_cells(vc(), tr))
    text = next(r[1] for r in READINGS[cid] if r[0] == name)
    where = (f"; it appears where {_step_text(dec.condition)}" if dec.condition else
             (f"; closest rule: {_step_text(dec.closest)}" if dec.status == "qualified" else ""))
    summary = _step_text(f"{text}: {dec.status.upper()}, in {dec.k_cells}/{dec.n_cells} cells "
                         f"(by {dec.trajectory_text()}; {frac_str(dec.runs)} of runs){where}")
    used = cells if tr == "trajectory" else [c for c in cells if c.epoch == max(res.checkpoints)]
    ev = {"cells": _cells_text(dec), "by_step": _step_text(dec.trajectory_text()),
          "how_it_changes_with_training": _step_text(dec.how_it_changes()),
          "condition_where_it_appears": _step_text(dec.condition), "by_factor": _step_text(dec.by_factor),
          "fraction_of_runs": frac_str(dec.runs) if dec.runs.size else "", "by_model": _by_model(used),
          **(extra or {})}
    establishes = "; ".join(f"[{name}] {ESTABLISHES[(cid, k)]}" for k, c in ctrls.items() if not c.failed)
    return Verdict(Status(dec.status.upper()), summary, evidence=ev, controls=list(ctrls.values()),
                   establishes=establishes, scope=_scope(res, scope_what))


def _assemble(cid, readings, ev, details) -> Verdict:
    head = decide_readings(readings)
    rows = [f"{r.name} (rank {r.rank}): {r.verdict.status.value} — {r.verdict.evidence.get('cells', '')}"
            for r in sorted(readings, key=lambda r: r.rank)]
    head.evidence = {**ev, **head.evidence, "readings_side_by_side": rows,
                     "headline_reading": head.headline_reading, "time_rule": TIME_RULE[cid][0],
                     "time_rule_why": TIME_RULE[cid][1], "toy_claim": TOY_OF[cid],
                     "transfer": TRANSFER[cid]}
    # the readings side by side and the negative controls are the verdict's own tables (report)
    head.details = (f"**Toy claim.** {TOY_OF[cid]} (the same statement on paper Y's toy).\n\n"
                    f"**What transfers.** {TRANSFER[cid]}.\n\n**Definition.** {DEFINITIONS[cid]}.\n\n"
                    f"**Decision rule.** {CRITERIA[cid]}.\n\n**Time rule.** {TIME_RULE[cid][0]}: "
                    f"{TIME_RULE[cid][1]}.\n\n{details}")
    head.establishes = "; ".join(r.verdict.establishes for r in readings if r.verdict.establishes)
    return head


def _reading(cid, name, v) -> Reading:
    text, rank, why = next((r[1], r[2], r[3]) for r in READINGS[cid] if r[0] == name)
    return Reading(name, text, rank, why, v)


def _mean_ci(x) -> str:
    """'mean [95% t-interval]' over seeds."""
    from scipy import stats

    x = np.asarray(x, float)
    if x.size < 2:
        return f"{x.mean():+.3g} (one seed)"
    half = stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size)
    return f"{x.mean():+.3g} [{x.mean() - half:+.3g}, {x.mean() + half:+.3g}]"


def _changes_table(res, settings) -> list[str]:
    """Per setting and checkpoint: the mean (95 % t-interval over seeds) changes since step 0."""
    from .yreadings import mean_stat, p3_gain

    rows = []
    for s in settings:
        for t in res.checkpoints:
            def d(who, coord):
                return [mean_stat(res, r, t, who, coord) - mean_stat(res, r, 0, who, coord) for r in res.seeds(s)]
            parts = [f"Δlog π chosen {_mean_ci(d('chosen', 'log'))}",
                     f"rejected {_mean_ci(d('rejected', 'log'))}",
                     f"per token chosen {_mean_ci(d('chosen', 'token_log'))}",
                     f"rejected {_mean_ci(d('rejected', 'token_log'))}"]
            if res.at(res.seeds(s)[0], t).get("seq_unseen"):
                parts.append(f"unseen {_mean_ci(d('unseen', 'log'))}")
                parts.append(f"unseen mass (log gain) {_mean_ci([p3_gain(res, r, t) for r in res.seeds(s)])}")
            rows.append(f"{_label(s)} @ step {t}: " + "; ".join(parts))
    return rows


def _common_ev(cid, res) -> dict:
    sp = res.spec
    first = next(iter(res.records.values()))
    return {"definition": DEFINITIONS[cid], "criterion": CRITERIA[cid],
            "models": [rec["model"] for rec in {r.model: res.records[r] for r in res.records}.values()],
            "modes": list(sp.modes), "seeds": sp.seeds, "steps": sp.steps, "batch_size": sp.batch_size,
            "learning_rates": dict(sp.lr), "beta": sp.beta, "checkpoints": res.checkpoints,
            "data": first["data"]["source"], "data_counts": first["data"]["counts"],
            "sweep_seconds_this_process": round(res.seconds, 1)}


# ---------------------------------------------------------------------------------------------
# Y-P1-LM, Y-P2-LM, Y-P3-LM

@claim("Y-P1-LM", paper="Y", links=("Y-P1",), place="Section 3 (drastic drop), on a real LM — toy: Y-P1", method="empirical",
       statement="During DPO on real text the rejected response's likelihood falls much faster than the "
                 "chosen response's rises (Y-P1 on a real language model).",
       latex=r"-\Delta\log\pi(y_l) \ge 3\,|\Delta\log\pi(y_w)|")
@per_model
def check_p1_lm(ctx, model) -> Verdict:
    from . import yreadings as Y

    res = lm_result(ctx, model)
    settings = _settings(res, data="statements", loss="sigmoid")
    readings = []
    for name in Y.P1_COORDS:
        cells = _cells(res, settings, lambda r, t, c=name: Y.p1(res, r, t, c))
        ctrl = {"placebo": lambda c=name: _cells(res, settings, lambda r, t: Y.p1(res, r, t, c, "placebo")),
                "tighter": lambda c=name: _cells(res, settings, lambda r, t: Y.p1(res, r, t, c, kappa=10 * KAPPA))}
        readings.append(_reading("Y-P1-LM", name, _decided("Y-P1-LM", name, cells, res, ctrl)))
    ev = {**_common_ev("Y-P1-LM", res), "changes_mean_95ci_over_seeds": _changes_table(res, settings)}
    v = _assemble("Y-P1-LM", readings, ev, _details_changes(res, settings))
    v.figures = _figure(ctx, res, settings, "paper_y_lm_logps.png")
    return v


def _panels(res, settings) -> list[dict]:
    """The data of :func:`dpomath.plots.paper_y.lm_logps_over_steps`: per setting, the change of
    the mean log π (sequence and per token) of chosen, rejected and unseen (by kind) over the
    evaluated steps, one list per seed."""
    from .yreadings import mean_stat

    panels = []
    for s in settings:
        seeds = res.seeds(s)
        steps = [row["step"] for row in res.records[seeds[0]]["steps"]]
        series = {}
        for who in ("chosen", "rejected"):
            series[who] = {k: [[mean_stat(res, r, t, who, c) - mean_stat(res, r, 0, who, c) for t in steps]
                               for r in seeds] for k, c in (("seq", "log"), ("tok", "token_log"))}
        for kind in ("would-say", "would-not-say"):
            ser = {"seq": [], "tok": []}
            for r in seeds:
                sel = [i for i, k in enumerate(res.records[r].get("unseen_kinds", [])) if k == kind]
                if not sel or not res.at(r, 0).get("seq_unseen"):
                    continue
                for key, stat in (("seq", "seq_unseen"), ("tok", "tok_unseen")):
                    base = np.mean([res.at(r, 0)[stat][i] for i in sel])
                    ser[key].append([float(np.mean([res.at(r, t)[stat][i] for i in sel]) - base) for t in steps])
            if ser["seq"]:
                series[f"unseen {kind}"] = ser
        model = res.records[seeds[0]].get("model", s.model).split(" (")[0]
        panels.append({"title": f"{model}, {s.mode} ({len(seeds)} seed{'s' if len(seeds) != 1 else ''})", "steps": steps, "series": series})
    return panels


def _figure(ctx, res, settings, name: str) -> list[str]:
    if not ctx.want_figures:
        return []
    from dpomath.plots.paper_y import lm_logps_over_steps

    return [str(lm_logps_over_steps(_panels(res, settings), ctx.figure_path(name),
                                    "DPO on persona statement pairs: change of mean log π since step 0"))]


def _details_changes(res, settings) -> str:
    return ("**Changes since step 0** (mean over seeds, 95 % t-interval; log π in nats):\n\n"
            + "\n".join(f"- {row}" for row in _changes_table(res, settings)))


@claim("Y-P2-LM", paper="Y", links=("Y-P2",), place="Section 3 (degradation), on a real LM — toy: Y-P2", method="empirical",
       statement="DPO on real text ends up lowering the rejected response rather than raising the chosen; "
                 "the chosen likelihood can itself fall (Y-P2 on a real language model).",
       latex=r"\exists i:\ \log\pi_T(y_w^i) < \log\pi_0(y_w^i)")
@per_model
def check_p2_lm(ctx, model) -> Verdict:
    from . import yreadings as Y

    res = lm_result(ctx, model)
    settings = _settings(res, data="statements", loss="sigmoid")
    readings = []
    for name in ("per_pair", "mean_log", "mean_prob", "token_log", "token_prob"):
        cells = _cells(res, settings, lambda r, t, n=name: Y.p2(res, r, t, n))
        ctrl = {"reversed": lambda n=name: _cells(res, settings, lambda r, t: Y.p2_reversed(res, r, t, n))}
        readings.append(_reading("Y-P2-LM", name, _decided("Y-P2-LM", name, cells, res, ctrl)))
    end = max(res.checkpoints)
    nr = [Y.p2_not_raised(res, r, end) for s in settings for r in res.seeds(s)]
    deg = [int(Y.degraded_pairs(res, r, end).sum()) for s in settings for r in res.seeds(s)]
    ev = {**_common_ev("Y-P2-LM", res),
          "not_raised_some_pair_at_end": frac_str(np.array(nr, bool)),
          "degraded_pairs_per_run_at_end": deg,
          "changes_mean_95ci_over_seeds": _changes_table(res, settings)}
    return _assemble("Y-P2-LM", readings, ev, _details_changes(res, settings))


@claim("Y-P3-LM", paper="Y", links=("Y-P3",), place="Section 3 (dispersion), on a real LM — toy: Y-P3", method="empirical",
       statement="During DPO on real text likelihood moves to responses in no pair: the unseen statements, "
                 "the greedy response, the rest of the vocabulary (Y-P3 on a real language model).",
       latex=r"\log m_T(\text{unseen}) - \log m_0(\text{unseen}) \ge \log 1.1")
@per_model
def check_p3_lm(ctx, model) -> Verdict:
    from . import yreadings as Y

    res = lm_result(ctx, model)
    settings = _settings(res, data="statements", loss="sigmoid")
    readings = []
    has_unseen = bool(res.at(res.seeds(settings[0])[0], 0).get("seq_unseen"))
    has_greedy = bool(res.at(res.seeds(settings[0])[0], 0).get("greedy_logps"))
    for name in Y.P3_READINGS:
        if (name.startswith("unseen") and not has_unseen) or (name == "greedy" and not has_greedy):
            why = ("the data has no unseen statements (a preference JSONL)" if name.startswith("unseen")
                   else "no greedy response was decoded")
            v = Verdict.untestable(f"{name}: not testable here ({why})", why, evidence={"cells": "none"})
        else:
            cells = _cells(res, settings, lambda r, t, n=name: Y.p3(res, r, t, n))
            ctrl = {"reversed": lambda n=name: _cells(res, settings, lambda r, t: Y.p3(res, r, t, n, "reversed"))}
            v = _decided("Y-P3-LM", name, cells, res, ctrl)
        readings.append(_reading("Y-P3-LM", name, v))
    gains = []
    for s in settings:
        for t in res.checkpoints:
            g = {n: _mean_ci([Y.p3_gain(res, r, t, n) for r in res.seeds(s)]) for n in Y.P3_READINGS
                 if not ((n.startswith("unseen") and not has_unseen) or (n == "greedy" and not has_greedy))}
            gains.append(f"{_label(s)} @ step {t}: " + "; ".join(f"{k} {v}" for k, v in g.items()))
    kinds = _unseen_by_kind(res, settings) if has_unseen else []
    greedy_in_pair = _greedy_in_pairs(res, settings) if has_greedy else ""
    ev = {**_common_ev("Y-P3-LM", res), "log_gains_mean_95ci_over_seeds": gains,
          "unseen_by_kind": kinds, "greedy_responses_equal_to_a_trained_response": greedy_in_pair,
          "threshold": f"log {UNSEEN_RISE:g} = {math.log(UNSEEN_RISE):.4f}"}
    details = ("**Log gains since step 0** (mean over seeds, 95 % t-interval):\n\n"
               + "\n".join(f"- {g}" for g in gains)
               + ("\n\n**Unseen statements by kind** (Δ mean log π):\n\n" + "\n".join(f"- {k}" for k in kinds)
                  if kinds else ""))
    return _assemble("Y-P3-LM", readings, ev, details)


def _unseen_by_kind(res, settings) -> list[str]:
    rows = []
    for s in settings:
        for t in res.checkpoints:
            parts = []
            for kind in ("would-say", "would-not-say"):
                vals = []
                for r in res.seeds(s):
                    kinds = res.records[r]["unseen_kinds"]
                    sel = [i for i, k in enumerate(kinds) if k == kind]
                    if sel:
                        a, b = res.at(r, t)["seq_unseen"], res.at(r, 0)["seq_unseen"]
                        vals.append(float(np.mean([a[i] - b[i] for i in sel])))
                if vals:
                    parts.append(f"{kind} {_mean_ci(vals)}")
            rows.append(f"{_label(s)} @ step {t}: " + "; ".join(parts))
    return rows


def _greedy_in_pairs(res, settings) -> str:
    hits, total = 0, 0
    for s in settings:
        for r in res.seeds(s):
            trained = {t.strip() for t in res.records[r].get("train_texts", [])}
            for row in res.records[r]["steps"]:
                for text in row.get("greedy_texts", []):
                    total += 1
                    hits += text.strip() in trained
    return f"{hits}/{total} greedy responses (every evaluated step) equal a trained response"


# ---------------------------------------------------------------------------------------------
# Y-ONPOL-LM

_ONPOL = {"headline": ("log", "unseen_prob"), "p1_prob": ("probability", "unseen_prob"),
          "p3_log": ("log", "unseen_log")}


def _severity(res, run, prop, t, coord, p3_reading):
    from . import yreadings as Y

    if prop == "P1":
        return Y.p1_severity(res, run, t, coord), "ratio"
    if prop == "P2":
        return Y.p2_severity(res, run, t), "log"
    return Y.p3_gain(res, run, t, p3_reading), "log"


def _onpol_cells(res, settings, reading, placebo=False, tally=None) -> list[Cell]:
    from dataclasses import replace

    coord, p3r = _ONPOL[reading]
    cells = []
    for s in settings:
        on = replace(s, data="onpolicy")
        off_runs, on_runs = res.seeds(s), res.seeds(on)
        n = min(len(off_runs), len(on_runs))
        for t in res.checkpoints:
            ok, outs = True, []
            for prop in ("P1", "P2", "P3"):
                b = np.array([_severity(res, r, prop, t, coord, p3r)[0] for r in off_runs[:n]])
                scale = _severity(res, off_runs[0], prop, t, coord, p3r)[1]
                a = seed_shift(b) if placebo else np.array([_severity(res, r, prop, t, coord, p3r)[0]
                                                             for r in on_runs[:n]])
                c = compare(a, b, scale)
                m = c < 0
                ok &= bool(m.mean() > MAJORITY)
                outs.append(m)
                if tally is not None:
                    d = tally.setdefault((prop, t), [0, 0, 0])
                    d[0] += int(np.sum(c < 0)); d[1] += int(np.sum(c == 0)); d[2] += int(np.sum(c > 0))
            cells.append(Cell({**_factors(s), "epoch": t, "phase": _phase(res, s, t)}, ok,
                              np.concatenate(outs), _label(s)))
    return cells


@claim("Y-ONPOL-LM", paper="Y", links=("Y-ONPOL",), place="Section 3.2 (on/off-policy), on a real LM — toy: Y-ONPOL",
       method="empirical",
       statement="On real text the 3D-properties are milder when chosen and rejected are both on-policy "
                 "(sampled from the reference model) than when both are off-policy (persona statements) "
                 "(Y-ONPOL on a real language model).",
       latex=r"\mathrm{sev}(\text{on-policy}) < \mathrm{sev}(\text{off-policy})")
@per_model
def check_onpol_lm(ctx, model) -> Verdict:
    from dataclasses import replace

    from .yreadings import mean_stat

    res = lm_result(ctx, model, 'onpolicy')
    settings = [s for s in _settings(res, data="statements", loss="sigmoid")
                if res.seeds(replace(s, data="onpolicy"))]
    if not settings:
        return Verdict.inconclusive("no on-policy runs in this sweep", evidence={})
    readings, tallies = [], {}
    for name, text, rank, why in READINGS["Y-ONPOL-LM"]:
        tally = {}
        cells = _onpol_cells(res, settings, name, tally=tally)
        tallies[name] = tally
        ctrl = {"placebo": lambda n=name: _onpol_cells(res, settings, n, placebo=True)}
        readings.append(_reading("Y-ONPOL-LM", name, _decided("Y-ONPOL-LM", name, cells, res, ctrl,
                                                              "on-policy vs off-policy paired by seed; ")))
    onpolicy_check = []
    for s in settings:
        on = replace(s, data="onpolicy")
        a = [mean_stat(res, r, 0, "chosen", "token_log") for r in res.seeds(on)]
        b = [mean_stat(res, r, 0, "chosen", "token_log") for r in res.seeds(s)]
        onpolicy_check.append(f"{_label(s)}: reference per-token log π of the chosen — on-policy "
                              f"{_mean_ci(a)}, off-policy {_mean_ci(b)}")
    rows = [f"{p} @ step {t}: on-policy milder {m}, tie {tie}, off-policy milder {h}"
            for (p, t), (m, tie, h) in sorted(tallies["headline"].items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    samp = [rec.get("sampling") for r, rec in res.records.items() if r.data == "onpolicy" and rec.get("sampling")]
    ev = {**_common_ev("Y-ONPOL-LM", res), "comparisons_headline_milder_tie_harsher": rows,
          "on_policy_is_on_policy": onpolicy_check,
          "sampling": [{k: v for k, v in s.items() if k != "samples"} for s in samp[:4]],
          "example_on_policy_pairs": (samp[0]["samples"][:2] if samp else []),
          "tie_tolerance": f"{TIE_TOL:g} nats on a log scale; {TIE_TOL:.0%} relative for P1's ratio"}
    details = ("**Is on-policy on-policy?** " + "; ".join(onpolicy_check) + "\n\n**Comparisons "
               "(headline):**\n\n" + "\n".join(f"- {r}" for r in rows))
    return _assemble("Y-ONPOL-LM", readings, ev, details)


# ---------------------------------------------------------------------------------------------
# Y-FLEX-LM

def _flex_cells(res, keys, coord, bms, placebo=False) -> list[Cell]:
    from dataclasses import replace

    from .yreadings import flex_value

    cells = []
    for s in keys:
        for t in res.checkpoints:
            vd = np.array([flex_value(res, r, t, coord) for r in res.seeds(s)])
            if placebo:
                comps = [compare(seed_shift(vd), vd) > 0]
            else:
                comps = []
                for bm in bms:
                    fl = res.seeds(replace(s, loss="flex", beta_minus=bm))
                    vf = np.array([flex_value(res, r, t, coord) for r in fl])
                    comps.append(compare(vf, vd[:len(vf)]) > 0)
            ok = all(bool(c.mean() > MAJORITY) for c in comps)
            cells.append(Cell({**_factors(s), "epoch": t, "phase": _phase(res, s, t)}, ok,
                              np.concatenate(comps), _label(s)))
    return cells


@claim("Y-FLEX-LM", paper="Y", links=("Y-FLEX",), place="Section 4 (Flex-DPO), on a real LM — toy: Y-FLEX", method="empirical",
       statement="On real text Flex-DPO with β₋ < β₊ = 0.1 moderates the drop of the rejected likelihood "
                 "(Y-FLEX on a real language model; the paper's sweep β₋ ∈ {0.02 … 0.14}).",
       latex=r"\beta_- < \beta_+ \Rightarrow \log\pi^{\mathrm{flex}}_t(y_l) > \log\pi^{\mathrm{DPO}}_t(y_l)")
@per_model
def check_flex_lm(ctx, model) -> Verdict:
    from dataclasses import replace

    from .yreadings import flex_value

    res = lm_result(ctx, model, 'sweep')
    sp = res.spec
    keys = [s for s in _settings(res, data="statements", loss="sigmoid") if s.mode in sp.sweep_modes]
    below = [b for b in sp.flex_beta_minus if b < sp.flex_beta_plus and not math.isclose(b, sp.flex_beta_plus)]
    above = [b for b in sp.flex_beta_minus if b > sp.flex_beta_plus and not math.isclose(b, sp.flex_beta_plus)]
    if not keys or not below:
        return Verdict.inconclusive("no Flex-DPO runs with β₋ < β₊ in this sweep", evidence={})
    readings = []
    for name, text, rank, why in READINGS["Y-FLEX-LM"]:
        cells = _flex_cells(res, keys, name, below)
        ctrl = {"placebo": lambda n=name: _flex_cells(res, keys, n, below, placebo=True)}
        if above:
            ctrl["reversed"] = lambda n=name: _flex_cells(res, keys, n, above)
        readings.append(_reading("Y-FLEX-LM", name, _decided(
            "Y-FLEX-LM", name, cells, res, ctrl, f"β₊ = {sp.flex_beta_plus:g}, β₋ ∈ "
            f"{{{', '.join(f'{b:g}' for b in below)}}} vs DPO paired by seed; ")))
    sweep = []
    for s in keys:
        for t in res.checkpoints:
            d = [flex_value(res, r, t, "log") for r in res.seeds(s)]
            parts = [f"DPO {_mean_ci(d)}"]
            for bm in below + above:
                parts.append(f"β₋={bm:g} {_mean_ci([flex_value(res, r, t, 'log') for r in res.seeds(replace(s, loss='flex', beta_minus=bm))])}")
            sweep.append(f"{_label(s)} @ step {t}: mean log π(rejected) " + "; ".join(parts))
    ev = {**_common_ev("Y-FLEX-LM", res), "beta_plus": sp.flex_beta_plus,
          "beta_minus_swept": list(sp.flex_beta_minus), "rejected_logp_by_beta_minus": sweep}
    for t in res.checkpoints:
        for label, bms in (("below", below), ("above", above)):
            if bms:
                x = np.concatenate([compare(np.array([flex_value(res, r, t, "log") for r in res.seeds(replace(s, loss="flex", beta_minus=bm))]),
                                            np.array([flex_value(res, r, t, "log") for r in res.seeds(s)])) > 0
                                    for s in keys for bm in bms])
                ev[f"moderated_fraction_beta_minus_{label}_at_step_{t}"] = frac_str(x)
    details = "**Rejected mean log π by β₋** (mean over seeds, 95 % t-interval):\n\n" + "\n".join(f"- {r}" for r in sweep)
    head = _assemble("Y-FLEX-LM", readings, ev, details)
    if above:
        head.revisions.append(FLEX_CONTROL_REVISION)
    return head


# ---------------------------------------------------------------------------------------------
# Y-SFT-LM

_SFT_MEAN = {"mean_prob": "probability", "mean_log": "log"}


def _sft_cells(res, keys, gammas, reading, placebo=False) -> list[Cell]:
    from dataclasses import replace

    from .yreadings import degraded_pairs, sft_mean

    cells = []
    for s in keys:
        dpo = res.seeds(s)
        for t in res.checkpoints:
            if reading in _SFT_MEAN:
                v = [sft_mean(res, r, t, _SFT_MEAN[reading]) for r in dpo]
                score = np.array([int(a < b) for a, b in v])
            else:
                score = np.array([int(degraded_pairs(res, r, t).sum()) for r in dpo])
            paired = score > 0
            if not paired.mean() > MAJORITY:
                continue
            others = [("placebo", None)] if placebo else [(g, replace(s, loss="sft", gamma=g)) for g in gammas]
            for g, st in others:
                if reading in _SFT_MEAN:
                    if st is None:
                        kept = seed_shift(np.array([a >= b for a, b in v]))
                    else:
                        kept = np.array([a >= b for a, b in (sft_mean(res, r, t, _SFT_MEAN[reading])
                                                             for r in res.seeds(st))])
                    x = kept[paired[:len(kept)]]
                else:
                    n_other = seed_shift(score) if st is None else np.array(
                        [int(degraded_pairs(res, r, t).sum()) for r in res.seeds(st)])
                    x = ((n_other == 0) if reading == "prevents" else (n_other < score[:len(n_other)]))[paired[:len(n_other)]]
                fac = {**_factors(s), **({} if placebo else {"gamma": g}), "epoch": t, "phase": _phase(res, s, t)}
                cells.append(Cell(fac, bool(x.mean() > MAJORITY), x,
                                  _label(s) + ("" if placebo else f" γ={g:g}")))
    return cells


@claim("Y-SFT-LM", paper="Y", links=("Y-SFT",), place="Section 4 (SFT-DPO), on a real LM — toy: Y-SFT", method="empirical",
       statement="On real text SFT-DPO, ℓ_DPO − γ log πθ(a+|x), keeps the chosen likelihood from falling "
                 "(Y-SFT on a real language model).",
       latex=r"\ell_{\mathrm{DPO}} - \gamma\log\pi_\theta(y_w|x):\ \log\pi_T(y_w) \ge \log\pi_0(y_w)")
@per_model
def check_sft_lm(ctx, model) -> Verdict:
    from dataclasses import replace

    from .yreadings import degraded_pairs, mean_stat

    res = lm_result(ctx, model, 'sweep')
    sp = res.spec
    keys = [s for s in _settings(res, data="statements", loss="sigmoid") if s.mode in sp.sweep_modes]
    if not keys or not sp.sft_gammas:
        return Verdict.inconclusive("no SFT-DPO runs in this sweep", evidence={})
    readings = []
    for name, text, rank, why in READINGS["Y-SFT-LM"]:
        cells = _sft_cells(res, keys, sp.sft_gammas, name)
        dec = decide_cells(cells, TIME_RULE["Y-SFT-LM"][0]) if cells else None
        if not cells or dec.status == "inconclusive":
            why_nt = (f"plain DPO (β = {sp.beta:g}) lets {'the mean chosen' if name in _SFT_MEAN else 'some pair’s chosen'} "
                      f"fall in a majority of seeds in no (setting, checkpoint) of {len(keys)} settings × "
                      f"{len(res.checkpoints)} checkpoints: nothing for SFT-DPO to keep")
            v = Verdict.untestable(f"{text}: not testable in this setting ({why_nt})", why_nt,
                                   evidence={"cells": "no informative cell"}, scope=_scope(res))
        else:
            ctrl = {"placebo": lambda n=name: _sft_cells(res, keys, sp.sft_gammas, n, placebo=True)}
            v = _decided("Y-SFT-LM", name, cells, res, ctrl, f"γ ∈ {{{', '.join(f'{g:g}' for g in sp.sft_gammas)}}} "
                                                            "vs DPO paired by seed; ")
        readings.append(_reading("Y-SFT-LM", name, v))
    table = []
    for s in keys:
        for t in res.checkpoints:
            parts = [f"DPO: Δ mean log π(chosen) {_mean_ci([mean_stat(res, r, t, 'chosen', 'log') - mean_stat(res, r, 0, 'chosen', 'log') for r in res.seeds(s)])}, "
                     f"degraded pairs {[int(degraded_pairs(res, r, t).sum()) for r in res.seeds(s)]}"]
            for g in sp.sft_gammas:
                st = replace(s, loss="sft", gamma=g)
                parts.append(f"γ={g:g}: {_mean_ci([mean_stat(res, r, t, 'chosen', 'log') - mean_stat(res, r, 0, 'chosen', 'log') for r in res.seeds(st)])}, "
                             f"degraded {[int(degraded_pairs(res, r, t).sum()) for r in res.seeds(st)]}")
            table.append(f"{_label(s)} @ step {t}: " + "; ".join(parts))
    ev = {**_common_ev("Y-SFT-LM", res), "gammas": list(sp.sft_gammas), "chosen_by_gamma": table}
    details = "**Chosen by γ** (Δ mean log π(chosen), 95 % t-interval; degraded pairs per seed):\n\n" + \
        "\n".join(f"- {r}" for r in table)
    return _assemble("Y-SFT-LM", readings, ev, details)
