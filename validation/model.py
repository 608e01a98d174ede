"""Language models for the validation: resolving a model name, loading it offline, and
extracting the feature paper I trains on.

Feature (paper I, Section 3): g(x) ∈ R^d, the final hidden state *after the final norm* at the
last prompt token — exactly the vector ``lm_head`` multiplies, so that the policy is
πθ(·|x) = softmax(W g(x)) with W = ``lm_head.weight`` (|V| × d). Extraction also records, per
prompt, the log-partition of the reference head, ``lse = logsumexp_v W0_v · g`` (float64, from
the stored float32 feature), so that training can report exact full-softmax log-probabilities
without touching the |V| × d head again.

Resolving and loading models (the default SmolLM2-135M-Instruct GGUF, any local path or hub
name, offline) is the library's :mod:`dpomath.train.models`, re-exported here.

torch and transformers are imported inside functions only.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dpomath._torch import num_threads

__all__ = ["DEFAULT_MODEL", "ModelSpec", "resolve_model", "default_gguf", "resolve_device",
           "compute_dtype", "load_model", "untie_head", "answer_token_ids", "extract_features",
           "check_head_input", "ModelUnavailable", "cpu_threads", "converted_dir"]

# One definition of model resolution and loading, in the library (data flows one way).
from dpomath.train.models import (DEFAULT_MODEL, ModelSpec, ModelUnavailable,  # noqa: E402,F401
                                  compute_dtype, converted_dir, cpu_threads, default_gguf,
                                  load_model, resolve_device, resolve_model, untie_head)


def answer_token_ids(tokenizer, answers: Sequence[str]) -> dict[str, list[int]]:
    """Token ids of each answer string on its own (no special tokens)."""
    return {a: list(tokenizer(a, add_special_tokens=False).input_ids) for a in answers}


def head_weight(model):
    """The (|V|, d) unembedding matrix W0 as a float32 CPU tensor."""
    return model.get_output_embeddings().weight.detach().float().cpu()


def _final_hidden(model, input_ids, attention_mask):
    """Last-layer hidden states of the base model (after its final norm for the decoder
    families transformers ships; :func:`check_head_input` verifies it per model)."""
    base = getattr(model, model.base_model_prefix, None) or model.get_decoder()
    out = base(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    return out.last_hidden_state


def check_head_input(model, tokenizer, prompt: str, device: str) -> float:
    """Max relative difference between ``lm_head(feature)`` and the model's own logits at the
    last prompt token. Raises when the base model's output is not what ``lm_head`` sees (e.g.
    a model family whose final norm sits outside the base model)."""
    import torch

    enc = tokenizer([prompt], return_tensors="pt")
    ids, mask = enc.input_ids.to(device), enc.attention_mask.to(device)
    with torch.inference_mode():
        h = _final_hidden(model, ids, mask)[:, -1]
        mine = model.get_output_embeddings()(h).float()
        ref = model(input_ids=ids, attention_mask=mask, use_cache=False).logits[:, -1].float()
    rel = float((mine - ref).abs().max() / ref.abs().max().clamp_min(1e-30))
    tol = 2e-2 if h.dtype == torch.bfloat16 else 1e-4
    if not rel <= tol:
        raise RuntimeError(f"the base model's last hidden state is not lm_head's input for this "
                           f"model (relative logit difference {rel:.2g} > {tol:g}); feature "
                           f"extraction does not support it")
    return rel


@dataclass
class Batch:
    """One length-sorted batch: ``rows`` index the prompts given to :func:`plan_batches`."""

    rows: np.ndarray
    n_tokens: np.ndarray


def plan_batches(lengths: Sequence[int], batch_size: int) -> list[Batch]:
    """Batches of prompts sorted by token length (stable), so padding stays small."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    return [Batch(order[s:s + batch_size], lengths[order[s:s + batch_size]])
            for s in range(0, len(order), batch_size)]


def encode_prompts(tokenizer, prompts: Sequence[str]) -> list[list[int]]:
    return [list(ids) for ids in tokenizer(list(prompts), add_special_tokens=True).input_ids]


@dataclass
class ExtractStats:
    """Work done by an extraction (for statements/s and achieved GFLOP/s)."""

    statements: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    seconds: float = 0.0
    flops: float = 0.0
    batches: int = 0

    def add(self, other: "ExtractStats") -> None:
        for k in ("statements", "real_tokens", "padded_tokens", "seconds", "flops", "batches"):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def to_dict(self) -> dict:
        s = max(self.seconds, 1e-12)
        return {"statements": self.statements, "seconds": self.seconds,
                "statements_per_s": self.statements / s, "gflops_per_s": self.flops / s / 1e9,
                "real_tokens": self.real_tokens, "padded_tokens": self.padded_tokens}


def model_flops(model, n_tokens: np.ndarray) -> float:
    """Useful FLOPs of one forward pass over prompts of the given lengths, last-token head
    included: 2 · (decoder linear-layer weights) per real token, 4 · n_layers · T² · d for the
    attention scores and values of a length-T prompt, 2 · d · |V| for the head at the last
    token, 2 · d · |V| again for the float64 log-partition. Padding is not counted."""
    import torch

    info = getattr(model, "_dpomath_flop_info", None)
    if info is None:
        head = model.get_output_embeddings()
        lin = 0
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.Linear) and mod is not head:
                lin += mod.weight.numel()
        cfg = model.config
        info = (lin, int(getattr(cfg, "num_hidden_layers", 0)), int(cfg.hidden_size),
                int(head.weight.shape[0]))
        model._dpomath_flop_info = info
    lin, n_layers, d, vocab = info
    t = np.asarray(n_tokens, dtype=np.float64)
    return float(2.0 * lin * t.sum() + 4.0 * n_layers * d * (t ** 2).sum() + 4.0 * d * vocab * len(t))


def run_batch(model, batch_ids: list[list[int]], pad_id: int, device: str, W64=None):
    """Features (B, d) float32 and log-partitions (B,) float64 of one batch of token-id lists
    (the last real token's final hidden state).

    Right padding and no attention mask: in a causal decoder a position attends only to
    itself and earlier ones, so the pads after a prompt's last token cannot reach it, and the
    positions are those of the unpadded prompt. This lets attention take its causal fast
    path; the features are bitwise equal to the masked computation's (checked in the tests
    against one-prompt batches)."""
    import torch

    lens = torch.tensor([len(x) for x in batch_ids])
    T = int(lens.max())
    ids = torch.full((len(batch_ids), T), pad_id, dtype=torch.long)
    for r, x in enumerate(batch_ids):
        ids[r, :len(x)] = torch.tensor(x, dtype=torch.long)
    with torch.inference_mode():
        h = _final_hidden(model, ids.to(device), None)
        last = h[torch.arange(len(batch_ids), device=h.device), (lens - 1).to(h.device)]
        feat = last.float()
        if W64 is None:
            W64 = model.get_output_embeddings().weight.detach().to(feat.device, torch.float64)
        lse = torch.logsumexp(feat.double() @ W64.T, dim=1)
    return feat.cpu().numpy(), lse.cpu().numpy()


def extract_features(model, tokenizer, prompts: Sequence[str], *, device: str = "cpu",
                     batch_size: int = 32, desc: str = "features", on_batch=None
                     ) -> tuple[np.ndarray, np.ndarray, ExtractStats]:
    """Features (n, d) float32 and log-partitions (n,) float64 for ``prompts``, in their order.

    Length-sorted batches with a progress bar; ``on_batch(rows, feat, lse)`` is called after
    each batch (the disk cache writes there, so an interrupted run keeps what it finished).
    """
    import torch

    from dpomath.verify.progress import progress

    enc = encode_prompts(tokenizer, prompts)
    d = int(model.config.hidden_size)
    feats = np.full((len(prompts), d), np.nan, dtype=np.float32)
    lses = np.full(len(prompts), np.nan, dtype=np.float64)
    stats = ExtractStats()
    if not prompts:
        return feats, lses, stats
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    first_param = next(model.parameters())
    W64 = model.get_output_embeddings().weight.detach().to(first_param.device, torch.float64)
    batches = plan_batches([len(e) for e in enc], batch_size)
    on_cpu = first_param.device.type == "cpu"
    with num_threads(cpu_threads() if on_cpu else torch.get_num_threads()):
        for b in progress(batches, desc=desc, total=len(batches)):
            t0 = time.perf_counter()
            f, l = run_batch(model, [enc[i] for i in b.rows], pad, str(first_param.device), W64)
            dt = time.perf_counter() - t0
            feats[b.rows], lses[b.rows] = f, l
            stats.add(ExtractStats(len(b.rows), int(b.n_tokens.sum()), int(b.n_tokens.max()) * len(b.rows),
                                   dt, model_flops(model, b.n_tokens), 1))
            if on_batch is not None:
                on_batch(b.rows, f, l)
    return feats, lses, stats
