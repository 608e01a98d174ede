"""Compare two ``report.json`` files of ``dpomath report``: the same claims, statuses, summaries
and evidence, apart from timings (``duration_s``, evidence keys with the word ``seconds``) and the fields one of
them lacks (``source``, added when claims learned where they are defined). The run block
(``run``: versions, commit, machine, persona data) is listed where it differs, apart from its
date and wall time, but never fails the comparison.

    python tools/compare_reports.py BEFORE/report.json AFTER/report.json [--rtol 0]

Prints every difference, field by field; numbers are compared exactly unless ``--rtol`` allows
a relative difference (a difference is then still listed, marked as within the tolerance).
Exit status: 0 when the claims, their statuses, summaries, evidence, counterexamples and details
are the same; 1 otherwise (texts of the claim itself — statement, place — are listed but do not
fail the comparison: they describe the claim, they are not its result).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

#: Fields that differ between runs by design: timings (also inside the evidence, any key with
#: "seconds" as one of its underscore-separated words: ode_seconds, seconds_total,
#: sweep_seconds_this_process).
IGNORED = {"duration_s"}


def _ignored(key: str) -> bool:
    return key in IGNORED or "seconds" in key.split("_")
#: Fields of the run block (``run``) that change from run to run by nature.
RUN_SPECIFIC = {"date", "duration_s"}
#: Fields added after a report was written (present on one side only: not a difference).
NEW_FIELDS = {"source"}
#: Claim fields that are the result; a difference there fails the comparison.
RESULT_FIELDS = ("status", "summary", "evidence", "counterexample", "details", "figures", "seed",
                 "method")
#: Claim fields that describe the claim (listed, not failed on).
TEXT_FIELDS = ("paper", "place", "statement", "latex")


def _diff(a: Any, b: Any, path: str, rtol: float, out: list[tuple[str, str, bool]]) -> None:
    """Append (path, description, within_tolerance) for every difference of a and b."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if _ignored(k):
                continue
            if k not in b:
                if k not in NEW_FIELDS:
                    out.append((f"{path}.{k}", "only in the first report", False))
            elif k not in a:
                if k not in NEW_FIELDS:
                    out.append((f"{path}.{k}", "only in the second report", False))
            else:
                _diff(a[k], b[k], f"{path}.{k}", rtol, out)
        if list(k for k in a if k in b) != list(k for k in b if k in a):
            out.append((path, "same keys in another order", False))
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append((path, f"length {len(a)} -> {len(b)}", False))
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", rtol, out)
        return
    if a == b and type(a) is type(b):
        return
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        if a == b:  # 1 vs 1.0
            out.append((path, f"{a!r} -> {b!r} (same value, another type)", False))
            return
        scale = max(abs(a), abs(b))
        rel = abs(a - b) / scale if scale > 0 and math.isfinite(scale) else math.inf
        out.append((path, f"{a!r} -> {b!r} (relative difference {rel:.3g})", rel <= rtol))
        return
    sa, sb = repr(a), repr(b)
    out.append((path, f"{sa[:200]} -> {sb[:200]}", False))


def _run_without_date(run):
    """The run block without its run-specific fields (date, wall time)."""
    if not isinstance(run, dict):
        return run
    return {k: v for k, v in run.items() if k not in RUN_SPECIFIC}


def compare(before: dict, after: dict, rtol: float = 0.0) -> tuple[list[str], bool]:
    """The differences of two report documents as lines, and whether they agree.

    Returns
    -------
    (list of str, bool)
        The report lines; True when no result field differs beyond ``rtol``.
    """
    lines, ok = [], True
    # the run block (where each report comes from) is listed, never failed on
    d_run: list = []
    _diff(_run_without_date(before.get("run")), _run_without_date(after.get("run")), "run", 0.0, d_run)
    lines += [f"p {path}: {what}" for path, what, _ in d_run]
    for key in ("dpomath_version", "seed", "quick", "counts", "import_errors"):
        d: list = []
        _diff(before.get(key), after.get(key), key, rtol, d)
        for path, what, tol in d:
            lines.append(f"{'~' if tol else '!'} {path}: {what}")
            ok &= tol
    ids_a = [c["id"] for c in before["claims"]]
    ids_b = [c["id"] for c in after["claims"]]
    if ids_a != ids_b:
        ok = False
        lines.append(f"! claims: {ids_a} -> {ids_b}")
    claims_b = {c["id"]: c for c in after["claims"]}
    n_same = 0
    for ca in before["claims"]:
        cb = claims_b.get(ca["id"])
        if cb is None:
            continue
        d = []
        for f in RESULT_FIELDS + TEXT_FIELDS:
            _diff(ca.get(f), cb.get(f), f"{ca['id']}.{f}", rtol, d)
        extra = set(ca) ^ set(cb)
        for f in sorted(extra - NEW_FIELDS - IGNORED):
            d.append((f"{ca['id']}.{f}", "field on one side only", False))
        if not d:
            n_same += 1
        for path, what, tol in d:
            text = path.split(".", 2)[1].split("[")[0] in TEXT_FIELDS
            mark = "~" if tol else ("t" if text else "!")
            lines.append(f"{mark} {path}: {what}")
            ok &= tol or text
    lines.append(f"{n_same}/{len(ids_a)} claims identical apart from timings "
                 f"({', '.join(sorted(IGNORED))}, *seconds*) and new fields ({', '.join(sorted(NEW_FIELDS))}); "
                 f"{'SAME results' if ok else 'DIFFERENT results'}"
                 + (f" (numbers within relative {rtol:g})" if rtol else " (numbers compared exactly)"))
    return lines, ok


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("before", type=Path)
    p.add_argument("after", type=Path)
    p.add_argument("--rtol", type=float, default=0.0,
                   help="relative tolerance for numbers (default 0: exact)")
    a = p.parse_args(argv)
    lines, ok = compare(json.loads(a.before.read_text()), json.loads(a.after.read_text()), a.rtol)
    print("legend: ! a result differs, ~ a number within --rtol, t a text of the claim differs, "
          "p the run block differs (versions, commit, machine: listed, not failed on)")
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
