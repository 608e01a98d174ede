"""Paper Y toy sweep: batched tensor program vs one seed at a time, measured in the same run.

    python benchmarks/bench_toy.py            # the full sweep behind the Y claims
    python benchmarks/bench_toy.py --quick    # the quick sweep (seconds)

The batched side runs the whole sweep (:data:`dpomath.toys.sweeps.FULL`: every setting × seed ×
regulariser) as one tensor program per width. The baseline is the plain one-run loop
(:func:`dpomath.toys.mlp.reference_run`: ``torch.nn.Sequential`` + ``torch.optim``, the way one
would write a single run). Running that loop over thousands of runs would take over an hour,
so it is timed on a subset — ``--loop-runs`` (setting, seed) pairs drawn evenly from each width
of the sweep — and scaled: loop time = Σ_width (mean DPO time of a run of that width × number of
runs of that width) + (mean SFT time × number of SFT stages), the SFT stage (shared by all
settings of a width, scenario and seed in both versions) timed on its own. Both sides use one
torch thread (see ``dpomath.toys.mlp.run``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the quick sweep instead of the full one")
    ap.add_argument("--loop-runs", type=int, default=12, help="runs timed one at a time (default 12)")
    args = ap.parse_args(argv)

    from dpomath.toys import mlp as toy
    from dpomath.verify.progress import set_quiet

    set_quiet(True)
    spec = toy.QUICK if args.quick else toy.FULL
    settings = spec.all_settings()
    seeds = list(range(spec.seeds))
    n_runs = len(settings) * len(seeds)
    widths = sorted({s.width for s in settings})
    toy.reference_run(toy.Setting(1), 0, epochs=2)            # warm-up: imports, kernels

    t0 = time.perf_counter()
    toy.run(settings, seeds, epochs=spec.epochs, pairs_per_prompt=spec.pairs_per_prompt,
            record_every=spec.record_every, desc="")
    batched = time.perf_counter() - t0

    # one seed at a time, on a subset, scaled per width
    per_width = max(1, args.loop_runs // len(widths))
    loop_dpo, sft_times = 0.0, []
    for w in widths:
        sw = [s for s in settings if s.width == w]
        pick = [sw[int(i * len(sw) / per_width)] for i in range(per_width)]
        times = []
        for k, s in enumerate(pick):
            seed = seeds[k % len(seeds)]
            t1 = time.perf_counter()
            toy.sft([seed], [s.scenario], w)
            t_sft = time.perf_counter() - t1
            t1 = time.perf_counter()
            toy.reference_run(s, seed, epochs=spec.epochs, pairs_per_prompt=spec.pairs_per_prompt)
            times.append(time.perf_counter() - t1 - t_sft)   # reference_run includes its SFT
            sft_times.append(t_sft)
        loop_dpo += sum(times) / len(times) * len(sw) * len(seeds)
    n_sft = sum(len({s.scenario for s in settings if s.width == w}) for w in widths) * len(seeds)
    loop = loop_dpo + sum(sft_times) / len(sft_times) * n_sft

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"paper Y toy sweep ({'quick' if args.quick else 'full'}): {len(settings)} settings × "
          f"{len(seeds)} seeds = {n_runs} runs of {spec.epochs} epochs, widths {widths}")
    print(f"  batched (one tensor program per width):  {batched:8.1f} s")
    print(f"  one seed at a time (estimated from {per_width * len(widths)} timed runs): {loop:8.1f} s")
    print(f"  speed-up: {loop / batched:.1f}x   (target >= 10x; whole sweep target < 120 s)")
    print(f"  1-minute load average during the run: {load:.2f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
