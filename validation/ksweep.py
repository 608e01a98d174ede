"""The K sweep of paper I's last-layer experiment (Figure 5, Tables 1–2), shared by the six
validation claims (:mod:`dpomath.validation.claims`) and ``dpomath validate``
(:mod:`dpomath.validation.command`).

For each K: the K personas' statements (per-persona 90/10 split, seeded) are pooled, the
response-token rows of the unembedding are trained with DPO on the cached features (Adam,
lr 1e-3, 100 full-batch steps, β = 0.01 by default), and the per-step metrics are kept. One
sweep per configuration and process: the claims share it (:func:`get_sweep`).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from dpomath import _args
from dpomath._args import BadValue

from .data import (DEFAULT_TEMPLATE, PAPER_KS, PAPER_SEED, DataWarning, PersonaFile, Selection,
                   bad_records_summary, list_personas, persona_dir_from_env,
                   read_persona_file, select_personas, split_indices, sweep_arguments)

__all__ = ["SweepConfig", "KRun", "Sweep", "run_sweep", "train_all", "get_sweep", "make_config",
           "persona_dir_from_env", "growth_rate", "QUICK", "FULL"]

#: The claims' configurations: quick (CI, ``verify --quick``) and full (``dpomath report``).
#: Full caps each persona at 200 statements: the paper's sets for K = 1..16 hold 28 distinct
#: personas, so a cold run extracts 5,600 prompts (about 3 minutes on 2 CPU cores at ~30
#: prompts/s); the uncapped run is ``dpomath validate`` without ``--per-persona``.
QUICK = {"Ks": (1, 2, 4), "per_persona": 40}
FULL = {"Ks": PAPER_KS, "per_persona": 200}


@dataclass(frozen=True)
class SweepConfig:
    model: str | None = None
    persona_dir: str = ""
    Ks: tuple[int, ...] = PAPER_KS
    per_persona: int | None = None
    device: str = "auto"
    seed: int = 0
    nested: bool = False
    template: str = DEFAULT_TEMPLATE
    beta: float = 0.01
    lr: float = 1e-3
    steps: int = 100
    optimizer: str = "adam"
    cache_dir: str | None = None
    selection_seed: int = PAPER_SEED
    batch_size: int | None = None


@dataclass
class KRun:
    K: int
    personas: tuple[str, ...]
    n_train: int
    n_test: int
    result: Any                      # train.TrainResult
    train_rate: float
    test_rate: float
    train_rate_se: float
    test_rate_se: float

    def row(self) -> dict:
        r = self.result
        return {"K": self.K, "personas": len(self.personas), "n_train": self.n_train,
                "n_test": self.n_test,
                "train_margin": r.final("train", "rewards/margins"),
                "test_margin": r.final("test", "rewards/margins"),
                "train_rate": self.train_rate, "test_rate": self.test_rate,
                "train_acc": r.final("train", "rewards/accuracies"),
                "test_error": r.final("test", "error"),
                "train_loss": r.final("train", "loss"), "test_loss": r.final("test", "loss")}


@dataclass
class Sweep:
    config: SweepConfig
    selection: Selection
    files: dict[str, PersonaFile]
    bank: Any                         # features.FeatureBank
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    runs: dict[int, KRun] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def table(self) -> list[dict]:
        return [self.runs[k].row() for k in sorted(self.runs)]

    def split_data(self, personas: Sequence[str], which: str):
        """A :class:`~dpomath.validation.train.PreferenceSplit` pooling ``which`` ("train" or
        "test") statements of ``personas``; ``group`` is the persona's index."""
        from .train import PreferenceSplit

        parts = []
        for gi, p in enumerate(personas):
            pf = self.bank.personas[p]
            idx = self.splits[p][0 if which == "train" else 1]
            parts.append((pf.feats[idx], pf.chosen[idx], pf.rejected[idx], pf.lse[idx],
                          np.full(len(idx), gi)))
        cat = [np.concatenate([p[i] for p in parts]) for i in range(5)]
        return PreferenceSplit(cat[0].astype(np.float64), cat[1], cat[2], cat[3], cat[4])

    def data_report(self) -> dict:
        rejected = [str(b) for f in self.files.values() for b in f.rejected]
        return {"personas_read": len(self.files),
                "kept": sum(len(f.statements) for f in self.files.values()),
                "rejected": len(rejected), "blank_lines": sum(f.blank_lines for f in self.files.values()),
                "capped": sum(f.limited for f in self.files.values()),
                "bad_records": rejected[:20],
                "answers": {a: len(t) for a, t in self.bank.answers.items()},
                "single_token_answers": not self.bank.multi_token_answers,
                "multi_token_answers": list(self.bank.multi_token_answers),
                "cached_records": self.bank.cached_records,
                "extracted_records": self.bank.extracted_records,
                "corrupt_chunks_rebuilt": self.bank.corrupt_chunks,
                "model_loaded": self.bank.model_loaded}


def growth_rate(margins: np.ndarray, steps: np.ndarray | None = None) -> tuple[float, float]:
    """Growth rate of the mean margin per step and its standard error.

    ``margins`` is (steps + 1, N). The rate is the least-squares slope of the mean margin
    against the step; it equals the mean of the per-pair slopes, so its standard error is
    their standard deviation / √N (sampling over pairs, the trained head held fixed)."""
    T, N = margins.shape
    t = np.arange(T, dtype=np.float64) if steps is None else np.asarray(steps, dtype=np.float64)
    tc = t - t.mean()
    slopes = tc @ (margins - margins.mean(axis=0)) / (tc @ tc)   # (N,) per-pair slopes
    se = float(slopes.std(ddof=1) / np.sqrt(N)) if N > 1 else float("nan")
    return float(slopes.mean()), se


_SWEEPS: dict[SweepConfig, Sweep] = {}


def run_sweep(config: SweepConfig, *, loader=None, progress_desc: str = "K sweep") -> Sweep:
    """Read, select, extract (or read cached) features and train one run per K."""
    from .features import build_feature_bank
    from .model import resolve_device, resolve_model

    t0 = time.perf_counter()
    pdir = Path(config.persona_dir)
    available = list_personas(pdir)
    sel = select_personas(available, config.Ks, nested=config.nested, seed=config.selection_seed)
    files = {p: read_persona_file(pdir / f"{p}.jsonl", limit=config.per_persona) for p in sel.personas}
    summary = bad_records_summary(files.values())
    if summary:  # on stderr as well as in data_report()["bad_records"]
        warnings.warn(summary + "; see data.bad_records of `dpomath validate --json`",
                      DataWarning, stacklevel=2)
    empty = [p for p, f in files.items() if not f.statements]
    if empty:
        raise BadValue(f"persona_dir: no valid statements in {', '.join(empty)} "
                       f"({'; '.join(str(b) for p in empty for b in files[p].rejected[:3])})")
    t_read = time.perf_counter()
    spec = resolve_model(config.model)
    device = resolve_device(config.device)
    bank = build_feature_bank(spec, list(files.values()), template=config.template, device=device,
                              cache_root=config.cache_dir, batch_size=config.batch_size, loader=loader)
    t_feat = time.perf_counter()
    splits = {p: split_indices(len(bank.personas[p]), p, config.seed) for p in bank.personas}
    sweep = Sweep(config, sel, files, bank, splits)
    train_all(sweep, progress_desc)
    t_end = time.perf_counter()
    sweep.seconds = {"read": t_read - t0, "features": t_feat - t_read, "train": t_end - t_feat,
                     "total": t_end - t0}
    return sweep


def train_all(sweep: Sweep, progress_desc: str = "K sweep") -> Sweep:
    """Train one last-layer DPO run per K of ``sweep.selection`` on ``sweep.bank``'s features."""
    from .train import TrainConfig, train_rows
    from dpomath.verify.progress import progress

    c = sweep.config
    tc = TrainConfig(beta=c.beta, lr=c.lr, steps=c.steps, optimizer=c.optimizer, record_margins=True)
    for K in progress(sorted(sweep.selection.sets), desc=progress_desc):
        ps = sweep.selection.sets[K]
        tr, te = sweep.split_data(ps, "train"), sweep.split_data(ps, "test")
        res = train_rows(sweep.bank.head_rows, tr, te, tc)
        r_tr, se_tr = growth_rate(res.margins["train"], res.steps_logged)
        r_te, se_te = growth_rate(res.margins["test"], res.steps_logged)
        sweep.runs[K] = KRun(K, ps, len(tr), len(te), res, r_tr, r_te, se_tr, se_te)
    return sweep


def get_sweep(config: SweepConfig, **kw) -> Sweep:
    """:func:`run_sweep`, memoised per configuration in this process (the claims share one)."""
    if config not in _SWEEPS:
        _SWEEPS[config] = run_sweep(config, **kw)
    return _SWEEPS[config]


def make_config(*, model=None, persona_dir=None, Ks: Iterable[int] = PAPER_KS,
                per_persona: int | None = None, device: str = "auto", seed: int = 0,
                nested: bool = False, template: str = DEFAULT_TEMPLATE, beta: float = 0.01,
                lr: float = 1e-3, steps: int = 100, optimizer: str = "adam", cache_dir=None,
                selection_seed: int = PAPER_SEED, batch_size: int | None = None) -> SweepConfig:
    """A checked :class:`SweepConfig` (persona_dir falls back to ``$DPOMATH_PERSONA_DIR``)."""
    pdir, Ks = sweep_arguments(persona_dir, Ks)
    if per_persona is not None:
        per_persona = _args.integer("per_persona", per_persona, lo=2)
    _args.choice("device", device, ("auto", "cpu", "cuda"))
    if batch_size is not None:
        batch_size = _args.integer("batch_size", batch_size, lo=1)
    return SweepConfig(None if model is None else str(model), str(pdir.resolve()), Ks, per_persona,
                       device, _args.integer("seed", seed, lo=0), bool(nested), template,
                       _args.positive("beta", beta), _args.positive("lr", lr),
                       _args.integer("steps", steps, lo=1), _args.choice("optimizer", optimizer, ("adam", "gd")),
                       None if cache_dir is None else str(Path(cache_dir).resolve()),
                       _args.integer("selection_seed", selection_seed, lo=0), batch_size)
