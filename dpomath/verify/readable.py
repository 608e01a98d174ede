"""Numbers and SymPy text as a reader of the report wants them (display only: ``report.json``
keeps every value as the check returned it).

- :func:`number`: a float to six significant digits, without the noise of binary fractions
  (``0.22499999999999998`` → ``0.225``), integers unchanged, ``inf``/``nan`` in words.
- :func:`text`: a string with SymPy's printed sets in mathematical notation
  (``Interval.open(0, oo)`` → ``(0, ∞)``, ``EmptySet`` → ``∅``), ``oo`` as ``∞``, Python's
  ``**`` as ``^``, ``!=``/``<=``/``>=`` as ``≠ ≤ ≥``, and numbers printed with 10 or more
  significant digits shortened to six.
- :func:`value`: any evidence value (number, string, list, mapping — also one printed by
  ``str()``, read back with :func:`ast.literal_eval`) as one line of text.

>>> number(0.22499999999999998), number(3.1171273719867976e-05), number(12), number(1e-300)
('0.225', '3.11713e-05', '12', '1e-300')
>>> text("rho in Interval.open(0, oo)")
'rho ∈ (0, ∞)'
>>> text("Union(Interval(-oo, -1), Interval.Lopen(1, 2))")
'(−∞, -1] ∪ (1, 2]'
>>> text("x2**beta_minus*(x1**beta + 1) where f'(rho) != 0; EmptySet")
"x2^beta_minus*(x1^beta + 1) where f'(rho) ≠ 0; ∅"
>>> value({"beta": 0.6164748663065536, "ok": True, "ci": [0.9439909106133635, 1.0]})
'beta: 0.616475; ok: True; ci: [0.943991, 1]'
>>> value("{'beta<1': '-oo', 'beta=1': '1/x1'}")      # a dict printed by str()
'beta<1: −∞; beta=1: 1/x1'
"""
from __future__ import annotations

import ast
import math
import re
from typing import Any

__all__ = ["number", "text", "value", "SIGNIFICANT"]

#: Significant digits of a displayed float.
SIGNIFICANT = 6


def number(x: Any) -> str:
    """A number as text: floats to :data:`SIGNIFICANT` significant digits (exponent form below
    1e-4 and from 1e6 on), integers and booleans as they are."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    return f"{x:.{SIGNIFICANT}g}"


#: SymPy set constructors and how they print: (name, opening, closing).
_INTERVALS = {"Interval": ("[", "]"), "Interval.open": ("(", ")"),
              "Interval.Lopen": ("(", "]"), "Interval.Ropen": ("[", ")")}
_JOINS = {"Union": " ∪ ", "Intersection": " ∩ ", "Complement": " \\ "}
_CALL = re.compile(r"\b(Interval\.open|Interval\.Lopen|Interval\.Ropen|Interval|Union|"
                   r"Intersection|Complement|FiniteSet)\(")
_ATOMS = [(re.compile(r"\bEmptySet\b"), "∅"), (re.compile(r"\bReals\b"), "ℝ"),
          (re.compile(r"\bS\.Reals\b"), "ℝ"), (re.compile(r"(?<![\w.])-oo\b"), "−∞"),
          (re.compile(r"(?<![\w.])oo\b"), "∞"),
          (re.compile(r"\s!=\s"), " ≠ "), (re.compile(r"\s<=\s"), " ≤ "),
          (re.compile(r"\s>=\s"), " ≥ "),
          (re.compile(r"(?<=[\w)\]])\*\*(?=[\w(\-])"), "^")]
#: "x in Interval(...)": membership of a printed SymPy set.
_MEMBER = re.compile(r"\b(\w+) in (?=(?:Interval|Union|Intersection|Complement|FiniteSet|EmptySet|Reals)\b)")
#: A decimal number printed with 10 or more significant digits (float noise, long reprs).
_LONG = re.compile(r"(?<![\w.])(-?)(\d+\.\d+)([eE][+-]?\d+)?(?![\w.])")


def _split_args(s: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _sets(s: str) -> str:
    """SymPy's printed sets (nested) in mathematical notation."""
    m = _CALL.search(s)
    if m is None:
        return s
    depth, i = 1, m.end()
    while i < len(s) and depth:
        depth += {"(": 1, ")": -1}.get(s[i], 0)
        i += 1
    if depth:  # unbalanced: leave as printed
        return s
    name, args = m.group(1), [_sets(a) for a in _split_args(s[m.end():i - 1])]
    if name in _INTERVALS and len(args) == 2:
        lo, hi = _INTERVALS[name]
        lo = "(" if args[0] in ("-oo", "oo") else lo  # an infinite end is never in the set
        hi = ")" if args[1] in ("-oo", "oo") else hi
        rep = f"{lo}{args[0]}, {args[1]}{hi}"
    elif name in _JOINS and args:
        rep = _JOINS[name].join(args)
    elif name == "FiniteSet":
        rep = "{" + ", ".join(args) + "}"
    else:  # a form we do not rewrite: keep it, go on after it
        return s[:i] + _sets(s[i:])
    return s[:m.start()] + rep + _sets(s[i:])


def _short(m: re.Match) -> str:
    sign, mant, exp = m.group(1), m.group(2), m.group(3) or ""
    digits = len(mant.replace(".", "").lstrip("0"))
    if digits < 10:
        return m.group(0)
    return sign + number(float(mant + exp))


def text(s: str) -> str:
    """A string with SymPy sets, ``oo``, ``**`` and long floats made readable (see the module
    docstring). Text that holds none of them comes back unchanged."""
    if not isinstance(s, str):
        return value(s)
    s = _MEMBER.sub(r"\1 ∈ ", s)
    s = _sets(s)
    for pat, rep in _ATOMS:
        s = pat.sub(rep, s)
    s = s.replace("−oo", "−∞")
    return _LONG.sub(_short, s)


def _literal(s: str) -> dict | list | None:
    """A string that is a Python dict or list literal (as ``str(dict)`` prints one), parsed
    safely (:func:`ast.literal_eval`), else None."""
    t = s.strip()
    if len(t) > 20000 or not ((t[:1], t[-1:]) in (("{", "}"), ("[", "]"))):
        return None
    try:
        out = ast.literal_eval(t)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return out if isinstance(out, (dict, list)) else None


def value(v: Any) -> str:
    """An evidence value as one line of text: numbers through :func:`number`, strings through
    :func:`text`, lists as ``[a, b]``, mappings as ``key: value; ...``."""
    if isinstance(v, str):
        literal = _literal(v)
        return text(v) if literal is None else value(literal)
    if isinstance(v, (bool, int, float)) or v is None:
        return number(v) if v is not None else "—"
    if isinstance(v, dict):
        return "; ".join(f"{k}: {value(x)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    return text(str(v))
