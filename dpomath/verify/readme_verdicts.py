"""The README's verdict table and counts, generated from a report's ``report.json``.

The numbers a reader sees first are never typed by hand: ``docs/report.json`` is the committed
``report.json`` of a full run (``make report``, seed 0, with the persona data), and the block of
README.md between the two markers below is generated from it. A test fails when either is out of
date (a claim added, removed or re-run without regenerating).

    python -m dpomath.verify.readme_verdicts report/report.json   # copy it to docs/, rewrite README
    python -m dpomath.verify.readme_verdicts                      # rewrite README from docs/report.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from . import ledger

__all__ = ["BEGIN", "END", "verdicts_markdown", "readme_block", "update_readme", "SNAPSHOT"]

BEGIN = "<!-- verdicts: begin (generated from docs/report.json by python -m dpomath.verify.readme_verdicts; do not edit) -->"
END = "<!-- verdicts: end -->"
#: The committed report of the full run (repository-relative).
SNAPSHOT = Path("docs") / "report.json"

_TITLES = {"papers": "the papers' claims", "own": "dpomath's own checks"}


def _cell(text: str, n: int = 170) -> str:
    text = str(text).replace("\n", " ")
    text = text if len(text) <= n else text[: n - 3] + "..."
    return text.replace("|", "\\|")


def _letters(doc: dict, kind: str) -> str:
    seen = [c["paper"] for c in doc["claims"]]
    return ", ".join(p for p in dict.fromkeys(seen) if ledger.is_own_check(p) == (kind == "own"))


def verdicts_markdown(doc: dict) -> str:
    """The counts (papers' claims apart from dpomath's own checks) and the verdict table.

    Parameters
    ----------
    doc : dict
        A parsed ``report.json``.

    Returns
    -------
    str
        Markdown, without the markers.
    """
    counts = ledger.count_statuses(doc["claims"])
    mode = "quick mode" if doc.get("quick") else "full mode"
    run_mode = (doc.get("run") or {}).get("mode", "")
    if "(" in run_mode:  # run-size variables were set: say which
        mode += " with " + run_mode[run_mode.index("(") + 1:run_mode.rindex(")")]
    L = [f"Verdicts of `make report` ({mode}, seed {doc.get('seed', 0)}, dpomath "
         f"{doc.get('dpomath_version', '?')}):", ""]
    for kind, c in counts.items():
        if c:
            L.append(f"- **{_TITLES[kind]}** ({_letters(doc, kind)}): "
                     + ", ".join(f"**{n} {s}**" if s != "not testable" else f"of which {n} not testable "
                                 "in their setting (never counted as refutations)" for s, n in c.items()))
    L += ["", "The scope says what was checked (a general proof, an instance, the toy, a model and "
          "its data) and, where the statement admits several readings, which one heads the "
          "verdict; controls counts the negative controls that fail. *revised* marks a verdict whose rule was changed "
          "after its numbers were seen (old rule and verdict kept in the report).", "",
          "| claim | kind | verdict | controls | scope | evidence (one line) |", "|---|---|---|---|---|---|"]
    for c in doc["claims"]:
        ctl = c.get("controls") or []
        nfail = sum(k["outcome"] == "fails" for k in ctl)
        ctl_txt = f"{nfail}/{len(ctl)} fail" if ctl else "—"
        status = c["status"] + (" (not testable)" if c.get("not_testable") else "")
        status += ", *revised*" if c.get("revisions") else ""
        kind = "own" if ledger.is_own_check(c["paper"]) else "paper"
        sc = c.get("scope") or {}
        scope = sc.get("on", "—") + (f"; reading: {sc['reading']}" if sc.get("reading") else "")
        text = c.get("summary_text", c["summary"])
        L.append(f"| {c['id']} | {kind} | {status} | {ctl_txt} | {_cell(scope, 110)} | {_cell(text, 150)} |")
    return "\n".join(L) + "\n"


def readme_block(doc: dict) -> str:
    """:func:`verdicts_markdown` between the markers."""
    return f"{BEGIN}\n{verdicts_markdown(doc)}{END}"


def update_readme(readme: str | Path, doc: dict) -> bool:
    """Replace the block between the markers of ``readme`` by :func:`readme_block`.

    Returns
    -------
    bool
        True when the file changed.
    """
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError(f"readme: {readme} lacks the markers {BEGIN!r} … {END!r}")
    new = text[:i] + readme_block(doc) + text[j + len(END):]
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def portable_paths(text: str, root: str | Path, out: str | Path | None = None) -> str:
    """``text`` with the checkout's absolute paths written relative to it, so that a committed
    report names no one machine's folders: ``root/x`` → ``x``, ``root``'s parent ``/p/x`` →
    ``../x``, and the report folder ``out/x`` → ``x`` (its files sit beside report.json).

    >>> portable_paths('{"a": "/h/u/repo/figs/x.png", "b": "/h/u/shared/data", "c": "/r/o/f.png"}',
    ...                "/h/u/repo", "/r/o")
    '{"a": "figs/x.png", "b": "../shared/data", "c": "f.png"}'
    """
    root = Path(root).resolve()
    pairs = [(str(root) + "/", ""), (str(root), "."), (str(root.parent) + "/", "../")]
    if out is not None:
        out = Path(out).resolve()
        pairs.insert(0, (str(out) + "/", ""))
    for old, new in pairs:
        if old not in ("/", "./"):
            text = text.replace(old, new)
    return text


def main(argv: list[str]) -> int:  # pragma: no cover - a thin command
    root = Path(__file__).resolve().parents[2]
    snap = root / SNAPSHOT
    if argv:
        src = Path(argv[0])
        snap.write_text(portable_paths(src.read_text(encoding="utf-8"), root, src.parent),
                        encoding="utf-8")
    doc = json.loads(snap.read_text(encoding="utf-8"))
    print(f"README.md {'updated' if update_readme(root / 'README.md', doc) else 'unchanged'} "
          f"from {SNAPSHOT}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
