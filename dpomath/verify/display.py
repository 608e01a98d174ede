"""Rich display in Jupyter: the HTML and LaTeX that ``_repr_html_``/``_repr_latex_`` of
:class:`~dpomath.verify.ledger.Verdict`, :class:`~dpomath.verify.ledger.Result`, the list
:func:`~dpomath.verify.ledger.run_claims` returns, a derivation
(:func:`~dpomath.verify.derive.derive`) and the conformance kit's report show.

Plain functions of plain values (strings, dicts), so that this module imports nothing heavy;
the notebook's MathJax typesets the ``$...$`` the HTML carries.

>>> badge("PROVED")[:31]
'<span style="display:inline-blo'
>>> latex_text("50% of x_1 & y")
'\\\\text{50\\\\% of x\\\\_1 \\\\& y}'
"""
from __future__ import annotations

import html
import json
from typing import Any, Iterable, Mapping

__all__ = ["COLOURS", "badge", "latex_text", "evidence_table", "verdict_html", "result_html",
           "results_html", "steps_html", "steps_latex", "lines_html"]

#: Status → colour (the report uses the same).
COLOURS = {"PROVED": "#1b7f3b", "CONFIRMED": "#2e8b57", "QUALIFIED": "#b7791f",
           "REFUTED": "#c53030", "INCONCLUSIVE": "#6b7280", "SKIPPED": "#4a5568",
           "ERROR": "#9b2c2c"}

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}"}


def latex_text(text: str) -> str:
    """``\\text{...}`` of plain text, LaTeX's special characters escaped."""
    return r"\text{" + "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(text)) + "}"


def badge(status: str) -> str:
    """A coloured status badge."""
    colour = COLOURS.get(status, "#444")
    return (f'<span style="display:inline-block;padding:0 .45em;border-radius:.3em;color:#fff;'
            f'background:{colour};font-weight:600">{html.escape(status)}</span>')


def _value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def evidence_table(evidence: Mapping[str, Any], limit: int = 40) -> str:
    """The evidence as a two-column HTML table (the first ``limit`` rows)."""
    if not evidence:
        return ""
    items = list(evidence.items())
    rows = "".join(f"<tr><td><code>{html.escape(str(k))}</code></td>"
                   f"<td style='text-align:left'>{html.escape(_value(v))}</td></tr>"
                   for k, v in items[:limit])
    more = (f"<tr><td colspan=2>… {len(items) - limit} more (<code>.evidence</code>)</td></tr>"
            if len(items) > limit else "")
    return f"<table><tbody>{rows}{more}</tbody></table>"


def verdict_html(status: str, summary: str, evidence: Mapping[str, Any] | None = None,
                 counterexample: Any = None) -> str:
    """A verdict: its badge, summary, evidence and counterexample."""
    out = [f"<p>{badge(status)} {html.escape(summary)}</p>"]
    if counterexample not in (None, "", {}):
        out.append("<p><b>Counterexample</b>: <code>"
                   + html.escape(json.dumps(counterexample, ensure_ascii=False)) + "</code></p>")
    if evidence:
        out.append("<details><summary>evidence</summary>" + evidence_table(evidence) + "</details>")
    return "".join(out)


def result_html(d: Mapping[str, Any]) -> str:
    """One claim's result (``Result.to_dict()``): ID, place, statement (with its LaTeX for the
    notebook's MathJax), the verdict."""
    head = (f"<p><b>{html.escape(d['id'])}</b> — {html.escape(d['place'])} "
            f"<small>(paper {html.escape(d['paper'])}, {html.escape(d['method'])}, seed {d['seed']}, "
            f"{d['duration_s']:.2f} s, <code>{html.escape(d.get('source', ''))}</code>)</small></p>"
            f"<p>{html.escape(d['statement'])}</p>")
    math = f"<p>$${html.escape(d['latex'])}$$</p>" if d.get("latex") else ""
    return head + math + verdict_html(d["status"], d["summary"], d["evidence"], d["counterexample"])


def results_html(rows: Iterable[Mapping[str, Any]]) -> str:
    """Results as a table: ID, place, status, time, summary."""
    body = "".join(
        f"<tr><td><b>{html.escape(d['id'])}</b></td><td>{html.escape(d['place'])}</td>"
        f"<td>{badge(d['status'])}</td><td>{d['duration_s']:.1f} s</td>"
        f"<td style='text-align:left'>{html.escape(d['summary'])}</td></tr>" for d in rows)
    return ("<table><thead><tr><th>ID</th><th>place</th><th>status</th><th>time</th>"
            f"<th>summary</th></tr></thead><tbody>{body}</tbody></table>")


def steps_latex(steps: Iterable[tuple[str, str | None]]) -> str:
    """Numbered steps (text, LaTeX or None) as one displayed LaTeX array."""
    lines = []
    for i, (text, tex) in enumerate(steps, 1):
        lines.append(latex_text(f"{i}. {text}"))
        if tex:
            lines.append(r"\quad\displaystyle " + tex)
    return "$$\\begin{array}{l}" + r" \\[4pt] ".join(lines) + r"\end{array}$$"


def steps_html(title: str, steps: Iterable[tuple[str, str | None]]) -> str:
    """Numbered steps (text, LaTeX or None) as an HTML list with ``$$...$$`` for MathJax."""
    items = "".join(f"<li>{html.escape(text)}" + (f"<br>$${html.escape(tex)}$$" if tex else "")
                    + "</li>" for text, tex in steps)
    return f"<p><b>{html.escape(title)}</b></p><ol>{items}</ol>"


def lines_html(title: str, rows: Iterable[tuple[str, str, str]]) -> str:
    """A title and a three-column table (e.g. the conformance kit's checks)."""
    body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>"
                                     for c in r) + "</tr>" for r in rows)
    return f"<p>{html.escape(title)}</p><table><tbody>{body}</tbody></table>"
