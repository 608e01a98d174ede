"""Last-layer DPO on cached features, exactly and fast.

Setup (paper I, Section 3): only the unembedding W ∈ R^{|V|×d} is trained; πθ(y|x) =
softmax(W g(x))_y; the reference is W0 and training starts at W = W0. For single-token
responses the log-partition cancels in the margin:

    h_w − h_l = (W − W0)_{y_w} · g − (W − W0)_{y_l} · g,

so the DPO loss, its gradient and the margins depend only on the rows of the response tokens
T = {y_w, y_l over the data}; every other row gets an exactly zero gradient and keeps its
reference value under Adam as under gradient descent. :func:`train_rows` trains those |T|
rows (here 2: " Yes" and " No"), :func:`train_full_head` the whole |V| × d matrix as the
paper's code does; tests show both give the same margins.

Full-softmax quantities are exact too: the rows outside T never move, so the log-partition
at step t is logaddexp(lse_rest, logsumexp_{v∈T} z_v(t)) with lse_rest = log Σ_{v∉T} e^{W0_v·g}
computed once from the cached reference log-partition. Every step logs, per split, TRL's
metrics (``rewards/chosen`` = mean β h_w, ``rewards/rejected``, ``rewards/margins``,
``rewards/accuracies`` = mean [margin > 0], ``logps/chosen``, ``logps/rejected``) plus
``loss``, ``error`` = 1 − accuracy, ``logps/other`` (mean log of the probability mass on all
other tokens) and ``probs/chosen|rejected|other`` (mean probabilities).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dpomath import _args
from dpomath._args import BadType, BadValue
from dpomath._torch import num_threads, torch_dtype

__all__ = ["PreferenceSplit", "TrainConfig", "TrainResult", "train_rows", "train_full_head",
           "METRICS", "rest_log_partition"]

#: Metrics logged per split at every step (TRL's names where the quantity is the same).
METRICS = ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
           "error", "logps/chosen", "logps/rejected", "logps/other", "probs/chosen",
           "probs/rejected", "probs/other")


@dataclass
class PreferenceSplit:
    """N single-token preference pairs: features g (N, d), chosen/rejected token ids (N,),
    and the reference log-partition lse = logsumexp_v W0_v · g (N,) (optional: without it no
    log-probabilities are logged)."""

    features: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    lse: np.ndarray | None = None
    group: np.ndarray | None = None  # e.g. persona index of each pair

    def __post_init__(self) -> None:
        f = np.asarray(self.features)
        if f.ndim != 2:
            raise BadValue(f"features: expected an (N, d) array, got shape {f.shape}")
        self.features = _args.array("features", f)
        n = f.shape[0]
        for name in ("chosen", "rejected"):
            a = np.asarray(getattr(self, name))
            if a.shape != (n,) or a.dtype.kind not in "iu":
                raise BadType(f"{name}: expected ({n},) integer token ids, got {a.dtype} {a.shape}")
            setattr(self, name, a.astype(np.int64))
        if np.any(self.chosen == self.rejected):
            raise BadValue("chosen, rejected: a pair has the same chosen and rejected token")
        if self.lse is not None:
            self.lse = _args.array("lse", np.asarray(self.lse, dtype=np.float64))
            if self.lse.shape != (n,):
                raise BadValue(f"lse: expected shape ({n},), got {self.lse.shape}")

    def __len__(self) -> int:
        return self.features.shape[0]


@dataclass(frozen=True)
class TrainConfig:
    """Paper I's setup by default: Adam, learning rate 1e-3, 100 full-batch steps, β = 0.01."""

    beta: float = 0.01
    lr: float = 1e-3
    steps: int = 100
    optimizer: str = "adam"          # "adam" | "gd"
    loss: str = "sigmoid"            # any margin member of dpomath.losses
    dtype: str = "float64"           # "float64" | "float32"
    record_margins: bool = False     # keep the per-pair margins at the logged steps
    log_every: int = 1               # log metrics (and margins) every this many steps and at the end

    def __post_init__(self) -> None:
        _args.positive("beta", self.beta)
        _args.positive("lr", self.lr)
        _args.integer("steps", self.steps, lo=0)
        _args.integer("log_every", self.log_every, lo=1)
        _args.choice("optimizer", self.optimizer, ("adam", "gd"))
        _args.choice("dtype", self.dtype, ("float64", "float32"))
        from dpomath.losses import get_loss

        if not get_loss(self.loss).is_margin_loss:
            raise BadValue(f"loss: {self.loss!r} is not a function of the margin alone")


@dataclass
class TrainResult:
    """Per-step metrics (``history[split][metric]``, one entry per logged step ``steps_logged``
    — every step by default, so steps + 1 entries: entry s is the state after s updates),
    final margins, and — with ``record_margins`` — the per-pair margins at the logged steps
    (``margins[split]`` of shape (len(steps_logged), N)). ``logps[split]`` holds per-pair
    log-probabilities at the start and the end (``chosen0``, ``rejected0``, ``other0``,
    ``chosen``, ``rejected``, ``other``) when the log-partition is known."""

    config: TrainConfig
    tokens: np.ndarray                       # the trained rows' token ids
    history: dict[str, dict[str, np.ndarray]]
    final_margins: dict[str, np.ndarray]
    margins: dict[str, np.ndarray] = field(default_factory=dict)
    logps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    steps_logged: np.ndarray | None = None
    rows: np.ndarray | None = None           # the trained rows at the end, (|T|, d)
    rows0: np.ndarray | None = None          # the reference rows
    seconds: float = 0.0
    step_seconds: float = 0.0

    def final(self, split: str, metric: str) -> float:
        return float(self.history[split][metric][-1])


def rest_log_partition(split: PreferenceSplit, tokens: np.ndarray, rows0: np.ndarray) -> np.ndarray:
    """lse_rest = log Σ_{v ∉ T} exp(W0_v · g) from the full reference log-partition:
    lse + log1p(−Σ_{v∈T} exp(z0_v − lse)). Raises if the response tokens hold (numerically)
    all of the reference mass, where the subtraction would lose all precision."""
    z0 = split.features.astype(np.float64) @ rows0.astype(np.float64).T        # (N, |T|)
    from scipy.special import logsumexp

    frac = np.exp(logsumexp(z0, axis=1) - split.lse)                            # π0(T)
    if np.any(frac >= 1 - 1e-12):
        raise BadValue("lse: the response tokens carry all reference probability mass "
                       "(π0(T) ≥ 1 − 1e-12); the other-token mass cannot be resolved")
    return split.lse + np.log1p(-frac)


class _Split:
    """A split on torch: features, index of chosen/rejected among the trained rows."""

    def __init__(self, s: PreferenceSplit, tokens: np.ndarray, rows0, dtype):
        import torch

        pos = {int(t): k for k, t in enumerate(tokens)}
        self.g = torch.as_tensor(s.features, dtype=dtype)
        self.gT = self.g.T.contiguous()                                       # (d, N): W @ gT is fast
        self.ic = torch.as_tensor([pos[int(t)] for t in s.chosen])
        self.ir = torch.as_tensor([pos[int(t)] for t in s.rejected])
        # one-hot selectors: (z * C).sum(1) picks the chosen logit with a cheap backward
        # (advanced indexing's backward is a scatter, several times slower here)
        self.C = torch.nn.functional.one_hot(self.ic, len(tokens)).to(dtype)
        self.R = torch.nn.functional.one_hot(self.ir, len(tokens)).to(dtype)
        self.n = len(s)
        self.z0 = self.g @ rows0.T                                            # (N, |T|)
        self.z0w, self.z0l = self.z0[torch.arange(len(s)), self.ic], self.z0[torch.arange(len(s)), self.ir]
        self.rest = None
        if s.lse is not None:
            try:
                rest = rest_log_partition(s, tokens, rows0.detach().double().numpy())
            except BadValue:  # all mass on the response tokens: log-probabilities not logged
                rest = None
            if rest is not None:
                self.rest = torch.as_tensor(rest, dtype=dtype)
        ar = torch.arange(self.n)
        self.ar = ar


def _metrics(sp: _Split, z, beta: float, loss_kind: str) -> tuple[dict[str, float], "object", dict]:
    """Metrics of one split at logits z = g · W_Tᵀ (N, |T|); returns (metrics, margins,
    per-pair log-probabilities)."""
    import torch

    from dpomath.losses import preference_loss

    hw = z[sp.ar, sp.ic] - sp.z0[sp.ar, sp.ic]
    hl = z[sp.ar, sp.ir] - sp.z0[sp.ar, sp.ir]
    margin = beta * (hw - hl)
    m = {"loss": float(preference_loss(loss_kind, hw, hl, beta).mean()),
         "rewards/chosen": float((beta * hw).mean()), "rewards/rejected": float((beta * hl).mean()),
         "rewards/margins": float(margin.mean()),
         "rewards/accuracies": float((margin > 0).to(z.dtype).mean())}
    m["error"] = 1.0 - m["rewards/accuracies"]
    per: dict = {}
    if sp.rest is not None:
        lse = torch.logaddexp(sp.rest, torch.logsumexp(z, dim=1))
        lpw, lpl = z[sp.ar, sp.ic] - lse, z[sp.ar, sp.ir] - lse
        mask = torch.ones_like(z, dtype=torch.bool)
        mask[sp.ar, sp.ic] = False
        mask[sp.ar, sp.ir] = False
        others = torch.where(mask, z, torch.full_like(z, -math.inf))
        lpo = torch.logaddexp(sp.rest, torch.logsumexp(others, dim=1)) - lse
        m.update({"logps/chosen": float(lpw.mean()), "logps/rejected": float(lpl.mean()),
                  "logps/other": float(lpo.mean()), "probs/chosen": float(lpw.exp().mean()),
                  "probs/rejected": float(lpl.exp().mean()), "probs/other": float(lpo.exp().mean())})
        per = {"chosen": lpw, "rejected": lpl, "other": lpo}
    return m, margin, per


def _response_tokens(train: PreferenceSplit, test: PreferenceSplit | None) -> np.ndarray:
    toks = set(train.chosen.tolist()) | set(train.rejected.tolist())
    if test is not None:
        toks |= set(test.chosen.tolist()) | set(test.rejected.tolist())
    return np.array(sorted(toks), dtype=np.int64)


def train_rows(head_rows: dict[int, np.ndarray] | np.ndarray, train: PreferenceSplit,
               test: PreferenceSplit | None = None, config: TrainConfig = TrainConfig(),
               tokens: Sequence[int] | None = None) -> TrainResult:
    """Last-layer DPO on the response-token rows only (exact for single-token responses).

    ``head_rows``: {token id: W0 row} (or a (|T|, d) array with ``tokens``). Full-batch steps;
    Adam (torch defaults β1 = 0.9, β2 = 0.999, ε = 1e-8) or plain gradient descent, whose
    continuous limit is paper I's gradient flow with τ = 1 and time t = lr · step.
    """
    with num_threads(1):  # tiny products: threads only add OpenMP hand-offs
        return _train_rows(head_rows, train, test, config, tokens)


def _train_rows(head_rows, train, test, config, tokens):
    import torch

    from dpomath.losses import preference_loss

    t_start = time.perf_counter()
    dtype = torch_dtype(config.dtype)
    if isinstance(head_rows, dict):
        tokens = _response_tokens(train, test) if tokens is None else np.asarray(tokens, dtype=np.int64)
        missing = [int(t) for t in tokens if int(t) not in head_rows]
        if missing:
            raise BadValue(f"head_rows: no reference row for response token(s) {missing}")
        rows0_np = np.stack([np.asarray(head_rows[int(t)]) for t in tokens])
    else:
        if tokens is None:
            raise BadValue("tokens: required when head_rows is an array")
        tokens = np.asarray(tokens, dtype=np.int64)
        rows0_np = np.asarray(head_rows)
    needed = set(_response_tokens(train, test).tolist())
    if not needed <= set(tokens.tolist()):
        raise BadValue(f"tokens: missing response tokens {sorted(needed - set(tokens.tolist()))}")
    rows0 = torch.as_tensor(rows0_np, dtype=dtype)
    splits = {"train": _Split(train, tokens, rows0, dtype)}
    if test is not None and len(test):
        splits["test"] = _Split(test, tokens, rows0, dtype)
    W = torch.nn.Parameter(rows0.clone())
    opt = (torch.optim.Adam([W], lr=config.lr) if config.optimizer == "adam"
           else torch.optim.SGD([W], lr=config.lr))
    hist = {k: {m: [] for m in METRICS} for k in splits}
    margins = {k: [] for k in splits}
    logps: dict[str, dict[str, np.ndarray]] = {k: {} for k in splits}
    step_time = 0.0

    def log(z_by_split, first=False, last=False):
        out = {}
        for k, sp in splits.items():
            m, r, per = _metrics(sp, z_by_split[k], config.beta, config.loss)
            for name, v in per.items():
                if first:
                    logps[k][name + "0"] = v.detach().double().numpy().copy()
                if last:
                    logps[k][name] = v.detach().double().numpy().copy()
            for name, v in m.items():
                hist[k][name].append(v)
            if config.record_margins:
                margins[k].append(r.detach().double().numpy().copy())
            out[k] = r
        return out

    tr = splits["train"]
    final = {}
    logged = []
    for step in range(config.steps + 1):
        if step % config.log_every == 0 or step == config.steps:
            logged.append(step)
            with torch.no_grad():
                zs = {k: (W @ sp.gT).T for k, sp in splits.items()}
                final = log(zs, first=step == 0, last=step == config.steps)
        if step == config.steps:
            break
        t0 = time.perf_counter()
        z = (W @ tr.gT).T
        hw = (z * tr.C).sum(1) - tr.z0w
        hl = (z * tr.R).sum(1) - tr.z0l
        loss = preference_loss(config.loss, hw, hl, config.beta).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step_time += time.perf_counter() - t0
    history = {k: {m: np.array(v, dtype=np.float64) for m, v in h.items() if v} for k, h in hist.items()}
    res = TrainResult(config, tokens, history,
                      {k: r.detach().double().numpy() for k, r in final.items()},
                      {k: np.stack(v) for k, v in margins.items() if v},
                      {k: v for k, v in logps.items() if v}, np.array(logged),
                      W.detach().double().numpy().copy(), rows0.double().numpy().copy(),
                      seconds=time.perf_counter() - t_start,
                      step_seconds=step_time / max(config.steps, 1))
    return res


def train_full_head(W0, train: PreferenceSplit, config: TrainConfig = TrainConfig(),
                    test: PreferenceSplit | None = None) -> TrainResult:
    """Reference implementation: train the whole |V| × d head through the full log-softmax
    (what paper I's code does). Slow and memory-hungry (N × |V| logits); for tests and the
    benchmark baseline. Logs margins and rewards only."""
    import torch

    from dpomath.losses import preference_loss

    t_start = time.perf_counter()
    dtype = torch_dtype(config.dtype)
    W0 = torch.as_tensor(W0, dtype=dtype)
    W = torch.nn.Parameter(W0.clone())
    opt = (torch.optim.Adam([W], lr=config.lr) if config.optimizer == "adam"
           else torch.optim.SGD([W], lr=config.lr))
    data = {"train": train} | ({"test": test} if test is not None else {})
    gs = {k: torch.as_tensor(s.features, dtype=dtype) for k, s in data.items()}
    idx = {k: (torch.arange(len(s)), torch.as_tensor(s.chosen), torch.as_tensor(s.rejected))
           for k, s in data.items()}
    with torch.no_grad():
        ref = {k: torch.log_softmax(gs[k] @ W0.T, dim=1) for k in data}

    def logratios(k, logp):
        ar, c, r = idx[k]
        return logp[ar, c] - ref[k][ar, c], logp[ar, r] - ref[k][ar, r]

    hist = {k: {m: [] for m in ("loss", "rewards/margins", "rewards/accuracies")} for k in data}
    margins = {k: [] for k in data}
    step_time = 0.0
    for step in range(config.steps + 1):
        with torch.no_grad():
            for k in data:
                hw, hl = logratios(k, torch.log_softmax(gs[k] @ W.T, dim=1))
                r = config.beta * (hw - hl)
                hist[k]["loss"].append(float(preference_loss(config.loss, hw, hl, config.beta).mean()))
                hist[k]["rewards/margins"].append(float(r.mean()))
                hist[k]["rewards/accuracies"].append(float((r > 0).to(dtype).mean()))
                margins[k].append(r.double().numpy().copy())
        if step == config.steps:
            break
        t0 = time.perf_counter()
        hw, hl = logratios("train", torch.log_softmax(gs["train"] @ W.T, dim=1))
        loss = preference_loss(config.loss, hw, hl, config.beta).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step_time += time.perf_counter() - t0
    return TrainResult(config, np.arange(W0.shape[0]),
                       {k: {m: np.array(v) for m, v in h.items()} for k, h in hist.items()},
                       {k: v[-1] for k, v in margins.items()},
                       {k: np.stack(v) for k, v in margins.items()}, {},
                       np.arange(config.steps + 1), seconds=time.perf_counter() - t_start,
                       step_seconds=step_time / max(config.steps, 1))
