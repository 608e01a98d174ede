"""Real-model claims decided per model and shown side by side.

A claim measured on a real language model is decided on each configured model on its own, by
the claim's own criterion; the verdicts stand side by side in the ledger (``Verdict.models``:
one row per model) and the claim's status is combined by one rule stated here before any number
is seen (:data:`MODEL_RULE`). A 135M and a 270M model disagreeing is a condition the papers do
not state, so disagreement is reported as such (QUALIFIED, naming the models where the claim
holds), never averaged away and never settled by picking the stronger verdict.

The models come from a setting: ``dpomath verify --models smollm2,gemma3-270m`` (or ``report
--models``), else ``$DPOMATH_MODELS`` (comma-separated short names of
:data:`dpomath.train.models.KNOWN_MODELS`, local paths or hub names in the local cache), else
``$DPOMATH_MODEL`` (one model), else the default SmolLM2-135M-Instruct alone. A model that is not
installed is SKIPPED on its row, with the command that installs it, and does not count.

Writing a real-model claim::

    from dpomath.verify.per_model import per_model

    @claim("I-EMP-FT", paper="I", place="Table 1", method="empirical", statement="...")
    @per_model
    def _ft(ctx, model):            # model: a ModelChoice (key, name, arg for resolve_model)
        run = my_experiment(model.arg, quick=ctx.quick, seed=ctx.seed)
        fig = ctx.figure_path("i_ft_error_vs_k.png")   # prefixed per model: no clash
        return Verdict.confirmed(..., scope=Scope(f"{model.name}, ...", kind="model"),
                                 controls=[...])

The check is called once per model with a context whose :meth:`figure_path` prefixes the
model's key (except for the default model, whose figure names stay as they were). Inside a
hand-written check, :func:`decide_models` combines verdicts computed another way (e.g. a toy
verdict beside the real-model ones is a different matter: use
:func:`dpomath.verify.fidelity.decide_readings` or separate claims for that).
"""
from __future__ import annotations

import functools
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Sequence

from .._args import BadValue
from .fidelity import Control, Revision, Scope
from .ledger import Context, Skip, Status, Verdict

__all__ = ["MODEL_RULE", "ModelChoice", "configured_models", "model_choice", "using_models",
           "set_models", "per_model", "run_per_model", "decide_models", "DEFAULT_MODELS"]

#: The default setting: the default model alone.
DEFAULT_MODELS = ("smollm2",)

#: The rule that combines the per-model verdicts (stated once, for every real-model claim).
MODEL_RULE = (
    "each model is decided on its own by the claim's criterion; the claim's status: models that "
    "could not run (SKIPPED) are listed and not counted, and all SKIPPED gives SKIPPED; an ERROR "
    "on any model gives ERROR; when every decided model has the same status, that status (PROVED "
    "and CONFIRMED together count as CONFIRMED); when they differ and the claim holds (PROVED, "
    "CONFIRMED or QUALIFIED) on at least one model, QUALIFIED, naming the models where it holds "
    "and the others' statuses (models of different size or family disagreeing is a condition the "
    "paper does not state); when it holds on none and at least one model refutes it, REFUTED, "
    "naming the refuting models; otherwise INCONCLUSIVE")

_HOLDS = (Status.PROVED, Status.CONFIRMED, Status.QUALIFIED)

_override: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelChoice:
    """One model of the setting.

    Parameters
    ----------
    key : str
        Short name (``"smollm2"``, ``"gemma3-270m"``, or a path's last part): used in figure
        names, evidence keys and the per-model rows.
    name : str
        The model's name as reports show it (``"SmolLM2-135M-Instruct"``).
    arg : str
        What :func:`dpomath.train.models.resolve_model` takes (the short name or the path).
    install : str
        The command that makes it available (shown when it is SKIPPED).
    default : bool
        True for the package's default model (its figure names carry no prefix).
    """

    key: str
    name: str
    arg: str
    install: str = ""
    default: bool = False

    @property
    def load_arg(self) -> str | None:
        """What a loader that treats None as the default model takes: None for the default
        model (so its cache keys and names stay those of an unset ``DPOMATH_MODEL``), else
        :attr:`arg`."""
        return None if self.default else self.arg


def model_choice(text: str) -> ModelChoice:
    """The :class:`ModelChoice` of a short name, path or hub name.

    >>> model_choice("gemma3-270m").name, model_choice("SmolLM2").default
    ('Gemma-3-270M', True)
    >>> model_choice("/models/my-lm").key
    'my-lm'
    """
    from dpomath.train.models import known_model

    if not isinstance(text, str) or not text.strip():
        raise BadValue(f"models: expected a model short name or path, got {text!r}")
    text = text.strip()
    km = known_model(text)
    if km is not None:
        return ModelChoice(km.key, km.name, km.key, km.install, default=km.key == DEFAULT_MODELS[0])
    key = re.sub(r"[^A-Za-z0-9._-]+", "-", text.rstrip("/").rsplit("/", 1)[-1]) or "model"
    return ModelChoice(key, text, text, "pass a local path or a hub name in the local cache")


def _parse(text: str, where: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise BadValue(f"{where}: expected comma-separated model names like smollm2,gemma3-270m, "
                       f"got {text!r}")
    return names


def configured_models() -> list[ModelChoice]:
    """The models real-model claims run on: :func:`set_models`/:func:`using_models`, else
    ``$DPOMATH_MODELS``, else ``$DPOMATH_MODEL``, else :data:`DEFAULT_MODELS`. Duplicates
    (the same key twice) are an error.

    >>> with using_models(["smollm2", "gemma3-270m"]):
    ...     [m.key for m in configured_models()]
    ['smollm2', 'gemma3-270m']
    """
    if _override is not None:
        names, where = _override, "models"
    elif os.environ.get("DPOMATH_MODELS"):
        names, where = _parse(os.environ["DPOMATH_MODELS"], "DPOMATH_MODELS"), "DPOMATH_MODELS"
    elif os.environ.get("DPOMATH_MODEL"):
        names, where = (os.environ["DPOMATH_MODEL"],), "DPOMATH_MODEL"
    else:
        names, where = DEFAULT_MODELS, "models"
    out = [model_choice(n) for n in names]
    keys = [m.key for m in out]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise BadValue(f"{where}: model {', '.join(dup)} given twice")
    return out


def set_models(names: Sequence[str] | str | None) -> None:
    """Set the models for this process (None: back to the environment / default). A string
    is split at commas. ``dpomath verify --models`` calls it."""
    global _override
    if names is None:
        _override = None
        return
    _override = _parse(names, "models") if isinstance(names, str) else tuple(names)
    if not _override:
        raise BadValue("models: at least one model is needed")
    configured_models()  # validate now


@contextmanager
def using_models(names: Sequence[str] | str) -> Iterator[None]:
    """Run a block with the given models (the previous setting is restored after it)."""
    global _override
    before = _override
    set_models(names)
    try:
        yield
    finally:
        _override = before


class _ModelContext(Context):
    """The claim's context for one model: same seed and random stream as the claim's (every
    model sees the same splits), figure names prefixed by the model's key."""

    model: ModelChoice

    def figure_path(self, name: str):
        if not self.model.default:
            name = f"{self.model.key}_{name}"
        return super().figure_path(name)


def _context_for(ctx: Context, model: ModelChoice) -> Context:
    sub = _ModelContext(ctx.claim_id, seed=ctx.seed, quick=ctx.quick, figure_dir=ctx.figure_dir)
    sub.model = model
    return sub


def _one(check: Callable, ctx: Context, model: ModelChoice) -> Verdict:
    """One model's verdict: unavailable model → SKIPPED with the install command; a Skip from
    the check → SKIPPED; a crash → ERROR (kept on the model's row)."""
    import traceback

    from dpomath.train.models import ModelUnavailable

    try:
        try:
            from dpomath.train.models import resolve_model

            resolve_model(model.arg)
        except ModelUnavailable as e:
            raise Skip(f"{model.name} is not available: {e}", enable=model.install) from None
        v = check(_context_for(ctx, model), model)
        if not isinstance(v, Verdict):
            raise TypeError(f"check returned {type(v).__name__}, not Verdict")
        bad = v.problems()
        if bad:
            raise ValueError("; ".join(bad))
        return v
    except Skip as s:
        return s.verdict()
    except Exception as e:  # noqa: BLE001 - kept on the model's row, the claim turns ERROR
        return Verdict(Status.ERROR, f"{type(e).__name__}: {e}".splitlines()[0],
                       details=f"```\n{traceback.format_exc(limit=8)}```")


def run_per_model(ctx: Context, check: Callable[[Context, ModelChoice], Verdict],
                  models: Sequence[ModelChoice] | None = None) -> Verdict:
    """Run ``check(ctx_for_model, model)`` on every configured model and combine the verdicts
    by :data:`MODEL_RULE` (:func:`decide_models`)."""
    models = configured_models() if models is None else list(models)
    return decide_models([(m, _one(check, ctx, m)) for m in models])


def per_model(check: Callable[[Context, ModelChoice], Verdict]) -> Callable[[Context], Verdict]:
    """Decorator: make ``check(ctx, model)`` a claim check ``check(ctx)`` run on every
    configured model (:func:`run_per_model`). Put it below ``@claim``."""
    @functools.wraps(check)
    def run(ctx: Context) -> Verdict:
        return run_per_model(ctx, check)

    run.per_model = True
    return run


def _row(m: ModelChoice, v: Verdict) -> dict:
    return {"key": m.key, "model": m.name, "status": v.status.value, "summary": v.summary,
            "scope": v.scope.to_dict() if v.scope else None,
            "controls": [c.to_dict() for c in v.controls], "not_testable": v.not_testable,
            "evidence": v.evidence, "figures": list(v.figures),
            "enable": v.evidence.get("enable", "") if v.status is Status.SKIPPED else ""}


def _combined_status(statuses: list[Status]) -> Status:
    s = set(statuses)
    if s <= {Status.PROVED, Status.CONFIRMED} and len(s) == 2:
        return Status.CONFIRMED
    if len(s) == 1:
        return statuses[0]
    if s & set(_HOLDS):
        return Status.QUALIFIED
    if Status.REFUTED in s:
        return Status.REFUTED
    return Status.INCONCLUSIVE


def decide_models(results: Sequence[tuple[ModelChoice, Verdict]], rule: str = MODEL_RULE) -> Verdict:
    """The claim's verdict from its per-model verdicts, by :data:`MODEL_RULE`.

    With one model the verdict is that model's, with its row added (``models``). With several,
    the summary names each model's status and summary, the scope names the models, the
    controls, revisions, figures and counterexamples of every model are kept (prefixed by the
    model's key), and ``models`` holds one row per model.

    Parameters
    ----------
    results : sequence of (ModelChoice, Verdict)
        In the order of the setting.
    rule : str
        The stated rule (default :data:`MODEL_RULE`).

    Returns
    -------
    Verdict

    Examples
    --------
    >>> a, b = model_choice("smollm2"), model_choice("gemma3-270m")
    >>> v = decide_models([(a, Verdict.confirmed("slope > 0")), (b, Verdict.refuted("slope < 0"))])
    >>> v.status.value, v.summary
    ('QUALIFIED', 'holds on SmolLM2-135M-Instruct only — SmolLM2-135M-Instruct: CONFIRMED (slope > 0); Gemma-3-270M: REFUTED (slope < 0)')
    """
    if not results:
        raise ValueError("results: at least one model's verdict is needed")
    rows = [_row(m, v) for m, v in results]
    if len(results) == 1:
        v = results[0][1]
        v.models, v.model_rule = rows, rule
        return v
    decided = [(m, v) for m, v in results if v.status is not Status.SKIPPED]
    per = "; ".join(f"{m.name}: {v.status.value} ({v.summary})" for m, v in results)
    names = ", ".join(m.name for m, _ in results)
    if not decided:
        v = Verdict(Status.SKIPPED, f"no model could run — {per}",
                    evidence={"enable": "; ".join(r["enable"] for r in rows if r["enable"])})
        v.models, v.model_rule = rows, rule
        return v
    errors = [m.name for m, v in decided if v.status is Status.ERROR]
    status = Status.ERROR if errors else _combined_status([v.status for _, v in decided])
    if errors:
        head = f"ERROR on {', '.join(errors)}"
    elif status is Status.QUALIFIED and len({v.status for _, v in decided}) > 1:
        holds = [m.name for m, v in decided if v.status in _HOLDS]
        head = f"holds on {', '.join(holds)} only"
    elif status is Status.REFUTED and len({v.status for _, v in decided}) > 1:
        head = f"refuted on {', '.join(m.name for m, v in decided if v.status is Status.REFUTED)}"
    else:
        head = f"{status.value} on every model run ({', '.join(m.name for m, _ in decided)})"
    m0, first = decided[0]
    common = first.scope.on if first.scope else ""
    if common.startswith(m0.name):  # the first model's name (and its file, in parentheses) off
        common = common[len(m0.name):].lstrip()
        if common.startswith("(") and ")" in common:
            common = common[common.index(")") + 1:]
        common = common.lstrip(" ,;")
    scope = Scope(f"{names}, each decided on its own" + (f" ({common})" if common else ""),
                  reading=first.scope.reading if first.scope else "", kind="model")
    controls = [Control(f"[{m.key}] {c.variant}", c.failed, c.measured) for m, v in decided for c in v.controls]
    revs: dict[tuple, list[str]] = {}
    for m, v in decided:
        for r in v.revisions:
            revs.setdefault((r.old_rule, r.new_rule, r.reason), []).append(f"{m.name}: {r.old_verdict}")
    revisions = [Revision(o, "; ".join(vs), n, why) for (o, n, why), vs in revs.items()]
    establishes = "; ".join(f"[{m.key}] {v.establishes}" for m, v in decided if v.establishes)
    nt = [v.not_testable for _, v in decided]
    kw = dict(evidence={"per_model_status": {m.key: v.status.value for m, v in results},
                        "model_rule": rule, **{m.key: v.evidence for m, v in results}},
              figures=[f for _, v in results for f in v.figures],
              details="\n\n".join(f"#### {m.name}\n\n{v.details}" for m, v in results if v.details),
              scope=scope, controls=controls, revisions=revisions,
              counterexample={m.key: v.counterexample for m, v in decided if v.counterexample is not None} or None)
    if status is Status.INCONCLUSIVE and all(nt):
        out = Verdict.untestable(f"{head} — {per}", why=nt[0], **kw)
    else:
        out = Verdict(status, f"{head} — {per}", establishes=establishes
                      if status in (Status.PROVED, Status.CONFIRMED) else "", **kw)
    out.models, out.model_rule = rows, rule
    return out
