"""Paper I's K sweep in its own fine-tuning setting (claim I-EMP-FT): DPO on the persona Yes/No
data as paper I's ``DPO_training.py`` does it, one run per K, with the training engine
(:mod:`dpomath.train.engine`).

The protocol (paper I's code, github.com/shawn-im/dpo-diverse, ``DPO_training.py`` and
``plot_log_data.py``): the persona sets of :func:`dpomath.validation.data.select_personas`
(``random.seed(1234)``, ``random.sample(range(135), K)`` for K = 1, 2, 4, 8, 16 — the same sets
its plotting script reads); for each persona in set order, its records as (prompt = question +
"\\n", chosen = ``answer_matching_behavior``, rejected = ``answer_not_matching_behavior``),
shuffled by one ``random.Random(1234)`` stream continued across the personas, the first
``int(0.9 n)`` for training and the rest for test (:func:`paper_split`); TRL-style sigmoid DPO
with the EOS token appended to each answer (TRL's DPOTrainer does), β = 0.01, learning rate
10^−5.5 ≈ 3.16e-6 constant, batch 32, 60 updates, Adam (TRL's ``adamw_torch`` with its default
weight decay 0), bf16 on a GPU and float32 on the CPU; test error = 1 − TRL's
``rewards/accuracies`` on the test pairs after the last update (a pair is an error when its
reward margin is ≤ 0).

Where this differs, and why (each stated in the run's record):

* the runs draw their training pairs from the per-persona 90% splits once, up front: the
  ``steps × batch`` pairs a sampler without replacement visits in the first epoch (all of
  them when the split is smaller), so that the reference log-probabilities are computed for the
  pairs trained on only; statistically the same batches as sampling from the whole split;
* the batch order is dpomath's seeded permutation, not TRL's sampler (the numbers of one run
  cannot be TRL's bit for bit; the engine matches TRL's loss and gradients, tests/test_train_trl_oracle.py);
* the train margins are measured on the first ``train_eval_pairs`` training pairs (a random
  sample), not the whole training set, and all evaluations happen every ``eval_every`` updates
  rather than every update;
* personas missing from the data directory are replaced by seeded draws (``Selection.notes``).

Each K's run keeps checkpoints under ``<cache>/ftsweep/<config hash>/K<K>/`` (every
``eval_every`` updates) and resumes from them; a finished K is read back from its
``ft_summary.json`` (the per-pair margins at every evaluated step; its checkpoints are then
removed), so an interrupted sweep loses at most the updates since its last checkpoint.

torch and transformers are imported inside functions only.
"""
from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from dpomath import _args
from dpomath._args import BadValue

from .data import PAPER_KS, PAPER_SEED, list_personas, read_persona_file, select_personas

__all__ = ["FTConfig", "FTRun", "FTSweep", "paper_split", "run_ft_sweep", "get_ft_sweep",
           "PAPER_FT", "QUICK_FT", "FULL_FT", "ft_config", "pair_margins"]

#: Paper I's fine-tuning hyper-parameters (DPO_training.py: -nllr 5.5, -nlb 2.0; batch 32, 60 steps).
PAPER_FT = {"beta": 0.01, "lr": 10 ** -5.5, "steps": 60, "batch_size": 32}

#: The ledger's quick run (CI, ``verify --quick``): a smoke test of the pipeline in last-layer
#: mode (the body frozen, so every prompt runs forward once), K ≤ 4, 200 statements per persona
#: (20 test pairs at K = 1), 4 updates evaluated every 2 (its cost is the forward pass of the
#: prompts trained on and evaluated: ~5.5 min at 10 updates on the shared 2-core machine, ~2 at 4).
QUICK_FT = {"Ks": (1, 2, 4), "per_persona": 200, "mode": "last-layer", "steps": 4, "eval_every": 2,
            "train_eval_pairs": 32}
#: The ledger's full run: paper I's protocol with every statement, evaluated after 0, 30 and 60
#: updates (every test pair; 128 training pairs); full fine-tuning on every model, as paper I.
#: (Gemma-3-270M ran LoRA until 2026-12: chosen for cost on a first measurement, 2.7x SmolLM2's
#: full update; benchmarks/bench_ft_modes.py then measured its LoRA and full updates at the same
#: cost, 1.22x and 1.23x, and LoRA at paper I's learning rate 10^-5.5 barely moves the margins.)
FULL_FT = {"Ks": PAPER_KS, "per_persona": None, "eval_every": 30, "train_eval_pairs": 128}


@dataclass(frozen=True)
class FTConfig:
    """One fine-tuning K sweep (everything that decides its numbers)."""

    model: str | None = None
    persona_dir: str = ""
    Ks: tuple[int, ...] = PAPER_KS
    mode: str = "full"
    per_persona: int | None = None
    beta: float = PAPER_FT["beta"]
    lr: float = PAPER_FT["lr"]
    steps: int = PAPER_FT["steps"]
    batch_size: int = PAPER_FT["batch_size"]
    grad_accum: int = 4
    eval_every: int = 10
    train_eval_pairs: int = 256
    seed: int = PAPER_SEED
    selection_seed: int = PAPER_SEED
    lora_r: int = 8
    lora_alpha: float = 16.0
    device: str = "auto"
    cache_dir: str | None = None
    #: the engine's precision (``auto``: bf16-mixed on a GPU as paper I's ``bf16=True``, float32 on
    #: the CPU); ``float32`` on a GPU for the comparison docs/paper-i-ft.md asks for
    precision: str = "auto"

    def key(self) -> str:
        """A short hash of the settings that decide the numbers (the run directory's name)."""
        d = asdict(self)
        d.pop("cache_dir")
        if d["precision"] == "auto":  # the key of every sweep made before the field existed
            d.pop("precision")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def run_dir(self) -> Path:
        from dpomath.train.models import default_cache_root

        root = Path(self.cache_dir) if self.cache_dir else default_cache_root()
        return root / "ftsweep" / self.key()


def ft_config(*, model=None, persona_dir=None, Ks: Sequence[int] = PAPER_KS, mode: str = "full",
              per_persona: int | None = None, device: str = "auto", cache_dir=None,
              **kw) -> FTConfig:
    """A checked :class:`FTConfig` (``persona_dir`` falls back to ``$DPOMATH_PERSONA_DIR``)."""
    from .data import sweep_arguments

    pdir, Ks = sweep_arguments(persona_dir, Ks)
    _args.choice("mode", mode, ("last-layer", "lora", "full"))
    from dpomath.verify.provenance import RUN_SIZE_VALUES

    _args.choice("precision", kw.get("precision", "auto"), RUN_SIZE_VALUES["DPOMATH_FT_PRECISION"])
    if per_persona is not None:
        per_persona = _args.integer("per_persona", per_persona, lo=10)
    cfg = FTConfig(None if model is None else str(model), str(pdir.resolve()), Ks, mode, per_persona,
                   device=device, cache_dir=None if cache_dir is None else str(Path(cache_dir).resolve()),
                   **kw)
    _args.positive("beta", cfg.beta)
    _args.positive("lr", cfg.lr)
    _args.integer("steps", cfg.steps, lo=1)
    _args.integer("batch_size", cfg.batch_size, lo=1)
    _args.integer("eval_every", cfg.eval_every, lo=1)
    _args.integer("train_eval_pairs", cfg.train_eval_pairs, lo=2)
    if cfg.batch_size % cfg.grad_accum:
        raise BadValue(f"grad_accum: must divide batch_size {cfg.batch_size}, got {cfg.grad_accum}")
    return cfg


def paper_split(files, seed: int = PAPER_SEED, train_fraction: float = 0.9):
    """Paper I's per-behaviour split: one ``random.Random(seed)`` stream; for each persona file
    in order, its pairs shuffled by that stream, the first ``int(train_fraction · n)`` for
    training, the rest for test.

    Parameters
    ----------
    files : sequence of PersonaFile
        In the persona set's order.
    seed : int
        Paper I's ``random.seed(1234)``.

    Returns
    -------
    (list of Pair, list of Pair)
        Training and test pairs (prompt = question + "\\n"), ``group`` = the persona.

    Examples
    --------
    >>> from dpomath.train.data import PersonaFile, Statement
    >>> st = [Statement("p", i + 1, f"q{i}", " Yes", " No") for i in range(10)]
    >>> tr, te = paper_split([PersonaFile("p", Path("p.jsonl"), "", st)])
    >>> len(tr), len(te), tr[0].prompt.endswith("\\n"), te[0].group
    (9, 1, True, 'p')
    """
    from dpomath.train.data import Pair

    rng = random.Random(seed)
    train, test = [], []
    for pf in files:
        pairs = [Pair(s.question + "\n", s.chosen, s.rejected, f"{pf.path}:{s.line}", pf.name)
                 for s in pf.statements]
        n_train = int(train_fraction * len(pairs) // 1)
        rng.shuffle(pairs)
        train += pairs[:n_train]
        test += pairs[n_train:]
    return train, test


def pair_margins(evals_dir: Path, step: int, split: str, beta: float) -> np.ndarray:
    """Per-pair reward margins β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l))]
    of ``split`` at ``step``, from the engine's per-token log-probabilities
    (``evals/step-<N>.safetensors``; step 0 is the reference)."""
    from safetensors.numpy import load_file

    def sums(s: int):
        t = load_file(str(evals_dir / f"step-{s:08d}.safetensors"))
        out = []
        for which in ("chosen", "rejected"):
            tok, off = t[f"{split}.{which}.tokens"].astype(np.float64), t[f"{split}.{which}.offsets"]
            out.append(np.add.reduceat(tok, off[:-1]) if len(off) > 1 else np.zeros(0))
        return out

    c, r = sums(step)
    c0, r0 = sums(0)
    return beta * ((c - c0) - (r - r0))


@dataclass
class FTRun:
    """One K's fine-tuning run, as the claim reads it."""

    K: int
    personas: tuple[str, ...]
    n_train_split: int          # pairs in the K personas' 90% splits
    n_train: int                # pairs trained on (at most steps × batch)
    n_test: int
    test_groups: list[str]      # persona of each test pair
    steps_logged: list[int]
    test_margins: np.ndarray    # (len(steps_logged), n_test)
    train_margins: np.ndarray   # (len(steps_logged), train_eval_pairs)
    history: list[dict]
    seconds: float
    step_seconds: float | None
    threads: int | None = None
    device: str = "cpu"

    @property
    def test_error(self) -> float:
        """1 − TRL's accuracy after the last update: pairs with margin ≤ 0."""
        return float(np.mean(self.test_margins[-1] <= 0))

    def rate(self, split: str) -> tuple[float, float]:
        from .ksweep import growth_rate

        m = self.test_margins if split == "test" else self.train_margins
        return growth_rate(m, np.asarray(self.steps_logged))

    def persona_errors(self) -> tuple[np.ndarray, np.ndarray]:
        """(error rate, test pairs) per persona, after the last update."""
        g = np.asarray(self.test_groups)
        m = self.test_margins[-1]
        names = list(dict.fromkeys(self.test_groups))
        return (np.array([np.mean(m[g == p] <= 0) for p in names]),
                np.array([np.sum(g == p) for p in names], dtype=float))

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items()}
        d["test_margins"] = self.test_margins.tolist()
        d["train_margins"] = self.train_margins.tolist()
        d["personas"] = list(self.personas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FTRun":
        d = dict(d)
        d["test_margins"] = np.asarray(d["test_margins"], dtype=np.float64)
        d["train_margins"] = np.asarray(d["train_margins"], dtype=np.float64)
        d["personas"] = tuple(d["personas"])
        return cls(**d)

    def row(self) -> dict:
        r_tr, se_tr = self.rate("train")
        r_te, se_te = self.rate("test")
        return {"K": self.K, "personas": len(self.personas), "n_train": self.n_train,
                "n_test": self.n_test, "train_margin": float(self.train_margins[-1].mean()),
                "test_margin": float(self.test_margins[-1].mean()), "train_rate": r_tr,
                "train_rate_se": se_tr, "test_rate": r_te, "test_rate_se": se_te,
                "train_acc": float(np.mean(self.train_margins[-1] > 0)),
                "test_error": self.test_error, "seconds": self.seconds,
                "step_seconds": self.step_seconds}


@dataclass
class FTSweep:
    config: FTConfig
    selection: object
    model_name: str
    runs: dict[int, FTRun] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def table(self) -> list[dict]:
        return [self.runs[k].row() for k in sorted(self.runs)]


def _run_k(cfg: FTConfig, K: int, personas: Sequence[str], files, out: Path) -> FTRun:
    """Train (or resume, or read back) the run of one K."""
    from dpomath.train.data import PreferenceData
    from dpomath.train.engine import TrainConfig, train

    summary = out / "ft_summary.json"
    if summary.is_file():
        try:
            return FTRun.from_dict(json.loads(summary.read_text()))
        except (ValueError, KeyError, TypeError):
            pass  # a damaged summary: recomputed from the run's checkpoints and evaluations
    tr, te = paper_split([files[p] for p in personas], cfg.seed)
    n_split = len(tr)
    perm = np.random.default_rng([cfg.seed, K]).permutation(len(tr))
    used = [tr[i] for i in perm[:min(len(tr), cfg.steps * cfg.batch_size)]]
    data = PreferenceData(used, te, source=f"paper I fine-tuning split, K={K}", append_eos=True,
                          files={str(files[p].path): files[p].sha256 for p in personas})
    tc = TrainConfig(mode=cfg.mode, loss="sigmoid", beta=cfg.beta, lr=cfg.lr, steps=cfg.steps,
                     batch_size=cfg.batch_size, optimizer="adam", seed=cfg.seed,
                     grad_accum=cfg.grad_accum, max_length=None, log_every=cfg.eval_every,
                     eval_pairs=len(te), eval_train_pairs=min(cfg.train_eval_pairs, len(used)),
                     eval_unseen=0, greedy_prompts=0, checkpoint_every=cfg.eval_every,
                     lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha, device=cfg.device,
                     precision=cfg.precision)
    from dpomath.train.checkpoint import list_checkpoints

    resume = bool(list_checkpoints(out / "checkpoints"))
    res = train(cfg.model, data, tc, out=out, resume=resume, keep_model=False,
                cache_root=cfg.cache_dir)
    if res.data["kept"]["heldout"] != len(te) or res.data["kept"]["train"] != len(used):
        raise RuntimeError(f"K={K}: the engine dropped pairs ({res.data['kept']} of {len(used)} train, "
                           f"{len(te)} test): {res.data['bad_records'][:3]}")
    steps = sorted(e["step"] for e in res.evals)
    ev = out / "evals"
    run = FTRun(K, tuple(personas), n_split, len(used), len(te), [p.group for p in te], steps,
                np.stack([pair_margins(ev, s, "heldout", cfg.beta) for s in steps]),
                np.stack([pair_margins(ev, s, "train", cfg.beta) for s in steps]),
                [{k: h[k] for k in ("step", "loss", "rewards/margins", "rewards/accuracies", "seconds")}
                 for h in res.history],
                float(res.timing["seconds"]), res.timing.get("step_seconds_mean"),
                res.run.get("threads"), res.run.get("device", "cpu"))
    tmp = summary.with_suffix(".tmp")
    tmp.write_text(json.dumps(run.to_dict()))
    tmp.replace(summary)
    if not KEEP_CHECKPOINTS:  # the run is summarised: its checkpoints (GBs under full FT) go
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return run


def run_ft_sweep(cfg: FTConfig, *, progress_desc: str = "fine-tuning K sweep") -> FTSweep:
    """Select the personas, split them as paper I does and fine-tune one run per K (resuming
    or reading back finished ones from ``cfg.run_dir()``)."""
    from dpomath.train.models import resolve_model
    from dpomath.verify.progress import progress

    t0 = time.perf_counter()
    pdir = Path(cfg.persona_dir)
    sel = select_personas(list_personas(pdir), cfg.Ks, seed=cfg.selection_seed)
    files = {p: read_persona_file(pdir / f"{p}.jsonl", limit=cfg.per_persona) for p in sel.personas}
    empty = [p for p, f in files.items() if not f.statements]
    if empty:
        raise BadValue(f"persona_dir: no valid statements in {', '.join(empty)}")
    spec = resolve_model(cfg.model)
    root = cfg.run_dir()
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(asdict(cfg) | {"model_name": spec.name}, indent=1))
    sw = FTSweep(cfg, sel, spec.name, notes=list(sel.notes))
    for K in progress(sorted(sel.sets), desc=progress_desc):
        sw.runs[K] = _run_k(cfg, K, sel.sets[K], files, root / f"K{K}")
    sw.seconds = time.perf_counter() - t0
    if cfg.per_persona:
        sw.notes.append(f"at most {cfg.per_persona} statements per persona (the first in each file)")
    return sw


_SWEEPS: dict[FTConfig, FTSweep] = {}

#: Keep a finished K's checkpoints (a full fine-tuning checkpoint of SmolLM2 is ~1.6 GB: the
#: weights and two Adam moments); off by default once its summary is written.
KEEP_CHECKPOINTS = False


def get_ft_sweep(cfg: FTConfig) -> FTSweep:
    """:func:`run_ft_sweep`, memoised per configuration in this process."""
    if cfg not in _SWEEPS:
        _SWEEPS[cfg] = run_ft_sweep(cfg)
    return _SWEEPS[cfg]

