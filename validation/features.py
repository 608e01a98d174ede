"""Features of persona statements, from the disk cache or extracted on demand.

:func:`build_feature_bank` gives, for each persona file, the feature g(x) (float32, after the
final norm at the last prompt token), the reference log-partition, and the chosen/rejected
response token ids of every kept statement, plus the reference ``lm_head`` rows of the
response tokens. When everything is cached, no model is loaded at all.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dpomath._args import BadValue

from .cache import FeatureCache, default_cache_root
from .data import PersonaFile, check_template, render_prompt
from .model import ExtractStats, ModelSpec, compute_dtype

__all__ = ["PersonaFeatures", "FeatureBank", "build_feature_bank", "ModelLoader"]


@dataclass
class PersonaFeatures:
    """Features of one persona's kept statements, in file order."""

    name: str
    lines: np.ndarray          # (n,) 1-based file lines
    feats: np.ndarray          # (n, d) float32
    lse: np.ndarray            # (n,) float64 log-partition of the reference head
    chosen: np.ndarray         # (n,) int64 token id
    rejected: np.ndarray       # (n,) int64 token id
    chosen_text: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class FeatureBank:
    model: ModelSpec
    dtype: str
    d: int
    vocab_size: int
    personas: dict[str, PersonaFeatures]
    head_rows: dict[int, np.ndarray]               # token id -> W0 row (float32)
    answers: dict[str, list[int]]                  # answer string -> token ids
    multi_token_answers: list[str]                 # answers that are not a single token
    cached_records: int = 0
    extracted_records: int = 0
    corrupt_chunks: int = 0
    cache_problems: list[str] = field(default_factory=list)
    stats: ExtractStats = field(default_factory=ExtractStats)
    seconds: float = 0.0
    model_loaded: bool = False


class ModelLoader:
    """Loads (model, tokenizer) on first use only; a process-wide memo shares a loaded model
    between runs (tests inject one with :meth:`preload`)."""

    _memo: dict[tuple[str, str], tuple] = {}

    def __init__(self, spec: ModelSpec, device: str, device_map: str | None = None,
                 cache_root=None):
        self.spec, self.device, self.device_map = spec, device, device_map
        self.cache_root = cache_root
        self.loaded = False

    @classmethod
    def preload(cls, spec: ModelSpec, device: str, model, tokenizer) -> None:
        cls._memo[(spec.identity, device)] = (model, tokenizer)

    @classmethod
    def forget(cls) -> None:
        cls._memo.clear()

    def get(self):
        key = (self.spec.identity, self.device)
        if key not in self._memo:
            from dpomath.verify.progress import stage

            from .model import load_model

            with stage(f"loading {self.spec.name}"):
                self._memo[key] = load_model(self.spec, self.device, self.device_map, self.cache_root)
        self.loaded = True
        return self._memo[key]


def build_feature_bank(spec: ModelSpec, files: Sequence[PersonaFile], *, template: str,
                       device: str = "cpu", cache_root=None, batch_size: int | None = None,
                       shard: tuple[int, int] = (0, 1), device_map: str | None = None,
                       loader: ModelLoader | None = None) -> FeatureBank:
    """Features for every kept statement of ``files``: read from the cache, the rest extracted
    (batched, length-sorted, written to the cache after every batch) and then read back.

    ``shard=(rank, world)`` (data-parallel extraction, :mod:`dpomath.validation.extract`): this
    process extracts only the statements whose file line ≡ rank (mod world) — a split that does
    not depend on what is cached, so processes need no coordination; the returned bank then
    holds only what is cached so far.
    """
    t_start = time.perf_counter()
    template = check_template(template)
    dtype = compute_dtype(device)
    root = cache_root if cache_root is not None else default_cache_root()
    cache = FeatureCache(root, spec.identity, dtype, template)
    loader = loader or ModelLoader(spec, device, device_map, root)
    rank, world = shard
    if world == 1:
        cache.clean_temporaries()

    info = cache.read_model_info()
    answers = cache.read_answers()
    head_rows = cache.read_head_rows()
    needed_answers = sorted({s.chosen for f in files for s in f.statements}
                            | {s.rejected for f in files for s in f.statements})

    def model_tok():
        return loader.get()

    # model facts and answer tokens (from the cache when present)
    if info is None or any(a not in answers for a in needed_answers):
        from .model import answer_token_ids, head_weight

        model, tok = model_tok()
        W = head_weight(model)
        cache.write_model_info(int(model.config.hidden_size), int(W.shape[0]), spec.describe())
        info = cache.read_model_info()
        new = answer_token_ids(tok, [a for a in needed_answers if a not in answers])
        for a, ids in new.items():
            if not ids:
                raise BadValue(f"persona data: answer {a!r} tokenizes to nothing")
        answers.update(new)
        cache.write_answers(new)
        need_rows = {ids[0] for ids in answers.values() if ids} - set(head_rows)
        if need_rows:
            rows = {t: W[t].numpy().copy() for t in need_rows}
            cache.write_head_rows(rows)
            head_rows.update(rows)
    d, vocab = int(info["d"]), int(info["vocab_size"])
    need_rows = {answers[a][0] for a in needed_answers} - set(head_rows)
    if need_rows:
        from .model import head_weight

        W = head_weight(model_tok()[0])
        rows = {t: W[t].numpy().copy() for t in need_rows}
        cache.write_head_rows(rows)
        head_rows.update(rows)
    multi = [a for a in needed_answers if len(answers[a]) != 1]

    bank = FeatureBank(spec, dtype, d, vocab, {}, head_rows, {a: answers[a] for a in needed_answers},
                       multi)
    from dpomath.verify.progress import progress

    for f in progress(files, desc="personas", label=lambda f: f.name):
        wanted = {s.line for s in f.statements}
        have, rep = cache.read_persona(f.name, f.sha256, d, wanted)
        bank.corrupt_chunks += rep.corrupt
        bank.cache_problems += [f"{f.name}: {p}" for p in rep.problems or []]
        missing = [s for s in f.statements if s.line not in have]
        bank.cached_records += len(f.statements) - len(missing)
        missing = [s for s in missing if s.line % world == rank]
        if missing:
            from .model import check_head_input, extract_features

            model, tok = model_tok()
            if not getattr(model, "_dpomath_head_checked", False):
                check_head_input(model, tok, render_prompt(template, missing[0]), device)
                model._dpomath_head_checked = True
            prompts = [render_prompt(template, s) for s in missing]
            miss_lines = np.array([s.line for s in missing], dtype=np.int64)

            def write(rows, feat, lse, _f=f, _lines=miss_lines):
                cache.write_chunk(_f.name, _f.sha256, _lines[rows], feat, lse)

            bs = batch_size or (64 if device.startswith("cuda") else 32)
            _, _, st = extract_features(model, tok, prompts, device=device, batch_size=bs,
                                        desc=f"features {f.name[:40]}", on_batch=write)
            bank.stats.add(st)
            bank.extracted_records += st.statements
            if world == 1:
                cache.compact(f.name, f.sha256, d)
            have, rep2 = cache.read_persona(f.name, f.sha256, d, wanted)
            bank.corrupt_chunks += rep2.corrupt
        if world == 1 and len(have) != len(wanted):
            raise RuntimeError(f"feature cache for {f.name}: {len(wanted) - len(have)} records "
                               f"missing after extraction")
        kept = [s for s in f.statements if s.line in have]
        if not kept:
            continue
        bank.personas[f.name] = PersonaFeatures(
            f.name, np.array([s.line for s in kept], dtype=np.int64),
            np.stack([have[s.line][0] for s in kept]).astype(np.float32, copy=False),
            np.array([have[s.line][1] for s in kept], dtype=np.float64),
            np.array([answers[s.chosen][0] for s in kept], dtype=np.int64),
            np.array([answers[s.rejected][0] for s in kept], dtype=np.int64),
            [s.chosen for s in kept])
        same = bank.personas[f.name].chosen == bank.personas[f.name].rejected
        if np.any(same):
            s = kept[int(np.argmax(same))]
            raise BadValue(f"persona data: {f.name} line {s.line}: chosen {s.chosen!r} and "
                           f"rejected {s.rejected!r} start with the same token")
    bank.model_loaded = loader.loaded
    bank.seconds = time.perf_counter() - t_start
    return bank
