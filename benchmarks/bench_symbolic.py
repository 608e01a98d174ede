"""Benchmark: the symbolic claims of papers F and Y plus G-RATIO, and ``import dpomath``.

Targets (issue 2): all symbolic claims of F, Y and G-RATIO verified in < 30 s on 2 cores;
``import dpomath`` < 1 s (no SymPy work at import time). Each figure is measured in a fresh
subprocess (cold caches, imports included) next to a baseline measured in the same run:
``python -c pass``. Wall time and the child's CPU time are printed (on a shared machine the
wall time also counts waiting for a core).

    python benchmarks/bench_symbolic.py [--repeat N]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

VERIFY = r"""
import json, time
t0 = time.perf_counter()
from dpomath.verify.ledger import registry
claims = [c for c in registry().values()
          if (c.paper in ("F", "Y") and c.method == "symbolic") or c.id == "G-RATIO"]
t1 = time.perf_counter()
rows = []
for c in claims:
    r = c.run(seed=0, quick=False)
    rows.append((c.id, r.verdict.status.value, r.duration_s))
print(json.dumps({"import_and_discover_s": t1 - t0, "claims": rows}))
"""


def _child(code: str) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, stdout) of ``python -c code`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.stdout


def _best(code: str, repeat: int) -> tuple[float, float]:
    runs = [_child(code)[:2] for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs of each import timing (min taken)")
    args = ap.parse_args()
    if args.repeat < 1:
        print("--repeat: must be >= 1", file=sys.stderr)
        return 2

    base_wall, base_cpu = _best("pass", args.repeat)
    imp_wall, imp_cpu = _best("import dpomath", args.repeat)
    sym_wall, sym_cpu = _best("import dpomath, sympy", args.repeat)
    wall, cpu, out = _child(VERIFY)
    doc = json.loads(out)

    print(f"machine: {os.cpu_count()} CPUs visible, python {sys.version.split()[0]}")
    print(f"{'measurement':44s} {'wall s':>8s} {'CPU s':>8s} {'x baseline':>11s} {'target':>8s}")
    print(f"{'baseline: python -c pass':44s} {base_wall:8.3f} {base_cpu:8.3f} {1.0:11.1f}")
    print(f"{'import dpomath (fresh process)':44s} {imp_wall:8.3f} {imp_cpu:8.3f} "
          f"{imp_wall / base_wall:11.1f} {'< 1 s':>8s}  {'OK' if imp_wall < 1.0 else 'MISSED'}")
    print(f"{'  for scale: import dpomath, sympy':44s} {sym_wall:8.3f} {sym_cpu:8.3f} "
          f"{sym_wall / base_wall:11.1f}")
    print(f"{'verify symbolic F + Y + G-RATIO (fresh proc)':44s} {wall:8.3f} {cpu:8.3f} "
          f"{wall / base_wall:11.1f} {'< 30 s':>8s}  {'OK' if wall < 30.0 else 'MISSED'}")
    print(f"  of which imports + claim discovery: {doc['import_and_discover_s']:.3f} s")
    for cid, status, dur in doc["claims"]:
        print(f"  {cid:10s} {status:12s} {dur:7.3f} s")
    ok = imp_wall < 1.0 and wall < 30.0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
