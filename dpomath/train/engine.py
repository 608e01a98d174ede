"""Sequence-level DPO on a real causal language model: the training loop behind
``dpomath train``.

One step (k = 1, 2, …): the next batch of pairs (a seeded permutation per epoch, consecutive
slices of ``batch_size``, split into ``grad_accum`` micro-batches) runs through the policy;
the per-token log-probabilities of every chosen and rejected response token are summed into
sequence log-probabilities log πθ(y|x); with the cached reference log π_ref(y|x) they give
the log-ratios h_w, h_l, and the loss is ``dpomath.losses.preference_loss(kind, h_w, h_l, β)``
averaged over the batch (Rafailov et al. 2023, eq. 7 for ``sigmoid``). Then one optimizer
update. Row k of the history holds the metrics of the forward pass that produced update k —
so row 1 is measured at the reference (loss = log 2 for DPO) — under TRL's names (``loss``,
``rewards/chosen`` = mean β h_w, ``rewards/rejected``, ``rewards/margins``,
``rewards/accuracies`` = mean [β h_w > β h_l], ``logps/chosen`` = mean log πθ(y_w|x),
``logps/rejected``), averaged over micro-batches as TRL's logger does.

Modes: ``full`` (every parameter; tied embeddings stay tied, as in TRL), ``lora`` (a PEFT
LoRA adapter; the reference is the model with the adapter disabled), ``last-layer`` (only the
unembedding W, untied from the input embeddings: the body is frozen, so the final hidden
state at every response position is computed once, and each step is the full-vocabulary
softmax over those cached states — paper I's setting, extended from one token to whole
responses).

The reference log-probabilities are computed once, before the first step, by the same code
(with the adapter disabled in ``lora`` mode) and cached: no second model is ever held.

At the logged steps (``log_every``; the state after 0, log_every, …, steps updates) the
quantities the papers' claims need are measured on the training pairs, the held-out pairs and
the unseen responses (:mod:`dpomath.train.metrics`).

Long runs: progress on stderr as every dpomath command shows it (:mod:`dpomath.verify.progress`:
a bar on a terminal, a line at least every 30 s otherwise);
with ``out``, a checkpoint every ``checkpoint_every`` steps (:mod:`dpomath.train.checkpoint`)
and ``resume=True`` continues from the newest valid one to ``steps``, ending bitwise where an
uninterrupted run ends (CPU, fixed threads: ``DPOMATH_THREADS``).

Several GPUs: launched with ``accelerate launch`` (``WORLD_SIZE`` > 1) the same loop wraps
the scoring module in accelerate's DDP or FSDP and gives each process an equal share of every
micro-batch; see ``docs/train.md``.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dpomath import _args
from dpomath._args import BadValue

from . import data as D

__all__ = ["TrainConfig", "TrainResult", "train", "resolved_precision", "MODES", "OPTIMIZERS", "TRL_METRICS",
           "batch_schedule"]

MODES = ("last-layer", "lora", "full")
#: ``auto``: float32 on the CPU, bf16-mixed on a GPU. ``bf16-mixed``: frozen weights in bf16, the
#: trained ones kept in float32, the forward and backward under bf16 autocast. ``bf16``: every
#: weight in bf16 (no float32 master copy: Adam updates smaller than bf16's resolution round
#: away; for memory, e.g. full fine-tuning of an 8B model on one GPU).
PRECISIONS = ("auto", "float32", "bf16-mixed", "bf16")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
#: The per-step metrics, TRL's names.
TRL_METRICS = ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins",
               "rewards/accuracies", "logps/chosen", "logps/rejected")


def resolved_precision(precision: str, device: str) -> str:
    """``precision`` with ``auto`` resolved: bf16-mixed on a GPU, float32 on the CPU."""
    if precision != "auto":
        return precision
    return "bf16-mixed" if str(device).startswith("cuda") else "float32"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a run's numbers (checked on ``resume``), plus how it reports.

    ``loss_params``: the loss member's parameters other than the ones dpomath supplies itself
    (``chosen_lengths``/``rejected_lengths`` for the length-normalised members,
    ``chosen_logps`` for ``sft``), e.g. ``{"label_smoothing": 0.1}``. ``lr`` is constant (no
    schedule). ``max_grad_norm``: clip the global gradient norm (None: no clipping).
    ``precision``: see :data:`PRECISIONS`.
    ``eval_pairs``: the held-out pairs (and, unless ``eval_train_pairs`` is given, the
    training pairs) scored at each logged step, the first ones of each split.
    ``layout``: ``auto`` (the prefix layout when the model passes its check, else concat),
    ``prefix`` or ``concat`` (:mod:`dpomath.train.logps`). ``log_every`` 0 means about ten
    logged evaluations; ``eval_steps`` (a tuple of update counts) replaces ``log_every`` by
    exactly those steps (0 and ``steps`` are always evaluated); ``checkpoint_every`` 0 about
    ten checkpoints (with ``out``).
    """

    mode: str = "full"
    loss: str = "sigmoid"
    beta: float = 0.1
    lr: float = 1e-5
    steps: int = 10
    batch_size: int = 8
    optimizer: str = "adam"
    seed: int = 0
    grad_accum: int = 1
    max_grad_norm: float | None = None
    max_length: int | None = 1024
    loss_params: tuple = ()
    shuffle: bool = True
    layout: str = "auto"
    lora_r: int = 8
    lora_alpha: float = 16.0
    lora_targets: tuple | None = None
    log_every: int = 0
    eval_steps: tuple | None = None
    eval_pairs: int = 64
    eval_unseen: int = 64
    eval_train_pairs: int | None = None
    greedy_prompts: int = 4
    greedy_tokens: int = 24
    checkpoint_every: int = 0
    device: str = "auto"
    precision: str = "auto"
    chunk: int | None = None

    def __post_init__(self):
        _args.choice("mode", self.mode, MODES)
        _args.choice("optimizer", self.optimizer, OPTIMIZERS)
        _args.choice("layout", self.layout, ("auto", "prefix", "concat"))
        _args.positive("beta", self.beta)
        _args.positive("lr", self.lr)
        _args.integer("steps", self.steps, lo=0)
        _args.integer("batch_size", self.batch_size, lo=1)
        _args.integer("seed", self.seed, lo=0)
        _args.integer("grad_accum", self.grad_accum, lo=1)
        if self.batch_size % self.grad_accum:
            raise BadValue(f"grad_accum: must divide batch_size {self.batch_size}, got {self.grad_accum}")
        if self.max_grad_norm is not None:
            _args.positive("max_grad_norm", self.max_grad_norm)
        if self.max_length is not None:
            _args.integer("max_length", self.max_length, lo=2)
        _args.integer("lora_r", self.lora_r, lo=1)
        _args.positive("lora_alpha", self.lora_alpha)
        for name in ("log_every", "checkpoint_every", "eval_pairs", "eval_unseen", "greedy_prompts",
                     "greedy_tokens"):
            _args.integer(name, getattr(self, name), lo=0)
        if self.eval_steps is not None:
            if not isinstance(self.eval_steps, tuple):
                raise BadValue(f"eval_steps: must be a tuple of step counts, got {type(self.eval_steps).__name__}")
            for v in self.eval_steps:
                _args.integer("eval_steps", v, lo=0)
        if self.eval_train_pairs is not None:
            _args.integer("eval_train_pairs", self.eval_train_pairs, lo=0)
        if self.chunk is not None:
            _args.integer("chunk", self.chunk, lo=1)
        _args.choice("precision", self.precision, PRECISIONS)
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith("cuda:"):
            raise BadValue(f"device: must be auto, cpu or cuda, got {self.device!r}")
        from dpomath.losses import get_loss

        try:
            spec = get_loss(self.loss)
        except BadValue as e:  # the loss module names its own argument ``kind``: here it is ``loss``
            raise BadValue(f"loss: {str(e).partition(': ')[2] or e}") from None
        supplied = {"chosen_lengths", "rejected_lengths", "chosen_logps"}
        given = dict(self.loss_params)
        unknown = set(given) - set(spec.params)
        if unknown:
            raise BadValue(f"loss_params: {', '.join(sorted(unknown))} not a parameter of loss "
                           f"{spec.kind!r} (its parameters: {', '.join(spec.params) or 'none'})")
        missing = [n for n, p in spec.params.items() if p.default is None and n not in given
                   and n not in supplied]
        if missing:
            raise BadValue(f"loss_params: loss {spec.kind!r} needs {', '.join(missing)}")

    @property
    def log_interval(self) -> int:
        return self.log_every or max(1, math.ceil(self.steps / 10))

    def logged(self, s: int) -> bool:
        """Whether the state after ``s`` updates is evaluated (``eval_steps``, else every
        ``log_interval`` steps; always the last)."""
        if self.eval_steps is not None:
            return s == 0 or s == self.steps or s in self.eval_steps
        return s % self.log_interval == 0 or s == self.steps

    @property
    def checkpoint_interval(self) -> int:
        return self.checkpoint_every or max(1, math.ceil(self.steps / 10))

    def identity(self) -> dict:
        """The settings a resumed run must share with the checkpoint (everything that changes
        the numbers except ``steps``)."""
        d = asdict(self)
        for k in ("steps", "device", "checkpoint_every", "chunk"):
            d.pop(k)
        d["loss_params"] = dict(self.loss_params)
        d["lora_targets"] = list(self.lora_targets) if self.lora_targets else None
        d["eval_steps"] = list(self.eval_steps) if self.eval_steps is not None else None
        return d


@dataclass
class TrainResult:
    """A run: ``history`` (one row per update, TRL's names), ``evals`` (the logged steps),
    ``final`` (the state after the last update), ``data`` (counts and bad records), the trained
    ``model`` and ``tokenizer``, per-token log-probabilities of the logged steps
    (``per_token[step][split]``) and timing."""

    config: TrainConfig
    history: list[dict]
    evals: list[dict]
    final: dict
    data: dict
    model: Any = None
    tokenizer: Any = None
    per_token: dict = field(default_factory=dict)
    timing: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The ``--json`` document: config, history, final, data (+ evals, timing, run, notes)."""
        cfg = self.config.identity() | {"steps": self.config.steps, "device": self.run.get("device"),
                                        "checkpoint_every": self.config.checkpoint_every}
        cfg.update({k: v for k, v in self.run.items() if k in ("model", "data", "layout", "dtype",
                                                                  "threads", "out", "processes")})
        return {"config": cfg, "history": self.history, "final": self.final, "data": self.data,
                "evals": self.evals, "timing": self.timing, "notes": self.notes}


def batch_schedule(n: int, batch_size: int, step: int, seed: int, shuffle: bool = True) -> list[int]:
    """Indices of the pairs of update ``step`` (0-based): epoch e = step // ⌈n/B⌉ uses the
    permutation ``numpy.random.default_rng([seed, e]).permutation(n)`` (or 0…n−1 without
    shuffling), cut into consecutive batches of B (the last one of an epoch may be smaller).

    >>> batch_schedule(5, 2, 0, 0, shuffle=False), batch_schedule(5, 2, 2, 0, shuffle=False)
    ([0, 1], [4])
    """
    per_epoch = math.ceil(n / batch_size)
    epoch, j = divmod(step, per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    return [int(i) for i in order[j * batch_size:(j + 1) * batch_size]]


# ---------------------------------------------------------------- progress

def _updates(start: int, total: int, losses: list, show: bool):
    """The update indices ``start … total-1`` with dpomath's progress on stderr
    (:func:`dpomath.verify.progress.progress`: a bar on a terminal; otherwise a line at least
    every 30 s naming the updates done, the last loss and the time left; nothing when quiet,
    and only the periodic lines under ``--json``)."""
    from dpomath.verify.progress import progress

    steps = range(start, total)
    if not show or not steps:
        return steps
    return progress(steps, desc="updates", total=len(steps),
                    label=lambda _: f"loss {losses[-1]:.4f}" if losses else "")


def _stage(desc: str, show: bool = True):
    """A step without a count in the progress lines (loading the model, the reference)."""
    import contextlib

    from dpomath.verify.progress import stage

    return stage(desc) if show else contextlib.nullcontext()


def _note(msg: str) -> None:
    """An informational line on stderr (``dpomath train: ...``), not under ``--json`` and
    not when progress is silenced."""
    from dpomath.verify import progress as P

    if not (P._QUIET or P._BRIEF):
        print(f"dpomath train: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- distribution

class _Dist:
    """One process (no-op), or accelerate's DDP/FSDP when launched with ``WORLD_SIZE`` > 1."""

    def __init__(self, cpu: bool = False):
        self.acc = None
        self.rank, self.world = 0, 1
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            from accelerate import Accelerator

            self.acc = Accelerator(cpu=cpu)  # cpu: processes on the CPU (gloo), as under torchrun
            self.rank, self.world = self.acc.process_index, self.acc.num_processes

    @property
    def main(self) -> bool:
        return self.rank == 0

    def device(self, wanted: str) -> str:
        return str(self.acc.device) if self.acc is not None else wanted

    def prepare(self, module):
        return self.acc.prepare(module) if self.acc is not None else module

    def prepare_optimizer(self, opt):
        return self.acc.prepare(opt) if self.acc is not None else opt

    def backward(self, loss) -> None:
        if self.acc is not None:
            self.acc.backward(loss)
        else:
            loss.backward()

    def shard(self, idx: list[int]) -> list[int]:
        return idx[self.rank::self.world] if self.world > 1 else idx

    def mean(self, t) -> float:
        """Mean of per-pair values over every process (shards may differ in size)."""
        if self.acc is None:
            return float(t.float().mean())
        import torch

        x = torch.stack([t.float().sum(), torch.tensor(float(t.numel()), device=t.device)])
        x = self.acc.reduce(x, reduction="sum")
        return float(x[0] / x[1])

    def sync_grads(self, params) -> None:
        """Average gradients over processes where no DDP wrapper does it (last-layer mode,
        whose steps run on cached features outside the wrapped module)."""
        if self.acc is None:
            return
        import torch.distributed as tdist

        for p in params:
            if p.grad is not None:
                tdist.all_reduce(p.grad)
                p.grad /= self.world


# ---------------------------------------------------------------- the run

def _make_optimizer(name: str, params, lr: float):
    import torch

    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    return torch.optim.RMSprop(params, lr=lr)


def _disable_dropout(model) -> None:
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0


class _Run:
    """State of one training run (model, data, cached reference, optimizer)."""

    def __init__(self, model, tok, tdata: D.TokenizedData, cfg: TrainConfig, device: str, dist: _Dist):
        import torch

        from . import logps as LP

        self.cfg, self.tok, self.device, self.dist = cfg, tok, device, dist
        self.model = model
        self.td = tdata
        self.pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        self.notes: list[str] = []
        self.torch = torch
        self.LP = LP
        _disable_dropout(model)
        if cfg.mode == "lora":
            self._setup_lora()
        elif cfg.mode == "last-layer":
            from .models import untie_head

            untie_head(model)
            for p in model.parameters():
                p.requires_grad_(False)
            model.get_output_embeddings().weight.requires_grad_(True)
        else:
            for p in model.parameters():
                p.requires_grad_(True)
        self.precision = resolved_precision(cfg.precision, device)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        if self.precision == "bf16-mixed":  # float32 master copies of what is trained
            for p in self.params:
                p.data = p.data.float()
        self.trainable_names = [n for n, p in self.model.named_parameters() if p.requires_grad]
        self.model.train()
        self.layout = self._choose_layout()
        self.scorer = LP.Scorer(self.model, self.layout, cfg.chunk)
        self.features: dict[str, Any] = {}

    # -- setup
    def _setup_lora(self):
        import torch
        from peft import LoraConfig, get_peft_model

        c = self.cfg
        torch.manual_seed(c.seed)  # the adapter's initialisation
        lc = LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, lora_dropout=0.0,
                        target_modules=list(c.lora_targets) if c.lora_targets else None,
                        task_type="CAUSAL_LM")
        with warnings.catch_warnings():
            # peft reads transformers' deprecated ``is_gradient_checkpointing`` while wrapping
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            self.model = get_peft_model(self.model, lc)

    def autocast(self):
        """bf16 autocast in ``bf16-mixed`` precision, nothing otherwise."""
        import contextlib

        if self.precision != "bf16-mixed":
            return contextlib.nullcontext()
        return self.torch.autocast(self.device.split(":")[0], dtype=self.torch.bfloat16)

    def _choose_layout(self) -> str:
        c = self.cfg
        ex = self.td.train[:min(4, len(self.td.train))]
        b = self.pair_batch(ex)
        rtol = 1e-4 if self.precision == "float32" else 5e-2
        dtype = next(self.model.parameters()).dtype
        key = _architecture_key(self.model, dtype, self.device, c.mode) + (self.precision,)
        if key not in _LAYOUT_CHECKS:
            with self.autocast():
                _LAYOUT_CHECKS[key] = self.LP.check_layouts(self.model, b.to(self.device), rtol=rtol)
        checks = dict(_LAYOUT_CHECKS[key])
        self.layout_check = checks
        rtol += checks.get("rounding", 0.0)  # the model's own bf16 logits are that coarse
        if c.layout != "auto":
            if c.layout == "prefix" and not checks["prefix"] <= rtol:
                raise BadValue(f"layout: prefix does not reproduce this model's log-probabilities "
                               f"(difference {checks['prefix']:.2g}); use concat or auto")
            return c.layout
        if checks["prefix"] <= rtol:
            return "prefix"
        self.notes.append(f"prefix layout unavailable for this model ({checks.get('prefix_error') or checks['prefix']}); "
                          f"using concat")
        return "concat"

    # -- batches
    def pair_batch(self, ex: Sequence[D.Example]):
        return self.LP.make_batch([e.prompt_ids for e in ex], [[e.chosen_ids for e in ex],
                                                               [e.rejected_ids for e in ex]], self.pad)

    def resp_batch(self, ex: Sequence[D.ResponseExample]):
        return self.LP.make_batch([e.prompt_ids for e in ex], [[e.response_ids for e in ex]], self.pad)

    # -- last-layer features
    def cache_features(self, split: str, batches: int = 16):
        """Final hidden states of every response token of ``split`` (frozen body), in the
        order of ``targets`` of consecutive batches."""
        torch = self.torch
        items = self._split_items(split)
        feats, targets, seqs = [], [], []
        offset = 0
        with torch.no_grad(), self.autocast():
            for s in range(0, len(items), batches):
                ex = items[s:s + batches]
                b = (self.resp_batch(ex) if split == "unseen" else self.pair_batch(ex)).to(self.device)
                feats.append(self.scorer.hidden(b).detach())
                targets.append(b.targets)
                seqs.append(b)
                offset += len(ex)
        self.features[split] = (torch.cat(feats), torch.cat(targets), seqs)

    def _split_items(self, split: str):
        return {"train": self.td.train, "heldout": self.td.heldout, "unseen": self.td.unseen}[split]

    # -- scoring
    def token_logps(self, split: str, idx: Sequence[int], grad: bool):
        """(per-token log-probabilities (M,), batch) of items ``idx`` of ``split``."""
        torch = self.torch
        items = self._split_items(split)
        ex = [items[i] for i in idx]
        b = (self.resp_batch(ex) if split == "unseen" else self.pair_batch(ex)).to(self.device)
        if self.cfg.mode == "last-layer":
            h = self._gather_features(split, idx, b)
            weight, bias, scale, softcap = self.LP.head_of(self.model)
            ctx = torch.enable_grad() if grad else torch.no_grad()
            with ctx:
                return self.LP.token_logps(h, weight, b.targets, bias=bias, chunk=self.cfg.chunk,
                                           scale=scale, softcap=softcap), b
        if grad:
            with self.autocast():
                return self.train_module(b), b
        with torch.no_grad(), self.autocast():
            return self.scorer(b), b

    def _gather_features(self, split, idx, b):
        """Cached hidden states for the tokens of batch ``b`` (items ``idx`` of ``split``)."""
        torch = self.torch
        if split not in self.features:
            self.cache_features(split)
        feats, _, _ = self.features[split]
        rows = self._feature_rows(split)
        R = 1 if split == "unseen" else 2
        n = len(self._split_items(split))
        parts = [rows[r * n + i] for r in range(R) for i in idx]
        return feats[torch.cat(parts)]

    def _feature_rows(self, split):
        """Row indices into the cached features of each sequence r·n + i of ``split``."""
        key = "_rows_" + split
        if key in self.features:
            return self.features[key]
        torch = self.torch
        _, _, batches = self.features[split]
        n = len(self._split_items(split))
        R = 1 if split == "unseen" else 2
        rows = [None] * (R * n)
        start, item = 0, 0
        for b in batches:
            lens = b.lengths.tolist()
            offs = np.concatenate([[0], np.cumsum(lens)])
            for s in range(b.R * b.k):
                r, i = divmod(s, b.k)
                rows[r * n + item + i] = torch.arange(start + offs[s], start + offs[s + 1], device=self.device)
            start += int(offs[-1])
            item += b.k
        self.features[key] = rows
        return rows


#: The layout checks already made in this process, by architecture (:func:`_architecture_key`):
#: whether the prefix layout reproduces a model's own forward is a property of its architecture,
#: dtype, device and training mode, not of its weights, so a sweep of runs checks it once.
_LAYOUT_CHECKS: dict = {}


def _architecture_key(model, dtype, device: str, mode: str) -> tuple:
    cfg = getattr(model, "config", None)
    text = json.dumps(cfg.to_dict() if cfg is not None else {}, sort_keys=True, default=str)
    return (type(model).__name__, text, str(dtype), str(device), mode)


def _resolve_threads() -> int:
    from .models import cpu_threads

    return cpu_threads()


def train(model=None, data=None, config: TrainConfig | None = None, *, tokenizer=None,
          out: str | os.PathLike | None = None, resume: bool = False,
          keep_model: bool = True, cache_root=None, data_options: dict | None = None) -> TrainResult:
    """Train a causal language model with a preference loss on whole responses.

    Parameters
    ----------
    model : str, path, transformers model or None
        A model name or path (loaded offline; None = the default SmolLM2-135M-Instruct), or a
        model object (then ``tokenizer`` is required).
    data : str or PreferenceData
        A ``--data`` value (``FILE.jsonl``, ``persona:DIR``, ``persona-answers:DIR``) or
        prepared data.
    config : TrainConfig
    data_options : dict, optional
        Keyword arguments of :func:`dpomath.train.data.load_data` for a ``data`` string
        (persona selection and counts).
    out : path, optional
        Where checkpoints (``checkpoints/``), per-step evaluations (``evals/``) and
        ``result.json`` go.
    resume : bool
        Continue from the newest valid checkpoint under ``out`` (same configuration, any
        ``steps``).
    keep_model : bool
        Return the trained model in the result.
    cache_root : path, optional
        Where the plain copy of a GGUF model is kept (default ``$DPOMATH_CACHE_DIR`` or
        ``./.dpomath-cache``).

    Returns
    -------
    TrainResult
    """
    import torch

    from dpomath._torch import num_threads

    from . import checkpoint as CK
    from .models import resolve_device

    cfg = config or TrainConfig()
    t_start = time.perf_counter()
    wanted = resolve_device(cfg.device)
    dist = _Dist(cpu=wanted == "cpu")
    device = dist.device(wanted)
    if out is not None:
        out = Path(out)
        if not resume and CK.list_checkpoints(out / "checkpoints"):
            raise BadValue(f"out: {out} already holds checkpoints of a run; pass resume=True "
                           f"(--resume) to continue it or choose another directory")
    threads = _resolve_threads() if device == "cpu" else None
    run_info: dict[str, Any] = {"device": device, "threads": threads, "rank": dist.rank,
                                "processes": dist.world}
    with num_threads(threads or torch.get_num_threads()):
        with _stage("train", dist.main):
            return _train(model, data, cfg, tokenizer, out, resume, keep_model, cache_root,
                          data_options, dist, device, run_info, t_start)


def _train(model, data, cfg, tokenizer, out, resume, keep_model, cache_root,
           data_options, dist, device, run_info, t_start) -> TrainResult:
    import torch

    from . import checkpoint as CK
    from . import metrics as MX
    from .models import ModelSpec, load_model, plain_model_dir, resolve_model

    # ---- model
    if model is None or isinstance(model, (str, os.PathLike)):
        spec = resolve_model(model)
        path = plain_model_dir(spec, cache_root)
        local = ModelSpec(spec.name, "local", str(path), identity=spec.identity)
        with _stage("loading the model", dist.main):
            m, tok = load_model(local, device, untie=False)
        run_info["model"] = spec.describe()
        run_info["model_identity"] = spec.identity
    else:
        if tokenizer is None:
            raise BadValue("tokenizer: required when model is a model object")
        m, tok = model, tokenizer
        m.to(device)
        run_info["model"] = type(m).__name__
        run_info["model_identity"] = ""
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    precision = resolved_precision(cfg.precision, device)
    m.to(torch.float32 if precision == "float32" else torch.bfloat16)
    # ---- data
    if data is None:
        raise BadValue("data: required (FILE.jsonl, persona:DIR or persona-answers:DIR)")
    if isinstance(data, str):
        run_info["data"] = data
        data = D.load_data(data, chat=bool(getattr(tok, "chat_template", None)), seed=cfg.seed,
                           **(data_options or {}))
    else:
        run_info["data"] = data.source
    td = D.tokenize(data, tok, max_length=cfg.max_length)
    bad = D.iter_bad(data.bad, td.bad)
    for b in bad if dist.main else ():  # always on stderr, as file:line: reason (and in the data)
        print(str(b), file=sys.stderr, flush=True)
    data_doc = {"source": data.source, "kept": {"train": len(td.train), "heldout": len(td.heldout),
                                                "unseen": len(td.unseen)},
                "rejected": len(bad), "bad_records": [b.to_dict() for b in bad],
                "truncated": td.truncated, "files": data.files, "notes": data.notes,
                "digest": data.digest()}
    # ---- the run
    r = _Run(m, tok, td, cfg, device, dist)
    run_info["layout"] = r.layout
    run_info["dtype"] = r.precision
    # last-layer steps run on cached features outside the module: their gradients are averaged
    # by _Dist.sync_grads, so no DDP wrapper (one that never sees a forward pass) is built
    r.train_module = dist.prepare(r.scorer) if dist.world > 1 and cfg.mode != "last-layer" else r.scorer
    opt = dist.prepare_optimizer(_make_optimizer(cfg.optimizer, r.params, cfg.lr))
    ident = {"config": cfg.identity(), "model": run_info["model_identity"], "data": data_doc["digest"],
             "trainable": r.trainable_names}
    history: list[dict] = []
    evals: list[dict] = []
    per_token: dict = {}
    start_step = 0
    ref = None
    if out is not None and resume:
        found = CK.list_checkpoints(out / "checkpoints")
        skipped: list[str] = []

        def warn(msg):
            skipped.append(msg)
            print(f"dpomath train: checkpoint not loaded: {msg}", file=sys.stderr, flush=True)

        path = CK.latest_valid(out / "checkpoints", warn=warn)
        if path is None and found:
            raise BadValue(f"resume: no valid checkpoint under {out / 'checkpoints'} "
                           f"({len(found)} found, all corrupted: {skipped[0]})")
        if path is None:
            _note(f"no checkpoint under {out / 'checkpoints'}; starting from step 0")
        else:
            ck = CK.load_checkpoint(path, optimizer=opt)
            st = ck["state"]
            _check_identity(st["identity"], ident)
            _load_trainable(r, ck["trainable"])
            ref = MX.Reference.from_tensors(ck["reference"])
            start_step, history, evals = st["step"], st["history"], st["evals"]
            if start_step > cfg.steps:
                raise BadValue(f"steps: the checkpoint in {out} is at update {start_step}, beyond "
                               f"--steps {cfg.steps}")
            _note(f"resumed from {path} at step {start_step}")
    if ref is None:
        with _stage("reference log-probabilities", dist.main):
            ref = MX.Reference.compute(r, cfg)
    ev = MX.Evaluator(r, ref, cfg)
    loss_fn = MX.LossFn(cfg)
    n = len(td.train)
    losses_seen: list[float] = []
    step_seconds = []
    tokens_run = 0

    logged = cfg.logged

    if start_step == 0 and logged(0) and not any(e["step"] == 0 for e in evals):
        evals.append(ev.evaluate(0, per_token, out))
    for step in _updates(start_step, cfg.steps, losses_seen, dist.main):
        t0 = time.perf_counter()
        idx = batch_schedule(n, cfg.batch_size, step, cfg.seed, cfg.shuffle)
        mb = cfg.batch_size // cfg.grad_accum
        micro = [idx[i:i + mb] for i in range(0, len(idx), mb)]
        rows = []
        for part in micro:
            mine = dist.shard(part)
            tl, b = r.token_logps("train", mine, grad=True)
            tokens_run += b.n_tokens_prefix if r.layout == "prefix" else int(b.lengths.sum())
            seq = b.sequence_sums(tl)
            pc, pr = seq[:b.k], seq[b.k:]
            rc, rr = ref.pairs("train", mine, device)
            losses, metrics = loss_fn(pc, pr, rc, rr, b)
            scale = (len(mine) * dist.world / max(1, len(part))) / len(micro)
            dist.backward(losses.mean() * scale)
            rows.append(MX.gather_step_metrics(metrics, dist))
        if cfg.mode == "last-layer":
            dist.sync_grads(r.params)
        gnorm = None
        if cfg.max_grad_norm is not None:
            gnorm = float(torch.nn.utils.clip_grad_norm_(r.params, cfg.max_grad_norm))
        opt.step()
        opt.zero_grad(set_to_none=True)
        row = {"step": step + 1, "epoch": round((step + 1) * cfg.batch_size / n, 6)}
        row.update({k: float(np.mean([x[k] for x in rows])) for k in TRL_METRICS})
        if gnorm is not None:
            row["grad_norm"] = gnorm
        row["learning_rate"] = cfg.lr
        dt = time.perf_counter() - t0
        row["seconds"] = dt
        step_seconds.append(dt)
        history.append(row)
        losses_seen.append(row["loss"])
        s = step + 1
        if logged(s):
            evals.append(ev.evaluate(s, per_token, out))
        if out is not None and dist.main and (s % cfg.checkpoint_interval == 0 or s == cfg.steps):
            CK.save_checkpoint(out / "checkpoints", s, trainable=_trainable_state(r),
                               optimizer=opt, reference=ref.tensors(),
                               state={"identity": ident, "history": history, "evals": evals,
                                      "epoch": (s * cfg.batch_size) // n, "pairs_seen": s * cfg.batch_size})
    if not evals or evals[-1]["step"] != cfg.steps:
        evals.append(ev.evaluate(cfg.steps, per_token, out))
    final = dict(evals[-1])
    timing = {"seconds": time.perf_counter() - t_start,
              "steps_run": len(step_seconds), "step_seconds_mean": float(np.mean(step_seconds)) if step_seconds else None,
              "pairs_per_s": (cfg.batch_size * len(step_seconds) / sum(step_seconds)) if step_seconds else None,
              "tokens_run": tokens_run}
    res = TrainResult(cfg, history, evals, final, data_doc, model=r.model if keep_model else None,
                      tokenizer=tok, per_token=per_token, timing=timing, notes=r.notes + data.notes,
                      run=run_info | {"out": str(out) if out else None})
    if out is not None and dist.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(res.to_dict(), indent=1))
    return res


def _check_identity(saved: dict, now: dict) -> None:
    for key in ("model", "data", "trainable"):
        if saved.get(key) != now.get(key):
            what = {"model": "the model", "data": "the data", "trainable": "the trained parameters"}[key]
            raise BadValue(f"resume: the checkpoint was made with different {what}; use the same "
                           f"--model/--data/--mode or another --out")
    for k, v in now["config"].items():
        if saved["config"].get(k) != v:
            raise BadValue(f"resume: {k} differs from the checkpoint's ({saved['config'].get(k)!r} "
                           f"there, {v!r} now); only --steps may change on --resume")


def _trainable_state(r: _Run) -> dict:
    named = dict(r.model.named_parameters())
    return {n: named[n].detach() for n in r.trainable_names}


def _load_trainable(r: _Run, tensors: dict) -> None:
    import torch

    named = dict(r.model.named_parameters())
    missing = set(r.trainable_names) - set(tensors)
    if missing:
        raise BadValue(f"resume: the checkpoint lacks trained parameters {sorted(missing)[:3]}")
    with torch.no_grad():
        for n in r.trainable_names:
            named[n].copy_(tensors[n].to(named[n].device))
