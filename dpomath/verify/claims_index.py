"""The claims index, ``docs/claims.md``: every registered claim with its paper, place,
statement and the file:line of its check, generated from the ledger (so it cannot drift: a test
compares it with the registry).

    python -m dpomath.verify.claims_index [PATH]     # writes PATH (default docs/claims.md)
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import ledger, per_model

__all__ = ["claims_markdown", "write_index"]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_markdown() -> str:
    """The index as Markdown: one table per paper, in report order.

    Returns
    -------
    str
    """
    errors = ledger.discover()
    claims = ledger.registry()
    lines = ["# Claims index", "",
             "Every claim dpomath checks, by paper, with the file and line of its check. Generated "
             "from the ledger by `python -m dpomath.verify.claims_index` (tests/test_claims_index.py "
             "fails when it is out of date); `dpomath verify --list` prints the same from the command "
             "line, `dpomath verify --claim ID` runs one.", "",
             "Claims whose method reads *empirical, per model* are decided on each configured real "
             "model on its own (`dpomath verify --models smollm2,gemma3-270m`, `$DPOMATH_MODELS`; "
             "default SmolLM2-135M-Instruct alone) and shown side by side; the claim's status "
             "combines them by one rule fixed in advance (`dpomath.verify.per_model.MODEL_RULE`): "
             + _cell(per_model.MODEL_RULE) + ".", ""]
    if errors:
        lines += ["Modules that failed to import: " + "; ".join(f"`{m}`: {e}" for m, e in errors.items()), ""]
    for letter, citation in ledger.PAPERS.items():
        mine = [c for c in claims.values() if c.paper == letter]
        if not mine:
            continue
        lines += [f"## {letter} — {citation}", "", "| ID | place | statement | method | source |",
                  "|---|---|---|---|---|"]
        for c in mine:
            path, line = c.source.rsplit(":", 1)
            method = c.method + (", per model" if getattr(c.check, "per_model", False) else "")
            lines.append(f"| {c.id} | {_cell(c.place)} | {_cell(c.statement)} | {method} | "
                         f"[{c.source}](../{path}#L{line}) |")
        lines.append("")
    linked = [c for c in claims.values() if c.links]
    if linked:
        lines += ["## Side by side: one statement, several settings", "",
                  "A claim with *links* decides the statement of the linked claims in another setting "
                  "(paper Y's properties on its toy model and on a real language model). Each keeps "
                  "its own ID, rule and verdict; the report and `dpomath verify` show their verdicts "
                  "side by side.", "", "| claim | decides on | linked to | statement |", "|---|---|---|---|"]
        for c in linked:
            lines.append(f"| {c.id} | {_cell(c.place)} | {', '.join(c.links)} | {_cell(c.statement)} |")
        lines.append("")
    return "\n".join(lines)


def write_index(path: str | Path = "docs/claims.md") -> Path:
    """Write :func:`claims_markdown` to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(claims_markdown(), encoding="utf-8")
    return path


if __name__ == "__main__":  # pragma: no cover
    print(write_index(*sys.argv[1:2]))
