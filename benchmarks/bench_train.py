"""Sequence-level DPO on SmolLM2-135M-Instruct, CPU: dpomath against TRL 1.16's DPOTrainer in
the same run, on the same persona statement pairs, batch size, steps and hyperparameters.

Contenders, each in its own process (so that its peak resident memory is its own):

* ``dpomath``        — ``dpomath.train.train`` (reference log-probabilities computed once and
  cached, the prompt shared by the chosen and rejected responses, the head only at response
  positions);
* ``trl``            — TRL's DPOTrainer with its defaults (the reference model run at every
  step, gradient checkpointing on), float32;
* ``trl-precompute`` — the same with ``precompute_ref_log_probs=True``.

Reported: pairs/s from the fastest update after the first (the first allocates the optimizer
state) over ``--rounds`` interleaved runs of each contender — on a shared machine a load spike
slows whichever contender runs at that moment, and the fastest update is the least disturbed
estimate — with the median beside it; pairs/s end to end (model and data set-up, reference
pass, every update); and peak RSS.
Targets: dpomath ≥ 1.5 × TRL default and ≥ 1.0 × TRL precomputed in pairs/s, peak RSS no higher
than TRL's. The machine is shared: the load average before and after is printed with the
ratios. Threads: ``DPOMATH_THREADS`` (default 2) for every contender.

    python benchmarks/bench_train.py [--mode full|lora] [--steps 5] [--batch-size 8]
        [--personas 2] [--pairs 8] [--persona-dir DIR] [--contenders dpomath,trl,trl-precompute]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _personas import persona_dir  # noqa: E402  (beside this script)

ROOT = Path(__file__).resolve().parents[1]




def prepare(args, work: Path) -> tuple[Path, Path, list[dict]]:
    """The plain SmolLM2 directory and a JSONL of conversational persona pairs."""
    from dpomath.train.data import list_personas, persona_pairs
    from dpomath.train.models import plain_model_dir, resolve_model

    model_dir = plain_model_dir(resolve_model(args.model))
    pdir = persona_dir(args.persona_dir)
    names = list_personas(pdir)[:args.personas]
    data = persona_pairs(pdir, personas=names, pairs_per_persona=args.pairs, heldout_per_persona=0,
                         unseen_per_persona=0, chat=True)
    rows = [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in data.train]
    path = work / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return model_dir, path, rows


def worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    rows = [json.loads(line) for line in Path(args.data).read_text().splitlines()]
    hp = dict(mode=args.mode, loss="sigmoid", beta=0.1, lr=args.lr, steps=args.steps,
              batch_size=args.batch_size, seed=0)
    t0 = time.perf_counter()
    if args.worker == "dpomath":
        from dpomath.train.engine import TrainConfig, train

        res = train(str(args.model_dir), str(args.data),
                    TrainConfig(device="cpu", log_every=10 ** 9, greedy_prompts=0, eval_pairs=0,
                                eval_unseen=0, **hp))
        steps = [r["seconds"] for r in res.history]
        last = res.history[-1]
    else:
        from transformers import AutoTokenizer

        from dpomath.train.trl import run_trl

        tok = AutoTokenizer.from_pretrained(str(args.model_dir), local_files_only=True)
        out = run_trl(str(args.model_dir), tok, rows, precompute=args.worker == "trl-precompute", **hp)
        steps = out["step_seconds"]
        last = out["history"][-1]
    total = time.perf_counter() - t0
    print("RESULT " + json.dumps({
        "contender": args.worker, "step_seconds": steps, "total_seconds": total,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "last_row": {k: last[k] for k in ("loss", "logps/chosen", "logps/rejected")}}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["full", "lora"], default="full")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--personas", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=8, help="training pairs per persona")
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--model", default=None)
    ap.add_argument("--persona-dir", default=None)
    ap.add_argument("--contenders", default="dpomath,trl,trl-precompute")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each contender, interleaved")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("DPOMATH_THREADS") or 2))
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    model_dir, data, rows = prepare(args, work)
    n = len(rows)
    print(f"SmolLM2-135M-Instruct, {args.mode} fine-tuning, float32 CPU, {args.threads} threads; "
          f"{n} persona pairs, batch {args.batch_size}, {args.steps} updates, DPO beta 0.1, lr {args.lr:g}")
    load0 = os.getloadavg()
    results: dict[str, dict] = {}
    env = dict(os.environ, DPOMATH_THREADS=str(args.threads), TQDM_DISABLE="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for rnd in range(args.rounds):
        for c in args.contenders.split(","):
            cmd = [sys.executable, __file__, "--worker", c, "--model-dir", str(model_dir), "--data", str(data),
                   "--mode", args.mode, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
                   "--lr", str(args.lr), "--threads", str(args.threads)]
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")]
            if p.returncode or not line:
                print(f"{c}: failed\n{p.stderr[-3000:]}")
                continue
            r = json.loads(line[0][7:])
            agg = results.setdefault(c, {"steady": [], "e2e": [], "rss": [], "loss": r["last_row"]["loss"]})
            agg["steady"] += r["step_seconds"][1:] or r["step_seconds"]
            agg["e2e"].append(args.batch_size * len(r["step_seconds"]) / r["total_seconds"])
            agg["rss"].append(r["peak_rss_mb"])
            print(f"  round {rnd + 1} {c:15s} updates {', '.join(f'{x:.2f}' for x in r['step_seconds'])} s; "
                  f"end to end {r['total_seconds']:.1f} s; peak RSS {r['peak_rss_mb']:.0f} MB; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    load1 = os.getloadavg()
    print(f"\nload average (1 min) before {load0[0]:.2f}, after {load1[0]:.2f} on {os.cpu_count()} cores")
    print("pairs/s from the fastest update after the first of each run (robust to load spikes on a "
          "shared machine); the median in brackets")
    for c, a in results.items():
        a["best"] = args.batch_size / min(a["steady"])
        a["median"] = args.batch_size / statistics.median(a["steady"])
        a["e2e_best"] = max(a["e2e"])
        a["rss_mb"] = min(a["rss"])
        print(f"  {c:15s} {a['best']:7.3f} pairs/s ({a['median']:.3f}), end to end {a['e2e_best']:.3f} pairs/s, "
              f"peak RSS {a['rss_mb']:.0f} MB, last row loss {a['loss']:.6f}")
    if "dpomath" in results:
        d = results["dpomath"]
        for c, target in (("trl", 1.5), ("trl-precompute", 1.0)):
            if c in results:
                t = results[c]
                ratio = d["best"] / t["best"]
                mem = d["rss_mb"] / t["rss_mb"]
                print(f"dpomath / {c}: {ratio:.2f}x pairs/s (median {d['median'] / t['median']:.2f}x; target >= "
                      f"{target}x: {'met' if ratio >= target else 'NOT met'}), end to end "
                      f"{d['e2e_best'] / t['e2e_best']:.2f}x; peak RSS {mem:.2f}x "
                      f"({'no higher' if mem <= 1.0 else 'HIGHER'})")


if __name__ == "__main__":
    main()
