"""Why does ``bf16-mixed`` DPO learn less per update than float32? A CPU measurement.

On a GPU (docs/train.md, the device check) SmolLM2 fine-tuned for four updates at lr 1e-5 in
``bf16-mixed`` (float32 trained weights, forward and backward under bf16 autocast) reached a reward
margin of 0.057 where float32 reached 0.767. Two explanations were open: (H1) the forward pass sees
the weights rounded to bf16, so an Adam update smaller than half a bf16 step of a weight (relative
2^-9 ≈ 0.2 %) is invisible to the matmuls until updates accumulate past a rounding boundary; (H2)
bf16 noise in the gradient, amplified by Adam's first steps.

The measurement (plan and predictions fixed before the first run): the same data, seed and
hyperparameters as the device check's SmolLM2 section (two persona files, 4 pairs per update, 4
updates, full fine-tuning, sigmoid DPO β = 0.1, Adam), on the CPU (autocast exists there too), for
lr ∈ {10^-5.5 (paper I's), 1e-5, 1e-4} in float32 and in bf16-mixed. Reported per run: the reward
margin and loss of each update's batch (TRL's rows); and, over the matmul weights (every 2-D
parameter but the input embedding), the fraction of elements whose float32 value changed and the
fraction whose bf16 rounding changed (what an autocast matmul sees), with the median relative
change |W_T − W_0| / |W_0|. Baseline in the same run: the float32 run at the same lr (the printed
ratio is bf16-mixed's last margin over float32's).

H1 predicts: at lr 1e-5 and below, most changed elements are invisible in bf16 (visible fraction
well below the changed fraction) and the margin ratio is well below 1; at lr 1e-4 the visible
fraction and the ratio are much closer to float32's. H2 alone predicts no such dependence on lr.
The CPU's autocast is not CUDA's (its op lists differ), so agreement with the GPU's numbers is
a second question the output answers, not an assumption.

    DPOMATH_THREADS=1 python benchmarks/bf16_updates.py [--json FILE] [--lrs 3.16e-6,1e-5,1e-4]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from device_check import smollm2_pairs  # noqa: E402  (beside this script: the same data)


def visibility(initial: dict, trained) -> dict:
    """Over the matmul weights (2-D, not the input embedding): fraction of elements changed in
    float32, fraction whose bf16 rounding changed, median relative change of the changed ones."""
    import torch

    emb = trained.get_input_embeddings().weight
    changed = visible = total = 0
    rel = []
    for name, p in trained.named_parameters():
        if p.ndim != 2 or p is emb and trained.get_output_embeddings().weight is not emb:
            continue
        w0 = initial[name].float()
        wt = p.detach().float()
        d = wt != w0
        changed += int(d.sum())
        visible += int((wt.bfloat16() != w0.bfloat16()).sum())
        total += wt.numel()
        if d.any():
            r = ((wt - w0).abs() / w0.abs().clamp_min(1e-12))[d]
            rel.append(r[torch.randperm(r.numel(), generator=torch.Generator().manual_seed(0))[:20000]])
    med = float(torch.cat(rel).median()) if rel else 0.0
    return {"changed": changed / total, "visible_bf16": visible / total, "median_rel_change": med,
            "elements": total}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/bf16_updates.py")
    p.add_argument("--lrs", default="3.16e-6,1e-5,1e-4")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    import tempfile

    import torch

    from dpomath.train.engine import TrainConfig, train
    from dpomath.train.models import load_model, plain_model_dir, resolve_model, ModelSpec

    torch.set_num_threads(int(os.environ.get("DPOMATH_THREADS", "1")))
    lrs = [float(x) for x in a.lrs.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bf16-updates-"))
    pdir = os.environ.get("DPOMATH_PERSONA_DIR")
    data = smollm2_pairs(work, a.batch, Path(pdir) if pdir else None)
    spec = resolve_model(None)
    local = ModelSpec(spec.name, "local", str(plain_model_dir(spec)), identity=spec.identity)
    out = {"lrs": lrs, "steps": a.steps, "batch": a.batch, "runs": []}
    print(f"SmolLM2 full fine-tuning, {a.steps} updates of {a.batch} pairs, CPU, "
          f"threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}", flush=True)
    for lr in lrs:
        base = None
        for prec in ("float32", "bf16-mixed"):
            m, tok = load_model(local, "cpu", untie=False)
            initial = {k: v.detach().clone().to(torch.bfloat16 if prec == "bf16-mixed" else torch.float32)
                       for k, v in m.named_parameters()}
            cfg = TrainConfig(mode="full", loss="sigmoid", beta=0.1, lr=lr, steps=a.steps, batch_size=a.batch,
                              seed=0, log_every=a.steps, greedy_prompts=1, greedy_tokens=8, eval_pairs=8,
                              eval_unseen=4, device="cpu", precision=prec)
            t0 = time.perf_counter()
            res = train(m, data, cfg, tokenizer=tok)
            secs = time.perf_counter() - t0
            vis = visibility(initial, res.model)
            row = {"lr": lr, "precision": prec, "seconds": secs,
                   "margins": [r["rewards/margins"] for r in res.history],
                   "losses": [r["loss"] for r in res.history], **vis}
            if base is None:
                base = row
            else:
                row["margin_ratio_vs_float32"] = (row["margins"][-1] / base["margins"][-1]
                                                  if base["margins"][-1] else None)
            out["runs"].append(row)
            print(f"lr {lr:.3g} {prec:10s}: margins " + ", ".join(f"{x:+.4f}" for x in row["margins"])
                  + f"; changed {vis['changed']:.1%}, visible in bf16 {vis['visible_bf16']:.1%}, "
                  f"median |ΔW|/|W| {vis['median_rel_change']:.2e}"
                  + (f"; last margin / float32's {row['margin_ratio_vs_float32']:.3f}"
                     if row.get("margin_ratio_vs_float32") is not None else "")
                  + f" ({secs:.0f} s)", flush=True)
            del m, res
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
