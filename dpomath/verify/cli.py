"""The ``dpomath`` command line (the contract in DESIGN.md).

    dpomath verify [--paper LETTER ...] [--claim ID ...] [--list] [--quick] [--json] [--seed N]
    dpomath report [--out DIR] [--quick] [--seed N] [--paper LETTER ...]
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

**Adding a subcommand.** Write a module that calls :func:`register` at import time (its
``arguments`` function adds the options, its ``run`` function does the work and returns the
exit code; import anything heavy inside ``run``, so that ``--help`` and bad arguments stay
fast), and add the module's name to :data:`COMMAND_MODULES`. The helpers below
(:func:`int_at_least`, :func:`positive_float`, :func:`int_list`, :func:`emit_json`,
:func:`emit_mapping`) give every command the same argument checks and output.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .._args import BadType, BadValue

__all__ = ["main", "register", "Command", "COMMAND_MODULES", "int_at_least", "positive_float",
           "int_list", "emit_json", "emit_mapping", "UsageError"]

#: Modules that register subcommands, imported by name in this order (the order of ``--help``).
COMMAND_MODULES = ("dpomath.verify.commands", "dpomath.lastlayer.commands",
                   "dpomath.validation.command", "dpomath.train.command")


class UsageError(Exception):
    """A bad argument: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block, exit 2
        raise UsageError(f"{self.prog}: {message}")


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one line of help, a function adding its arguments to an
    ``argparse`` parser, and a function running it (returns the exit code)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


_COMMANDS: dict[str, Command] = {}
_LOAD_ERRORS: dict[str, str] = {}


def register(name: str, *, help: str, arguments: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int]) -> Command:
    """Register the subcommand ``dpomath NAME`` (called by the modules of
    :data:`COMMAND_MODULES` at import time).

    Parameters
    ----------
    name : str
        The subcommand.
    help : str
        One line for ``dpomath --help``.
    arguments : callable
        ``arguments(parser)`` adds the options.
    run : callable
        ``run(args)`` does the work and returns the exit code.

    Returns
    -------
    Command
    """
    existing = _COMMANDS.get(name)
    if existing is not None and existing.run.__module__ != run.__module__:
        raise ValueError(f"command {name!r} registered twice ({existing.run.__module__}, "
                         f"{run.__module__})")
    cmd = Command(name, help, arguments, run)
    _COMMANDS[name] = cmd
    return cmd


def _load_commands() -> dict[str, Command]:
    """Every registered command, in the order of :data:`COMMAND_MODULES` (whatever imported
    them first), then the order each module registers them."""
    for mod in COMMAND_MODULES:
        if mod in _LOAD_ERRORS:
            continue
        try:
            importlib.import_module(mod)
        except ImportError as e:  # e.g. dpomath.validation absent from a plain checkout
            _LOAD_ERRORS[mod] = str(e)
    seen = list(_COMMANDS)

    def rank(name: str) -> tuple:
        mod = _COMMANDS[name].run.__module__
        return (COMMAND_MODULES.index(mod) if mod in COMMAND_MODULES else len(COMMAND_MODULES),
                seen.index(name))
    return {name: _COMMANDS[name] for name in sorted(_COMMANDS, key=rank)}


# ---------------------------------------------------------------- argument types

def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``lo``."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {v}")
        return v
    return parse


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v > 0 and v < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return v


def int_list(text: str) -> list[int]:
    """An argparse type: comma-separated integers >= 1, like ``1,2,4``."""
    try:
        vals = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 1,2,4, got {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise argparse.ArgumentTypeError(f"expected integers >= 1 like 1,2,4, got {text!r}")
    return vals


# ---------------------------------------------------------------- output helpers

def emit_json(doc: Any) -> None:
    """One JSON document on stdout."""
    json.dump(doc, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


def emit_mapping(doc: dict) -> None:
    """Human output of a result dict: ``key: value`` lines, tables for lists of dicts."""
    for k, val in doc.items():
        if isinstance(val, list) and val and all(isinstance(x, dict) for x in val):
            print(f"{k}:")
            print(table([list(val[0])] + [[x.get(c, "") for c in val[0]] for x in val]))
        elif isinstance(val, dict):
            print(f"{k}:")
            for kk, vv in val.items():
                print(f"  {kk}: {fmt(vv)}")
        else:
            print(f"{k}: {fmt(val)}")


def fmt(x: Any) -> str:
    """A value for the terminal (floats to 6 significant digits)."""
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def table(rows: list[list[Any]]) -> str:
    """Rows as an aligned text table, the first row the header."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    out = []
    for j, row in enumerate(cells):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


# ---------------------------------------------------------------- the parser and main

def _build_parser() -> _Parser:
    p = _Parser(prog="dpomath", description="Machine-checked mathematics of DPO.")
    from .. import __version__
    p.add_argument("--version", action="version", version=f"dpomath {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for cmd in _load_commands().values():
        cmd.arguments(sub.add_parser(cmd.name, help=cmd.help))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dpomath`` with ``argv`` (default: the process's arguments); returns the exit code."""
    parser = _build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if getattr(args, "json", False) and not sys.stderr.isatty():
            from .progress import set_quiet
            set_quiet(True)
        return _COMMANDS[args.command].run(args)
    except UsageError as e:
        missing = "; ".join(f"{m}: {err}" for m, err in _LOAD_ERRORS.items())
        print(str(e) + (f" (commands not loaded: {missing})" if missing and "invalid choice" in str(e)
                        else ""), file=sys.stderr)
        return 2
    except (BadValue, BadType) as e:
        # the library's argument checks name the parameter: a usage error, not a crash
        print(f"dpomath {args.command if args is not None else ''}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dpomath: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
