"""The verification report: ``DIR/index.html``, ``report.md``, ``report.json`` and ``figures/``.

The report only reads verdicts; it computes nothing of its own. The same seed gives the same
``report.json`` byte for byte apart from the ``duration_s`` fields. ``index.html`` is readable
offline: its figures sit beside it in ``figures/`` and it loads nothing from the network.
"""
from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path
from typing import Iterable

from .. import __version__
from . import ledger
from .ledger import PAPERS, Status

__all__ = ["build_report", "write_report", "to_markdown", "to_html"]

_ORDER = [s.value for s in Status]
_COLOURS = {"PROVED": "#1b7f3b", "CONFIRMED": "#2e8b57", "QUALIFIED": "#b7791f",
            "REFUTED": "#c53030", "INCONCLUSIVE": "#6b7280", "SKIPPED": "#4a5568",
            "ERROR": "#9b2c2c"}


def build_report(out: str | Path, seed: int = 0, quick: bool = False,
                 papers: Iterable[str] | None = None) -> Path:
    """Run the claims (all, or those of ``papers``) and write the report into ``out``.

    Parameters
    ----------
    out : str or Path
        The report's folder (``index.html``, ``report.md``, ``report.json``, ``figures/``).
    seed : int
    quick : bool
    papers : iterable of str, optional
        Paper letters (default: every paper).

    Returns
    -------
    Path
        ``out``.
    """
    from .progress import progress

    out = Path(out)
    fig_dir = out / "figures"
    if fig_dir.exists():
        shutil.rmtree(fig_dir)  # no stale figures from an earlier run
    fig_dir.mkdir(parents=True)
    import_errors = ledger.discover()
    claims = ledger.select(papers, None)
    results = ledger.run_claims(progress(claims, desc="claims"), seed=seed, quick=quick,
                                figure_dir=fig_dir)
    write_report(results, out, seed=seed, quick=quick, import_errors=import_errors)
    return out


def _doc(results: list[ledger.Result], out: Path, seed: int, quick: bool,
         import_errors: dict[str, str]) -> dict:
    claims = []
    for r in results:
        d = r.to_dict()
        d["figures"] = [os.path.relpath(f, out) if os.path.isabs(f) or Path(f).exists() else f
                        for f in d["figures"]]
        d["figures"] = [Path(f).as_posix() for f in d["figures"]]
        claims.append(d)
    counts = {s: sum(c["status"] == s for c in claims) for s in _ORDER}
    return {"dpomath_version": __version__, "seed": seed, "quick": quick,
            "counts": {k: v for k, v in counts.items() if v},
            "counts_by_kind": ledger.count_statuses(claims),
            "import_errors": import_errors, "claims": claims}


def write_report(results: list[ledger.Result], out: str | Path, seed: int = 0, quick: bool = False,
                 import_errors: dict[str, str] | None = None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    doc = _doc(results, out, seed, quick, import_errors or {})
    (out / "report.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(to_markdown(doc))
    (out / "index.html").write_text(to_html(doc))
    return doc


def _one_line(c: dict) -> str:
    s = c["summary"]
    return s if len(s) <= 160 else s[:157] + "..."


def _anchor(cid: str) -> str:
    return "claim-" + cid.lower()


def to_markdown(doc: dict) -> str:
    L = [f"# dpomath verification report", "",
         f"dpomath {doc['dpomath_version']}, seed {doc['seed']}"
         + (", quick mode" if doc["quick"] else "") + ".", "",
         "## Summary", ""]
    L += _md_counts(doc)
    L += ["", "## Claims", "", "| ID | paper | place | statement | verdict | evidence |",
          "|---|---|---|---|---|---|"]
    esc = lambda t: str(t).replace("|", "\\|").replace("\n", " ")
    for c in doc["claims"]:
        L.append(f"| [{c['id']}](#{_anchor(c['id'])}) | {c['paper']} | {esc(c['place'])} | "
                 f"{esc(c['statement'])} | **{c['status']}** | {esc(_one_line(c))} |")
    for c in doc["claims"]:
        L += ["", f"### {c['id']} — {c['place']} (paper {c['paper']}) <a id=\"{_anchor(c['id'])}\"></a>", "",
              f"**Statement.** {c['statement']}", ""]
        if c["latex"]:
            L += ["$$" + c["latex"] + "$$", ""]
        L += [f"**Verdict: {c['status']}** ({c['method']}, seed {c['seed']}). {c['summary']}", ""]
        if c.get("source"):
            L += [f"**Source.** `{c['source']}`", ""]
        if c["details"]:
            L += [c["details"], ""]
        L += _md_fidelity(c)
        if c["counterexample"] not in (None, "", {}):
            L += ["**Counterexample.** `" + json.dumps(c["counterexample"], ensure_ascii=False) + "`", ""]
        if c["evidence"]:
            L += ["| evidence | value |", "|---|---|"]
            L += [f"| {esc(k)} | {esc(_fmt(v))} |" for k, v in c["evidence"].items()]
            L.append("")
        L += [f"![{c['id']}]({f})" for f in c["figures"]]
    if doc["import_errors"]:
        L += ["", "## Modules that failed to import", ""]
        L += [f"- `{m}`: {e}" for m, e in doc["import_errors"].items()]
    L += ["", "Sources: " + "; ".join(f"{k} = {v}" for k, v in PAPERS.items()), ""]
    return "\n".join(L)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        s = json.dumps(v, ensure_ascii=False)
        return s if len(s) < 300 else s[:297] + "..."
    return str(v)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1a202c;line-height:1.45}
h1{margin-bottom:.2em} .meta,.muted{color:#4a5568}
table{border-collapse:collapse;width:100%;margin:1em 0;font-size:.92em}
th,td{border:1px solid #e2e8f0;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f7fafc} tr:nth-child(even) td{background:#fcfcfd}
#claims thead th{position:sticky;top:0;z-index:1;box-shadow:0 1px 0 #e2e8f0}
#claims td:first-child,#claims td:nth-child(5){white-space:nowrap}
.badge{display:inline-block;padding:.1em .5em;border-radius:.3em;color:#fff;font-weight:600;font-size:.85em;white-space:nowrap}
.counts{display:flex;flex-wrap:wrap;gap:.5em 1.4em;padding:0;list-style:none}
.counts li{white-space:nowrap} .counts .badge{font-size:1em;margin-right:.35em}
.legend{font-size:.85em;margin-top:-.3em}
section.claim{border-top:2px solid #e2e8f0;margin-top:2em;padding-top:.5em}
section.claim h3 small{font-weight:normal;color:#4a5568}
a.up{float:right;font-size:.8em;font-weight:normal}
code,pre{background:#f4f4f6;border-radius:3px} pre{padding:.6em;overflow-x:auto;white-space:pre-wrap}
.latex{font-family:ui-monospace,monospace;color:#2d3748;background:#f7fafc;padding:.3em .5em;display:block;overflow-x:auto}
.latex::before{content:"LaTeX  ";font-family:system-ui,sans-serif;font-size:.75em;color:#718096;text-transform:uppercase;letter-spacing:.05em}
figure{margin:1em 0} img{max-width:100%;height:auto;border:1px solid #e2e8f0}
table.evidence{width:auto;min-width:50%;max-width:100%}
.evidence td:first-child{font-family:ui-monospace,monospace;white-space:nowrap}
.evidence td:last-child{overflow-wrap:anywhere}
"""

#: What each status means, in a line (DESIGN.md), for the reader of the report.
_MEANING = {"PROVED": "SymPy reduced it exactly",
            "CONFIRMED": "the evidence meets a criterion stated before the run",
            "QUALIFIED": "true only under a condition the paper does not state",
            "REFUTED": "false, with a counterexample or the numbers",
            "INCONCLUSIVE": "the evidence does not decide it",
            "SKIPPED": "something optional is missing (the summary says how to enable it)",
            "ERROR": "the check itself crashed"}


def _badge(status: str) -> str:
    return f'<span class="badge" style="background:{_COLOURS.get(status, "#444")}">{status}</span>'


def _md_table(lines: list[str]) -> str:
    """A Markdown pipe table (already escaped) as an HTML table; ``\\|`` is a literal bar."""
    import re

    def cells(line: str) -> list[str]:
        inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]

    rows = [cells(ln) for ln in lines if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", ln)]
    head, body = rows[0], rows[1:]
    return ("<table><thead><tr>" + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body)
            + "</tbody></table>")


def _md_inline(text: str) -> str:
    """Escape, then render `code` spans, **bold**, pipe tables and blank-line paragraphs
    (enough for our details)."""
    import itertools
    import re

    parts = html.escape(text).split("```")
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append(f"<pre>{p.strip()}</pre>")
            continue
        segs = p.split("`")
        p = "".join(f"<code>{s}</code>" if j % 2 else s for j, s in enumerate(segs))
        p = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", p)
        for para in p.split("\n\n"):
            lines = [ln for ln in para.strip().splitlines() if ln.strip()]
            if not lines:
                continue
            # runs of lines starting with "|" are tables, other runs are text
            for is_table, run in itertools.groupby(lines, key=lambda ln: ln.lstrip().startswith("|")):
                run = list(run)
                out.append(_md_table(run) if is_table else f"<p>{' '.join(run)}</p>")
    return "".join(out)


def to_html(doc: dict) -> str:
    e = html.escape
    H = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         "<title>dpomath verification report</title>", f"<style>{_CSS}</style></head><body>",
         "<h1>dpomath verification report</h1>",
         f'<p class="meta">dpomath {e(doc["dpomath_version"])} · seed {doc["seed"]}'
         + (" · quick mode" if doc["quick"] else "") + f' · {len(doc["claims"])} claims</p>',
         "<h2>Summary</h2>" + _html_counts(doc),
         '<p class="muted legend">' + " · ".join(
             f"<b>{k}</b>: {e(_MEANING[k])}" for k in _ORDER if k in _MEANING) + "</p>",
         '<h2>Claims</h2><table id="claims"><thead><tr><th>ID</th><th>paper</th><th>place</th>'
         "<th>statement</th><th>verdict</th><th>evidence</th></tr></thead><tbody>"]
    for c in doc["claims"]:
        H.append(f'<tr><td><a href="#{_anchor(c["id"])}">{e(c["id"])}</a></td><td>{e(c["paper"])}</td>'
                 f'<td>{e(c["place"])}</td><td>{e(c["statement"])}</td><td>{_badge(c["status"])}</td>'
                 f"<td>{e(_one_line(c))}</td></tr>")
    H.append("</tbody></table>")
    for c in doc["claims"]:
        H.append(f'<section class="claim" id="{_anchor(c["id"])}"><h3>{e(c["id"])} — {e(c["place"])} '
                 f'<small>· paper {e(c["paper"])}: {e(PAPERS.get(c["paper"], ""))}</small>'
                 '<a class="up" href="#claims">↑ claims table</a></h3>')
        H.append(f"<p><b>Statement.</b> {e(c['statement'])}</p>")
        if c["latex"]:
            H.append(f'<code class="latex">{e(c["latex"])}</code>')
        H.append(f"<p>{_badge(c['status'])} <i>{e(c['method'])}, seed {c['seed']}, "
                 f"{c['duration_s']:.2f} s</i> — {e(c['summary'])}</p>")
        if c.get("source"):
            H.append(f'<p class="muted">source: <code>{e(c["source"])}</code></p>')
        if c["details"]:
            H.append(_md_inline(c["details"]))
        H.append(_md_inline("\n".join(_md_fidelity(c))))
        if c["counterexample"] not in (None, "", {}):
            H.append("<p><b>Counterexample.</b></p><pre>"
                     + e(json.dumps(c["counterexample"], indent=1, ensure_ascii=False)) + "</pre>")
        if c["evidence"]:
            H.append('<table class="evidence"><thead><tr><th>evidence</th><th>value</th></tr></thead><tbody>')
            H += [f"<tr><td>{e(k)}</td><td>{e(_fmt(v))}</td></tr>" for k, v in c["evidence"].items()]
            H.append("</tbody></table>")
        H += [f'<figure><a href="{e(f)}"><img src="{e(f)}" alt="{e(c["id"])} figure {i + 1}"></a></figure>'
              for i, f in enumerate(c["figures"])]
        H.append("</section>")
    if doc["import_errors"]:
        H.append("<h2>Modules that failed to import</h2><ul>")
        H += [f"<li><code>{e(m)}</code>: {e(err)}</li>" for m, err in doc["import_errors"].items()]
        H.append("</ul>")
    H.append("<h2>Sources</h2><ul>" + "".join(f"<li><b>{k}</b>: {e(v)}</li>" for k, v in PAPERS.items())
             + "</ul></body></html>")
    return "\n".join(H) + "\n"


# ------------------------------------------------ counts by kind; scope, controls, revisions,
# readings (plain display of dpomath.verify.fidelity's records)

_KIND_TITLES = {"papers": "The papers' claims", "own": "dpomath's own checks"}


def _kind_letters(doc: dict, kind: str) -> str:
    letters = [p for p in PAPERS if ledger.is_own_check(p) == (kind == "own")
               and any(c["paper"] == p for c in doc["claims"])]
    return ", ".join(letters)


def _counts_by_kind(doc: dict) -> dict:
    """``counts_by_kind`` of the document (older report.json files lack it: recomputed)."""
    return doc.get("counts_by_kind") or ledger.count_statuses(doc["claims"])


def _md_counts(doc: dict) -> list[str]:
    L = []
    for kind, counts in _counts_by_kind(doc).items():
        if not counts:
            continue
        L += [f"**{_KIND_TITLES[kind]}** ({_kind_letters(doc, kind)}): "
              + ", ".join(f"{v} {k}" for k, v in counts.items()), ""]
    return L


def _html_counts(doc: dict) -> str:
    e = html.escape
    H = []
    for kind, counts in _counts_by_kind(doc).items():
        if not counts:
            continue
        H.append(f"<h3>{e(_KIND_TITLES[kind])} ({e(_kind_letters(doc, kind))})</h3>"
                 '<ul class="counts">' + "".join(
                     (f"<li>{_badge(k)}<b>{v}</b> claim{'s' if v != 1 else ''}</li>" if k in _COLOURS
                      else f"<li><i>of which {e(k)}</i>: <b>{v}</b></li>")
                     for k, v in counts.items()) + "</ul>")
    return "".join(H)


def _md_fidelity(c: dict) -> list[str]:
    """Scope, readings, negative controls, revisions and 'not testable' of one claim, as
    Markdown lines (empty when the claim has none)."""
    esc = lambda t: str(t).replace("|", "\\|").replace("\n", " ")
    L = []
    sc = c.get("scope")
    if sc:
        L += [f"**Scope.** {sc['on']} ({sc['kind']})"
              + (f"; reading: {sc['reading']}" if sc.get("reading") else "") + ".", ""]
    if c.get("not_testable"):
        L += [f"**Not testable in this setting.** {c['not_testable']}", ""]
    if c.get("readings"):
        L += [f"**Readings** (rule: {c.get('reading_rule', '')}).", "",
              "| rank | reading | verdict | the paper's words | summary |", "|---|---|---|---|---|"]
        L += [f"| {r['rank']} | {esc(r['name'])}: {esc(r['text'])} | {r['status']} | {esc(r['why'])} "
              f"| {esc(r['summary'])} |" for r in c["readings"]]
        L.append("")
    if len(c.get("models") or []) > 1:
        L += [f"**Per model** (rule: {c.get('model_rule', '')}).", "",
              "| model | verdict | scope | summary |", "|---|---|---|---|"]
        L += [f"| {esc(m['model'])} | {m['status']}{' (not testable)' if m.get('not_testable') else ''} "
              f"| {esc((m.get('scope') or {}).get('on', ''))} | {esc(m['summary'])}"
              + (f" (enable with: {esc(m['enable'])})" if m.get("enable") else "") + " |"
              for m in c["models"]]
        L.append("")
    if c.get("controls"):
        L += ["**Negative controls** (the same check on a deliberately false variant; "
              "*fails* = the check can tell it apart).", "",
              "| false variant | outcome | measured |", "|---|---|---|"]
        L += [f"| {esc(k['variant'])} | {k['outcome']} | {esc(k['measured'])} |" for k in c["controls"]]
        L.append("")
    if c.get("establishes"):
        L += [f"**What the check establishes.** {c['establishes']}", ""]
    if c.get("revisions"):
        L += ["**Revisions of the rule.**", "",
              "| old rule | old verdict | new rule | new verdict | reason |", "|---|---|---|---|---|"]
        L += [f"| {esc(r['old_rule'])} | {r['old_verdict']} | {esc(r['new_rule'])} | {c['status']} "
              f"| {esc(r['reason'])} |" for r in c["revisions"]]
        L.append("")
    return L
