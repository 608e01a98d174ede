"""Paper Y — Yan et al., ICLR 2025, "3D-properties of DPO" (arXiv 2406.07327).

Claims Y-C1, Y-C2, Y-RM (the algebra) and Y-P1, Y-P2, Y-P3, Y-ONPOL, Y-FLEX, Y-SFT (the toy
model) of THEORY.md.

**The algebra.** The loss ℓ = log(1 + α z^β), z = π−/π+, is DPO's member of
:mod:`dpomath.losses` at h± = log(π±/π0±) (shown exactly in Y-C1); every symbolic result has a
50-digit numeric twin.

**The toy model.** Every dynamics claim reads one sweep (:func:`dpomath.toys.sweeps.cached_sweep`,
shared in-process) and decides its verdict by a rule fixed before any run
(:mod:`dpomath.toys.analysis`: the per-run indicators, the majority rule, the intervals):

* a *run* is one (setting, seed) of the sweep; each property has a per-run indicator
  (the operational definition, ``DEFINITIONS`` below);
* in a *setting* the property **appears** when it shows in more than half of the runs
  (``MAJORITY``); every fraction is reported with its exact (Clopper–Pearson) 95 % interval;
* the claim is CONFIRMED when it appears in every setting of the paper's model (the MLP),
  REFUTED when it appears in none, and QUALIFIED otherwise — the verdict then names the
  settings (factor levels) where it does not appear. The free-logit (tabular) runs are a
  control: reported beside the verdict, never part of it.

The free-logit model's own results (G-TABULAR, G-SQUEEZE) are in ``proofs/paper_g.py``.
"""
from __future__ import annotations

import math

import numpy as np

from dpomath.toys.analysis import (KAPPA, MAJORITY, P1_STATS, PEAK_DROP, SATURATED, TIE_TOL,
                                   UNSEEN_RISE,
                                   Cell, change, compare, decide, decide_cells, degraded_at,
                                   degraded_prompts, dpo_settings as _dpo_settings,
                                   factors as _factors, frac_str as _frac_str, indicator_p1,
                                   indicator_p2, indicator_p2_mean, indicator_p3, p1, p2,
                                   p2_not_raised, p3, phase, seed_shift,
                                   setting_label as _setting_label, severity, severity_at,
                                   swept_text as _swept_text, value)
from dpomath.verify.fidelity import (READING_RULE, REVIEW, Control, Reading, Revision, Scope,
                                     control, decide_readings)
from dpomath.verify.ledger import Status, Verdict, claim
from dpomath.verify.twins import (TWIN_TOL as _TWIN_TOL, identity_controls, reduces_to_zero,
                                  twin_points)

# ---------------------------------------------------------------------------------------------
# the algebra: Y-C1, Y-C2, Y-RM

_GENERAL = Scope("general symbolic: every π± > 0, α > 0, β > 0 (+ 50-digit twins)", kind="general")


@claim("Y-C1", paper="Y", place="Corollary 1", method="symbolic", scope=_GENERAL,
       statement="For ℓ = log(1 + α z^β), z = π−/π+, α = (π0(a+)/π0(a−))^β: "
                 "(∂ℓ/∂π−) / (∂ℓ/∂π+) = −π+/π−.",
       latex=r"\frac{\partial \ell/\partial \pi_-}{\partial \ell/\partial \pi_+} = -\frac{\pi_+}{\pi_-}")
def check_y_c1(ctx):
    import sympy as sp

    from dpomath.gradients import formulas as S
    from dpomath.verify.twins import numeric_twin

    ell = S.yan_loss
    same_as_dpo = reduces_to_zero(
        sp.expand_log(ell.subs(S.alpha, (S.pi0_plus / S.pi0_minus) ** S.beta) - S.yan_loss_dpo, force=True)) \
        or reduces_to_zero(ell.subs(S.alpha, (S.pi0_plus / S.pi0_minus) ** S.beta) - S.yan_loss_dpo)
    gp, gm = sp.diff(ell, S.pi_plus), sp.diff(ell, S.pi_minus)
    ratio_ok = reduces_to_zero(gm / gp + S.pi_plus / S.pi_minus)
    ranges = {S.pi_plus: (1e-4, 1.0), S.pi_minus: (1e-4, 1.0), S.alpha: (0.01, 100.0), S.beta: (0.05, 3.0)}
    pts = twin_points(ctx, [S.pi_plus, S.pi_minus, S.alpha, S.beta], ranges)
    tw = numeric_twin(gm / gp, -S.pi_plus / S.pi_minus, pts, tol=_TWIN_TOL)
    pts0 = twin_points(ctx, [S.pi_plus, S.pi_minus, S.pi0_plus, S.pi0_minus, S.beta],
                        {**ranges, S.pi0_plus: (1e-4, 1.0), S.pi0_minus: (1e-4, 1.0)})
    tw0 = numeric_twin(ell.subs(S.alpha, (S.pi0_plus / S.pi0_minus) ** S.beta), S.yan_loss_dpo, pts0,
                       tol=_TWIN_TOL)
    controls = identity_controls({"ratio = +π+/π− (sign flipped)": (gm / gp, S.pi_plus / S.pi_minus),
                                  "ratio = −π−/π+ (inverted)": (gm / gp, -S.pi_minus / S.pi_plus)},
                                 pts, tol=_TWIN_TOL)
    ev = {"loss_is_family_dpo_at_h=log(pi/pi0)": same_as_dpo, "ratio_reduces": ratio_ok,
          "dl/dpi+": str(S.yan_gradient[0]), "dl/dpi-": str(S.yan_gradient[1]),
          "ratio": str(S.yan_ratio), "twin_ratio_max_rel_diff": tw["twin_max_rel_diff"],
          "twin_loss_max_rel_diff": tw0["twin_max_rel_diff"], "twin_points": tw["twin_points"],
          "twin_dps": 50}
    details = ("ℓ equals the family's DPO loss −log σ(β(h+ − h−)) at h± = log(π±/π0±) (SymPy), and "
               "(∂ℓ/∂π−)/(∂ℓ/∂π+) + π+/π− reduces to 0. The factor π+/π− is the chain rule "
               "∂h/∂π = 1/π: in the log-ratios h± the same gradient is equal and opposite "
               "(claims Y-RM, F-FIELD), so the imbalance belongs to the probability coordinates.")
    if not (tw["ok"] and tw0["ok"]):
        return Verdict.refuted("the numeric twin disagrees with the stated ratio", evidence=ev,
                               counterexample=tw["twin_worst_point"], details=details)
    if same_as_dpo and ratio_ok:
        return Verdict.proved("(∂ℓ/∂π−)/(∂ℓ/∂π+) = −π+/π− exactly (SymPy), for every β > 0 and α > 0; "
                              "50-digit twins agree", evidence=ev, details=details, controls=controls)
    return Verdict.inconclusive("twins agree but SymPy did not reduce the identity", evidence=ev,
                                details=details)


@claim("Y-C2", paper="Y", place="Corollary 2", method="symbolic",
       scope=Scope("general symbolic: exact limits for β < 1, = 1, > 1 (+ 50-digit twins)", kind="general"),
       statement="As π− → 0, ∂ℓ/∂π+ → 0 and ∂ℓ/∂π− → ∞, given that β < 1 (settled here for every β > 0).",
       latex=r"\pi_- \to 0:\ \partial_{\pi_+}\ell \to 0,\ \partial_{\pi_-}\ell \to \infty\ (\beta < 1)")
def check_y_c2(ctx):
    import mpmath as mp
    import sympy as sp

    from dpomath.gradients import formulas as S

    ell = S.yan_loss
    gp, gm = sp.diff(ell, S.pi_plus), sp.diff(ell, S.pi_minus)
    lim_p = S.limits_by_beta(gp, S.pi_minus, 0)
    lim_m = S.limits_by_beta(gm, S.pi_minus, 0)
    expected_m = {"beta<1": sp.oo, "beta=1": S.alpha / S.pi_plus, "beta>1": sp.Integer(0)}
    exact = (all(v == 0 for v in lim_p.values())
             and all((lim_m[c] == e) if e is sp.oo else reduces_to_zero(lim_m[c] - e)
                     for c, e in expected_m.items()))

    # Numeric twin of the limits (50 digits): values at π− = 10^-300 for a β drawn in each case.
    # Criterion (stated before the run): a limit 0 needs |value| ≤ 1e-20; ∞ needs value ≥ 1e20;
    # a finite limit L needs |value − L| ≤ 1e-20·|L|.
    draws = {"beta<1": float(ctx.rng.uniform(0.1, 0.9)), "beta=1": 1.0,
             "beta>1": float(ctx.rng.uniform(1.1, 3.0))}
    pplus, alpha = float(ctx.rng.uniform(0.05, 1.0)), float(ctx.rng.uniform(0.1, 10.0))
    twin = {}
    twin_ok = True
    wrong_inf_m, wrong_inf_p = [], []
    args = (S.pi_minus, S.beta, S.pi_plus, S.alpha)
    lam_p, lam_m = (sp.lambdify(args, g, "mpmath") for g in (gp, gm))
    with mp.workdps(50):
        for case, b in draws.items():
            rest = (mp.mpf(b), mp.mpf(pplus), mp.mpf(alpha))  # floats enter exactly
            tiny = mp.mpf(10) ** -300
            vp, vm = lam_p(tiny, *rest), lam_m(tiny, *rest)
            seq = [float(mp.log10(abs(lam_m(mp.mpf(10) ** -e, *rest)))) for e in (10, 100, 300)]
            target = expected_m[case]
            if target is sp.oo:
                ok_m = vm >= mp.mpf("1e20")
            elif target == 0:
                ok_m = abs(vm) <= mp.mpf("1e-20")
            else:
                L = mp.mpf(alpha) / mp.mpf(pplus)
                ok_m = abs(vm - L) <= mp.mpf("1e-20") * L
            ok_p = abs(vp) <= mp.mpf("1e-20")
            twin_ok = twin_ok and bool(ok_m) and bool(ok_p)
            # false variants, same criterion: "∂ℓ/∂π− → ∞ for every β" and "∂ℓ/∂π+ → ∞"
            wrong_inf_m.append(bool(vm >= mp.mpf("1e20")))
            wrong_inf_p.append(bool(abs(vp) >= mp.mpf("1e20")))
            twin[case] = {"beta": b, "dl/dpi+ at 1e-300": float(vp), "dl/dpi- at 1e-300": mp.nstr(vm, 8),
                          "log10|dl/dpi-| at 1e-10, 1e-100, 1e-300": [round(v, 3) for v in seq]}
    ev = {"criterion": "exact sympy.limit per case; twin: |.|<=1e-20 for 0, >=1e20 for oo, rel 1e-20 for finite",
          **{f"lim dl/dpi+ [{c}]": str(v) for c, v in lim_p.items()},
          **{f"lim dl/dpi- [{c}]": str(v) for c, v in lim_m.items()},
          "twin_pi_plus": pplus, "twin_alpha": alpha,
          **{f"twin [{c}]": str(v) for c, v in twin.items()}, "twin_ok": twin_ok}
    figures = []
    if ctx.want_figures:
        from dpomath.plots.paper_y import gradient_limits

        figures.append(str(gradient_limits(ctx.figure_path("paper_y_c2_limits.png"))))
    details = (
        "Exact limits as π− → 0+ at fixed π+ > 0, α > 0, with β written as 1/(1+k), 1, 1+k (k > 0) so "
        "each case is decided exactly: ∂ℓ/∂π+ = −(β/π+)·αz^β/(1+αz^β) → 0 for every β > 0; "
        "∂ℓ/∂π− = αβπ−^(β−1)/(π+^β + απ−^β) → ∞ for β < 1, → α/π+ (finite) for β = 1, → 0 for "
        "β > 1. So the paper's condition β < 1 is exactly right: it is needed (at β = 1 the limit "
        "is finite, for β > 1 the gradient on π− vanishes too) and sufficient. The ratio of the "
        "two (Y-C1) still diverges like π+/π− for every β.")
    if not twin_ok:
        return Verdict.refuted("the 50-digit twin contradicts the derived limits", evidence=ev,
                               counterexample=twin, details=details, figures=figures)
    if not exact:
        return Verdict.inconclusive("the limits did not come out as derived", evidence=ev,
                                    details=details, figures=figures)
    controls = [
        control("∂ℓ/∂π− → ∞ for every β > 0 (the condition β < 1 dropped)", all(wrong_inf_m),
                measured="twin at π− = 1e-300 reaches 1e20 in cases " +
                         ", ".join(c for c, w in zip(draws, wrong_inf_m) if w)),
        control("∂ℓ/∂π+ → ∞ as π− → 0", all(wrong_inf_p),
                measured=f"twin |∂ℓ/∂π+| ≥ 1e20 in {sum(wrong_inf_p)}/{len(wrong_inf_p)} cases"),
        control("the exact limit of ∂ℓ/∂π− at β = 1 is ∞ (as for β < 1)", lim_m["beta=1"] is sp.oo,
                measured=f"exact limit at β = 1: {lim_m['beta=1']}")]
    return Verdict.proved(
        "exact for every β > 0: ∂ℓ/∂π+ → 0 always; ∂ℓ/∂π− → ∞ for β < 1, → α/π+ at β = 1, → 0 for "
        "β > 1 — the paper's condition β < 1 is necessary and sufficient",
        evidence=ev, details=details, figures=figures, controls=controls)


@claim("Y-RM", paper="Y", place="Section 3.1 (reward-model contrast)", method="symbolic",
       scope=Scope("general symbolic: every r± (+ 50-digit twins)", kind="general"),
       statement="For the reward-model loss −log σ(r+ − r−), ∂ℓ/∂r± = ∓1/(1 + e^{r+ − r−}): equal and "
                 "opposite (balanced).",
       latex=r"\frac{\partial \ell}{\partial r_\pm} = \mp \frac{1}{1 + e^{r_+ - r_-}}")
def check_y_rm(ctx):
    import sympy as sp

    from dpomath.gradients import formulas as S
    from dpomath.verify.twins import numeric_twin

    ell = S.rm_loss  # the family's reward-model member at β = 1
    gp, gm = sp.diff(ell, S.r_plus), sp.diff(ell, S.r_minus)
    stated_p = -1 / (1 + sp.exp(S.r_plus - S.r_minus))
    stated_m = 1 / (1 + sp.exp(S.r_plus - S.r_minus))
    exact = {"dl/dr+": reduces_to_zero(gp - stated_p), "dl/dr-": reduces_to_zero(gm - stated_m),
             "sum": reduces_to_zero(gp + gm)}
    pts = twin_points(ctx, [S.r_plus, S.r_minus], {S.r_plus: (-20.0, 20.0), S.r_minus: (-20.0, 20.0)})
    tw = {"dl/dr+": numeric_twin(gp, stated_p, pts, tol=_TWIN_TOL),
          "dl/dr-": numeric_twin(gm, stated_m, pts, tol=_TWIN_TOL)}
    # DPO in log-ratios is the same structure with r = βh (the balance Y-C1 loses in π).
    gh = S.dpo_gradient_h
    dpo_balanced = reduces_to_zero(gh[0] + gh[1])
    ev = {**{f"{k}_reduces": v for k, v in exact.items()},
          **{f"twin_{k}_max_rel_diff": t["twin_max_rel_diff"] for k, t in tw.items()},
          "twin_points": len(pts), "dpo_in_log_ratios_balanced": dpo_balanced}
    details = ("The reward-model member of the family at β = 1, ℓ = log(1 + e^{r− − r+}); both partials "
               "equal the stated forms and sum to 0. DPO is this loss with r± = βh±, so in the "
               "log-ratios h± DPO is exactly as balanced: ∂L/∂h+ = −∂L/∂h− (SymPy). The imbalance of "
               "Y-C1 (−π+/π−) appears only after the change of variables h = log π − log π0.")
    if not all(t["ok"] for t in tw.values()):
        return Verdict.refuted("the numeric twin disagrees", evidence=ev, details=details)
    controls = identity_controls({"∂ℓ/∂r+ = +1/(1 + e^{r+ − r−}) (sign flipped)": (gp, -stated_p),
                                  "∂ℓ/∂r− = 1/(1 + e^{r− − r+}) (exponent flipped)":
                                      (gm, 1 / (1 + sp.exp(S.r_minus - S.r_plus)))}, pts, tol=_TWIN_TOL)
    if all(exact.values()) and dpo_balanced:
        return Verdict.proved("∂ℓ/∂r± = ∓1/(1 + e^{r+ − r−}) exactly; they sum to 0 — and DPO is equally "
                              "balanced in its log-ratios h±", evidence=ev, details=details,
                              controls=controls)
    return Verdict.inconclusive("twins agree but SymPy did not reduce every identity", evidence=ev,
                                details=details)

# ---------------------------------------------------------------------------------------------
# the toy model: operational definitions, readings, time rules and controls (fixed before the
# runs; the readings, the trajectory, the coordinates, the ties and the controls were added after
# the outside review of the verdicts — issue 10 — and fixed before their numbers were seen)

DEFINITIONS = {
    "Y-P1": ("per run and checkpoint t (early, middle, end of training), Δ_r = change since the "
             "start of DPO of the mean over the (prompt, rejected) pairs in the data of log "
             "π(rejected | prompt) — or of π(rejected | prompt) in the probability reading — and "
             "Δ_c = the same for the chosen responses; the run shows a drastic drop at t iff "
             f"Δ_r < 0 and −Δ_r ≥ {KAPPA:g}·|Δ_c|. Also recorded: the gradient norms "
             "‖∂L/∂π(rejected)‖, ‖∂L/∂π(chosen)‖ over epochs"),
    "Y-P2": ("per run and checkpoint t, with p_i(t) = π(chosen_i | prompt_i): prompt i's chosen "
             f"degrades at t iff p_i(t) ≤ {PEAK_DROP:g}·max_(u≤t) p_i(u) (clearly below its own "
             "peak so far) and p_i(t) < p_i(0) (below its SFT value) — one probability, so the same "
             "test in log coordinates; per-prompt reading: the run degrades iff some prompt's "
             "chosen degrades; mean readings: the same test on p̄(t) = mean_i p_i(t) (probability) "
             f"or on ℓ̄(t) = mean_i log p_i(t) (log: ℓ̄(t) ≤ max_(u≤t) ℓ̄(u) + log {PEAK_DROP:g}). "
             "The half 'rather than raising the chosen': the chosen (some prompt's; the mean) is "
             "not raised by more than 1 % (log-ratio ≤ 0.01)"),
    "Y-P3": ("per run and checkpoint t: the responses' quantity rises by ≥ log "
             f"{UNSEEN_RISE:g} on a log scale since the start — probability reading: their mass "
             f"m(t) ≥ {UNSEEN_RISE:g}·m(0) (mean over prompts of the summed probability, kept as a "
             "log-sum-exp); log reading: their mean log-probability rises by ≥ log "
             f"{UNSEEN_RISE:g}. Narrow: the unseen responses 9–10 (in no pair); broad: the "
             "responses neither chosen nor rejected for the prompt (the other prompts' chosen "
             "and 9–10); others: the other prompts' chosen alone"),
    "Y-ONPOL": ("severities per run at checkpoint t: P1 = −Δ_r/|Δ_c| (Y-P1's ratio, in the "
                "reading's coordinate), P2 = max_i log(p_i(0)/p_i(t)) (the largest log-fall of a "
                "prompt's chosen), P3 = log(m(t)/m(0)) (the log gain of the mass on the "
                "reading's responses, from log-sum-exps: exact where the mass is 1e-23); for "
                "each seed (same initial network and data) the on-policy run (scenario 1) is "
                "milder than the off-policy run (scenario 4) iff its severity is smaller beyond "
                "the tie tolerance (log scale: 0.01 nats; P1's ratio: 1 % relative); ties are "
                "counted as ties, not as milder"),
    "Y-FLEX": ("Flex-DPO with β₊ = 0.1 against DPO with β = 0.1 (β₋ = β₊) on the same seed, at "
               "each checkpoint t: the run's rejected drop is moderated iff its mean log "
               "π(rejected) (log reading) — or the log of its mean π(rejected) (probability "
               "reading) — at t is higher than the DPO run's beyond the tie tolerance (0.01 nats); "
               "both start at the same SFT model"),
    "Y-SFT": ("SFT-DPO (β = 0.1, γ swept) against plain DPO (γ = 0) with the same seed and "
              "setting at each checkpoint t, with Y-P2's per-prompt test: a (setting, t) is "
              "informative when the DPO run degrades (some prompt's chosen degrades) in a "
              "majority of its seeds; among the seeds whose DPO run degrades, SFT-DPO prevents "
              "the degradation iff no prompt of its run degrades ('prevents'), reduces it iff "
              "fewer prompts degrade ('reduces'); mean readings (the first definition): "
              "informative when DPO's mean chosen p̄ (or ℓ̄) falls below its start in a majority "
              "of seeds, and among those seeds SFT-DPO keeps p̄(t) ≥ p̄(0) (or ℓ̄)"),
}

EXPLANATION = {
    "Y-P1": ("Free-logit model, gradient descent: one DPO step moves log π(chosen) by ηβs(1 − π_c + π_r) "
             "and log π(rejected) by −ηβs(1 + π_c − π_r) (s = σ(−ρ)); the rejected falls faster in log space "
             "iff π_c > π_r, and the ratio grows without bound as π_c → 1. So the objective forces a log-space "
             "drop that outpaces the chosen once the chosen dominates; how far it goes within a training budget "
             "depends on the optimizer and, in the MLP, on the rejected responses 5–8 being pushed down by every "
             "prompt through shared parameters (compare the free-logit control)."),
    "Y-P2": ("Free-logit model: the DPO gradient in the logits is −βs(e_c − e_r) — the chosen logit rises at "
             "least as much as any other, so log π(chosen) rises at every step of any size (proved, G-TABULAR), "
             "also under Adam or sign-like updates, which keep these signs. A falling chosen likelihood is "
             "therefore not forced by the objective: it can only come from shared parameters (other prompts' "
             "updates reaching this prompt) or from an optimizer that breaks the sign structure."),
    "Y-P3": ("Free-logit model: unseen logits receive no gradient; their log-probability moves only through the "
             "normaliser, by ηβs(π_r − π_c) to first order — they gain only while the rejected response is the "
             "more likely one, so the objective forces at most a transient dispersion in scenario 2 under "
             "gradient descent. Optimizers that move every rejected logit as far as the chosen one (Adam) lower "
             "the normaliser and lift unseen responses; in the MLP, mass also flows to other prompts' chosen "
             "responses through shared features (a squeeze from cross-prompt negative gradients, G-SQUEEZE)."),
}

RULE = ("a cell is a setting at a checkpoint (a tenth, half and all of training: epochs 50, 250, "
        "500 of 500); a property appears in a cell when it shows in > 50 % of its runs; "
        "CONFIRMED iff it appears in every cell the time rule takes (every checkpoint, or the "
        "last), REFUTED iff in none, QUALIFIED otherwise — then the simplest condition on the "
        "factors (scenario, width, optimizer, lr, β, epoch, and the phase from the data: "
        "'saturated' when the setting's median plain-DPO loss is ≤ 10 % of its start) is named; "
        "free-logit runs are a control, not part of the verdict")

CRITERIA = {
    "Y-P1": RULE,
    "Y-P2": RULE,
    "Y-P3": RULE,
    "Y-ONPOL": ("per (setting without scenario, checkpoint) and property: holds when the "
                "on-policy run is milder than the off-policy run in > 50 % of the seeds (ties "
                "count as not milder); a cell holds when all three properties hold; CONFIRMED "
                "iff every cell holds, REFUTED iff none, else QUALIFIED (condition over the "
                "factors, epoch and phase)"),
    "Y-FLEX": ("per (setting, checkpoint): holds when, for every swept β₋ < β₊, > 50 % of the seeds "
               "have a moderated drop; CONFIRMED iff every cell holds, REFUTED iff none, else "
               "QUALIFIED (condition over the factors, epoch and phase — the phase is that of the "
               "setting's DPO run). The paper's 'best near β₋ = 0.08' is a task-quality statement "
               "the toy cannot measure: not part of the verdict"),
    "Y-SFT": ("per (informative setting, γ, checkpoint): holds when SFT-DPO prevents (or reduces, "
              "or keeps the mean — by reading) the degradation in > 50 % of the paired seeds "
              "whose DPO run degrades; CONFIRMED iff it holds in every such cell, REFUTED iff in "
              "none, QUALIFIED otherwise (condition over the factors, γ, epoch and phase); "
              "INCONCLUSIVE if no cell is informative"),
}

#: When a claim is decided (dpomath.toys.analysis.decide_cells): over every checkpoint
#: ("trajectory") or at the last ("end"), by the paper's words; every verdict reports the status
#: at each checkpoint either way.
TIME_RULE = {
    "Y-P1": ("trajectory", "'during DPO the rejected response's likelihood falls much faster': "
                           "a statement about the course of training, so every checkpoint"),
    "Y-P2": ("end", "'DPO ends up lowering the rejected response': the end of training"),
    "Y-P3": ("trajectory", "'likelihood moves to' unseen responses during training: every checkpoint"),
    "Y-ONPOL": ("trajectory", "'the properties are mildest on-policy': as the properties, during "
                              "training"),
    "Y-FLEX": ("trajectory", "'moderates the drop': the drop of Y-P1, during training; the "
                             "condition where it holds is mined with epoch and phase as factors, "
                             "so it comes from the data, not from when it is measured"),
    "Y-SFT": ("trajectory", "'keeps the chosen likelihood from falling': at every point of training"),
}

#: The fair readings of each statement, ranked by consistency with the paper's own words
#: (1 = the headline; dpomath.verify.fidelity.decide_readings): (name, text, rank, why).
READINGS = {
    "Y-P1": (
        ("log", "in log-likelihood: −Δ log π(rejected) ≥ 3·|Δ log π(chosen)|", 1,
         "'drastic drop in rejected response likelihood' (abstract): a fall of a likelihood is "
         "drastic by its ratio — 0.02 → 0.0002 is drastic, 0.50 → 0.48 is not — which is a change "
         "of log π; the paper's mechanism (Corollary 2: ∂ℓ/∂π− → ∞ as π− → 0) drives π− towards 0, "
         "a collapse that only log π resolves"),
        ("probability", "in probability: −Δπ(rejected) ≥ 3·|Δπ(chosen)|", 2,
         "'falls much faster than the chosen rises' read on the probabilities π± in which the "
         "paper states Corollaries 1–2; the rejected can then fall by at most its SFT value "
         "(0.12 or 0.02) while the chosen can rise by up to 0.88"),
    ),
    "Y-P2": (
        ("per_prompt", "some prompt's chosen likelihood ends clearly below its peak and its start", 1,
         "'the chosen likelihood can itself fall': the likelihood of a chosen response under its "
         "prompt, and 'can' — some prompt's chosen"),
        ("mean_log", "the mean over prompts of log π(chosen) does", 2,
         "the mean log-likelihood of the chosen responses, as DPO training logs report it"),
        ("mean_prob", "the mean over prompts of π(chosen) does", 3,
         "the mean probability of the chosen responses: an average the paper does not name"),
    ),
    "Y-P3": (
        ("narrow_prob", "the probability mass on the unseen responses 9–10 (in no pair) rises ≥ 10 %", 1,
         "'Dispersion effect on unseen responses' (abstract) and the toy's 'unseen' responses "
         "9–10, which are in no pair; 'likelihood moves to' them: probability mass moves"),
        ("narrow_log", "the mean log-probability of 9–10 rises ≥ log 1.1", 2,
         "the same responses in log coordinates"),
        ("broad_prob", "the mass on the responses neither chosen nor rejected for the prompt "
                       "(other prompts' chosen and 9–10) rises ≥ 10 %", 3,
         "THEORY's 'responses that are neither chosen nor rejected': for a prompt the other "
         "prompts' chosen responses are that, though they are seen in training (chosen for their "
         "own prompt), so not 'unseen'"),
        ("broad_log", "the mean log-probability of those responses rises ≥ log 1.1", 4,
         "the broad reading in log coordinates"),
        # added after the first full run: the outside review's own reading (a subset of the broad
        # set), which the broad reading above does not reproduce because it includes 9–10
        ("others_prob", "the mass on the other prompts' chosen responses rises ≥ 10 %", 5,
         "the outside review's reading: some responses neither chosen nor rejected for the "
         "prompt gain — the other prompts' chosen, a subset the paper's words do not single out"),
        ("others_log", "the mean log-probability of the other prompts' chosen rises ≥ log 1.1", 6,
         "the same in log coordinates"),
    ),
    "Y-ONPOL": (
        ("headline", "each property as Y-P1–Y-P3 read it: P1 in log-likelihood, P2 per prompt, "
                     "P3 the mass on 9–10", 1, "the properties as their own claims read them"),
        ("p1_prob", "P1 in probability (P2, P3 as the headline)", 2,
         "Y-P1's probability reading"),
        ("p3_broad", "P3 on the responses neither chosen nor rejected (P1, P2 as the headline)", 3,
         "Y-P3's broad reading"),
    ),
    "Y-FLEX": (
        ("log", "the mean log π(rejected) ends higher than DPO's", 1,
         "the drop Flex-DPO 'moderates' is Y-P1's drastic drop, read in log-likelihood"),
        ("probability", "the mean π(rejected) ends higher than DPO's", 2,
         "the same in probability"),
    ),
    "Y-SFT": (
        ("prevents", "no prompt's chosen degrades under SFT-DPO (seeds whose DPO run degrades)", 1,
         "'keeps the chosen likelihood from falling': no chosen falls"),
        ("reduces", "fewer prompts' chosen degrade than under DPO", 2,
         "a weaker reading: the fall is made smaller, not kept from happening"),
        ("mean_prob", "the mean over prompts of π(chosen) ends at or above its start where "
                      "DPO's falls", 3, "the first definition (an average the paper does not name)"),
        ("mean_log", "the mean over prompts of log π(chosen) does", 4,
         "the mean log-likelihood, as DPO training logs report it"),
    ),
}

#: The negative controls (deliberately false variants, decided by the same rule on the same
#: cells): a CONFIRMED reading needs its controls to come out other than CONFIRMED. (Run for
#: every reading that is CONFIRMED at some checkpoint, judged at those checkpoints — extended so
#: after the first full run, where Y-P1 is CONFIRMED at the end only; the variants are unchanged.)
CONTROLS = {
    "Y-P1": {"free_logit": "the free-logit policy (no shared parameters) in place of the MLP",
             "placebo": "the unseen responses 9–10 (in no pair, never pushed down) in place of "
                        "the rejected",
             # (replaced, before any control was run, the 'roles reversed' variant: a run cannot
             # show both the property and its reverse, so that control could never pass)
             "tighter": "a threshold ten times tighter: −Δ_r ≥ 30·|Δ_c|"},
    "Y-P2": {"free_logit": "the free-logit policy, where the chosen cannot fall (G-TABULAR)"},
    "Y-P3": {"free_logit": "the free-logit policy in place of the MLP",
             "reversed": "the paired rejected responses (which DPO pushes down) in place of the "
                         "reading's responses"},
    "Y-ONPOL": {"placebo": "scenario 1 against scenario 1 at another seed (no on/off-policy "
                           "difference): 'milder' by chance"},
    "Y-FLEX": {"placebo": "DPO against DPO at another seed (β₋ = β₊): 'moderated' by chance"},
    "Y-SFT": {"placebo": "plain DPO at another seed in place of SFT-DPO: 'kept' by chance"},
}

#: The rules before the outside review (their verdicts are recomputed on the same sweep and
#: shown in each verdict's revision record).
OLD_RULES = {
    "Y-P1": ("log space only, at the end of training: per run −Δ log π(rejected) ≥ 3·|Δ log "
             "π(chosen)|; CONFIRMED iff it appears in every MLP setting"),
    "Y-P2": ("per prompt, at the end of training, only reading decided (the mean reading "
             "recorded, not decided)"),
    "Y-P2-first": ("the mean over prompts p̄ = mean_i π(chosen_i | prompt_i) ends ≤ 0.9 × its "
                   "peak and below its start, at the end of training"),
    "Y-P3": ("the mass on the unseen responses 9–10 ends ≥ 1.1 × its start, at the end of "
             "training; the broad reading recorded, not decided"),
    "Y-ONPOL": ("at the end of training; P1 = log-change ratio, P2 = max_i (1 − p_i(end)/p_i(0)), "
                "P3 = m_u(end)/m_u(0) − 1 in float64 (which rounds 1e-23 − 1 to −1); on-policy "
                "milder iff its severity is strictly smaller (rounding ties counted against)"),
    "Y-ONPOL-first": ("as the rule before the review, with P2 = 1 − p̄(end)/p̄(0) on the mean "
                      "over prompts"),
    "Y-FLEX": ("at the end of training only, log π(rejected), strict comparison; "
               "condition mined over the setting factors"),
    "Y-SFT": ("'reduces' (fewer degraded prompts than DPO), at the end of training"),
    "Y-SFT-first": ("the mean over prompts: informative when DPO's p̄(end) < p̄(0) in a majority "
                    "of seeds; SFT-DPO keeps p̄(end) ≥ p̄(0)"),
}

#: The earlier disclosed revision (mean over prompts → per prompt), made after the first
#: numbers had been seen.
FIRST_REVISION = ("a review of the figure paper_y_toy_adam.png (scenario 1, Adam, lr 0.01, β 0.1, "
                  "width 32) showed the smallest per-prompt chosen probability falling from 0.12 "
                  "to about 0.01 while the mean did not fall: the mean over prompts hides the "
                  "per-prompt falls that 'the chosen likelihood can itself fall' is about; the "
                  "definitions of Y-P2, Y-SFT and Y-ONPOL's P2 severity were changed to per prompt "
                  "after those numbers were seen (thresholds and decision rule unchanged)")

#: Why each claim's rule changed in the outside review (issue 10's findings).
REVIEW_FINDING = {
    "Y-P1": "finding 2: decided in log space only; in probability space the rejected never "
            "fell 3× faster (0/160 of the reviewer's runs); both coordinates are now decided, "
            "over the whole trajectory, with negative controls",
    "Y-P2": "finding 5: the mean-based reading is equally fair and its half 'rather than raising "
            "the chosen' fails at the mean; every reading is now decided side by side, over the "
            "trajectory",
    "Y-P3": "finding 5: THEORY's 'neither chosen nor rejected' includes the other prompts' chosen "
            "responses; both readings, both coordinates and the whole trajectory are now decided",
    "Y-ONPOL": "finding 4: the P3 severity compared unseen-mass changes of 1e-17…1e-23 that "
               "float64 rounds to −1 (13/20 seeds tied in one setting); severities are now "
               "compared on a log scale with a stated tolerance, ties counted as ties, over the "
               "trajectory",
    "Y-FLEX": "finding 3: 'moderates the drop' was judged at epoch 500 only (4/32 settings; 23/32 "
              "at epoch 50 in the reviewer's runs); it is now judged at every checkpoint, with "
              "the data's phase (saturated or not) as a factor of the condition",
    "Y-SFT": "finding 5 and the review's row on Y-SFT: the decided condition ('fewer degraded "
             "prompts') is weaker than 'keeps the chosen from falling'; the headline is now "
             "'prevents', decided at every checkpoint, the other readings beside it",
}

# ---------------------------------------------------------------------------------------------
# reading the sweep

def _sweep(ctx):
    from dpomath.toys.sweeps import cached_sweep

    return cached_sweep(ctx.seed, ctx.quick)


def _spec(ctx):
    from dpomath.toys.sweeps import FULL, QUICK

    return QUICK if ctx.quick else FULL


def _toy():
    from dpomath.toys import mlp

    return mlp


def _m(res, name, s):
    return res.metric(name, s)


def _details_table(rows: list[tuple[str, str]], head=("setting", "fraction [95% CI]")) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {a} | {b} |" for a, b in rows]
    return "\n".join(lines)


def _verdict(status: str, summary: str, **kw) -> Verdict:
    """A Verdict from a lower-case status of :func:`dpomath.toys.analysis.decide_cells`."""
    return Verdict(Status(status.upper()), summary, **kw)


def _epochs_text(res) -> str:
    return "/".join(str(e) for e in res.checkpoints)


def _scope(res, what: str) -> Scope:
    return Scope(f"paper Y's toy as rebuilt here: {what} × {len(res.seeds)} seeds, read at epochs "
                 f"{_epochs_text(res)} of {res.epochs}", kind="toy")


def _phase(res, settings, t) -> str:
    """The phase of a cell from the plain-DPO runs of ``settings`` (median loss ratio)."""
    lt = np.concatenate([value(res, "loss", s, t) for s in settings])
    l0 = np.concatenate([value(res, "loss", s, 0) for s in settings])
    return phase(lt, l0)


def _cells(res, spec, settings, ind, with_scenario=True, dpo_of=None) -> list[Cell]:
    """One cell per (setting, checkpoint): ``ind(s, t)`` gives the per-run outcomes; the phase
    comes from ``dpo_of(s)`` (the plain-DPO runs that set the clock; default the setting)."""
    out = []
    for s in settings:
        f = _factors(spec, s, with_scenario)
        clock = dpo_of(s) if dpo_of else [s]
        for t in res.checkpoints:
            x = np.asarray(ind(s, t), dtype=bool)
            out.append(Cell({**f, "epoch": t, "phase": _phase(res, clock, t)},
                            bool(x.mean() > MAJORITY), x, _setting_label(s, with_scenario)))
    return out


def _cells_text(dec) -> str:
    frac = _frac_str(dec.runs) if dec.runs.size else "no runs"
    return (f"{dec.status.upper()}: appears in {dec.k_cells}/{dec.n_cells} cells; by {dec.trajectory_text()}; "
            f"{frac} of runs")


def _control(cid: str, key: str, dec, vdec) -> Control:
    """The control ``key`` of ``cid``: the false variant decided by the claim's rule on the same
    cells (``vdec``). It is run for every reading that is CONFIRMED at some checkpoint (``dec``),
    and passes iff the variant is CONFIRMED at every checkpoint where the reading is — else it
    fails (the check told the false variant from the statement)."""
    eps = dec.confirmed_epochs()
    holds = bool(eps) and all(vdec.by_epoch.get(e, (0, 0, "none"))[2] == "confirmed" for e in eps)
    at = "" if dec.status == "confirmed" else f" (judged at epoch {', '.join(map(str, eps))}, where the reading is CONFIRMED)"
    return control(CONTROLS[cid][key], holds=holds, measured=_cells_text(vdec) + at)


#: What a CONFIRMED establishes when a control passes too (fixed with the controls).
ESTABLISHES = {
    ("Y-P1", "free_logit"): "the free-logit policy shows it as well: the drop is forced by DPO's "
                            "objective with this optimizer, not by the network's shared parameters",
    ("Y-P1", "placebo"): "responses in no pair (9–10), which DPO never pushes down, fall as fast in "
                         "this coordinate: the check establishes that every non-chosen response's "
                         "likelihood falls much faster than the chosen's rises, not a drop "
                         "specific to the rejected response",
    ("Y-P1", "tighter"): "the drop is even ≥ 30× the chosen's change: the verdict does not hinge "
                         "on the threshold κ = 3",
    ("Y-P2", "free_logit"): "the free-logit policy degrades as well, so the check does not isolate "
                            "the network's shared parameters (G-TABULAR forbids it under gradient "
                            "descent; the optimizer must be breaking the sign structure)",
    ("Y-P3", "free_logit"): "the free-logit policy shows it as well: the objective with this "
                            "optimizer forces it, not the network",
    ("Y-P3", "reversed"): "the rejected responses' mass rises as well: the check does not tell the "
                          "reading's responses from those DPO pushes down",
    ("Y-ONPOL", "placebo"): "one run is 'milder' than another of the same scenario in a majority of "
                            "seeds: the majority rule is met by chance, so the comparison does not "
                            "establish an on/off-policy effect",
    ("Y-FLEX", "placebo"): "DPO is 'moderated' against itself at another seed: the comparison is "
                           "met by chance and does not establish an effect of β₋",
    ("Y-SFT", "placebo"): "plain DPO at another seed 'keeps' the chosen as often: the conditioning "
                          "on degrading DPO seeds, not SFT-DPO, produces the result",
}


def _establishes(cid: str, name: str, ctrls: dict) -> str:
    """The establishes text of a CONFIRMED reading whose controls (key → Control) pass."""
    return "; ".join(f"[{name}] {ESTABLISHES[(cid, k)]}" for k, c in ctrls.items() if not c.failed)


def _new_rule(cid: str) -> str:
    names = ", ".join(f"'{r[0]}'" for r in READINGS[cid])
    tr, why = TIME_RULE[cid]
    return (f"readings {names} decided side by side, headline by rank ({READING_RULE}); time rule "
            f"'{tr}' ({why}); {CRITERIA[cid]}; negative controls on every CONFIRMED reading")


def _review_revision(cid: str, old_status: str) -> Revision:
    return Revision(OLD_RULES[cid], old_status.upper(), _new_rule(cid),
                    f"{REVIEW}: {REVIEW_FINDING[cid]}")


def _first_revision(cid: str, old_status: str, new_rule: str) -> Revision:
    return Revision(OLD_RULES[cid + "-first"], old_status.upper(), new_rule, FIRST_REVISION)


def _reading_rows(readings) -> list[str]:
    return [f"{r.name} (rank {r.rank}): {r.verdict.status.value} — {r.verdict.evidence.get('cells', '')}"
            for r in sorted(readings, key=lambda r: r.rank)]


def _assemble(cid, readings, ev, details, figures=(), revisions=(), counterexample=None) -> Verdict:
    """The headline of ``readings`` (:func:`decide_readings`) with the claim's common evidence,
    details, figures and revision records."""
    table = _reading_rows(readings)
    head = decide_readings(readings)
    head.evidence = {**ev, **head.evidence, "readings_side_by_side": table,
                     "headline_reading": head.headline_reading, "time_rule": TIME_RULE[cid][0],
                     "time_rule_why": TIME_RULE[cid][1]}
    # The readings, the negative controls and the revision records are fields of the verdict
    # (rendered by the report and given in the JSON): the details are not to repeat them.
    head.details = details
    head.figures = [str(f) for f in figures]
    head.revisions = list(revisions)
    if counterexample is not None and head.status in (Status.REFUTED, Status.QUALIFIED):
        head.counterexample = counterexample
    ests = [r.verdict.establishes for r in readings if r.verdict.establishes]
    head.establishes = "; ".join(ests)
    return head


def _decided(cid, name, dec, what, res, ctrls=None, extra_ev=None, scope_on="") -> Verdict:
    """The verdict of one reading from its Decision: summary, evidence, controls."""
    ctrls = ctrls or {}
    text = next(r[1] for r in READINGS[cid] if r[0] == name)
    where = (f"; it appears where {dec.condition}" if dec.condition else
             (f"; no exact rule of up to three factors, closest: {dec.closest}" if dec.status == "qualified" else ""))
    summary = (f"{what} — {text}: {dec.status.upper()}, in {dec.k_cells}/{dec.n_cells} cells "
               f"(by {dec.trajectory_text()}; {_frac_str(dec.runs)} of runs){where}")
    ev = {"cells": _cells_text(dec) + (f"; where {dec.condition}" if dec.condition else ""),
          "by_epoch": dec.trajectory_text(), "how_it_changes_with_training": dec.how_it_changes(),
          "condition_where_it_appears": dec.condition, "closest_rule": dec.closest,
          "by_factor": dec.by_factor,
          "fraction_of_runs": _frac_str(dec.runs) if dec.runs.size else "",
          **(extra_ev or {})}
    return _verdict(dec.status, summary, evidence=ev, controls=list(ctrls.values()),
                    establishes=_establishes(cid, name, ctrls),
                    scope=_scope(res, scope_on))


def _per_setting_rows(res, settings, ind, with_scenario=True) -> list[tuple[str, str]]:
    rows = []
    for s in settings:
        cells = "; ".join(f"{t}: {_frac_str(np.asarray(ind(s, t), bool))}" for t in res.checkpoints)
        rows.append((_setting_label(s, with_scenario), cells))
    return rows


# ---------------------------------------------------------------------------------------------
# Y-P1, Y-P2, Y-P3: the properties

#: Per claim: reading name -> indicator factory (res, reading) -> fn(s, t).
def _p1_fn(res, coord, variant="claim", kappa=KAPPA):
    return lambda s, t: p1(res, s, t, coord, variant, kappa)


def _p2_fn(res, reading):
    return lambda s, t: p2(res, s, t, reading)


def _p3_fn(res, reading, coord, variant="claim"):
    return lambda s, t: p3(res, s, t, reading, coord, variant)


_COORD_OF = {"log": "log", "probability": "prob"}


def _indicators(cid, res):
    """reading -> (indicator on the MLP runs, {control key: (indicator, settings kind)})."""
    if cid == "Y-P1":
        return {name: (_p1_fn(res, _COORD_OF[name]),
                       {"free_logit": (_p1_fn(res, _COORD_OF[name]), "free"),
                        "placebo": (_p1_fn(res, _COORD_OF[name], "placebo"), "mlp"),
                        "tighter": (_p1_fn(res, _COORD_OF[name], kappa=10 * KAPPA), "mlp")})
                for name in ("log", "probability")}
    if cid == "Y-P2":
        return {name: (_p2_fn(res, name), {"free_logit": (_p2_fn(res, name), "free")})
                for name in ("per_prompt", "mean_log", "mean_prob")}
    out = {}
    for name in ("narrow_prob", "narrow_log", "broad_prob", "broad_log", "others_prob", "others_log"):
        reading, coord = name.split("_")
        out[name] = (_p3_fn(res, reading, coord),
                     {"free_logit": (_p3_fn(res, reading, coord), "free"),
                      "reversed": (_p3_fn(res, reading, coord, "reversed"), "mlp")})
    return out


_PROPERTY_NAME = {"Y-P1": "drastic drop", "Y-P2": "degradation (the chosen falls)",
                  "Y-P3": "dispersion"}


def _old_property_status(cid, res, settings) -> dict:
    """The verdicts of the rules before the outside review (and before the first revision)."""
    ind = {"Y-P1": indicator_p1, "Y-P2": indicator_p2, "Y-P3": indicator_p3}[cid]
    out = {"review": decide([bool(np.mean(ind(res, s)) > MAJORITY) for s in settings])}
    if cid == "Y-P2":
        out["first"] = decide([bool(np.mean(indicator_p2_mean(res, s)) > MAJORITY) for s in settings])
    return out


def _property_claim(ctx, cid: str, secondary=None) -> Verdict:
    """Y-P1/Y-P2/Y-P3: every reading decided over its cells by the claim's time rule, with its
    controls; the headline by rank; the free-logit runs as a control; revision records."""
    res, spec = _sweep(ctx), _spec(ctx)
    settings = _dpo_settings(res, spec)
    free = _dpo_settings(res, spec, free_logit=True)
    time_rule = TIME_RULE[cid][0]
    what = f"{len(settings)} MLP settings"
    readings, decisions = [], {}
    for name, (fn, ctrl_fns) in _indicators(cid, res).items():
        dec = decide_cells(_cells(res, spec, settings, fn), time_rule)
        decisions[name] = dec
        ctrls = {}
        if dec.confirmed_epochs():
            for key, (vfn, kind) in ctrl_fns.items():
                sets = free if kind == "free" else settings
                if sets:
                    ctrls[key] = _control(cid, key, dec, decide_cells(_cells(res, spec, sets, vfn), time_rule))
        v = _decided(cid, name, dec, _PROPERTY_NAME[cid], res, ctrls, scope_on=what)
        rank, why = next((r[2], r[3]) for r in READINGS[cid] if r[0] == name)
        readings.append(Reading(name, next(r[1] for r in READINGS[cid] if r[0] == name), rank, why, v))
    head_name = min(READINGS[cid], key=lambda r: r[2])[0]
    head_fn = _indicators(cid, res)[head_name][0]
    hdec = decisions[head_name]
    ev = {"definition": DEFINITIONS[cid], "criterion": CRITERIA[cid],
          "settings_swept": _swept_text(spec, f" × β ∈ {{{', '.join(f'{b:g}' for b in spec.betas)}}}"),
          "n_settings": len(settings), "n_seeds": len(res.seeds), "checkpoints": list(res.checkpoints),
          "settings_where_it_appears_at_end": f"{hdec.by_epoch[res.checkpoints[-1]][0]}/{len(settings)}",
          "per_setting": [f"{a}: {b}" for a, b in _per_setting_rows(res, settings, head_fn)]}
    if free:
        fx = np.concatenate([head_fn(s, res.checkpoints[-1]) for s in free])
        ev["free_logit_at_end"] = _frac_str(fx)
        ev["free_logit_by_scenario_at_end"] = "; ".join(
            f"S{sc}: {_frac_str(np.concatenate([head_fn(s, res.checkpoints[-1]) for s in free if s.scenario == sc]))}"
            for sc in spec.scenarios)
    trained = np.concatenate([_m(res, "loss_end", s) < _m(res, "loss_start", s) for s in settings])
    ev["runs_whose_loss_fell"] = float(trained.mean())
    ev["phase_of_cells"] = "; ".join(
        f"{t}: {sum(_phase(res, [s], t) == 'saturated' for s in settings)}/{len(settings)} saturated"
        for t in res.checkpoints)
    if secondary:
        ev.update(secondary(res, spec, settings))
    old = _old_property_status(cid, res, settings)
    revisions = []
    if cid == "Y-P2":
        revisions.append(_first_revision(cid, old["first"], OLD_RULES["Y-P2"]))
    revisions.append(_review_revision(cid, old["review"]))
    figs = _figures(ctx, res, spec, cid)
    details = (f"**Definition.** {DEFINITIONS[cid]}.\n\n**Decision rule.** {CRITERIA[cid]}.\n\n"
               f"**Time rule.** {TIME_RULE[cid][0]}: {TIME_RULE[cid][1]}.\n\n"
               f"**What the free-logit model says.** {EXPLANATION[cid]}\n\n"
               f"**Per setting (headline reading '{head_name}', fraction of runs at each checkpoint).**\n\n"
               + _details_table(_per_setting_rows(res, settings, head_fn),
                                ("setting", "epoch: fraction [95% CI]")))
    absent = [c.label + f" @{c.epoch}" for c in _cells(res, spec, settings, head_fn) if not c.appears]
    return _assemble(cid, readings, ev, details, figs, revisions, counterexample=absent[:5])


def _secondary_p1(res, spec, settings):
    g_start = np.concatenate([_m(res, "log_grad_rejected_start", s) - _m(res, "log_grad_chosen_start", s)
                              for s in settings])
    g_end = np.concatenate([_m(res, "log_grad_rejected_end", s) - _m(res, "log_grad_chosen_end", s)
                            for s in settings])
    end = res.checkpoints[-1]
    out = {"grad_ratio_rejected_over_chosen_median_start": float(np.exp(np.median(g_start))),
           "grad_ratio_rejected_over_chosen_median_end": float(np.exp(np.median(g_end))),
           "grad_ratio_grew": _frac_str(g_end > g_start)}
    for coord in ("log", "prob"):
        dr = np.concatenate([change(res, P1_STATS[coord][0], s, end) for s in settings])
        dc = np.concatenate([change(res, P1_STATS[coord][1], s, end) for s in settings])
        out[f"median_change_rejected_{coord}_at_end"] = float(np.median(dr))
        out[f"median_change_chosen_{coord}_at_end"] = float(np.median(dc))
        out[f"median_ratio_{coord}_at_end"] = float(np.median(-dr / np.maximum(np.abs(dc), 1e-12)))
    return out


def _secondary_p2(res, spec, settings):
    end = res.checkpoints[-1]
    parts = [(value(res, "p_chosen_mean", s, 0), s) for s in settings]
    per_prompt = np.concatenate([degraded_at(res, s, end).ravel() for s in settings])
    n_deg = np.concatenate([degraded_at(res, s, end).sum(-1) for s in settings])
    out = {"fraction_of_prompts_degraded_at_end": _frac_str(per_prompt),
           "degraded_prompts_per_run_at_end": ", ".join(f"{k}: {int(np.sum(n_deg == k))}" for k in range(5))}
    # the half "rather than raising the chosen", decided per reading at the end
    for reading in ("per_prompt", "mean_log", "mean_prob"):
        x = [p2_not_raised(res, s, end, reading) for s in settings]
        st = decide([bool(np.mean(v) > MAJORITY) for v in x])
        out[f"half_rather_than_raising_{reading}"] = (
            f"{st.upper()}: the chosen not raised in a majority of runs in "
            f"{sum(np.mean(v) > MAJORITY for v in x)}/{len(x)} settings; {_frac_str(np.concatenate(x))} of runs")
    del parts
    return out


def _secondary_p3(res, spec, settings):
    transient = np.concatenate([_m(res, "peak_p_unseen", s) >= UNSEEN_RISE * _m(res, "p_unseen_mass_start", s)
                                for s in settings])
    end = res.checkpoints[-1]
    return {"fraction_unseen_peak_rises": _frac_str(transient),
            "median_log_gain_unseen_mass_at_end": float(np.median(np.concatenate(
                [change(res, "log_unseen_mass", s, end) for s in settings]))),
            "median_log_gain_neither_mass_at_end": float(np.median(np.concatenate(
                [change(res, "log_neither_mass", s, end) for s in settings])))}


# ---------------------------------------------------------------------------------------------
# figures (only when the context asks for them)

def _figures(ctx, res, spec, cid) -> list[str]:
    if not ctx.want_figures:
        return []
    from dpomath.plots import paper_y as py

    out = []
    if cid == "Y-P1":
        for opt in spec.optimizers:
            lr = max(spec.lr_values(opt))
            w = max(spec.widths)
            sets = [s for s in _dpo_settings(res, spec)
                    if s.optimizer == opt and s.lr == lr and s.width == w and s.beta == min(spec.betas)]
            out.append(str(py.toy_dynamics(res, sets, ctx.figure_path(f"paper_y_toy_{opt}.png"))))
        free = [s for s in _dpo_settings(res, spec, free_logit=True)
                if s.optimizer == "adam" and s.lr == max(spec.lr_values("adam")) and s.beta == min(spec.betas)]
        if free:
            out.append(str(py.toy_dynamics(res, free, ctx.figure_path("paper_y_toy_free_logit.png"))))
    if cid == "Y-P3":
        settings = _dpo_settings(res, spec)
        end = res.checkpoints[-1]
        cols = (("P1 log", lambda s: p1(res, s, end, "log")), ("P1 prob", lambda s: p1(res, s, end, "prob")),
                ("P2 per prompt", lambda s: p2(res, s, end, "per_prompt")),
                ("P2 mean", lambda s: p2(res, s, end, "mean_prob")),
                ("P3 unseen 9–10", lambda s: p3(res, s, end, "narrow", "prob")),
                ("P3 neither", lambda s: p3(res, s, end, "broad", "prob")),
                ("P3 others' chosen", lambda s: p3(res, s, end, "others", "prob")))
        table = {name: [float(np.mean(f(s))) for s in settings] for name, f in cols}
        out.append(str(py.property_frequency(
            [_setting_label(s) for s in settings], table, ctx.figure_path("paper_y_property_frequency.png"),
            title=f"Paper Y 3D-properties under each reading: fraction of runs per setting at the end "
                  f"(epoch {end}; MLP toy, DPO)")))
    return out


# ---------------------------------------------------------------------------------------------
# the claims

@claim("Y-P1", paper="Y", place="Section 3.2, Figure 2 (3D-properties: drastic drop)", method="empirical",
       statement="During DPO the rejected response's likelihood falls much faster than the chosen "
                 "response's rises.",
       latex=r"-\Delta\log\pi(y_l) \gg |\Delta\log\pi(y_w)|")
def check_p1(ctx) -> Verdict:
    return _property_claim(ctx, "Y-P1", _secondary_p1)


@claim("Y-P2", paper="Y", place="Section 3.2, Figure 2 (3D-properties: degradation)", method="empirical",
       statement="DPO ends up lowering the rejected response rather than raising the chosen one; the "
                 "chosen likelihood can itself fall.",
       latex=r"\pi_T(y_w) < \max_t \pi_t(y_w),\ \pi_T(y_w) < \pi_0(y_w)")
def check_p2(ctx) -> Verdict:
    return _property_claim(ctx, "Y-P2", _secondary_p2)


@claim("Y-P3", paper="Y", place="Section 3.2, Figure 2 (3D-properties: dispersion)", method="empirical",
       statement="Likelihood moves to responses that are neither chosen nor rejected (unseen responses).",
       latex=r"\pi_T(\mathcal{U}) > \pi_0(\mathcal{U})")
def check_p3(ctx) -> Verdict:
    return _property_claim(ctx, "Y-P3", _secondary_p3)


#: Y-ONPOL's readings: the (coordinate of P1, responses of P3) each uses.
_ONPOL = {"headline": ("log", "narrow"), "p1_prob": ("prob", "narrow"), "p3_broad": ("log", "broad")}


def _onpol_cells(res, spec, base, reading, placebo=False, tally=None):
    from dataclasses import replace

    coord, rd = _ONPOL[reading]
    cells = []
    for s in base:
        s4 = replace(s, scenario=4)
        f = _factors(spec, s, with_scenario=False)
        for t in res.checkpoints:
            ok, outs = True, []
            for prop in ("P1", "P2", "P3"):
                a, scale = severity_at(res, s, prop, t, coord if prop == "P1" else "log", rd)
                b = seed_shift(a) if placebo else severity_at(res, s4, prop, t, coord, rd)[0]
                c = compare(a, b, scale)
                milder = c < 0
                ok &= bool(milder.mean() > MAJORITY)
                outs.append(milder)
                if tally is not None:
                    d = tally.setdefault((prop, t), [0, 0, 0])
                    d[0] += int(np.sum(c < 0))
                    d[1] += int(np.sum(c == 0))
                    d[2] += int(np.sum(c > 0))
            cells.append(Cell({**f, "epoch": t, "phase": _phase(res, [s, s4], t)}, ok,
                              np.concatenate(outs), _setting_label(s, with_scenario=False)))
    return cells


def _old_onpol(res, base, p2_kind="P2"):
    from dataclasses import replace

    ok = []
    for s in base:
        s4 = replace(s, scenario=4)
        ok.append(all(np.mean(severity(res, s, p) < severity(res, s4, p)) > MAJORITY
                      for p in ("P1", p2_kind, "P3")))
    return decide(ok)


@claim("Y-ONPOL", paper="Y", place="Section 3.2, Figure 2 (four on/off-policy scenarios)", method="empirical",
       statement="The 3D-properties are mildest when chosen and rejected are both on-policy and strongest "
                 "when both are off-policy.",
       latex=r"\mathrm{sev}(\text{on},\text{on}) < \mathrm{sev}(\text{off},\text{off})")
def check_onpol(ctx) -> Verdict:
    res, spec = _sweep(ctx), _spec(ctx)
    if not {1, 4} <= set(spec.scenarios):
        return Verdict.inconclusive("the sweep lacks scenario 1 or 4", evidence={})
    base = [s for s in _dpo_settings(res, spec) if s.scenario == 1]
    time_rule = TIME_RULE["Y-ONPOL"][0]
    readings, tallies = [], {}
    for name, text, rank, why in READINGS["Y-ONPOL"]:
        tallies[name] = {}
        dec = decide_cells(_onpol_cells(res, spec, base, name, tally=tallies[name]), time_rule)
        ctrls = {}
        if dec.confirmed_epochs():
            ctrls["placebo"] = _control("Y-ONPOL", "placebo", dec,
                                        decide_cells(_onpol_cells(res, spec, base, name, placebo=True), time_rule))
        v = _decided("Y-ONPOL", name, dec, "on-policy (S1) milder than off-policy (S4) for all "
                     "three properties", res, ctrls,
                     scope_on=f"{len(base)} MLP settings, scenario 1 vs 4 paired by seed")
        readings.append(Reading(name, text, rank, why, v))
    tally_rows = []
    for (prop, t), (m, tie, h) in sorted(tallies["headline"].items(), key=lambda kv: (kv[0][1], kv[0][0])):
        tally_rows.append(f"{prop} @{t}: S1 milder {m}, tie {tie}, S4 milder {h}")
    ev = {"definition": DEFINITIONS["Y-ONPOL"], "criterion": CRITERIA["Y-ONPOL"],
          "settings_swept": _swept_text(spec, f" × β ∈ {{{', '.join(f'{b:g}' for b in spec.betas)}}}") +
          "; scenario 1 (on, on) vs scenario 4 (off, off), paired by seed",
          "n_settings": len(base), "n_seeds": len(res.seeds), "checkpoints": list(res.checkpoints),
          "tie_tolerance": f"{TIE_TOL:g} nats on a log scale; {TIE_TOL:.0%} relative for P1's ratio",
          "comparisons_headline_milder_tie_harsher": tally_rows}
    old = _old_onpol(res, base)
    old_first = _old_onpol(res, base, "P2-mean")
    revisions = [_first_revision("Y-ONPOL", old_first, "P2 = max_i (1 − p_i(end)/p_i(0)) per prompt "
                                 "(the rule before the outside review)"),
                 _review_revision("Y-ONPOL", old)]
    cells = _onpol_cells(res, spec, base, "headline")
    rows = [(f"{c.label} @{c.epoch} ({c.factors['phase']})", f"{'holds' if c.appears else 'fails'}: "
             f"{_frac_str(c.runs)} of comparisons milder") for c in cells]
    details = (f"**Definition.** {DEFINITIONS['Y-ONPOL']}.\n\n**Decision rule.** {CRITERIA['Y-ONPOL']}.\n\n"
               f"**Time rule.** {TIME_RULE['Y-ONPOL'][0]}: {TIME_RULE['Y-ONPOL'][1]}.\n\n"
               + _details_table(rows, ("setting @ epoch (phase)", "headline reading")))
    return _assemble("Y-ONPOL", readings, ev, details, (), revisions,
                     counterexample=[r[0] for r, c in zip(rows, cells) if not c.appears][:4])


def _reg_settings(res, spec, loss: str):
    return sorted({(s.scenario, s.width, s.optimizer, s.lr) for s in res.settings
                   if s.loss == loss and s.width > 0})


def _flex_value(res, s, t, coord):
    if coord == "log":
        return value(res, "logp_rejected", s, t)
    return np.log(value(res, "p_rejected_mean", s, t))


def _flex_cells(res, spec, keys, coord, bms, placebo=False):
    toy = _toy()
    bp = spec.flex_beta_plus
    cells = []
    for sc, w, opt, lr in keys:
        dpo = toy.Setting(sc, opt, lr, bp, w)
        f = {k: v for k, v in _factors(spec, dpo).items() if k != "beta"}
        for t in res.checkpoints:
            vd = _flex_value(res, dpo, t, coord)
            if placebo:
                comps = [compare(seed_shift(vd), vd) > 0]
            else:
                comps = [compare(_flex_value(res, toy.Setting(sc, opt, lr, bp, w, "flex", beta_minus=bm), t,
                                             coord), vd) > 0 for bm in bms]
            ok = all(bool(c.mean() > MAJORITY) for c in comps)
            cells.append(Cell({**f, "epoch": t, "phase": _phase(res, [dpo], t)}, ok, np.concatenate(comps),
                              f"S{sc} w{w} {opt} lr={lr:g}"))
    return cells


@claim("Y-FLEX", paper="Y", place="Section 4 (Flex-DPO; poem sweep β₊ = 0.1, β₋ ∈ [0.02, 0.14])",
       method="empirical",
       statement="Flex-DPO, −log σ(β₊ log πθ(a+)/π0(a+) − β₋ log πθ(a−)/π0(a−)), with β₋ < β₊ moderates the "
                 "drop of the rejected likelihood.",
       latex=r"\beta_- < \beta_+ \Rightarrow |\Delta\log\pi(y_l)|_{\mathrm{flex}} < |\Delta\log\pi(y_l)|_{\mathrm{DPO}}")
def check_flex(ctx) -> Verdict:
    res, spec = _sweep(ctx), _spec(ctx)
    toy = _toy()
    bp = spec.flex_beta_plus
    below = [b for b in spec.flex_beta_minus if b < bp and not math.isclose(b, bp)]
    above = [b for b in spec.flex_beta_minus if b > bp and not math.isclose(b, bp)]
    keys = _reg_settings(res, spec, "flex")
    time_rule = TIME_RULE["Y-FLEX"][0]
    readings = []
    for name, text, rank, why in READINGS["Y-FLEX"]:
        coord = _COORD_OF[name]
        dec = decide_cells(_flex_cells(res, spec, keys, coord, below), time_rule)
        ctrls = {}
        if dec.confirmed_epochs():
            ctrls["placebo"] = _control("Y-FLEX", "placebo", dec,
                                        decide_cells(_flex_cells(res, spec, keys, coord, below, True), time_rule))
        v = _decided("Y-FLEX", name, dec, "β₋ < β₊ moderates the rejected drop", res, ctrls,
                     scope_on=f"{len(keys)} MLP settings, β₊ = {bp:g}, β₋ < β₊ ∈ "
                              f"{{{', '.join(f'{x:g}' for x in below)}}} paired by seed with DPO")
        readings.append(Reading(name, text, rank, why, v))
    ev = {"definition": DEFINITIONS["Y-FLEX"], "criterion": CRITERIA["Y-FLEX"],
          "settings_swept": _swept_text(spec, f"; β₊ = {bp:g}, β₋ ∈ {{{', '.join(f'{b:g}' for b in spec.flex_beta_minus)}}}"),
          "n_settings": len(keys), "n_seeds": len(res.seeds), "checkpoints": list(res.checkpoints)}
    for t in res.checkpoints:
        for label, bms in (("below", below), ("above", above)):
            if not bms:
                continue
            x = np.concatenate([compare(_flex_value(res, toy.Setting(sc, opt, lr, bp, w, "flex", beta_minus=bm), t, "log"),
                                        _flex_value(res, toy.Setting(sc, opt, lr, bp, w), t, "log")) > 0
                                for sc, w, opt, lr in keys for bm in bms])
            ev[f"moderated_fraction_beta_minus_{label}_at_{t}"] = _frac_str(x)
    best = []
    for sc, w, opt, lr in keys:
        med = {bp: float(np.median(_m(res, "p_chosen_mean_end", toy.Setting(sc, opt, lr, bp, w))))}
        for bm in below + above:
            med[bm] = float(np.median(_m(res, "p_chosen_mean_end",
                                         toy.Setting(sc, opt, lr, bp, w, "flex", beta_minus=bm))))
        best.append(max(med, key=med.get))
    ev["best_beta_minus_by_median_final_chosen_prob"] = ", ".join(
        f"{b:g}: {best.count(b)}" for b in sorted(set(best)))
    cells = _flex_cells(res, spec, keys, "log", below)
    rows = [(f"{c.label} @{c.epoch} ({c.factors['phase']})",
             f"{'holds' if c.appears else 'fails'}: {_frac_str(c.runs)} of paired runs moderated") for c in cells]
    ev["per_cell_log_reading"] = [f"{a}: {b}" for a, b in rows]
    # the rule before the review: end only, strict
    old_ok = []
    for sc, w, opt, lr in keys:
        dpo = _m(res, "logp_rejected_end", toy.Setting(sc, opt, lr, bp, w))
        old_ok.append(all(np.mean(_m(res, "logp_rejected_end",
                                      toy.Setting(sc, opt, lr, bp, w, "flex", beta_minus=bm)) > dpo) > MAJORITY
                          for bm in below))
    revisions = [_review_revision("Y-FLEX", decide(old_ok))]
    figs = []
    if ctx.want_figures:
        from dpomath.plots import paper_y as py

        figs.append(str(py.flex_sweep(res, spec, ctx.figure_path("paper_y_flex_sweep.png"))))
        pts = []
        for c in cells:
            sc, w, opt, lr = next(k for k in keys if c.label == f"S{k[0]} w{k[1]} {k[2]} lr={k[3]:g}")
            dpo = toy.Setting(sc, opt, lr, bp, w)
            ratio = float(np.median(value(res, "loss", dpo, c.epoch) / value(res, "loss", dpo, 0)))
            pts.append((ratio, float(c.runs.mean()), c.epoch))
        figs.append(str(py.flex_saturation(pts, SATURATED, ctx.figure_path("paper_y_flex_saturation.png"))))
    details = (f"**Definition.** {DEFINITIONS['Y-FLEX']}.\n\n**Decision rule.** {CRITERIA['Y-FLEX']}.\n\n"
               f"**Time rule.** {TIME_RULE['Y-FLEX'][0]}: {TIME_RULE['Y-FLEX'][1]}.\n\n"
               + _details_table(rows, ("setting @ epoch (phase)", "log reading")))
    return _assemble("Y-FLEX", readings, ev, details, figs, revisions,
                     counterexample=[r[0] for r, c in zip(rows, cells) if not c.appears][:4])


_SFT_MEAN = {"mean_prob": "p_chosen_mean", "mean_log": "logp_chosen"}


def _sft_cells(res, spec, keys, reading, placebo=False):
    toy = _toy()
    b = spec.sft_beta
    cells = []
    for sc, w, opt, lr in keys:
        dpo = toy.Setting(sc, opt, lr, b, w)
        f = {k: v for k, v in _factors(spec, dpo).items() if k != "beta"}
        for t in res.checkpoints:
            if reading in _SFT_MEAN:
                name = _SFT_MEAN[reading]
                score_dpo = (value(res, name, dpo, t) < value(res, name, dpo, 0)).astype(int)
            else:
                score_dpo = degraded_at(res, dpo, t).sum(-1)
            paired = score_dpo > 0
            if not paired.mean() > MAJORITY:
                continue                                   # not informative
            others = [("placebo", None)] if placebo else [(g, toy.Setting(sc, opt, lr, b, w, "sft", gamma=g))
                                                          for g in spec.sft_gammas]
            for g, st in others:
                if reading in _SFT_MEAN:
                    name = _SFT_MEAN[reading]
                    kept = (value(res, name, st, t) >= value(res, name, st, 0)) if st is not None else \
                        seed_shift(value(res, name, dpo, t) >= value(res, name, dpo, 0))
                    x = kept[paired]
                else:
                    n_other = degraded_at(res, st, t).sum(-1) if st is not None else seed_shift(score_dpo)
                    x = (n_other == 0)[paired] if reading == "prevents" else (n_other < score_dpo)[paired]
                fac = {**f, **({} if placebo else {"gamma": g}), "epoch": t, "phase": _phase(res, [dpo], t)}
                cells.append(Cell(fac, bool(x.mean() > MAJORITY), x,
                                  f"S{sc} w{w} {opt} lr={lr:g}" + ("" if placebo else f" γ={g:g}")))
    return cells


@claim("Y-SFT", paper="Y", place="Section 4 (SFT-DPO)", method="empirical",
       statement="SFT-DPO, ℓ_DPO − γ log πθ(a+|x), keeps the chosen likelihood from falling.",
       latex=r"\ell_{\mathrm{DPO}} - \gamma\log\pi_\theta(y_w|x):\ \pi_T(y_w) \ge \pi_0(y_w)")
def check_sft(ctx) -> Verdict:
    res, spec = _sweep(ctx), _spec(ctx)
    toy = _toy()
    b = spec.sft_beta
    keys = _reg_settings(res, spec, "sft")
    time_rule = TIME_RULE["Y-SFT"][0]
    readings = []
    for name, text, rank, why in READINGS["Y-SFT"]:
        cells = _sft_cells(res, spec, keys, name)
        dec = decide_cells(cells, time_rule)
        if not cells or dec.status == "inconclusive":
            why_nt = (f"plain DPO (β = {b:g}) lets {'the mean chosen' if name in _SFT_MEAN else 'some prompt’s chosen'} "
                      f"fall in a majority of seeds in no (setting, checkpoint) of {len(keys)} settings × "
                      f"{len(res.checkpoints)} checkpoints: nothing for SFT-DPO to keep")
            v = Verdict.untestable(f"SFT-DPO keeps the chosen — {text}: not testable in this setting ({why_nt})",
                                   why_nt, evidence={"cells": "no informative cell"})
        else:
            ctrls = {}
            if dec.confirmed_epochs():
                ctrls["placebo"] = _control("Y-SFT", "placebo", dec,
                                            decide_cells(_sft_cells(res, spec, keys, name, True), time_rule))
            v = _decided("Y-SFT", name, dec, "SFT-DPO keeps the chosen from falling", res, ctrls,
                         scope_on=f"{len(keys)} MLP settings, β = {b:g}, γ ∈ "
                                  f"{{{', '.join(f'{g:g}' for g in spec.sft_gammas)}}} paired by seed with DPO",
                         extra_ev={"informative_cells": f"{len({(c.label.rsplit(' γ=', 1)[0], c.epoch) for c in cells})}"
                                                        f"/{len(keys) * len(res.checkpoints)}"})
        readings.append(Reading(name, text, rank, why, v))

    def dpo_of(k):
        return toy.Setting(k[0], k[2], k[3], b, k[1])

    def sft_of(k, g):
        return toy.Setting(k[0], k[2], k[3], b, k[1], "sft", gamma=g)

    end = res.checkpoints[-1]
    ev = {"definition": DEFINITIONS["Y-SFT"], "criterion": CRITERIA["Y-SFT"],
          "settings_swept": _swept_text(spec, f"; β = {b:g}, γ ∈ {{{', '.join(f'{g:g}' for g in spec.sft_gammas)}}}"),
          "n_settings": len(keys), "n_seeds": len(res.seeds), "checkpoints": list(res.checkpoints)}
    for t in res.checkpoints:
        ev[f"dpo_degrades_fraction_at_{t}"] = _frac_str(np.concatenate(
            [degraded_at(res, dpo_of(k), t).any(-1) for k in keys]))
    for g in spec.sft_gammas:
        ev[f"gamma_{g:g}_degrades_fraction_at_end"] = _frac_str(np.concatenate(
            [degraded_at(res, sft_of(k, g), end).any(-1) for k in keys]))
        ev[f"gamma_{g:g}_chosen_above_dpo_fraction_at_end"] = _frac_str(np.concatenate(
            [_m(res, "p_chosen_mean_end", sft_of(k, g)) > _m(res, "p_chosen_mean_end", dpo_of(k)) for k in keys]))
    # the rules before the review ('reduces' at the end) and before the first revision (the mean)
    old_reduce, old_mean = [], []
    for k in keys:
        n_dpo = degraded_prompts(res, dpo_of(k)).sum(-1)
        if np.mean(n_dpo > 0) > MAJORITY:
            for g in spec.sft_gammas:
                n_sft = degraded_prompts(res, sft_of(k, g)).sum(-1)
                old_reduce.append(bool(np.mean((n_sft < n_dpo)[n_dpo > 0]) > MAJORITY))
        fell = _m(res, "p_chosen_mean_end", dpo_of(k)) < _m(res, "p_chosen_mean_start", dpo_of(k))
        if np.mean(fell) > MAJORITY:
            for g in spec.sft_gammas:
                s_ = sft_of(k, g)
                old_mean.append(bool(np.mean((_m(res, "p_chosen_mean_end", s_) >=
                                              _m(res, "p_chosen_mean_start", s_))[fell]) > MAJORITY))
    st_reduce = decide(old_reduce) if old_reduce else "inconclusive"
    st_mean = decide(old_mean) if old_mean else "inconclusive"
    revisions = [_first_revision("Y-SFT", st_mean, OLD_RULES["Y-SFT"]), _review_revision("Y-SFT", st_reduce)]
    figs = []
    if ctx.want_figures:
        from dpomath.plots import paper_y as py

        figs.append(str(py.sft_sweep(res, spec, ctx.figure_path("paper_y_sft_sweep.png"))))
    cells = _sft_cells(res, spec, keys, "prevents")
    rows = [(f"{c.label} @{c.epoch} ({c.factors['phase']})",
             f"{'holds' if c.appears else 'fails'}: {_frac_str(c.runs)} of the degrading DPO seeds kept")
            for c in cells]
    details = (f"**Definition.** {DEFINITIONS['Y-SFT']}.\n\n**Decision rule.** {CRITERIA['Y-SFT']}.\n\n"
               f"**Time rule.** {TIME_RULE['Y-SFT'][0]}: {TIME_RULE['Y-SFT'][1]}.\n\n"
               + (_details_table(rows, ("informative setting @ epoch (phase)", "'prevents' reading"))
                  if rows else "No informative cell under the headline reading."))
    return _assemble("Y-SFT", readings, ev, details, figs, revisions,
                     counterexample=[r[0] for r, c in zip(rows, cells) if not c.appears][:4])
