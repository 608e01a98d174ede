"""Benchmark: the time of one conformance-kit run (``check_preference_loss``) at 50 and 500
examples per property, on dpomath's own DPO and on the peers that are installed (torchtune,
OpenRLHF, liger-kernel; see tests/test_peers.py), passing and failing.

The baseline, measured in the same run: a hand-written Hypothesis property test of the value
alone (the same batches, ``preference_batches``, the same number of examples, comparing with
``dpomath.losses.preference_loss``) — what a user would write without the kit. Each figure is
the median of ``--repeat`` runs, wall time and this process's CPU time; the load average is
printed before and after (the machine may be shared: wall time then also counts waiting for a
core, CPU time does not).

    python benchmarks/bench_kit.py [--repeat 3] [--examples 50 500]
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(fn, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def _baseline(fn, examples: int):
    """A hand-written value-only property test of ``fn`` (per-sample DPO at β drawn)."""
    import numpy as np
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import torch
    from dpomath.losses import preference_loss
    from dpomath.strategies import betas, preference_batches

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(preference_batches(1, 8), betas(0.01, 10.0))
    def test(batch, beta):
        args = [torch.tensor(batch[k]) for k in ("policy_chosen_logps", "policy_rejected_logps",
                                                 "reference_chosen_logps", "reference_rejected_logps")]
        got = fn(*args, beta=beta).detach().numpy()
        hw = batch["policy_chosen_logps"] - batch["reference_chosen_logps"]
        hl = batch["policy_rejected_logps"] - batch["reference_rejected_logps"]
        want = preference_loss("sigmoid", hw, hl, beta)
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12)

    return test


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--examples", type=int, nargs="+", default=[50, 500])
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F

    from dpomath.testing import check_preference_loss

    torch.set_num_threads(1)

    def dpo(policy_chosen_logps, policy_rejected_logps, reference_chosen_logps,
            reference_rejected_logps, beta):
        return -F.logsigmoid(beta * ((policy_chosen_logps - policy_rejected_logps)
                                     - (reference_chosen_logps - reference_rejected_logps)))

    cases = [("dpomath-style DPO function (per-sample)", dpo, dict(kind="sigmoid"))]
    try:
        from torchtune.rlhf.loss import DPOLoss, RSOLoss
        cases += [("torchtune 0.6.1 DPOLoss module", DPOLoss(beta=0.1), dict(kind="sigmoid", beta=0.1)),
                  ("torchtune 0.6.1 RSOLoss module", RSOLoss(gamma=0.1), dict(kind="rso", beta=0.1))]
    except ImportError as e:
        print(f"torchtune not available ({e}): skipped")
    try:
        sys.path.insert(0, str(ROOT / "tests"))
        from test_peers import load_openrlhf_loss
        orl = load_openrlhf_loss()
        cases += [("OpenRLHF 0.11.2 DPOLoss module (batch mean)", orl.DPOLoss(0.1), dict(kind="sigmoid", beta=0.1)),
                  ("OpenRLHF 0.11.2 LogExpLoss (fails: overflow)", orl.LogExpLoss(), dict(kind="reward-model"))]
    except Exception as e:  # not installed
        print(f"openrlhf not available ({type(e).__name__}: {e}): skipped")
    try:
        from liger_kernel.chunked_loss.dpo_loss import LigerFusedLinearDPOFunction as LD
        cases += [("liger-kernel 0.8.5 sigmoid (batch mean)", LD.preference_loss_fn, dict(kind="sigmoid")),
                  ("liger-kernel 0.8.5 discopop (fails: overflow)",
                   functools.partial(LD.preference_loss_fn, loss_type="discopop"), dict(kind="discopop"))]
    except ImportError as e:
        print(f"liger-kernel not available ({e}): skipped")

    load0 = os.getloadavg()
    print(f"load average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} "
          f"({os.cpu_count()} CPUs); torch threads 1; median of {args.repeat}")
    for n in args.examples:
        base = _baseline(dpo, n)
        bw, bc = _timed(base, args.repeat)
        print(f"\n== {n} examples per property ==\n"
              f"baseline (hand-written value-only property test, {n} examples): "
              f"{bw:.2f} s wall, {bc:.2f} s CPU")
        for name, fn, kw in cases:
            result = {}

            def run():
                result["r"] = check_preference_loss(fn, examples=n, raise_on_failure=False, **kw)

            w, c = _timed(run, args.repeat)
            r = result["r"]
            verdict = "pass" if r.passed else "FAIL (" + ", ".join(k for k, _ in r.failures) + ")"
            print(f"  {name:<48} {w:6.2f} s wall {c:6.2f} s CPU  ×{w / bw:5.1f} wall, "
                  f"×{c / bc:5.1f} CPU of the baseline  {verdict}")
    load1 = os.getloadavg()
    print(f"\nload average after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")


if __name__ == "__main__":
    main()
