"""The verification report: ``DIR/index.html``, ``report.md``, ``report.json``, ``figures/`` and
``katex/`` (the mathematics renderer the page uses, copied from the package).

The report only reads verdicts; it computes nothing of its own. Its top block says where it
comes from (:mod:`dpomath.verify.provenance`: date, version and commit, library versions,
machine, device, mode, seed, model, persona data). The same seed gives the same
``report.json`` byte for byte apart from the run-specific fields (:data:`RUN_SPECIFIC`:
``run.date``, ``run.duration_s``, the claims' ``duration_s`` and evidence timings). ``index.html`` is readable offline: its
figures and KaTeX sit beside it and it loads nothing from the network; it prints on A4 with a
print stylesheet. Numbers and SymPy text are shown through :mod:`dpomath.verify.readable`
(``report.json`` keeps the values as the checks returned them).
"""
from __future__ import annotations

import copy
import html
import itertools
import json
import os
import re
import struct
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

from .. import __version__
from . import ledger, provenance, readable
from .folder import ReportFolder
from .ledger import PAPERS, Status

__all__ = ["build_report", "write_report", "to_markdown", "to_html", "ASSETS", "RUN_SPECIFIC",
           "without_run_specific"]

_ORDER = [s.value for s in Status]
_COLOURS = {"PROVED": "#1b7f3b", "CONFIRMED": "#2e8b57", "QUALIFIED": "#b7791f",
            "REFUTED": "#c53030", "INCONCLUSIVE": "#6b7280", "SKIPPED": "#4a5568",
            "ERROR": "#9b2c2c"}

#: The renderer of the report's mathematics: KaTeX (MIT licence), vendored from the npm
#: package by ``tools/vendor_katex.py``; copied into the report folder as ``katex/``.
ASSETS = Path(__file__).resolve().parent / "assets" / "katex"

#: Paths (in report.json) of the fields that change from run to run by nature: the run's date
#: and wall time, each claim's duration, and timings a check puts in its evidence (keys ending
#: in ``seconds``, e.g. V-ODE's ``ode_seconds``).
RUN_SPECIFIC = tuple(f"run.{k}" for k in provenance.RUN_SPECIFIC) + (
    "claims[].duration_s", "claims[].evidence.*seconds")


def without_run_specific(doc: dict) -> dict:
    """A copy of a report document without the fields :data:`RUN_SPECIFIC` names: two runs of
    the same code with the same seed on the same machine give equal copies.

    >>> d = {"run": {"date": "2025-01-01T00:00:00Z", "duration_s": 2.0, "seed": 0},
    ...      "claims": [{"id": "F-T1", "duration_s": 0.5, "evidence": {"x": 1, "ode_seconds": 3.0}}]}
    >>> without_run_specific(d)
    {'run': {'seed': 0}, 'claims': [{'id': 'F-T1', 'evidence': {'x': 1}}]}
    """
    out = copy.deepcopy(doc)
    for key in provenance.RUN_SPECIFIC:
        (out.get("run") or {}).pop(key, None)
    for c in out.get("claims", []):
        c.pop("duration_s", None)
        c["evidence"] = {k: v for k, v in c.get("evidence", {}).items() if not k.endswith("seconds")}
    return out


def build_report(out: str | Path, seed: int = 0, quick: bool = False,
                 papers: Iterable[str] | None = None) -> Path:
    """Run the claims (all, or those of ``papers``) and write the report into ``out``.

    ``out`` must be new, empty, or an earlier report's folder: only the files the report
    wrote are replaced, anything else is left alone, and the files appear only when the whole
    report is ready (:class:`~dpomath.verify.folder.ReportFolder`).

    Parameters
    ----------
    out : str or Path
        The report's folder (``index.html``, ``report.md``, ``report.json``, ``figures/``,
        ``katex/``).
    seed : int
    quick : bool
    papers : iterable of str, optional
        Paper letters (default: every paper).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    dpomath.BadValue
        ``out`` holds files no report wrote, or cannot be written (checked before any claim
        runs).
    """
    from .progress import claim_weights, progress

    t0 = time.perf_counter()
    out = Path(out)
    ReportFolder(out).check()  # refuse before the claims run, not after
    import_errors = ledger.discover()
    claims = ledger.select(papers, None)
    with ReportFolder(out) as folder:
        results = ledger.run_claims(progress(claims, desc="claims",
                                             weights=claim_weights(claims, quick)),
                                    seed=seed, quick=quick,
                                    figure_dir=folder.staging / "figures")
        run = provenance.collect(seed=seed, quick=quick, papers=papers,
                                 duration_s=time.perf_counter() - t0)
        _write(folder, _doc(results, folder.staging, seed, quick, import_errors, run),
               base=folder.staging)
    return out


def _doc(results: list[ledger.Result], out: Path, seed: int, quick: bool,
         import_errors: dict[str, str], run: dict) -> dict:
    def relative(figures):  # the report's own figures as paths inside it (POSIX, portable)
        return [Path(os.path.relpath(f, out) if os.path.isabs(f) or Path(f).exists() else f).as_posix()
                for f in figures]

    claims = []
    for r in results:
        d = r.to_dict()
        d["figures"] = relative(d["figures"])
        for row in d.get("models") or []:  # each model's own figures (per_model rows)
            row["figures"] = relative(row.get("figures", []))
        claims.append(d)
    counts = {s: sum(c["status"] == s for c in claims) for s in _ORDER}
    doc = {"dpomath_version": __version__, "seed": seed, "quick": quick, "run": run,
           "counts": {k: v for k, v in counts.items() if v}}
    doc["counts_by_kind"] = ledger.count_statuses(claims)  # papers' claims and own checks apart
    doc.update(import_errors=import_errors, claims=claims)
    return doc


def assets() -> Iterator[tuple[str, Path]]:
    """The files the report copies beside ``index.html``: (relative path, source)."""
    for p in sorted(ASSETS.rglob("*")):
        if p.is_file():
            yield "katex/" + p.relative_to(ASSETS).as_posix(), p


def write_report(results: list[ledger.Result], out: str | Path, seed: int = 0, quick: bool = False,
                 import_errors: dict[str, str] | None = None, run: dict | None = None) -> dict:
    """Write the report of ``results`` into ``out`` (figures already drawn stay where they
    are; the documents link to them; those inside ``out`` become the report's own files).
    ``out`` as for :func:`build_report`: new, empty, or an earlier report's folder.

    Parameters
    ----------
    results : list of Result
    out : str or Path
    seed : int
    quick : bool
    import_errors : dict, optional
        Claim modules that failed to import, with the error.
    run : dict, optional
        The run block (:func:`dpomath.verify.provenance.collect`; collected now when absent).

    Returns
    -------
    dict
        The report's JSON document.
    """
    out = Path(out)
    drawn = [f for r in results for f in r.verdict.figures]  # figures drawn inside out are the report's
    with ReportFolder(out, adopt=drawn) as folder:
        if run is None:
            run = provenance.collect(seed=seed, quick=quick)
        doc = _doc(results, out, seed, quick, import_errors or {}, run)
        _write(folder, doc, base=out)
    return doc


def _write(folder: ReportFolder, doc: dict, base: Path) -> None:
    """The report's files into the folder — the one place the report writes files: KaTeX,
    report.json, report.md, index.html (``base``: where the figures are now, for their sizes)."""
    for rel, src in assets():
        folder.copy(rel, src)
    folder.write_text("report.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    folder.write_text("report.md", to_markdown(doc))
    folder.write_text("index.html", to_html(doc, base=base))


def _anchor(cid: str) -> str:
    return "claim-" + cid.lower()


# ------------------------------------------------------------------ the run block (provenance)

def _short_commit(d: dict) -> str:
    if not d.get("commit"):
        return d.get("note", "commit unknown")
    state = "local changes" if d.get("dirty") else "clean"
    return f"commit {d['commit'][:12]} ({state})"


def _run_rows(run: dict | None) -> list[tuple[str, str]]:
    """The run block as (label, text) rows, for Markdown and HTML alike."""
    if not run:
        return [("run", "not recorded (a report written before provenance was kept)")]
    dp = run.get("dpomath", {})
    pk = run.get("packages", {})
    v = lambda n: pk.get(n, "?")
    rows = [("date", run.get("date", "?").replace("T", " ").replace("Z", " UTC")),
            ("dpomath", f"{dp.get('version', '?')}, {_short_commit(dp)}"
             + (f"; changed: {', '.join(dp['changed'])}" if dp.get("changed") else "")),
            ("mode", f"{run.get('mode', '?')}" + (" (--quick: smaller sweeps and samples)"
                                                  if run.get("mode") == "quick" else "")),
            ("seed", str(run.get("seed", "?"))),
            ("papers", run["papers"] if isinstance(run.get("papers"), str)
             else ", ".join(run.get("papers", []))),
            ("Python", str(run.get("python", "?"))),
            ("libraries", f"NumPy {v('numpy')}, SciPy {v('scipy')}, SymPy {v('sympy')}, "
                          f"mpmath {v('mpmath')}, matplotlib {v('matplotlib')}; torch {v('torch')}, "
                          f"transformers {v('transformers')}, TRL {v('trl')}, "
                          f"Hypothesis {v('hypothesis')}")]
    m = run.get("machine", {})
    if m:
        rows.append(("machine", f"{m.get('os', '?')} {m.get('arch', '')}, {m.get('cpu', '?')}, "
                                f"{m.get('cpus', '?')} CPUs, {m.get('memory_gib', '?')} GiB; "
                                f"threads: {m.get('threads', '?')}"))
    rows.append(("device", str(run.get("device", "?"))))
    mo = run.get("model") or {}

    def one(r):
        return (f"{r['name']} ({r.get('source', '')}: {r.get('file', '')}; {r.get('identity', '')[:40]})"
                if r.get("used") else r.get("note", "not used"))
    rows.append(("models" if mo.get("models") else "model",
                 "; ".join(one(r) for r in mo["models"]) if mo.get("models") else one(mo)))
    rows.append(("persona data", _persona_text(run.get("persona_data") or {})))
    if run.get("duration_s") is not None:
        s = float(run["duration_s"])
        rows.append(("wall time", f"{int(s // 60)} min {s % 60:.0f} s" if s >= 60 else f"{s:.1f} s"))
    return rows


def _persona_text(p: dict) -> str:
    if not p.get("configured"):
        return p.get("note", "not configured")
    if "files" not in p:
        return f"{p.get('path', '?')}: {p.get('note', '')}"
    t = (f"{p['path']}: {p['files']} JSONL file{'s' if p['files'] != 1 else ''}, "
         f"{p.get('bytes', 0) / 1e6:.1f} MB, sha256 {p['sha256'][:16]}…")
    if "paper_behaviours" in p:
        t += f"; {p['paper_behaviours']} of anthropics/evals persona behaviours"
        miss = p.get("missing") or []
        if miss:
            shown = ", ".join(miss[:6]) + (f" and {len(miss) - 6} more" if len(miss) > 6 else "")
            t += f" ({len(miss)} missing: {shown})"
    if p.get("not_in_paper"):
        t += f"; {len(p['not_in_paper'])} file(s) not among them"
    return t


def _meta_line(doc: dict) -> str:
    run = doc.get("run") or {}
    parts = [f"{len(doc['claims'])} claims", "quick mode" if doc["quick"] else "full mode",
             f"seed {doc['seed']}"]
    if run.get("date"):
        parts.append(run["date"].replace("T", " ").replace("Z", " UTC"))
    dp = run.get("dpomath", {})
    parts.append(f"dpomath {doc['dpomath_version']}"
                 + (f" ({dp['commit'][:7]}{', local changes' if dp.get('dirty') else ''})"
                    if dp.get("commit") else ""))
    return " · ".join(parts)


# ------------------------------------------------------------------ shared pieces

#: What each status means, in a line (DESIGN.md), for the reader of the report.
_MEANING = {"PROVED": "SymPy reduced it exactly",
            "CONFIRMED": "the evidence meets a criterion stated before the run",
            "QUALIFIED": "true only under a condition the paper does not state",
            "REFUTED": "false, with a counterexample or the numbers",
            "INCONCLUSIVE": "the evidence does not decide it",
            "SKIPPED": "something optional is missing (the summary says how to enable it)",
            "ERROR": "the check itself crashed"}

_KIND_TITLES = {"papers": "The papers' claims", "own": "dpomath's own checks"}


def _summary_text(c: dict) -> str:
    """The verdict's own text (without the ``[scope]`` head that ``summary`` may carry)."""
    return c.get("summary_text") or c["summary"]


def _scope_text(c: dict) -> str:
    sc = c.get("scope")
    if not sc:
        return ""
    return (f"{sc.get('on', '')} ({sc.get('kind', '')})"
            + (f"; reading: {sc['reading']}" if sc.get("reading") else ""))


def _table_notes(c: dict) -> str:
    """The line under a claim's result in the claims table: its scope, how many negative
    controls fail, whether its rule was revised, whether it is not testable here."""
    parts = []
    if c.get("scope"):
        parts.append(f"scope: {_scope_text(c)}")
    ctl = c.get("controls") or []
    if ctl:
        fails = sum(k.get("outcome") == "fails" for k in ctl)
        parts.append(f"negative controls: {fails}/{len(ctl)} fail")
    if c.get("revisions"):
        parts.append("rule revised (see the section)")
    if c.get("not_testable"):
        parts.append("not testable in this setting")
    return " · ".join(parts)


def _norm(s: str) -> str:
    return re.sub(r"\W+", "", s).lower()


def _evidence(c: dict) -> tuple[list[tuple[str, Any]], list[str]]:
    """Evidence rows to show, and the keys left out because the text above already shows
    them (a definition or decision rule that the details state, a per-setting list that the
    details tabulate, a SKIPPED claim's enable hint that its summary gives)."""
    shown = _norm(c.get("details", "") + " " + c["summary"])
    rows, hidden = [], []
    for k, v in c["evidence"].items():
        if isinstance(v, str) and len(v) >= 20 and _norm(v.rstrip(".")) in shown:
            hidden.append(k)
        elif (isinstance(v, list) and len(v) >= 2 and all(isinstance(x, str) and len(x) >= 8 for x in v)
              and all(_norm(x) in shown for x in v)):
            hidden.append(k)
        else:
            rows.append((k, v))
    return rows, hidden


def _counts_by_kind(doc: dict) -> dict | None:
    return doc.get("counts_by_kind")


def _kind_letters(doc: dict, kind: str) -> str:
    letters = []
    for c in doc["claims"]:
        k = "own" if c.get("kind") == "own" else "papers"
        if k == kind and c["paper"] not in letters:
            letters.append(c["paper"])
    return ", ".join(letters)


# ------------------------------------------------------------------ Markdown

def _esc(t: Any) -> str:
    return str(t).replace("|", "\\|").replace("\n", " ")


def _md_fidelity(c: dict) -> list[str]:
    """Scope, readings, negative controls, revisions and 'not testable' of one claim, as
    Markdown lines (empty when the claim has none)."""
    t = readable.text
    L = []
    if c.get("scope"):
        L += [f"**Scope.** {t(_scope_text(c))}.", ""]
    if c.get("not_testable"):
        L += [f"**Not testable in this setting.** {t(c['not_testable'])}", ""]
    if c.get("readings"):
        L += [f"**Readings** (rule: {t(c.get('reading_rule', ''))}).", "",
              "| rank | reading | verdict | the paper's words | summary |", "|---|---|---|---|---|"]
        L += [f"| {r.get('rank', '')} | {_esc(t(r.get('name', '')))}: {_esc(t(r.get('text', '')))} | "
              f"{r.get('status', '')} | {_esc(t(r.get('why', '')))} | {_esc(t(r.get('summary', '')))} |"
              for r in c["readings"]]
        L.append("")
    if len(c.get("models") or []) > 1:
        L += [f"**Per model** (rule: {t(c.get('model_rule', ''))}).", "",
              "| model | verdict | scope | summary |", "|---|---|---|---|"]
        L += [f"| {_esc(m.get('model', ''))} | {m.get('status', '')}"
              f"{' (not testable)' if m.get('not_testable') else ''} | "
              f"{_esc(t((m.get('scope') or {}).get('on', '')))} | {_esc(t(m.get('summary', '')))}"
              + (f" (enable with: {_esc(m['enable'])})" if m.get("enable") else "") + " |"
              for m in c["models"]]
        L.append("")
    if c.get("controls"):
        L += ["**Negative controls** (the same check on a deliberately false variant; "
              "*fails* = the check tells it apart).", "",
              "| false variant | outcome | measured |", "|---|---|---|"]
        L += [f"| {_esc(t(k.get('variant', '')))} | {k.get('outcome', '')} | {_esc(t(k.get('measured', '')))} |"
              for k in c["controls"]]
        L.append("")
    if c.get("establishes"):
        L += [f"**What the check establishes.** {t(c['establishes'])}", ""]
    if c.get("revisions"):
        L += ["**Revisions of the rule.**", "",
              "| old rule | old verdict | new rule | new verdict | reason |", "|---|---|---|---|---|"]
        L += [f"| {_esc(t(r.get('old_rule', '')))} | {r.get('old_verdict', '')} | {_esc(t(r.get('new_rule', '')))} "
              f"| {c['status']} | {_esc(t(r.get('reason', '')))} |" for r in c["revisions"]]
        L.append("")
    return L


def to_markdown(doc: dict) -> str:
    """The report as Markdown (``report.md``): run block, counts, claims table, a section per
    claim. Maths as ``$$…$$`` (rendered by GitHub, Jupyter and most Markdown viewers)."""
    t = readable.text
    L = ["# dpomath verification report", "", _meta_line(doc) + ".", "", "## Run", "",
         "| field | value |", "|---|---|"]
    L += [f"| {k} | {_esc(v)} |" for k, v in _run_rows(doc.get("run"))]
    L += ["", "## Summary", ""]
    by_kind = _counts_by_kind(doc)
    if by_kind:
        for kind, counts in by_kind.items():
            if counts:
                L += [f"**{_KIND_TITLES.get(kind, kind)}** ({_kind_letters(doc, kind)}): "
                      + ", ".join(f"{v} {k}" for k, v in counts.items()), ""]
    else:
        L += ["| status | claims |", "|---|---|"] + [f"| {k} | {v} |" for k, v in doc["counts"].items()]
    L += ["", "Statuses: " + "; ".join(f"**{k}**: {m}" for k, m in _MEANING.items()) + "."]
    L += _md_side_by_side(doc)
    L += ["", "## Claims", "", "| ID | verdict | claim | result |", "|---|---|---|---|"]
    for c in doc["claims"]:
        notes = _table_notes(c)
        res = _summary_text(c) + (f" *({notes})*" if notes else "")
        L.append(f"| [{c['id']}](#{_anchor(c['id'])}) | **{c['status']}** | "
                 f"{_esc(c['place'])}: {_esc(t(c['statement']))} | {_esc(t(res))} |")
    for c in doc["claims"]:
        L += ["", f"### {c['id']} — {c['place']} (paper {c['paper']}) <a id=\"{_anchor(c['id'])}\"></a>", "",
              f"**Statement.** {t(c['statement'])}", ""]
        if c["latex"]:
            L += ["$$" + c["latex"] + "$$", ""]
        L += [f"**Verdict: {c['status']}** ({c['method']}, seed {c['seed']}). {t(_summary_text(c))}", ""]
        if c.get("source"):
            L += [f"**Source.** `{c['source']}`", ""]
        if c["details"]:
            L += [_md_details(c["details"]), ""]
        L += _md_fidelity(c)
        if c["counterexample"] not in (None, "", {}):
            L += ["**Counterexample.** " + _esc(readable.value(c["counterexample"])), ""]
        rows, hidden = _evidence(c)
        if rows:
            L += ["| evidence | value |", "|---|---|"]
            L += [f"| {_esc(k)} | {_esc(readable.value(v))} |" for k, v in rows]
            L.append("")
        if hidden:
            L += [f"*Also in the evidence (shown above): {', '.join(hidden)}.*", ""]
        L += [f"![{c['id']}]({f})" for f in c["figures"]]
    if doc["import_errors"]:
        L += ["", "## Modules that failed to import", ""]
        L += [f"- `{m}`: {e}" for m, e in doc["import_errors"].items()]
    L += ["", "Sources: " + "; ".join(f"{k} = {v}" for k, v in PAPERS.items()), ""]
    return "\n".join(L)


def _md_details(text: str) -> str:
    """Details with readable numbers and sets outside code spans and fences."""
    parts = text.split("```")
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append(p)
            continue
        segs = p.split("`")
        out.append("`".join(s if j % 2 else readable.text(s) for j, s in enumerate(segs)))
    return "```".join(out)


# ------------------------------------------------------------------ HTML

_CSS = """
:root{--line:#e2e8f0;--muted:#4a5568}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:1.5em auto;padding:0 1em;color:#1a202c;line-height:1.45;overflow-wrap:break-word}
h1{margin:0 0 .2em} h2{margin-top:1.6em} .meta,.muted{color:var(--muted)}
.print-only{display:none}
table{border-collapse:collapse;width:100%;margin:.8em 0;font-size:.92em}
th,td{border:1px solid var(--line);padding:.35em .5em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f7fafc} tr:nth-child(even) td{background:#fcfcfd}
#claims{table-layout:fixed}
#claims col.id{width:9em} #claims col.claim{width:38%}
#claims thead th{position:sticky;top:0;z-index:1;box-shadow:0 1px 0 var(--line)}
#claims td.id a{font-weight:600} #claims td.id .badge{margin-top:.3em}
#claims tr.paper th{background:#edf2f7;font-weight:600}
#claims .place{display:block;font-size:.85em;color:var(--muted)}
.scope{font-size:.85em;color:var(--muted);margin-top:.25em}
.badge{display:inline-block;padding:.1em .5em;border-radius:.3em;color:#fff;font-weight:600;font-size:.85em;white-space:nowrap}
.counts{display:flex;flex-wrap:wrap;gap:.5em 1.4em;padding:0;list-style:none;margin:.4em 0}
.counts li{white-space:nowrap} .counts .badge{font-size:1em;margin-right:.35em}
.legend{font-size:.85em}
dl.run{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.5em 0;font-size:.9em}
dl.run dt{font-weight:600;color:var(--muted)} dl.run dd{margin:0;overflow-wrap:anywhere}
section.claim{border-top:2px solid var(--line);margin-top:2em;padding-top:.5em}
section.claim h3{margin-bottom:.4em} section.claim h3 small{font-weight:normal;color:var(--muted)}
a.up{float:right;font-size:.8em;font-weight:normal}
code,pre{background:#f4f4f6;border-radius:3px;font-size:.9em} pre{padding:.6em;white-space:pre-wrap;overflow-wrap:anywhere}
.math{margin:.6em 0;padding:.3em .2em;overflow-x:auto;overflow-y:hidden}
.math:not(.rendered){font-family:ui-monospace,monospace;font-size:.9em;color:#2d3748;background:#f7fafc}
figure{margin:1em 0} img{max-width:100%;height:auto;border:1px solid var(--line)}
h4{margin:1em 0 .3em;font-size:1em}
.ev{display:grid;grid-template-columns:minmax(9em,max-content) minmax(0,1fr);border:1px solid var(--line);margin:.8em 0;font-size:.92em}
.ev>div{display:contents}
.ev .k,.ev .v{padding:.25em .5em;border-bottom:1px solid var(--line)}
.ev .k{font-family:ui-monospace,monospace;font-size:.9em;background:#f7fafc;max-width:22em;overflow-wrap:anywhere}
.ev .v{overflow-wrap:anywhere}
.ev-hidden{font-size:.85em}
.outcome-fails{color:#1b7f3b;font-weight:600} .outcome-passes{color:#b7791f;font-weight:600}
.revision{border-left:3px solid var(--line);padding-left:.7em;margin:.5em 0}
.revision p{margin:.25em 0}
table.readings td:first-child{width:3em} table.readings td:nth-child(3){width:7.5em}
table.controls td:nth-child(2){width:5em}
@media (max-width:700px){#claims col.id{width:6.5em}}
@media print{
 @page{size:A4;margin:9mm 9mm 10mm}
 body{font-size:7.4pt;max-width:none;margin:0;padding:0;line-height:1.22}
 h1{font-size:15pt} h2{font-size:11.5pt;margin-top:1em;break-after:avoid} h3{font-size:9.5pt;break-after:avoid}
 h4{break-after:avoid}
 a.up{display:none} a{color:inherit;text-decoration:none}
 #claims{font-size:7pt} #claims thead th{position:static;box-shadow:none}
 #claims col.id{width:7em} #claims col.claim{width:20%} #claims tr{break-inside:avoid} #claims td.result,#claims th:nth-child(3),#claims col.result{display:none} #claims col.claim{width:auto} #claims{table-layout:auto;width:100%} #claims td.id br{display:none} #claims td.id .badge{margin:0 0 0 .5em} #claims col.id{width:auto} #claims td.id{white-space:nowrap}
 #claims .stmt{display:none} #claims .place{font-size:1em;color:inherit}
 table{font-size:7.2pt;margin:.4em 0} th,td{padding:.15em .3em}
 section.claim{margin-top:.9em;padding-top:.3em;border-top-width:1px}
 p{margin:.35em 0}
 .ev{display:block;border:0;font-size:7pt;margin:.3em 0}
 .ev>div{display:inline} .ev .k,.ev .v{display:inline;padding:0;border:0;background:none}
 .ev .k{font-weight:600;margin-right:.3em;font-size:1em}
 .ev>div:not(:last-child)::after{content:" · ";color:#718096}
 .ev-hidden,section.claim h3 small{display:none}
 .math{margin:.2em 0;padding:0}
 pre{font-size:6.5pt;padding:.3em}
 figure{display:inline-block;vertical-align:top;max-width:100%;margin:.3em .8em .3em 0;break-inside:avoid}
 figure.more{display:none} .print-only{display:block}
 section.claim[data-skipped] p.statement,section.claim[data-skipped] .math,section.claim[data-skipped] p.muted{display:none}
 section.claim[data-skipped]{margin-top:.5em}
 table.long tbody tr:nth-child(n+13){display:none} .ev>div.ev-long{display:none}
 td{overflow-wrap:break-word}
 img{width:calc(var(--w, 1000px) * .40);max-width:100%;height:auto;border:0}
 .badge,th,.ev .k,tr:nth-child(even) td{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""

_KATEX_JS = """
(function () {
  var els = document.querySelectorAll('.math[data-tex]');
  if (typeof katex === 'undefined') { return; }  // renderer missing: the TeX source stays
  els.forEach(function (el) {
    katex.render(el.getAttribute('data-tex'), el,
                 {displayMode: el.tagName === 'DIV', throwOnError: false});
    el.classList.add('rendered');
  });
})();
"""


def _badge(status: str) -> str:
    return f'<span class="badge" style="background:{_COLOURS.get(status, "#444")}">{status}</span>'


def _html_text(s: Any) -> str:
    """Readable, escaped text."""
    return html.escape(readable.text(str(s)))


#: Rows of a long details table that the printed report shows (the HTML shows them all).
PRINT_ROWS = 12
#: Evidence values longer than this (characters, as shown) are named, not printed, on paper.
PRINT_VALUE_CHARS = 160


def _md_table(lines: list[str]) -> str:
    """A Markdown pipe table (already escaped) as an HTML table; ``\\|`` is a literal bar."""
    def cells(line: str) -> list[str]:
        inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]

    rows = [cells(ln) for ln in lines if not re.fullmatch(r"\s*\|?[\s:|-]+\|?\s*", ln)]
    head, body = rows[0], rows[1:]
    long = len(body) > PRINT_ROWS  # print shows the first PRINT_ROWS rows and says how many more
    cls = ' class="long"' if long else ""
    table = (f"<table{cls}><thead><tr>"
             + "".join(f"<th>{c}</th>" for c in head) + "</tr></thead><tbody>"
             + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in body)
             + "</tbody></table>")
    if long:
        table += (f'<p class="muted print-only">… {len(body) - PRINT_ROWS} more rows of this table '
                  "in the HTML report.</p>")
    return table


def _md_inline(text: str) -> str:
    """Escape, then render `code` spans, **bold**, pipe tables, "- " lists and blank-line
    paragraphs (enough for our details); numbers and SymPy sets made readable outside code.

    >>> _md_inline("**Runs:**\\n\\n- a\\n- b `c`\\n\\nend")
    '<p><b>Runs:</b></p><ul><li>a</li><li>b <code>c</code></li></ul><p>end</p>'
    """
    parts = text.split("```")
    out = []
    for i, p in enumerate(parts):
        if i % 2:
            out.append(f"<pre>{html.escape(p.strip())}</pre>")
            continue
        segs = p.split("`")
        p = "".join(f"<code>{html.escape(s)}</code>" if j % 2 else _html_text(s)
                    for j, s in enumerate(segs))
        p = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", p)
        for para in p.split("\n\n"):
            lines = [ln for ln in para.strip().splitlines() if ln.strip()]
            if not lines:
                continue
            # runs of lines starting with "|" are tables, with "- " lists, other runs are text
            kind = lambda ln: "table" if ln.lstrip().startswith("|") else "list" if ln.lstrip().startswith("- ") else "text"
            for k, run in itertools.groupby(lines, key=kind):
                run = list(run)
                out.append(_md_table(run) if k == "table" else
                           "<ul>" + "".join(f"<li>{ln.lstrip()[2:]}</li>" for ln in run) + "</ul>"
                           if k == "list" else f"<p>{' '.join(run)}</p>")
    return "".join(out)


def _html_table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """A table of already-escaped cells."""
    return (f'<table class="{cls}"><thead><tr>' + "".join(f"<th>{h}</th>" for h in head)
            + "</tr></thead><tbody>"
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
            + "</tbody></table>")


def _html_fidelity(c: dict) -> str:
    """Not-testable note, readings, negative controls, what the check establishes, revisions."""
    e, t = html.escape, _html_text
    H = []
    if c.get("not_testable"):
        H.append(f"<p><b>Not testable in this setting.</b> {t(c['not_testable'])}</p>")
    if c.get("readings"):
        H.append(f'<h4>Readings</h4><p class="muted">Rule: {t(c.get("reading_rule", ""))}</p>')
        H.append(_html_table(
            ["rank", "reading", "verdict", "the paper's words", "summary"],
            [[e(str(r.get("rank", ""))), f"<b>{t(r.get('name', ''))}</b>: {t(r.get('text', ''))}",
              _badge(r.get("status", "")), t(r.get("why", "")), t(r.get("summary", ""))]
             for r in c["readings"]], "readings"))
    if len(c.get("models") or []) > 1:
        H.append(f'<h4>Per model</h4><p class="muted">Each model decided on its own; rule: '
                 f'{t(c.get("model_rule", ""))}</p>')
        H.append(_html_table(
            ["model", "verdict", "scope", "summary"],
            [[e(m.get("model", "")), _badge(m.get("status", "")) + (" (not testable)" if m.get("not_testable") else ""),
              t((m.get("scope") or {}).get("on", "")),
              t(m.get("summary", "")) + (f" (enable with: {e(m['enable'])})" if m.get("enable") else "")]
             for m in c["models"]], "models"))
    if c.get("controls"):
        H.append('<h4>Negative controls</h4><p class="muted">The same check on a deliberately '
                 "false variant: <i>fails</i> means the check tells the variant apart.</p>")
        H.append(_html_table(
            ["false variant", "outcome", "measured"],
            [[t(k.get("variant", "")),
              f'<span class="outcome-{e(k.get("outcome", ""))}">{e(k.get("outcome", ""))}</span>',
              t(k.get("measured", ""))] for k in c["controls"]], "controls"))
    if c.get("establishes"):
        H.append(f"<p><b>What the check establishes.</b> {t(c['establishes'])}</p>")
    if c.get("revisions"):
        H.append("<h4>Revisions of the rule</h4>")
        # long prose in each field: one block per revision reads better than a five-column table
        for r in c["revisions"]:
            H.append(f'<div class="revision"><p><b>Old rule</b> {_badge(r.get("old_verdict", ""))} '
                     f'{t(r.get("old_rule", ""))}</p><p><b>New rule</b> {_badge(c["status"])} '
                     f'{t(r.get("new_rule", ""))}</p><p><b>Reason.</b> {t(r.get("reason", ""))}</p></div>')
    return "".join(H)


def _png_size(path: Path) -> tuple[int, int] | None:
    """Width and height of a PNG from its header (None if not a readable PNG)."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def _setting_words(c: dict) -> str:
    """A side-by-side claim's setting in a few words (the scope's opening, up to its first
    parenthesis or colon); the whole scope is in the claim's own section."""
    setting = re.split(r"[(:;]", c["scope"] or "", maxsplit=1)[0].strip(" ,")
    return setting if len(setting) <= 48 else setting[:45].rstrip() + "…"


def _side_cell(c: dict) -> str:
    per = "; ".join(f"{k}: {st}" for k, st in c["models"])
    setting = _setting_words(c)
    return f"[{c['id']}](#{_anchor(c['id'])}) **{c['status']}**" + (f" ({per})" if per else "") + \
        (f" — {setting}" if setting else "")


def _md_side_by_side(doc: dict) -> list[str]:
    """The claims that decide one statement in several settings (``links``: paper Y's toy and
    real-model claims), one row each, verdicts side by side."""
    rows = ledger.side_by_side(doc["claims"])
    if not rows:
        return []
    width = max(len(r["claims"]) for r in rows)
    head = ["linked claim"] * (width - 1) + ["claim"]
    L = ["", "## Side by side", "",
         "One statement decided in several settings (a toy model and a real language model): each "
         "claim by its own rule, its verdict beside the others'.", "",
         "| " + " | ".join(head) + " |", "|" + "---|" * width]
    for r in rows:
        cells = [_esc(_side_cell(c)) for c in r["claims"]]
        L.append("| " + " | ".join([""] * (width - len(cells)) + cells) + " |")
    return L


def _html_side_by_side(doc: dict) -> str:
    """:func:`_md_side_by_side` as HTML: each claim a link to its section and its badge."""
    rows = ledger.side_by_side(doc["claims"])
    if not rows:
        return ""
    e = html.escape
    width = max(len(r["claims"]) for r in rows)

    def cell(c: dict) -> str:
        per = "; ".join(f"{k}: {st}" for k, st in c["models"])
        setting = _setting_words(c)
        return (f'<a href="#{_anchor(c["id"])}">{e(c["id"])}</a> {_badge(c["status"])}'
                + (f" ({e(per)})" if per else "") + (f" — {e(setting)}" if setting else ""))

    body = [[""] * (width - len(r["claims"])) + [cell(c) for c in r["claims"]] for r in rows]
    return ('<section id="side-by-side"><h2>Side by side</h2><p>One statement decided in several '
            "settings (a toy model and a real language model): each claim by its own rule, its verdict "
            "beside the others'.</p>"
            + _html_table(["linked claim"] * (width - 1) + ["claim"], body, "side") + "</section>")


def _html_counts(doc: dict) -> str:
    e = html.escape

    def items(counts: dict) -> str:
        return "".join((f"<li>{_badge(k)}<b>{v}</b> claim{'s' if v != 1 else ''}</li>" if k in _COLOURS
                        else f"<li><i>of which {e(k)}</i>: <b>{v}</b></li>") for k, v in counts.items())

    by_kind = _counts_by_kind(doc)
    if not by_kind:
        return f'<ul class="counts">{items(doc["counts"])}</ul>'
    return "".join(f"<h3>{e(_KIND_TITLES.get(kind, kind))} ({e(_kind_letters(doc, kind))})</h3>"
                   f'<ul class="counts">{items(counts)}</ul>' for kind, counts in by_kind.items() if counts)


def to_html(doc: dict, base: str | Path | None = None) -> str:
    """The report as one HTML page (``index.html``). ``base``: the report folder, to give the
    figures their pixel sizes (optional)."""
    e, t = html.escape, _html_text
    H = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         "<title>dpomath verification report</title>",
         '<link rel="stylesheet" href="katex/katex.min.css">',
         f"<style>{_CSS}</style></head><body>",
         "<h1>dpomath verification report</h1>", f'<p class="meta">{e(_meta_line(doc))}</p>',
         '<section id="run"><h2>Run</h2><dl class="run">'
         + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _run_rows(doc.get("run")))
         + "</dl></section>",
         "<h2>Summary</h2>" + _html_counts(doc),
         '<p class="muted legend">' + " · ".join(
             f"<b>{k}</b>: {e(_MEANING[k])}" for k in _ORDER if k in _MEANING) + "</p>",
         _html_side_by_side(doc),
         '<h2>Claims</h2><table id="claims"><colgroup><col class="id"><col class="claim">'
         '<col class="result"></colgroup><thead><tr><th>ID · verdict</th><th>claim</th>'
         "<th>result</th></tr></thead><tbody>"]
    paper = None
    for c in doc["claims"]:
        if c["paper"] != paper:
            paper = c["paper"]
            H.append(f'<tr class="paper"><th colspan="3">{e(paper)} · {e(PAPERS.get(paper, ""))}</th></tr>')
        scope = _table_notes(c)
        scope = f'<div class="scope">{t(scope)}</div>' if scope else ""
        H.append(f'<tr class="claim"><td class="id"><a href="#{_anchor(c["id"])}">{e(c["id"])}</a><br>'
                 f'{_badge(c["status"])}</td><td><span class="place">{e(c["place"])}</span>'
                 f'<span class="stmt">{t(c["statement"])}</span></td><td class="result">{t(_summary_text(c))}{scope}</td></tr>')
    H.append("</tbody></table>")
    for c in doc["claims"]:
        skipped = ' data-skipped=""' if c["status"] == "SKIPPED" else ""
        H.append(f'<section class="claim" id="{_anchor(c["id"])}"{skipped}><h3>{e(c["id"])} — {e(c["place"])} '
                 f'<small>· paper {e(c["paper"])}: {e(PAPERS.get(c["paper"], ""))}</small>'
                 '<a class="up" href="#claims">↑ claims table</a></h3>')
        H.append(f"<p class=\"statement\"><b>Statement.</b> {t(c['statement'])}</p>")
        if c["latex"]:
            H.append(f'<div class="math" data-tex="{e(c["latex"])}">{e(c["latex"])}</div>')
        H.append(f"<p>{_badge(c['status'])} <i>{e(c['method'])}, seed {c['seed']}, "
                 f"{c['duration_s']:.2f} s</i> — {t(_summary_text(c))}</p>")
        if c.get("scope"):
            H.append(f'<p class="scope"><b>Scope:</b> {t(_scope_text(c))}</p>')
        if c.get("source"):
            H.append(f'<p class="muted">source: <code>{e(c["source"])}</code></p>')
        if c["details"]:
            H.append(_md_inline(c["details"]))
        H.append(_html_fidelity(c))
        if c["counterexample"] not in (None, "", {}):
            ce = c["counterexample"]
            if isinstance(ce, dict):
                H.append('<h4>Counterexample</h4><div class="ev">' + "".join(
                    f'<div><span class="k">{e(str(k))}</span><span class="v">{e(readable.value(v))}</span></div>'
                    for k, v in ce.items()) + "</div>")
            else:
                H.append(f"<p><b>Counterexample.</b> {e(readable.value(ce))}</p>")
        rows, hidden = _evidence(c)
        if rows:
            shown = [(k, readable.value(v)) for k, v in rows]
            long = [k for k, v in shown if len(v) > PRINT_VALUE_CHARS]
            H.append('<div class="ev" role="table" aria-label="evidence">' + "".join(
                f'<div role="row"{" class=ev-long" if len(v) > PRINT_VALUE_CHARS else ""}>'
                f'<span class="k" role="cell">{e(k).replace("_", "_<wbr>")}</span>'
                f'<span class="v" role="cell">{e(v)}</span></div>' for k, v in shown)
                + "</div>")
            if long:
                H.append(f'<p class="muted print-only">Longer evidence values in the HTML report and '
                         f'report.json: {e(", ".join(long))}.</p>')
        if hidden:
            H.append(f'<p class="muted ev-hidden">Also in the evidence (shown above): '
                     f'{e(", ".join(hidden))}.</p>')
        for i, f in enumerate(c["figures"]):
            size = _png_size(Path(base) / f) if base is not None else None
            # --w: the pixel width, so that print can size each figure to its own scale
            wh = f' width="{size[0]}" height="{size[1]}" style="--w:{size[0]}px"' if size else ""
            extra = ' class="more"' if i else ""  # print shows a claim's first figure only
            H.append(f'<figure{extra}><a href="{e(f)}"><img src="{e(f)}"{wh} '
                     f'alt="{e(c["id"])} figure {i + 1}"></a></figure>')
        if len(c["figures"]) > 1:
            n = len(c["figures"]) - 1
            H.append(f'<p class="muted print-only">{n} more figure{"s" if n > 1 else ""} of this '
                     f'claim in the HTML report (figures/).</p>')
        H.append("</section>")
    if doc["import_errors"]:
        H.append("<h2>Modules that failed to import</h2><ul>")
        H += [f"<li><code>{e(m)}</code>: {e(err)}</li>" for m, err in doc["import_errors"].items()]
        H.append("</ul>")
    H.append("<h2>Sources</h2><ul>" + "".join(f"<li><b>{k}</b>: {e(v)}</li>" for k, v in PAPERS.items())
             + "</ul>")
    H.append('<p class="muted">Mathematics rendered offline by KaTeX (MIT licence, '
             '<code>katex/</code> beside this page).</p>')
    H.append(f'<script src="katex/katex.min.js"></script><script>{_KATEX_JS}</script></body></html>')
    return "\n".join(H) + "\n"
