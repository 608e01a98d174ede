"""The ``dpomath`` command line.

    dpomath verify [--paper LETTER ...] [--claim ID ...] [--list] [--quick] [--json] [--seed N]
                   [--persona-dir DIR]
    dpomath report [--out DIR] [--quick] [--seed N] [--paper LETTER ...] [--persona-dir DIR]
    dpomath derive NAME [--latex] [--json]
    dpomath qstar --K K --eps EPS [--json]
    dpomath simulate --K K --Q Q [--d D] [--beta B] [--loss dpo|ipo|slic] [--json]
    dpomath validate [--model M] [--persona-dir DIR] [--K 1,2,4,8,16] [--per-persona N]
                     [--device auto|cpu|cuda] [--json]
    dpomath train --model NAME_OR_PATH --data FILE.jsonl|persona:DIR --mode last-layer|lora|full
                  --loss KIND --beta B --lr LR --steps N --batch-size B [--optimizer adam|sgd|rmsprop]
                  [--seed S] [--device auto|cpu|cuda] [--out DIR] [--resume] [--json]
    dpomath ches --data FILE.jsonl [--model NAME_OR_PATH] [--out FILE] [--json]

``--json`` prints one JSON document on stdout and nothing else there. Every failure is one line
on stderr, ``dpomath CMD: --flag: message``, and exit code 2 (bad arguments, a library
:class:`~dpomath.BadValue`/:class:`~dpomath.BadType` — its parameter named by the option that
carries it —, files that cannot be written, too little memory; an unexpected internal error
too, with ``DPOMATH_DEBUG=1`` showing its traceback). Only an ERROR verdict makes ``verify``
exit 1. Warnings of dpomath (``dpomath.DpomathWarning``, e.g. malformed persona records) print
as one line ``dpomath: warning: ...``.

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
import os
import re
import sys
import textwrap
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .._args import BadType, BadValue, DpomathWarning

__all__ = ["main", "register", "Command", "COMMAND_MODULES", "int_at_least", "positive_float",
           "float_between", "int_list", "emit_json", "emit_mapping", "UsageError"]

#: Modules that register subcommands, imported by name in this order (the order of ``--help``).
COMMAND_MODULES = ("dpomath.verify.commands", "dpomath.lastlayer.commands",
                   "dpomath.validation.command", "dpomath.train.command",
                   "dpomath.displacement.commands")


class UsageError(Exception):
    """A bad argument: printed as one line, exit code 2."""


def _usage_message(prog: str, message: str) -> str:
    """argparse's message in the one format ``dpomath CMD: --flag: message``."""
    m = re.match(r"argument ([^:]+): (.*)$", message, re.S)
    if m:
        flag = m.group(1).split("/")[0]
        msg = m.group(2).replace("invalid choice: ", "invalid choice ")
        if flag == "COMMAND":
            msg += "; see dpomath --help"
        return f"{prog}: {flag}: {msg}"
    m = re.match(r"the following arguments are required: (.*)$", message, re.S)
    if m:
        names = m.group(1)
        if names == "COMMAND":
            return f"{prog}: COMMAND: required (one of {', '.join(_load_commands())}); see dpomath --help"
        return f"{prog}: {names}: required; see {prog} --help"
    return f"{prog}: {message}"


class _Parser(argparse.ArgumentParser):
    description_fn: Callable[[], str] | None = None

    def error(self, message: str):  # one line, no usage block, exit 2
        raise UsageError(_usage_message(self.prog, message))

    def format_help(self) -> str:
        if self.description_fn is not None:  # computed only when --help asks for it
            self.description = self.description_fn()
        return super().format_help()


class _Formatter(argparse.HelpFormatter):
    """Descriptions by paragraph (blank lines kept; a paragraph of indented lines, a list, kept
    as written, others wrapped to the terminal); each option's default appended to its help
    where it has one and the help does not already say it."""

    def _fill_text(self, text, width, indent):
        out = []
        for para in re.split(r"\n\s*\n", text):
            lines = para.splitlines()
            if any(ln.startswith(" ") for ln in lines[1:]) or para.rstrip().endswith(":"):
                out.append("\n".join(indent + ln for ln in lines))
            else:
                out.append(textwrap.fill(" ".join(ln.strip() for ln in lines), width, break_on_hyphens=False,
                                         initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)

    def _get_help_string(self, action):
        text = action.help or ""
        d = action.default
        if (text and "default" not in text and d is not None and d is not argparse.SUPPRESS
                and action.option_strings and not isinstance(d, bool)):
            shown = ",".join(map(str, d)) if isinstance(d, (list, tuple)) else d
            text += f" (default: {shown})"
        return text


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one line of help, a function adding its arguments to an
    ``argparse`` parser, a function running it (returns the exit code), and the paragraph(s)
    ``dpomath NAME --help`` prints (default: the help line)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | Callable[[], str] | None = None


_COMMANDS: dict[str, Command] = {}
_LOAD_ERRORS: dict[str, str] = {}


def register(name: str, *, help: str, arguments: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int],
             description: str | Callable[[], str] | None = None) -> Command:
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
    description : str or callable, optional
        What ``dpomath NAME --help`` says about the command (paragraphs kept as written); a
        function returning it is called only when the help is asked for.
        Every option should have a ``help=`` text; its default is appended.

    Returns
    -------
    Command
    """
    existing = _COMMANDS.get(name)
    if existing is not None and existing.run.__module__ != run.__module__:
        raise ValueError(f"command {name!r} registered twice ({existing.run.__module__}, "
                         f"{run.__module__})")
    cmd = Command(name, help, arguments, run, description)
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

def _int(text: str) -> int:
    """An integer, also written like 1e9 (exactly integral)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        f = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not (f.is_integer() and abs(f) < 2.0 ** 53):
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}")
    return int(f)


def int_at_least(lo: int) -> Callable[[str], int]:
    """An argparse type: an integer >= ``lo`` (``1e6`` is accepted for 1000000)."""
    def parse(text: str) -> int:
        v = _int(text)
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


def float_between(lo: float, hi: float, why: str = "") -> Callable[[str], float]:
    """An argparse type: a number with lo < x < hi (``why`` says what the bounds mean)."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not lo < v < hi:
            raise argparse.ArgumentTypeError(f"must lie strictly between {lo:g} and {hi:g}"
                                             + (f" ({why})" if why else "") + f", got {text}")
        return v
    return parse


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

def _strict(x: Any) -> Any:
    """A document with every non-finite float written as the string "inf", "-inf" or "nan"
    (JSON has no such numbers; Python's ``Infinity``/``NaN`` would make the output invalid)."""
    if isinstance(x, float) and x != x or isinstance(x, float) and x in (float("inf"), float("-inf")):
        return repr(x)
    if isinstance(x, dict):
        return {k: _strict(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_strict(v) for v in x]
    return x


def emit_json(doc: Any) -> None:
    """One JSON document on stdout (strict JSON: no NaN or Infinity)."""
    json.dump(_strict(doc), sys.stdout, indent=2, sort_keys=False, allow_nan=False)
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
    """A value for the terminal (floats to 6 significant digits, in lists too)."""
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, (list, tuple)) and any(isinstance(v, float) for v in x):
        return "[" + ", ".join(fmt(v) for v in x) + "]"
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
    p = _Parser(prog="dpomath", formatter_class=_Formatter,
                description="Machine-checked mathematics of DPO: run the claims' checks, write "
                            "the verification report, print derivations, compute paper I's "
                            "bounds. `dpomath COMMAND --help` describes each command.")
    from .. import __version__
    p.add_argument("--version", action="version", version=f"dpomath {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for cmd in _load_commands().values():
        text = cmd.description if isinstance(cmd.description, str) else None
        sp = sub.add_parser(cmd.name, help=cmd.help, formatter_class=_Formatter,
                            description=textwrap.dedent(text or cmd.help).strip())
        if callable(cmd.description):
            sp.description_fn = cmd.description
        cmd.arguments(sp)
    return p


def _subparser(parser: _Parser, name: str) -> argparse.ArgumentParser | None:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a.choices.get(name)
    return None


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def _option_names(sub: argparse.ArgumentParser | None) -> dict[str, str]:
    """Normalised parameter name → how the command line spells it (``persona_dir`` →
    ``--persona-dir``, ``l_b`` → ``--lb``, a positional ``name`` → ``NAME``)."""
    out: dict[str, str] = {}
    if sub is None:
        return out
    for a in sub._actions:
        if a.dest in (argparse.SUPPRESS, "help"):
            continue
        spelled = next((o for o in a.option_strings if o.startswith("--")), None) or (a.metavar or a.dest.upper())
        out[_norm(a.dest)] = spelled
        for o in a.option_strings:
            out[_norm(o)] = spelled
    return out


def _library_message(cmd: str | None, parser: _Parser, err: Exception) -> str:
    """A library BadValue/BadType (``name: message``) in the format ``dpomath CMD: --flag: ...``:
    each parameter named in front is replaced by the option that carries it."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    prog = f"dpomath {cmd}" if cmd else "dpomath"
    head, sep, rest = text.partition(": ")
    names = _option_names(_subparser(parser, cmd) if cmd else None)
    if sep and re.fullmatch(r"[\w.\[\]() -]+(, [\w.\[\]() -]+)*", head):
        mapped = []
        for n in head.split(", "):
            k = _norm(n)
            mapped.append(names.get(k) or names.get(k[:-1] if k.endswith("s") else k) or n)
        return f"{prog}: {', '.join(mapped)}: {rest}"
    return f"{prog}: {text}"


def _one_line_warnings() -> None:
    """dpomath's own warnings as one line on stderr: ``dpomath: warning: ...``."""
    default = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, DpomathWarning):
            print(f"dpomath: warning: {str(message).splitlines()[0]}", file=file or sys.stderr)
        else:
            default(message, category, filename, lineno, file, line)
    warnings.showwarning = show


def _terminate_as_interrupt() -> None:
    """SIGTERM (``kill``, a CI timeout) unwinds like Ctrl-C, so that ``finally`` blocks run: a
    report being written leaves no half-written folder behind."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):  # pragma: no cover - not allowed here
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``dpomath`` with ``argv`` (default: the process's arguments); returns the exit code."""
    if argv is None:
        _terminate_as_interrupt()
    parser = _build_parser()
    args = None
    argv = list(sys.argv[1:] if argv is None else argv)
    cmd = None
    try:
        if not argv:
            raise UsageError(f"dpomath: COMMAND: required (one of {', '.join(_load_commands())}); "
                             "see dpomath --help")
        args, extra = parser.parse_known_args(argv)
        cmd = args.command
        if extra:
            raise UsageError(f"dpomath {cmd}: {extra[0]}: unrecognized argument; "
                             f"see dpomath {cmd} --help")
        from .progress import set_brief
        set_brief(bool(getattr(args, "json", False)) and not sys.stderr.isatty())
        with warnings.catch_warnings():
            _one_line_warnings()
            return _COMMANDS[cmd].run(args)
    except UsageError as e:
        missing = "; ".join(f"{m}: {err}" for m, err in _LOAD_ERRORS.items())
        print(str(e) + (f" (commands not loaded: {missing})" if missing and "invalid choice" in str(e)
                        else ""), file=sys.stderr)
        return 2
    except (BadValue, BadType) as e:
        # the library's argument checks name the parameter: a usage error, not a crash
        print(_library_message(cmd, parser, e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dpomath {cmd}: interrupted" if cmd else "dpomath: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as e:
        from .._optional import hint, missing_optional

        missing = missing_optional(e)
        if missing is None:
            if os.environ.get("DPOMATH_DEBUG"):
                raise
            print(f"dpomath {cmd or ''}: internal error: ModuleNotFoundError: {e} "
                  "(DPOMATH_DEBUG=1 shows the traceback; please report it)", file=sys.stderr)
        else:
            print(f"dpomath {cmd or ''}: {missing} is not installed: {hint(missing)}", file=sys.stderr)
        return 2
    except MemoryError as e:
        print(f"dpomath {cmd or ''}: out of memory{': ' + str(e) if str(e) else ''} "
              "(choose smaller sizes)".replace("  ", " "), file=sys.stderr)
        return 2
    except OSError as e:
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        print(f"dpomath {cmd or ''}:{where}: {e.strerror or e}".replace(" :", ":"), file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - an internal error: one line unless debugging
        if os.environ.get("DPOMATH_DEBUG"):
            raise
        first = (str(e).splitlines() or [""])[0]
        print(f"dpomath {cmd or ''}: internal error: {type(e).__name__}: {first} "
              "(DPOMATH_DEBUG=1 shows the traceback; please report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    # `python -m dpomath.verify.cli`: the subcommands register themselves in the importable module
    # dpomath.verify.cli, not in this __main__ copy, so run that module's main
    from dpomath.verify.cli import main as _main

    raise SystemExit(_main())
