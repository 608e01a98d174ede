"""The ``dpomath train`` command (the contract in DESIGN.md)::

    dpomath train --model NAME_OR_PATH --data FILE.jsonl|persona:DIR --mode last-layer|lora|full
                  --loss KIND --beta B --lr LR --steps N --batch-size B
                  [--optimizer adam|sgd|rmsprop] [--seed S] [--device auto|cpu|cuda]
                  [--out DIR] [--resume] [--json]

``--model default`` is SmolLM2-135M-Instruct. ``--data persona-answers:DIR`` gives the
single-token " Yes"/" No" pairs. Further options (optional, outside the contract) tune the run:
gradient accumulation, clipping, the loss's own parameters, LoRA, the persona construction,
how often to evaluate and checkpoint. ``--json`` prints one JSON document on stdout: ``config``,
``history`` (one row per update, TRL's names), ``final``, ``data`` (kept/rejected counts and the
bad records), plus ``evals``, ``timing`` and ``notes``. Bad records are printed on stderr as
``file:line: reason``. A bad argument: one line on stderr, exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_parser", "arguments", "run"]


def _int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {v}")
        return v
    return parse


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (0 < v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def _loss_param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number after {name}=, got {value!r}") from None


def _names(text: str) -> list[str]:
    out = [t.strip() for t in text.split(",") if t.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return out


_HELP = ("DPO (any loss of the family) on a real language model: whole responses, last-layer / "
         "LoRA / full fine-tuning")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``train`` to an ``argparse`` subparsers object (the ``dpomath`` CLI registers it
    through :func:`dpomath.verify.cli.register` below)."""
    return arguments(subparsers.add_parser("train", help=_HELP))


def arguments(t: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``dpomath train``'s options to the parser ``t``."""
    t.add_argument("--model", required=True, metavar="NAME_OR_PATH",
                   help="short name (smollm2 = default, gemma3-270m), hub name or local path")
    t.add_argument("--data", required=True, metavar="FILE.jsonl|persona:DIR",
                   help="preference JSONL (prompt/chosen/rejected, strings or messages), persona:DIR "
                        "(statement pairs) or persona-answers:DIR (single-token Yes/No pairs)")
    t.add_argument("--mode", required=True, choices=["last-layer", "lora", "full"],
                   help="what is trained: the output head, LoRA adapters, or every weight")
    t.add_argument("--loss", required=True, metavar="KIND", help="a dpomath loss kind, e.g. sigmoid (DPO)")
    t.add_argument("--beta", required=True, type=_positive, help="the loss's β (> 0)")
    t.add_argument("--lr", required=True, type=_positive, help="learning rate (> 0)")
    t.add_argument("--steps", required=True, type=_int_at_least(0), help="optimizer updates")
    t.add_argument("--batch-size", required=True, type=_int_at_least(1), help="pairs per update")
    t.add_argument("--optimizer", choices=["adam", "sgd", "rmsprop"], default="adam",
                   help="the optimizer")
    t.add_argument("--seed", type=_int_at_least(0), default=0,
                   help="seed of the data order, splits and initialisation")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the model runs (auto: cuda when available)")
    t.add_argument("--out", metavar="DIR", default=None,
                   help="checkpoints, per-step evaluations and result.json go here")
    t.add_argument("--resume", action="store_true", help="continue the run in --out to --steps")
    t.add_argument("--json", action="store_true", help="one JSON document on stdout")
    x = t.add_argument_group("further options")
    x.add_argument("--grad-accum", type=_int_at_least(1), default=1, metavar="G",
                   help="split each batch into G micro-batches (G divides the batch size)")
    x.add_argument("--max-grad-norm", type=_positive, default=None,
                   help="clip the gradient to this norm (default: no clipping)")
    x.add_argument("--max-length", type=_int_at_least(2), default=1024,
                   help="tokens per prompt + response at most")
    x.add_argument("--loss-param", type=_loss_param, action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the loss, e.g. label_smoothing=0.1 (repeatable)")
    x.add_argument("--lora-r", type=_int_at_least(1), default=8, help="LoRA rank")
    x.add_argument("--lora-alpha", type=_positive, default=16.0, help="LoRA scale α")
    x.add_argument("--lora-targets", type=_names, default=None, metavar="q_proj,v_proj",
                   help="modules LoRA adapts (default: peft's choice for the architecture)")
    x.add_argument("--log-every", type=_int_at_least(0), default=0, metavar="N",
                   help="evaluate every N updates (0: about ten times)")
    x.add_argument("--checkpoint-every", type=_int_at_least(0), default=0, metavar="N",
                   help="checkpoint every N updates with --out (0: about ten times)")
    x.add_argument("--eval-pairs", type=_int_at_least(0), default=64,
                   help="pairs (and unseen responses) per evaluation")
    x.add_argument("--greedy-prompts", type=_int_at_least(0), default=4,
                   help="prompts whose greedy response is tracked")
    x.add_argument("--greedy-tokens", type=_int_at_least(0), default=24,
                   help="tokens of each greedy response")
    x.add_argument("--layout", choices=["auto", "prefix", "concat"], default="auto",
                   help="how chosen and rejected share the prompt in a batch")
    x.add_argument("--personas", type=_names, default=None, metavar="A,B", help="persona: data only")
    x.add_argument("--pairs-per-persona", type=_int_at_least(1), default=None,
                   help="persona: data only: training pairs per persona (default: all)")
    x.add_argument("--heldout-per-persona", type=_int_at_least(0), default=None,
                   help="persona: data only: held-out pairs per persona")
    x.add_argument("--unseen-per-persona", type=_int_at_least(0), default=16,
                   help="persona: data only: unseen statements per persona")
    return t


def _config(args):
    from .engine import TrainConfig

    return TrainConfig(
        mode=args.mode, loss=args.loss, beta=args.beta, lr=args.lr, steps=args.steps,
        batch_size=args.batch_size, optimizer=args.optimizer, seed=args.seed,
        grad_accum=args.grad_accum, max_grad_norm=args.max_grad_norm, max_length=args.max_length,
        loss_params=tuple(args.loss_param), layout=args.layout, lora_r=args.lora_r,
        lora_alpha=args.lora_alpha, lora_targets=tuple(args.lora_targets) if args.lora_targets else None,
        log_every=args.log_every, eval_pairs=args.eval_pairs, eval_unseen=args.eval_pairs,
        greedy_prompts=args.greedy_prompts, greedy_tokens=args.greedy_tokens,
        checkpoint_every=args.checkpoint_every, device=args.device)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.5g}"
    return "" if x is None else str(x)


def _print_human(doc: dict) -> None:
    cfg, data = doc["config"], doc["data"]
    print(f"model: {cfg.get('model')}   mode: {cfg['mode']}   loss: {cfg['loss']}   beta: {cfg['beta']:g}"
          f"   lr: {cfg['lr']:g}   optimizer: {cfg['optimizer']}   device: {cfg.get('device')}"
          f"   layout: {cfg.get('layout')}")
    k = data["kept"]
    print(f"data: {data['source']}: {k['train']} training pairs, {k['heldout']} held out, "
          f"{k['unseen']} unseen responses; {data['rejected']} bad record(s)")
    cols = ["step", "loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
            "rewards/accuracies", "logps/chosen", "logps/rejected"]
    rows = [cols] + [[_fmt(r[c]) for c in cols] for r in doc["history"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    for j, r in enumerate(rows):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))
    final = doc["final"]
    print(f"after {final['step']} updates:")
    for split in ("train", "heldout"):
        if split in final:
            f = final[split]
            print(f"  {split:8s} ({f['n']} pairs): loss {_fmt(f['loss'])}, accuracy {_fmt(f['rewards/accuracies'])}, "
                  f"log π chosen {_fmt(f['logps/chosen'])} (Δ {_fmt(f['logps/chosen_change'])}), "
                  f"rejected {_fmt(f['logps/rejected'])} (Δ {_fmt(f['logps/rejected_change'])})")
    if "unseen" in final:
        u = final["unseen"]
        print(f"  unseen   ({u['n']} responses): log π {_fmt(u['logps/unseen'])} (Δ {_fmt(u['logps/unseen_change'])})")
    if final.get("greedy", {}).get("n"):
        g = final["greedy"]
        print(f"  greedy   ({g['n']} prompts): log π {_fmt(g['logps/greedy'])}, length {_fmt(g['length'])}")
    t = doc["timing"]
    if t.get("pairs_per_s"):
        print(f"time: {t['seconds']:.1f} s ({t['step_seconds_mean']:.3g} s per update, {t['pairs_per_s']:.3g} pairs/s)")
    for n in doc.get("notes", []):
        print(f"note: {n}")
    if cfg.get("out"):
        print(f"wrote {cfg['out']}/result.json")


def run(args) -> int:
    """Run ``dpomath train`` from parsed arguments; 0 on success (argument errors raise
    ``BadValue`` for the CLI to print as one line, exit 2)."""
    from dpomath._args import BadValue

    from . import data as D
    from .checkpoint import CorruptCheckpoint
    from .engine import train
    from .models import ModelUnavailable

    cfg = _config(args)
    kind, _ = D.parse_data_spec(args.data)
    persona_opts = dict(personas=args.personas, pairs_per_persona=args.pairs_per_persona,
                        heldout_per_persona=args.heldout_per_persona,
                        unseen_per_persona=args.unseen_per_persona)
    if kind != "persona" and (args.personas and kind != "persona-answers" or args.pairs_per_persona
                              or args.heldout_per_persona is not None):
        raise BadValue("--personas/--pairs-per-persona/--heldout-per-persona: only with --data persona:DIR")
    model = None if args.model.lower() in ("default",) else args.model
    opts = {} if kind == "jsonl" else (
        {"personas": args.personas} if kind == "persona-answers" else persona_opts)
    try:
        res = train(model, args.data, cfg, out=args.out, resume=args.resume, data_options=opts)
    except (ModelUnavailable, CorruptCheckpoint) as e:
        print(f"dpomath train: error: {e}", file=sys.stderr)
        return 2
    doc = res.to_dict()
    if args.json:
        json.dump(doc, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        _print_human(doc)
    return 0


from dpomath.verify.cli import register  # noqa: E402

_DESCRIPTION = (_HELP + ".\n\nData: a preference JSONL file (prompt, chosen, rejected; standard or "
                "conversational), persona:DIR (whole statements) or persona-answers:DIR (the "
                "single-token \" Yes\"/\" No\" pairs). --model: a short name (smollm2, "
                "gemma3-270m), a hub name in the local cache or a local path. --json prints one "
                "JSON document (config, history, final, data, evals, timing, notes); a bad "
                "argument is one line on stderr and exit 2.")

register("train", help=_HELP, description=_DESCRIPTION, arguments=arguments, run=run)
