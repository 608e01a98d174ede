"""Lemma 4.1's margin ODE at paper I's scale: N = 2KQ = 32,000 (K = 16, Q = 1,000), d = 4,096.

Times, in one run on one machine:
  1. one ODE solve to τ1 through the d-dimensional features (``solve_margins``, DOP853,
     rtol 1e-8 / atol 1e-12), and a tighter solve (rtol 1e-11) that measures its error;
  2. the reference that forms the N×N matrix M_ij = (Δy_i·Δy_j) g_i·g_j: forming it
     (N²·d multiply-adds) plus one N×N mat-vec per right-hand-side evaluation. The full matrix
     would take N²·8 bytes (8.2 GB), so it is formed and applied on a block of B rows and both
     times are scaled by N/B (the work is exactly proportional to the rows); the same number of
     evaluations as the fast solve is charged;
  3. explicit gradient descent on W in torch (autograd through log-softmax): its error at τ1
     after n and 2n steps gives the constant of its O(h) error, hence the steps it needs to
     reach the ODE's accuracy, times its measured cost per step;
  4. peak memory of the fast solve (tracemalloc, numpy allocations beyond the features) and the
     process's peak RSS.

Run: ``python benchmarks/bench_margins.py [--K 16 --Q 1000 --d 4096 --block 2000]``.
"""
from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--K", type=int, default=16)
    ap.add_argument("--Q", type=int, default=1000)
    ap.add_argument("--d", type=int, default=4096)
    ap.add_argument("--block", type=int, default=2000, help="rows of the N×N reference formed")
    ap.add_argument("--gd-steps", type=int, default=8, help="n (GD runs n and 2n steps)")
    args = ap.parse_args()

    from dpomath.lastlayer.clusters import sample_clusters
    from dpomath.lastlayer.theorem42 import tau1, v_limit
    from dpomath.losses import margin_weight
    from dpomath.lastlayer.descent import gradient_descent
    from dpomath.lastlayer.margins import solve_margins

    K, Q, d = args.K, args.Q, args.d
    beta, tau = 0.01, 1.0
    t0 = time.perf_counter()
    data = sample_clusters(K, Q, d, v=v_limit(Q), l_b=0.25, seed=0)
    X, cw, cl = data.features, data.chosen, data.rejected
    N = data.N
    T = tau1(K, beta, tau)
    print(f"N = {N}, d = {d}, features {X.nbytes / 2**30:.2f} GiB (sampled in "
          f"{time.perf_counter() - t0:.1f} s); tau1 = {T:.6g}")

    # 1. the fast solve, and a tighter one for its error (with tracemalloc: peak memory)
    fast = solve_margins(X, cw, cl, beta=beta, tau=tau, t_end=T, t_eval=[T], rtol=1e-8, atol=1e-12)
    print(f"[ode]  DOP853 rtol 1e-8: {fast.seconds:.2f} s, {fast.nfev} RHS evaluations "
          f"({fast.seconds / fast.nfev * 1e3:.0f} ms each)")
    tracemalloc.start()
    ref = solve_margins(X, cw, cl, beta=beta, tau=tau, t_end=T, t_eval=[T], rtol=1e-11, atol=1e-14)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    err_ode = float(np.max(np.abs(fast.train[-1] - ref.train[-1])))
    print(f"[ode]  error vs rtol 1e-11 solve: {err_ode:.2e} (margins at tau1 in "
          f"[{ref.train[-1].min():.4f}, {ref.train[-1].max():.4f}])")
    print(f"[mem]  fast solve peak traced allocations {peak / 2**20:.1f} MiB = "
          f"{peak / X.nbytes:.3f} x the features (N*d*8 = {X.nbytes / 2**20:.0f} MiB); "
          f"N x N float64 would be {N * N * 8 / 2**30:.1f} GiB")

    # 2. the N×N reference on a block of rows, scaled by N/B
    B = min(args.block, N)
    t0 = time.perf_counter()
    Mb = X[:B] @ X.T
    share = ((cw[:B, None] == cw[None, :]).astype(float) - (cw[:B, None] == cl[None, :])
             - (cl[:B, None] == cw[None, :]) + (cl[:B, None] == cl[None, :]))
    Mb *= share
    t_form = (time.perf_counter() - t0) * N / B
    r = ref.train[-1]
    w = margin_weight("sigmoid", r, beta)
    reps = 3
    t0 = time.perf_counter()
    for _ in range(reps):
        rb = beta ** 2 / (N * tau) * (Mb @ w)
    t_mv = (time.perf_counter() - t0) / reps * N / B
    fast_rows = fast.field.rates(r)[0][:B]
    agree = float(np.max(np.abs(rb - fast_rows)) / np.max(np.abs(fast_rows)))
    t_gram = t_form + fast.nfev * t_mv
    del Mb, share
    print(f"[gram] forming N x N (scaled from {B} rows): {t_form:.1f} s; mat-vec {t_mv * 1e3:.0f} ms "
          f"per evaluation; {fast.nfev} evaluations: {t_gram:.1f} s (block RHS agrees to {agree:.1e})")

    # 3. gradient descent on W in torch
    n = args.gd_steps
    errs, per_step = [], []
    for steps in (n, 2 * n):
        gd = gradient_descent(X, cw, cl, beta=beta, tau=tau, t_end=T, steps=steps, record=1)
        errs.append(float(np.max(np.abs(gd.train[-1] - ref.train[-1]))))
        per_step.append(gd.seconds / steps)
    C = errs[1] * 2 * n  # error ≈ C/steps
    step_cost = min(per_step)
    target = max(err_ode, 1e-15)
    steps_needed = C / target
    t_gd = steps_needed * step_cost
    steps_1e6 = C / 1e-6
    print(f"[gd]   torch autograd, {step_cost * 1e3:.0f} ms/step; error {errs[0]:.2e} ({n} steps), "
          f"{errs[1]:.2e} ({2 * n} steps): ratio {errs[0] / errs[1]:.2f} (first order)")
    print(f"[gd]   steps to reach the ODE's error {target:.1e}: {steps_needed:.2e} -> {t_gd:.3g} s; "
          f"to reach 1e-6: {steps_1e6:.2e} steps -> {steps_1e6 * step_cost:.3g} s")

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    print(f"[mem]  process peak RSS {rss:.2f} GiB")
    print()
    print(f"RATIO gram / ode          = {t_gram / fast.seconds:8.1f}x   (target >= 20x)")
    print(f"RATIO gd(same acc) / ode  = {t_gd / fast.seconds:8.3g}x   (target >= 1x)")
    print(f"RATIO gd(1e-6) / ode      = {steps_1e6 * step_cost / fast.seconds:8.3g}x")
    print(f"MEMORY ode peak / (N*d*8) = {peak / X.nbytes:8.3f}")


if __name__ == "__main__":
    main()
