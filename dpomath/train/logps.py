"""Per-token log-probabilities of responses under a causal language model, in chunks.

For a prompt x and a response y = (y_1 … y_L), log π(y|x) = Σ_t log softmax(W h_t)_{y_t}, where
h_t is the final hidden state (after the final norm) at the position before y_t and W the
unembedding (|V| × d). :class:`TokenLogProbs` computes log softmax(W h)_y for M positions
without ever holding an M × |V| matrix: it runs over chunks of positions, keeps only the
log-partition per position for the backward, and recomputes each chunk's logits there, so
memory is O(chunk × |V|) (:func:`chunk_rows`). Only response positions are scored; the
prompt's positions never meet the |V|-wide head.

Two layouts of a batch (:class:`Batch`) of k prompts with R responses each (R = 2 for a
pair: chosen, rejected; R = 1 for unseen responses):

* ``prefix`` (default): the prompts run once, right-padded, with the key/value cache kept;
  the cache is repeated R times and the responses run after it, with the prompt padding
  masked and the position ids continuing each prompt's own length. A prompt shared by a
  chosen and a rejected response is computed once, in the forward and the backward pass —
  the same function of the weights as running prompt + response as one sequence, with
  fewer tokens.
* ``concat``: prompt + response as one right-padded sequence per response, as TRL does
  (the reference layout; used where the model's cache is not a plain dynamic cache).

:func:`check_layouts` compares both with the model's own full-logits forward on a few
examples before training, so an architecture whose backbone output is not what its head
reads, or whose cache the prefix layout cannot extend, is caught before any step is taken.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["TokenLogProbs", "token_logps", "chunk_rows", "Batch", "make_batch", "Scorer",
           "check_layouts", "head_of", "backbone_of"]

#: Logits held at once by the chunked head: 2**24 floats (64 MiB in float32).
CHUNK_ELEMENTS = 1 << 24


def chunk_rows(vocab: int, elements: int = CHUNK_ELEMENTS) -> int:
    """Positions per chunk so that a chunk's logits hold at most ``elements`` numbers."""
    return max(1, elements // max(1, int(vocab)))


def _acc(dtype):
    """Accumulation dtype: float64 for float64 inputs, float32 otherwise."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _logits(h, weight, bias, scale, softcap):
    """Chunk logits in float32 (float64 for float64 inputs; bf16/fp16 inputs multiply with a
    float32 output on a GPU)."""
    if h.dtype != weight.dtype:  # bf16-mixed: states from autocast, a float32 (trained) head
        h = h.to(weight.dtype)
    acc = _acc(h.dtype)
    if h.dtype in (torch.bfloat16, torch.float16) and h.is_cuda:
        try:
            z = torch.mm(h, weight.t(), out_dtype=torch.float32)
        except TypeError:  # older torch: no out_dtype
            z = (h @ weight.t()).float()
    else:
        z = (h @ weight.t()).to(acc)
    if bias is not None:
        z = z + bias.to(acc)
    if scale != 1.0:
        z = z * scale
    if softcap is not None:
        z = softcap * torch.tanh(z / softcap)
    return z


class TokenLogProbs(torch.autograd.Function):
    """log softmax(scale · W h + b)_y per position (float32), optionally soft-capped
    (z ↦ c tanh(z/c)), in chunks of positions; the backward recomputes each chunk's logits
    from the saved log-partition: ∂/∂z_v log p_y = [v = y] − p_v."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk, scale, softcap):
        M = hidden.shape[0]
        out = torch.empty(M, dtype=_acc(hidden.dtype), device=hidden.device)
        lse = torch.empty(M, dtype=_acc(hidden.dtype), device=hidden.device)
        for s in range(0, M, chunk):
            e = min(M, s + chunk)
            z = _logits(hidden[s:e], weight, bias, scale, softcap)
            lse[s:e] = torch.logsumexp(z, dim=1)
            out[s:e] = z.gather(1, targets[s:e, None]).squeeze(1) - lse[s:e]
        ctx.save_for_backward(hidden, weight, bias, targets, lse)
        ctx.chunk, ctx.scale, ctx.softcap = chunk, scale, softcap
        return out

    @staticmethod
    def backward(ctx, g):
        hidden, weight, bias, targets, lse = ctx.saved_tensors
        chunk, scale, softcap = ctx.chunk, ctx.scale, ctx.softcap
        need_h, need_w, need_b = ctx.needs_input_grad[0], ctx.needs_input_grad[1], (
            bias is not None and ctx.needs_input_grad[2])
        gh = torch.empty_like(hidden) if need_h else None
        acc = _acc(hidden.dtype)
        gw = torch.zeros(weight.shape, dtype=acc, device=weight.device) if need_w else None
        gb = torch.zeros(weight.shape[0], dtype=acc, device=weight.device) if need_b else None
        M = hidden.shape[0]
        g = g.to(acc)
        for s in range(0, M, chunk):
            e = min(M, s + chunk)
            z = _logits(hidden[s:e], weight, bias, scale, softcap)
            dz = torch.exp(z - lse[s:e, None]).mul_(-g[s:e, None])
            dz.scatter_add_(1, targets[s:e, None], g[s:e, None])
            if softcap is not None:
                dz.mul_(1 - (z / softcap) ** 2)
            if scale != 1.0:
                dz.mul_(scale)
            if need_h:
                gh[s:e] = (dz.to(weight.dtype) @ weight).to(hidden.dtype)
            if need_w:
                gw.addmm_(dz.t().to(acc), hidden[s:e].to(acc))
            if need_b:
                gb.add_(dz.sum(0))
        return (gh, None if gw is None else gw.to(weight.dtype),
                None if gb is None else gb.to(bias.dtype), None, None, None, None)


def token_logps(hidden, weight, targets, *, bias=None, chunk: int | None = None,
                scale: float = 1.0, softcap: float | None = None):
    """Per-position log-probabilities (M,) float32 of ``targets`` (M,) under
    softmax(scale · ``weight`` ``hidden`` + ``bias``), memory O(chunk × |V|).

    Parameters
    ----------
    hidden : Tensor (M, d)
    weight : Tensor (|V|, d)
    targets : LongTensor (M,)
    chunk : int, optional
        Positions per chunk (default :func:`chunk_rows`).

    Examples
    --------
    >>> import torch
    >>> h, W, y = torch.randn(5, 3), torch.randn(7, 3), torch.tensor([0, 1, 2, 3, 4])
    >>> ref = torch.log_softmax(h @ W.T, dim=1)[torch.arange(5), y]
    >>> bool(torch.allclose(token_logps(h, W, y, chunk=2), ref, atol=1e-6))
    True
    """
    if chunk is None:
        chunk = chunk_rows(weight.shape[0])
    return TokenLogProbs.apply(hidden, weight, bias, targets, int(chunk), float(scale), softcap)


# ---------------------------------------------------------------- model parts

def _unwrap(model):
    """The transformers causal LM inside a PEFT or DDP/FSDP wrapper."""
    m = model
    for _ in range(4):
        if hasattr(m, "get_base_model") and callable(m.get_base_model):
            m = m.get_base_model()
        elif hasattr(m, "module") and isinstance(m.module, torch.nn.Module):
            m = m.module
        else:
            break
    return m


def backbone_of(model):
    """The decoder stack that returns the final (normed) hidden states."""
    lm = _unwrap(model)
    return getattr(lm, lm.base_model_prefix)


def head_of(model):
    """(weight, bias, scale, softcap) of the model's unembedding, following the config's
    logit scaling and final soft-capping."""
    lm = _unwrap(model)
    head = lm.get_output_embeddings()
    cfg = lm.config.get_text_config() if hasattr(lm.config, "get_text_config") else lm.config
    scale = getattr(cfg, "logit_scale", None)
    if scale is None:
        scale = getattr(cfg, "output_multiplier", None)
    if scale is None and getattr(cfg, "logits_scaling", None) is not None:
        scale = 1.0 / cfg.logits_scaling
    softcap = getattr(cfg, "final_logit_softcapping", None)
    weight = head.weight
    full = getattr(weight, "full_tensor", None)  # FSDP2 shards parameters as DTensors
    if callable(full):
        weight = full()
    return weight, head.bias, 1.0 if scale is None else float(scale), softcap


def _cache_kw(module) -> str:
    """The name of the key/value cache argument (``cache`` from transformers 5.2x on,
    ``past_key_values`` before)."""
    import inspect

    params = inspect.signature(module.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _cache_of(out):
    c = out.get("cache") if hasattr(out, "get") else None
    return c if c is not None else out.past_key_values


# ---------------------------------------------------------------- batches

@dataclass
class Batch:
    """k prompts with R responses each, in both layouts' tensors.

    Sequences are numbered s = r·k + i (response r of prompt i: for pairs, the k chosen
    responses first, then the k rejected ones, TRL's order). ``targets`` lists every response
    token, sequence by sequence; ``seq`` gives each token's sequence and ``lengths`` each
    sequence's number of tokens."""

    k: int
    R: int
    prompt_ids: torch.Tensor       # (k, P) right-padded
    prompt_len: torch.Tensor       # (k,)
    resp_ids: torch.Tensor         # (R·k, C) right-padded response tokens
    resp_mask: torch.Tensor        # (R·k, C) bool
    targets: torch.Tensor          # (M,)
    seq: torch.Tensor              # (M,)
    lengths: torch.Tensor          # (R·k,)
    pad_id: int

    def to(self, device):
        for name in ("prompt_ids", "prompt_len", "resp_ids", "resp_mask", "targets", "seq", "lengths"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    @property
    def n_tokens_prefix(self) -> int:
        """Tokens the prefix layout runs (prompt positions padded, last response token not run)."""
        return int(self.prompt_ids.numel()) + int(self.resp_ids.shape[0] * max(0, self.resp_ids.shape[1] - 1))

    def sequence_sums(self, per_token):
        """Σ over each sequence's tokens: (R·k,) float32."""
        out = torch.zeros(self.R * self.k, dtype=per_token.dtype, device=per_token.device)
        return out.index_add_(0, self.seq, per_token)


def make_batch(prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[Sequence[int]]],
               pad_id: int) -> Batch:
    """A :class:`Batch` from k prompts and, for each response slot r, k response id lists
    (``responses[r][i]`` follows ``prompts[i]``)."""
    k, R = len(prompts), len(responses)
    P = max(len(p) for p in prompts)
    prompt_ids = torch.full((k, P), pad_id, dtype=torch.long)
    for i, p in enumerate(prompts):
        prompt_ids[i, :len(p)] = torch.tensor(p, dtype=torch.long)
    seqs = [responses[r][i] for r in range(R) for i in range(k)]
    C = max(len(x) for x in seqs)
    resp_ids = torch.full((R * k, C), pad_id, dtype=torch.long)
    resp_mask = torch.zeros((R * k, C), dtype=torch.bool)
    for s, x in enumerate(seqs):
        resp_ids[s, :len(x)] = torch.tensor(x, dtype=torch.long)
        resp_mask[s, :len(x)] = True
    lengths = resp_mask.sum(1)
    return Batch(k, R, prompt_ids, torch.tensor([len(p) for p in prompts]), resp_ids, resp_mask,
                 resp_ids[resp_mask], torch.arange(R * k).repeat_interleave(lengths), lengths, pad_id)


# ---------------------------------------------------------------- the scorer

class Scorer(torch.nn.Module):
    """Per-token log-probabilities of a :class:`Batch`'s response tokens (M,) float32 under
    ``model``, in the ``prefix`` or ``concat`` layout (module docstring). A module, so that
    DDP/FSDP wrappers see the forward pass that produces the loss."""

    def __init__(self, model, layout: str = "prefix", chunk: int | None = None):
        super().__init__()
        if layout not in ("prefix", "concat"):
            raise ValueError(f"layout: must be prefix or concat, got {layout!r}")
        self.model = model
        self.layout = layout
        self.chunk = chunk

    def hidden(self, b: Batch):
        """(M, d) final hidden states that predict the response tokens, in ``targets`` order."""
        if self.layout == "concat":
            return self._hidden_concat(b)
        return self._hidden_prefix(b)

    def forward(self, b: Batch):
        h = self.hidden(b)
        weight, bias, scale, softcap = head_of(self.model)
        return token_logps(h, weight, b.targets, bias=bias, chunk=self.chunk, scale=scale,
                           softcap=softcap)

    def _hidden_concat(self, b: Batch):
        k, n = b.k, b.R * b.k
        plen = b.prompt_len.tolist()
        lens = b.lengths.tolist()
        T = max(plen[s % k] + lens[s] for s in range(n))
        ids = torch.full((n, T), b.pad_id, dtype=torch.long, device=b.resp_ids.device)
        pred = torch.zeros((n, T), dtype=torch.bool, device=ids.device)
        for s in range(n):
            P, L = plen[s % k], lens[s]
            ids[s, :P] = b.prompt_ids[s % k, :P]
            ids[s, P:P + L] = b.resp_ids[s, :L]
            pred[s, P - 1:P + L - 1] = True                  # positions P-1 … P+L-2
        # right padding: causal attention keeps the pads out of every real position
        out = backbone_of(self.model)(input_ids=ids, use_cache=False)
        return out.last_hidden_state[pred]

    def _hidden_prefix(self, b: Batch):
        k, R = b.k, b.R
        bb = backbone_of(self.model)
        first = bb(input_ids=b.prompt_ids, use_cache=True)
        hp = first.last_hidden_state                          # (k, P, d)
        last = hp[torch.arange(k, device=hp.device), b.prompt_len - 1]   # (k, d)
        C = b.resp_ids.shape[1]
        if C == 1:  # one-token responses: every target is predicted by the prompt's last state
            H = last.repeat(R, 1)[:, None, :]
        else:
            cache = _cache_of(first)
            if any(type(layer).__name__ != "DynamicLayer" for layer in getattr(cache, "layers", [None])):
                raise RuntimeError("the prefix layout needs a plain dynamic key/value cache")
            cache.batch_repeat_interleave(R)                 # rows i·R + r
            P = b.prompt_ids.shape[1]
            # responses in the cache's row order (prompt-major), inputs = all but the last token
            order = torch.arange(R * k, device=hp.device).view(R, k).t().reshape(-1)  # row -> seq
            ids = b.resp_ids[order, :C - 1]
            rmask = b.resp_mask[order, :C - 1]
            pmask = (torch.arange(P, device=hp.device)[None, :] < b.prompt_len[:, None])
            attn = torch.cat([pmask.repeat_interleave(R, 0), rmask], dim=1).long()
            position_ids = b.prompt_len.repeat_interleave(R)[:, None] + torch.arange(C - 1, device=hp.device)
            second = bb(input_ids=ids, attention_mask=attn, position_ids=position_ids,
                        use_cache=True, **{_cache_kw(bb): cache})
            hr = second.last_hidden_state                     # (R·k, C-1, d), cache row order
            inv = torch.empty_like(order)
            inv[order] = torch.arange(R * k, device=hp.device)
            hr = hr[inv]                                      # back to sequence order
            H = torch.cat([last.repeat(R, 1)[:, None, :], hr], dim=1)   # (R·k, C, d)
        return H[b.resp_mask]


def _reference_logps(model, b: Batch):
    """(per-token log-probabilities from the model's own full-logits forward, in float64; the
    rounding its logits went through: 0 for float32/float64 logits, else the largest
    ``|z| · eps`` of the logits' dtype over the scored positions — a bound on the error rounding
    puts into log p_y = z_y − logsumexp z, each logit off by at most half a step |z| · eps / 2)."""
    lm = _unwrap(model)
    out, rounding = [], 0.0
    for s in range(b.R * b.k):
        i = s % b.k
        p = b.prompt_ids[i, :int(b.prompt_len[i])]
        r = b.resp_ids[s, :int(b.lengths[s])]
        ids = torch.cat([p, r])[None]
        raw = lm(input_ids=ids, use_cache=False).logits[0]
        logits = raw.double()[len(p) - 1:len(p) + len(r) - 1]
        if raw.dtype in (torch.bfloat16, torch.float16):
            rounding = max(rounding, float(logits.abs().max()) * torch.finfo(raw.dtype).eps)
        lp = torch.log_softmax(logits, dim=-1)
        out.append(lp.gather(1, r[:, None]).squeeze(1))
    return torch.cat(out), rounding


def check_layouts(model, b: Batch, *, rtol: float) -> dict[str, float]:
    """Largest |difference| / max(1, |log p|) of each layout's per-token log-probabilities
    against the model's own forward (logits → log_softmax), on batch ``b``; raises
    RuntimeError when the ``concat`` layout disagrees (the head does not read the backbone's
    last hidden state, e.g.), and reports the prefix layout's difference for the caller to
    decide.

    Where the model's own logits are bf16 or fp16 (a forward under autocast), they are coarser
    than the scorer's float32 logits: the ``concat`` check then allows ``rtol`` plus the
    rounding bound of :func:`_reference_logps` (``out["rounding"]``); a head that does not
    read the last hidden state differs by far more."""
    out = {}
    with torch.no_grad():
        ref, out["rounding"] = _reference_logps(model, b)
        for layout in ("concat", "prefix"):
            try:
                got = Scorer(model, layout)(b).double()
                out[layout] = float(((got - ref).abs() / ref.abs().clamp_min(1.0)).max())
            except Exception as e:  # noqa: BLE001 - a layout the model cannot run
                out[layout] = math.inf
                out[layout + "_error"] = f"{type(e).__name__}: {e}"
    allowed = rtol + out["rounding"]
    if not out["concat"] <= allowed:
        raise RuntimeError(f"the model's last hidden state is not what its head reads (per-token "
                           f"log-probability difference {out['concat']:.2g} > {allowed:.2g}); this "
                           f"model family is not supported")
    return out
