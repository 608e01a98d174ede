"""Training checkpoints: safetensors files and a manifest of their SHA-256 digests.

A checkpoint is a directory ``<out>/checkpoints/step-<N>/`` holding

* ``trainable.safetensors`` — the trained weights: every parameter in ``full`` mode, the
  adapter in ``lora`` mode, the head in ``last-layer`` mode;
* ``optimizer.safetensors`` — the optimizer's state tensors (``state.<i>.<name>``), its
  non-tensor state and parameter groups in the header's metadata;
* ``reference.safetensors`` — the cached reference log-probabilities (so a resumed run does
  not recompute them, and uses the very same numbers);
* ``rng.safetensors`` — torch's CPU (and CUDA) generator states;
* ``state.json`` — step, data position, configuration, history and evaluations so far;
* ``manifest.json`` — the SHA-256 of every file above.

Nothing is pickled. A checkpoint is written into a temporary directory and renamed into
place, so a killed run leaves either the old set of checkpoints or the new one. On loading,
every file's digest is checked against the manifest before anything is read; a checkpoint
whose manifest is missing or unreadable, or whose file is missing or has another digest, is
reported (:class:`CorruptCheckpoint`, naming the file) and not loaded.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

__all__ = ["CorruptCheckpoint", "save_checkpoint", "load_checkpoint", "list_checkpoints",
           "latest_valid", "verify"]

_FILES = ("trainable.safetensors", "optimizer.safetensors", "reference.safetensors",
          "rng.safetensors", "state.json")
FORMAT = "dpomath-train-checkpoint-1"


class CorruptCheckpoint(RuntimeError):
    """A checkpoint failed its integrity check (the message names the file)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _optimizer_tensors(opt) -> tuple[dict, dict]:
    """(tensors, metadata) of an optimizer's state dict, without pickling."""
    import torch

    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"state.{idx}.{name}"] = v.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(idx), {})[name] = v
    meta = {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars)}
    return tensors, meta


def _optimizer_state(tensors: dict, meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        _, idx, name = key.split(".", 2)
        state.setdefault(int(idx), {})[name] = v
    for idx, st in json.loads(meta["scalars"]).items():
        state.setdefault(int(idx), {}).update(st)
    return {"state": state, "param_groups": json.loads(meta["param_groups"])}


def _rng_tensors() -> dict:
    import torch

    out = {"torch.cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"torch.cuda.{i}"] = s
    return out


def _set_rng(tensors: dict) -> None:
    import torch

    torch.set_rng_state(tensors["torch.cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("torch.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[:torch.cuda.device_count()])


def save_checkpoint(root: str | os.PathLike, step: int, *, trainable: dict, optimizer,
                    reference: dict, state: dict, keep: int = 2) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically; keep the newest ``keep``
    checkpoints this function wrote there (older ``step-*`` directories are removed)."""
    from safetensors.torch import save_file

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".tmp-step-{step:08d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in trainable.items()},
                  str(tmp / "trainable.safetensors"), metadata={"format": FORMAT})
        opt_t, opt_meta = _optimizer_tensors(optimizer)
        save_file(opt_t, str(tmp / "optimizer.safetensors"), metadata={"format": FORMAT, **opt_meta})
        save_file({k: v.detach().contiguous().cpu() for k, v in reference.items()},
                  str(tmp / "reference.safetensors"), metadata={"format": FORMAT})
        save_file(_rng_tensors(), str(tmp / "rng.safetensors"), metadata={"format": FORMAT})
        (tmp / "state.json").write_text(json.dumps(dict(state, step=step), indent=1))
        manifest = {"format": FORMAT, "step": step,
                    "sha256": {name: _sha256(tmp / name) for name in _FILES}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    for old in list_checkpoints(root)[:-keep] if keep else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: str | os.PathLike) -> list[Path]:
    """Checkpoint directories under ``root``, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step-")
                  and p.name[5:].isdigit())


def verify(path: str | os.PathLike) -> dict:
    """The manifest of checkpoint ``path`` after checking every file's digest; raises
    :class:`CorruptCheckpoint` naming the first file that fails."""
    path = Path(path)
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        digests = manifest["sha256"]
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CorruptCheckpoint(f"{path / 'manifest.json'}: unreadable manifest ({e})") from None
    for name in _FILES:
        f = path / name
        if name not in digests:
            raise CorruptCheckpoint(f"{f}: not listed in the manifest")
        if not f.is_file():
            raise CorruptCheckpoint(f"{f}: missing")
        if _sha256(f) != digests[name]:
            raise CorruptCheckpoint(f"{f}: SHA-256 differs from the manifest (corrupted); not loaded")
    return manifest


def load_checkpoint(path: str | os.PathLike, *, optimizer=None, restore_rng: bool = True) -> dict:
    """Verify and read checkpoint ``path``: returns {"trainable", "reference", "state"};
    loads the optimizer state into ``optimizer`` and restores the RNG states."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    verify(path)
    trainable = load_file(str(path / "trainable.safetensors"))
    reference = load_file(str(path / "reference.safetensors"))
    state = json.loads((path / "state.json").read_text())
    if optimizer is not None:
        with safe_open(str(path / "optimizer.safetensors"), framework="pt") as f:
            meta = f.metadata()
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        optimizer.load_state_dict(_optimizer_state(tensors, meta))
    if restore_rng:
        _set_rng(load_file(str(path / "rng.safetensors")))
    return {"trainable": trainable, "reference": reference, "state": state}


def latest_valid(root: str | os.PathLike, warn=None) -> Path | None:
    """The newest checkpoint under ``root`` that passes :func:`verify`; each one that fails
    is reported through ``warn(message)`` and skipped. None when there is none."""
    for p in reversed(list_checkpoints(root)):
        try:
            verify(p)
            return p
        except CorruptCheckpoint as e:
            if warn is not None:
                warn(str(e))
    return None
