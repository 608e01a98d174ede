"""Fill the feature cache, on one device or data-parallel over several processes/GPUs.

    python -m dpomath.validation.extract --persona-dir DIR [--model M] [--K 1,2,4,8,16]
        [--per-persona N] [--nested] [--device auto|cpu|cuda] [--batch-size B]
        [--device-map auto] [--cache-dir DIR]

Launched by ``accelerate launch`` (or ``torchrun``), each process reads ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` from the environment, loads the model on ``cuda:LOCAL_RANK``
in bfloat16 and extracts the statements whose file line ≡ RANK (mod WORLD_SIZE), writing
its own cache chunks (atomic files: no communication between processes is needed). Then
``dpomath validate --device cuda`` (one process, same model, cache and template) finds
every feature cached and only trains. For a 7–8B model on 4 GPUs::

    accelerate launch --num_processes 4 -m dpomath.validation.extract \\
        --model meta-llama/Llama-3.1-8B --persona-dir evals/persona --device cuda
    dpomath validate --model meta-llama/Llama-3.1-8B --persona-dir evals/persona --device cuda

A model too large for one GPU: one process with ``--device-map auto`` (accelerate's
big-model loading spreads the layers over all visible GPUs).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main", "distributed_env"]


def distributed_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the launcher's environment (1 process if unset)."""
    def get(name: str, default: int) -> int:
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            return default
    world = max(1, get("WORLD_SIZE", 1))
    rank = get("RANK", 0)
    return rank, world, get("LOCAL_RANK", rank)


def main(argv=None) -> int:
    from dpomath._args import BadType, BadValue
    from dpomath.verify.cli import UsageError, int_at_least, int_list

    from .data import DEFAULT_TEMPLATE, PAPER_KS, list_personas, read_persona_file, select_personas
    from .features import build_feature_bank
    from .model import ModelUnavailable, resolve_device, resolve_model

    class Parser(argparse.ArgumentParser):  # one line on stderr and exit 2, as the dpomath CLI
        def error(self, message):
            raise UsageError(f"{self.prog}: {message}")

    p = Parser(prog="python -m dpomath.validation.extract",
               description="fill the validation feature cache (data-parallel under accelerate)")
    p.add_argument("--model", default=None)
    p.add_argument("--persona-dir", type=Path, default=None)
    p.add_argument("--K", type=int_list, default=list(PAPER_KS), metavar="1,2,4,8,16")
    p.add_argument("--per-persona", type=int_at_least(1), default=None)
    p.add_argument("--nested", action="store_true")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--device-map", default=None, help="e.g. auto: one process, layers over all GPUs")
    p.add_argument("--batch-size", type=int_at_least(1), default=None)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--template", default=DEFAULT_TEMPLATE)
    try:
        args = p.parse_args(argv)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    rank, world, local = distributed_env()
    try:
        pdir = args.persona_dir or (Path(os.environ["DPOMATH_PERSONA_DIR"]) if os.environ.get("DPOMATH_PERSONA_DIR") else None)
        if pdir is None:
            raise BadValue("persona_dir: pass --persona-dir or set DPOMATH_PERSONA_DIR")
        sel = select_personas(list_personas(pdir), args.K, nested=args.nested)
        files = [read_persona_file(pdir / f"{n}.jsonl", limit=args.per_persona) for n in sel.personas]
        spec = resolve_model(args.model)
        device = resolve_device(args.device)
        if device == "cuda" and world > 1 and not args.device_map:
            device = f"cuda:{local}"
        bank = build_feature_bank(spec, files, template=args.template, device=device,
                                  cache_root=args.cache_dir, batch_size=args.batch_size,
                                  shard=(rank, world), device_map=args.device_map)
    except (BadValue, BadType, ModelUnavailable) as e:
        print(f"extract: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"rank": rank, "world_size": world, "device": device,
                      "personas": len(files), "extracted": bank.extracted_records,
                      "cached_before": bank.cached_records, **bank.stats.to_dict()}))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
