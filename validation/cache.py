"""The on-disk feature cache: written incrementally, resumable, self-checking.

Layout under the cache root (``DPOMATH_CACHE_DIR``, default ``./.dpomath-cache``)::

    <model key>/model.json           model identity, compute dtype, d, |V|
    <model key>/answers.json         answer string -> token ids
    <model key>/head.npz             reference lm_head rows of the answer tokens
    <model key>/<template key>/<persona>-<file sha256[:16]>/chunk-<uuid>.npz

The model key hashes the model's identity (GGUF file digest, or config/tokenizer digests and
weight sizes) and the compute dtype; the template key hashes the prompt template; the persona
directory names the data file's digest. A chunk holds the 1-based file ``lines`` it covers,
their features (float32) and log-partitions (float64), and a SHA-256 ``digest`` of those
bytes. Chunks are written atomically (temporary file + ``os.replace``) after every extraction
batch, so a killed run loses at most the batch in flight; on reading, a chunk that fails to
load or whose digest, dtypes or shapes do not match is reported, deleted and recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["default_cache_root", "FeatureCache", "ChunkReport"]

_CHUNK_GLOB = "chunk-*.npz"


from dpomath.train.models import default_cache_root  # noqa: E402  (one definition)


def _key(text: str, n: int = 16) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:120]


def _digest(lines: np.ndarray, feat: np.ndarray, lse: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (lines, feat, lse):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.parent / f".tmp-{os.getpid()}-{uuid.uuid4().hex}{path.suffix}"
    tmp.write_bytes(data)
    os.replace(tmp, path)


@dataclass
class ChunkReport:
    """What reading a persona's chunks found."""

    chunks: int = 0
    records: int = 0
    corrupt: int = 0
    problems: list[str] | None = None


class FeatureCache:
    """Cache for one (model, compute dtype, template)."""

    def __init__(self, root: str | Path, model_identity: str, dtype: str, template: str):
        self.root = Path(root)
        self.model_dir = self.root / _key(f"{model_identity}|{dtype}")
        self.template_dir = self.model_dir / ("t-" + _key(template, 12))
        self.model_identity, self.dtype, self.template = model_identity, dtype, template

    # ------------------------------------------------------------ model-level files
    def _ensure(self) -> None:
        self.template_dir.mkdir(parents=True, exist_ok=True)
        tj = self.template_dir / "template.json"
        if not tj.exists():
            _atomic_write_bytes(tj, json.dumps({"template": self.template}).encode())

    def read_model_info(self) -> dict | None:
        try:
            return json.loads((self.model_dir / "model.json").read_text())
        except (OSError, ValueError):
            return None

    def write_model_info(self, d: int, vocab_size: int, description: str) -> None:
        self._ensure()
        info = {"identity": self.model_identity, "dtype": self.dtype, "d": int(d),
                "vocab_size": int(vocab_size), "model": description}
        _atomic_write_bytes(self.model_dir / "model.json", json.dumps(info, indent=1).encode())

    def read_answers(self) -> dict[str, list[int]]:
        try:
            doc = json.loads((self.model_dir / "answers.json").read_text())
            return {str(k): [int(t) for t in v] for k, v in doc.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def write_answers(self, answers: dict[str, list[int]]) -> None:
        self._ensure()
        merged = self.read_answers()
        merged.update(answers)
        _atomic_write_bytes(self.model_dir / "answers.json",
                            json.dumps(merged, indent=1, ensure_ascii=False).encode())

    def read_head_rows(self) -> dict[int, np.ndarray]:
        try:
            with np.load(self.model_dir / "head.npz") as z:
                ids, rows = z["ids"], z["rows"]
            if rows.ndim != 2 or len(ids) != len(rows):
                return {}
            return {int(i): rows[k] for k, i in enumerate(ids)}
        except Exception:  # noqa: BLE001 - unreadable -> recomputed from the model
            return {}

    def write_head_rows(self, rows: dict[int, np.ndarray]) -> None:
        self._ensure()
        merged = self.read_head_rows()
        merged.update({int(k): np.asarray(v, dtype=np.float32) for k, v in rows.items()})
        ids = np.array(sorted(merged), dtype=np.int64)
        import io

        buf = io.BytesIO()
        np.savez(buf, ids=ids, rows=np.stack([merged[int(i)] for i in ids]))
        _atomic_write_bytes(self.model_dir / "head.npz", buf.getvalue())

    # ------------------------------------------------------------ persona chunks
    def persona_dir(self, persona: str, sha256: str) -> Path:
        return self.template_dir / f"{_safe(persona)}-{sha256[:16]}"

    def write_chunk(self, persona: str, sha256: str, lines, feat, lse) -> Path:
        """Write one chunk atomically; returns its path."""
        self._ensure()
        d = self.persona_dir(persona, sha256)
        d.mkdir(parents=True, exist_ok=True)
        lines = np.asarray(lines, dtype=np.int64)
        feat = np.asarray(feat, dtype=np.float32)
        lse = np.asarray(lse, dtype=np.float64)
        import io

        buf = io.BytesIO()
        np.savez(buf, lines=lines, feat=feat, lse=lse, digest=np.array(_digest(lines, feat, lse)))
        path = d / f"chunk-{uuid.uuid4().hex}.npz"
        _atomic_write_bytes(path, buf.getvalue())
        return path

    def read_persona(self, persona: str, sha256: str, d: int | None,
                     wanted: set[int] | None = None, repair: bool = True
                     ) -> tuple[dict[int, tuple[np.ndarray, float]], ChunkReport]:
        """{line: (feature, lse)} from every valid chunk (only ``wanted`` lines if given).

        Invalid chunks are counted in the report and, with ``repair``, deleted (their lines
        are then missing and get recomputed).
        """
        out: dict[int, tuple[np.ndarray, float]] = {}
        rep = ChunkReport(problems=[])
        pdir = self.persona_dir(persona, sha256)
        if not pdir.is_dir():
            return out, rep
        for path in sorted(pdir.glob(_CHUNK_GLOB)):
            try:
                with np.load(path, allow_pickle=False) as z:
                    lines, feat, lse, dig = z["lines"], z["feat"], z["lse"], str(z["digest"])
                ok = (lines.ndim == 1 and feat.ndim == 2 and lse.shape == lines.shape
                      and feat.shape[0] == len(lines) and (d is None or feat.shape[1] == d)
                      and lines.dtype == np.int64 and feat.dtype == np.float32
                      and lse.dtype == np.float64 and dig == _digest(lines, feat, lse)
                      and np.all(np.isfinite(feat)) and np.all(np.isfinite(lse)))
                problem = None if ok else "digest, dtype or shape mismatch"
            except FileNotFoundError:
                continue  # removed by a concurrent compaction
            except Exception as e:  # noqa: BLE001 - any unreadable file is corrupt
                problem = f"{type(e).__name__}: {e}"
            if problem is not None:
                rep.corrupt += 1
                rep.problems.append(f"{path.name}: {problem}")
                if repair:
                    try:
                        path.unlink()
                    except OSError:
                        pass
                continue
            rep.chunks += 1
            for k, ln in enumerate(lines.tolist()):
                if (wanted is None or ln in wanted) and ln not in out:
                    out[ln] = (feat[k], float(lse[k]))
        rep.records = len(out)
        return out, rep

    def compact(self, persona: str, sha256: str, d: int, min_chunks: int = 8) -> None:
        """Merge a persona's chunks into one when there are at least ``min_chunks`` (fewer
        files to open on warm runs). Safe to interrupt: the merged chunk is written before
        the parts are removed, and duplicates are ignored on reading."""
        pdir = self.persona_dir(persona, sha256)
        parts = sorted(pdir.glob(_CHUNK_GLOB)) if pdir.is_dir() else []
        if len(parts) < min_chunks:
            return
        data, rep = self.read_persona(persona, sha256, d, repair=False)
        if rep.corrupt or not data:
            return
        lines = np.array(sorted(data), dtype=np.int64)
        self.write_chunk(persona, sha256, lines, np.stack([data[l][0] for l in lines]),
                         np.array([data[l][1] for l in lines]))
        for p in parts:
            try:
                p.unlink()
            except OSError:
                pass

    def clean_temporaries(self, older_than_s: float = 600.0) -> None:
        """Remove temporary files left by killed writers."""
        if not self.template_dir.is_dir():
            return
        now = time.time()
        for p in self.model_dir.rglob(".tmp-*"):
            try:
                if now - p.stat().st_mtime > older_than_s:
                    p.unlink()
            except OSError:
                pass
