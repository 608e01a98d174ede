"""The ledger's subcommands: ``dpomath verify``, ``dpomath report``, ``dpomath derive``
(registered with :func:`dpomath.verify.cli.register`; their work is imported inside ``run``)."""
from __future__ import annotations

import sys
from pathlib import Path

from .cli import emit_json, int_at_least, register, table


def _papers() -> list[str]:
    from .ledger import paper_letters

    return paper_letters()


def _verify_arguments(v) -> None:
    v.add_argument("--paper", action="append", choices=_papers(),
                   help="only this paper's claims (repeatable)")
    v.add_argument("--claim", nargs="+", action="extend", metavar="ID", help="only these claim IDs")
    v.add_argument("--list", action="store_true",
                   help="list the claims (ID, paper, place, source file:line) without running them")
    v.add_argument("--quick", action="store_true", help="smaller sweeps and sample sizes")
    v.add_argument("--json", action="store_true", help="one JSON document on stdout")
    v.add_argument("--seed", type=int_at_least(0), default=0)
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


def _counts_text(rows: list[dict]) -> str:
    """Status counts, the papers' claims apart from dpomath's own checks (one line each)."""
    from .ledger import count_statuses

    titles = {"papers": "papers' claims", "own": "dpomath's own checks"}
    return "\n".join(f"{titles[k]}: " + ", ".join(f"{n} {s}" for s, n in c.items())
                     for k, c in count_statuses(rows).items() if c)


def _verify(args) -> int:
    from . import ledger
    from .progress import progress

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
            rows += [[c.id, c.paper, _short(c.place, 48), c.method, c.source] for c in claims]
            print(table(rows) if claims else "no claims selected")
        return 0
    results = ledger.run_claims(progress(claims, desc="claims"), seed=args.seed, quick=args.quick)
    if args.json:
        emit_json({"claims": [r.to_dict() for r in results]})
    else:
        rows = [["ID", "paper", "place", "status", "time", "summary", "source"]]
        for r in results:
            rows.append([r.claim.id, r.claim.paper, _short(r.claim.place, 32), r.verdict.status.value,
                         f"{r.duration_s:.1f}s", _short(r.summary_line, 110), r.claim.source])
        print(table(rows))
        pm = _per_model_table(results)
        if pm:
            print("\n" + pm)
        side = ledger.side_by_side([r.to_dict() for r in results])
        if side:
            print("\nside by side (one statement, several settings):")
            for row in side:
                print("  " + "  |  ".join(
                    f"{c['id']} {c['status']}" + (" (" + "; ".join(f"{k}: {st}" for k, st in c["models"]) + ")"
                                                   if c["models"] else "") for c in row["claims"]))
        print("\n" + _counts_text([r.to_dict() for r in results]) if results else "no claims selected")
        if args.quick and results:
            print("quick mode: smaller sweeps and samples; a sweep-based verdict can differ from the "
                  "full run (`dpomath verify` without --quick)")
    return 1 if any(r.verdict.status.value == "ERROR" for r in results) else 0


def _report_arguments(r) -> None:
    r.add_argument("--out", type=Path, default=Path("report"), metavar="DIR")
    r.add_argument("--quick", action="store_true")
    r.add_argument("--seed", type=int_at_least(0), default=0)
    r.add_argument("--paper", action="append", choices=_papers(),
                   help="only this paper's claims (repeatable)")
    r.add_argument("--models", default=None, metavar="smollm2,gemma3-270m",
                   help="real models the real-model claims run on (default: $DPOMATH_MODELS, "
                        "else SmolLM2 alone)")


def _report(args) -> int:
    from .report import build_report

    _set_models(args)
    out = build_report(args.out, seed=args.seed, quick=args.quick, papers=args.paper)
    print(f"wrote {out / 'index.html'}", file=sys.stderr)
    return 0


def _derive_arguments(d) -> None:
    d.add_argument("name", metavar="NAME")
    d.add_argument("--latex", action="store_true")


def _derive(args) -> int:
    from .derive import derive, render

    print(render(derive(args.name), latex=args.latex))
    return 0


register("verify", help="run the claims' checks and print the ledger",
         arguments=_verify_arguments, run=_verify)
register("report", help="write the verification report (HTML, Markdown, JSON, figures)",
         arguments=_report_arguments, run=_report)
register("derive", help="print a derivation step by step", arguments=_derive_arguments, run=_derive)
