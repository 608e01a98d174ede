"""Paper Y's toy model (Yan et al., ICLR 2025, Section 3.2), batched over seeds and settings.

The model: 4 prompts given as one-hot inputs, a policy over 10 responses. Response i
(i = 1..4) is prompt i's chosen response, responses 5–8 are rejected responses, 9–10 are never
in any pair ("unseen"). Each preference pair is (prompt i, its chosen response i, a rejected
response drawn uniformly from 5–8); a data set holds ``pairs_per_prompt`` such pairs per prompt,
drawn once per seed. Everything here counts responses from 0 (response 1 is index 0).

The policy is a 3-layer MLP (Linear(4, H) → ReLU → Linear(H, H) → ReLU → Linear(H, 10)) with a
softmax output, or (``width=0``) the free-logit (tabular) policy whose parameters are the 4 × 10
logits themselves (the control analysed in :mod:`dpomath.toys.free_logit`).

Training, as in the paper:

1. *SFT stage* — cross-entropy to a target distribution per prompt,
   ``−Σ_i Σ_k t_ik log π(k|x_i)``, whose minimum is exactly π = t: ``sft_steps`` Adam steps
   (the whole network learns), then the output layer's least-norm correction that puts every
   prompt exactly on its target (see :func:`sft`; error ~1e-15, checked ≤ 1e-3). The
   targets: the chosen response gets 0.12 (on-policy) or 0.02 (off-policy), each rejected
   response 5–8 likewise, and the rest of the mass is shared evenly by the other five
   responses (the three other prompts' chosen responses and the two unseen ones) — the paper
   does not say where the remaining mass goes; this is our choice.
2. *DPO stage* — ``epochs`` full-batch steps (one step = one epoch over the pairs) of the
   preference loss against the SFT model as the reference, with Adam or SGD. Every loss is
   :func:`dpomath.losses.preference_loss` (``sigmoid`` = DPO, ``flex`` = Flex-DPO,
   ``sft`` = SFT-DPO).

The four scenarios (chosen, rejected): 1 = (on, on), 2 = (off, on), 3 = (on, off),
4 = (off, off). The paper gives no width, optimizer, learning rate or β: they are parameters
of :class:`Setting`.

Batching: all runs that share a width, an optimizer and a learning rate are one tensor
program — parameters stacked along a leading run axis, the forward pass as batched matmuls
(``torch.baddbmm``), one backward pass for the sum of the runs' losses (runs share no
parameters, so each run gets exactly its own gradient), and ``torch.optim.Adam``/``SGD`` on the
stacked tensors (both are elementwise, so each run is updated as if alone). :func:`reference_run` is the plain one-run version with
``torch.nn`` and ``torch.optim``, used to test the batched program and as the benchmark's loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import _args
from .._torch import num_threads, torch as _torch

__all__ = [
    "N_PROMPTS", "N_RESPONSES", "CHOSEN", "REJECTED", "UNSEEN", "P_ON", "P_OFF", "SCENARIOS",
    "STATS", "Setting", "ToyResult", "sft_targets", "init_params", "pairs", "pair_counts", "sft",
    "run", "reference_run", "PEAKED", "CHECKPOINT_FRACTIONS", "checkpoint_epochs",
]

N_PROMPTS = 4
N_RESPONSES = 10
CHOSEN = (0, 1, 2, 3)       # response i is prompt i's chosen response
REJECTED = (4, 5, 6, 7)     # responses 5–8
UNSEEN = (8, 9)             # responses 9–10, in no pair
P_ON, P_OFF = 0.12, 0.02    # SFT probabilities of an on-/off-policy response
#: scenario -> (chosen, rejected) policy status
SCENARIOS = {1: ("on", "on"), 2: ("off", "on"), 3: ("on", "off"), 4: ("off", "off")}
LOSS_KINDS = ("sigmoid", "flex", "sft")
OPTIMIZERS = ("adam", "sgd")
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8

#: What is recorded at every epoch for every run (``ToyResult.history[..., k]``).
#: Probabilities are averaged over the 4 prompts unless named per prompt
#: (``p_chosen_prompt1`` … ``p_chosen_prompt4`` = π(c_i|x_i) of prompt i); "rejected" means the rejected responses that
#: appear in a pair with the prompt; "neither" (for prompt i) means the responses that are
#: neither chosen nor rejected for it: the other prompts' chosen responses and the unseen 9–10
#: (the rejected responses 5–8 are rejected for every prompt); ``logp_*`` are means of
#: log-probabilities, ``log_*_mass`` logs of probability masses; the gradient norms are of the
#: batch loss with respect to the probabilities π(chosen_i|x_i) (4 numbers) and π(r|x_i) (the
#: paired rejected ones).
STATS = (
    "p_chosen_mean",    # mean_i π(c_i|x_i)
    "p_chosen_min",     # min_i π(c_i|x_i)
    *(f"p_chosen_prompt{i + 1}" for i in range(N_PROMPTS)),   # π(c_i|x_i), each prompt
    "p_rejected_mean",  # mean over paired (i, r) of π(r|x_i)
    "p_rejected_max",   # max over paired (i, r)
    "p_unseen_mass",    # mean_i [π(9|x_i) + π(10|x_i)]
    "p_other_mass",     # mean_i Σ_{j≠i, j≤4} π(c_j|x_i): other prompts' chosen responses
    "logp_chosen",      # mean_i log π(c_i|x_i)
    "logp_rejected",    # mean over paired (i, r) of log π(r|x_i)
    "logp_unseen",      # mean_i mean_{k=9,10} log π(k|x_i)
    "logp_other",       # mean_i mean_{j≠i, j≤4} log π(c_j|x_i)
    "logp_neither",     # mean_i mean_{k ∈ N_i} log π(k|x_i), N_i = {c_j: j ≠ i} ∪ {9, 10}
    "log_unseen_mass",  # log mean_i Σ_{k=9,10} π(k|x_i) (log-sum-exp: exact where π underflows)
    "log_neither_mass",  # log mean_i Σ_{k ∈ N_i} π(k|x_i): responses neither chosen nor rejected
    "log_grad_chosen",  # log ‖∂L/∂π(chosen)‖₂
    "log_grad_rejected",  # log ‖∂L/∂π(rejected)‖₂
    "loss",             # the run's batch loss
)
_S = {name: k for k, name in enumerate(STATS)}


def sft_targets(scenario: int) -> np.ndarray:
    """The SFT target distribution (4 × 10) of a scenario: chosen and rejected responses get
    0.12 (on-policy) or 0.02 (off-policy); the other five responses share the rest evenly."""
    scenario = _args.integer("scenario", scenario, lo=1, hi=4)
    c, r = (P_ON if s == "on" else P_OFF for s in SCENARIOS[scenario])
    t = np.empty((N_PROMPTS, N_RESPONSES))
    for i in range(N_PROMPTS):
        rest = [k for k in range(N_RESPONSES) if k != CHOSEN[i] and k not in REJECTED]
        t[i, CHOSEN[i]] = c
        t[i, list(REJECTED)] = r
        t[i, rest] = (1.0 - c - len(REJECTED) * r) / len(rest)
    return t


@dataclass(frozen=True)
class Setting:
    """One cell of the sweep: scenario, policy, optimizer and loss.

    ``width`` is the hidden width of the MLP, 0 for the free-logit policy. ``loss`` is a kind
    of :func:`dpomath.losses.preference_loss`: ``sigmoid`` (DPO, β = ``beta``), ``flex``
    (β₊ = ``beta``, β₋ = ``beta_minus``) or ``sft`` (``gamma``).
    """

    scenario: int
    optimizer: str = "adam"
    lr: float = 1e-3
    beta: float = 0.1
    width: int = 32
    loss: str = "sigmoid"
    beta_minus: float | None = None
    gamma: float | None = None

    def __post_init__(self):
        _args.integer("scenario", self.scenario, lo=1, hi=4)
        _args.choice("optimizer", self.optimizer, OPTIMIZERS)
        _args.positive("lr", self.lr)
        _args.positive("beta", self.beta)
        _args.integer("width", self.width, lo=0)
        _args.choice("loss", self.loss, LOSS_KINDS)
        if (self.loss == "flex") != (self.beta_minus is not None):
            raise _args.BadValue("beta_minus: required for loss 'flex' and only for it")
        if (self.loss == "sft") != (self.gamma is not None):
            raise _args.BadValue("gamma: required for loss 'sft' and only for it")
        if self.beta_minus is not None:
            _args.positive("beta_minus", self.beta_minus)
        if self.gamma is not None:
            _args.real("gamma", self.gamma, lo=0.0)

    @property
    def arch(self) -> str:
        return "free-logit" if self.width == 0 else "mlp"

    def loss_params(self) -> dict:
        """The keyword parameters of the loss (without SFT-DPO's array ``chosen_logps``)."""
        if self.loss == "flex":
            return {"beta_minus": self.beta_minus}
        if self.loss == "sft":
            return {"gamma": self.gamma}
        return {}

    def label(self) -> str:
        arch = "free-logit" if self.width == 0 else f"mlp{self.width}"
        extra = (f" β-={self.beta_minus:g}" if self.loss == "flex"
                 else f" γ={self.gamma:g}" if self.loss == "sft" else "")
        return (f"S{self.scenario} {arch} {self.optimizer} lr={self.lr:g} "
                f"{self.loss} β={self.beta:g}{extra}")


# ---------------------------------------------------------------------------------------------
# seeded pieces of one run

def init_params(seed: int, width: int) -> dict[str, np.ndarray]:
    """Initial parameters of one run, as ``torch.nn.Linear`` draws them (uniform in
    ±1/√fan_in for weights and biases), from ``numpy.random.default_rng([seed, width])``.
    Weights are stored input-major (``x @ W``). The free-logit policy (width 0) starts at 0."""
    seed = _args.integer("seed", seed, lo=0)
    width = _args.integer("width", width, lo=0)
    if width == 0:
        return {"logits": np.zeros((N_PROMPTS, N_RESPONSES))}
    rng = np.random.default_rng([seed, width])
    out = {}
    for name, (fan_in, fan_out) in (("1", (N_PROMPTS, width)), ("2", (width, width)),
                                    ("3", (width, N_RESPONSES))):
        bound = 1.0 / math.sqrt(fan_in)
        out["W" + name] = rng.uniform(-bound, bound, size=(fan_in, fan_out))
        out["b" + name] = rng.uniform(-bound, bound, size=(fan_out,))
    return out


_PARAM_NAMES = {"mlp": ("W1", "b1", "W2", "b2", "W3", "b3"), "free-logit": ("logits",)}


def pairs(seed: int, pairs_per_prompt: int = 16) -> np.ndarray:
    """The preference data of a seed: ``(4·pairs_per_prompt, 2)`` rows (prompt, rejected
    response), each prompt's rejected response drawn uniformly from 5–8 by
    ``numpy.random.default_rng([seed, 7])`` (the same for every width and scenario)."""
    seed = _args.integer("seed", seed, lo=0)
    n = _args.integer("pairs_per_prompt", pairs_per_prompt, lo=1)
    rng = np.random.default_rng([seed, 7])
    rej = rng.integers(0, len(REJECTED), size=(N_PROMPTS, n))
    prompts = np.repeat(np.arange(N_PROMPTS), n)
    return np.stack([prompts, np.asarray(REJECTED)[rej.ravel()]], axis=1)


def pair_counts(seed: int, pairs_per_prompt: int = 16) -> np.ndarray:
    """(4, 4) counts n[i, j] of pairs (prompt i, rejected response 5 + j) in :func:`pairs`."""
    p = pairs(seed, pairs_per_prompt)
    n = np.zeros((N_PROMPTS, len(REJECTED)), dtype=np.int64)
    np.add.at(n, (p[:, 0], p[:, 1] - REJECTED[0]), 1)
    return n


# ---------------------------------------------------------------------------------------------
# the batched tensor program

# These small batched ops gain little from more threads and lose much when the cores are
# shared: they run on ``threads`` torch threads (:func:`dpomath._torch.num_threads`).


def _forward(arch: str, ps: Sequence):
    """Logits (B, 4, 10) of stacked parameters. One-hot prompts: x_i @ W1 is row i of W1."""
    torch = _torch()
    if arch == "free-logit":
        return ps[0]
    W1, b1, W2, b2, W3, b3 = ps
    h1 = torch.relu(W1 + b1[:, None, :])
    h2 = torch.relu(torch.baddbmm(b2[:, None, :], h1, W2))
    return torch.baddbmm(b3[:, None, :], h2, W3)


def _stack(dicts: Sequence[dict], names: Sequence[str]):
    torch = _torch()
    return [torch.tensor(np.stack([d[k] for d in dicts]), dtype=torch.float64) for k in names]


def _optimizer(name: str, params, lr: float):
    """``torch.optim.Adam`` (fused CPU kernel; β = (0.9, 0.999), ε = 1e-8) or ``SGD``. Both are
    elementwise, so on stacked parameters they act on every run independently."""
    torch = _torch()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS, fused=True)
    return torch.optim.SGD(params, lr=lr, foreach=True)


def _hidden(ps):
    """Last hidden layer (B, 4, H) of stacked MLP parameters."""
    torch = _torch()
    W1, b1, W2, b2 = ps[:4]
    return torch.relu(torch.baddbmm(b2[:, None, :], torch.relu(W1 + b1[:, None, :]), W2))


def sft(seeds: Sequence[int], scenarios: Sequence[int], width: int, *, lr: float = 1e-2,
        steps: int = 300, threads: int = 1) -> tuple[list, np.ndarray]:
    """The SFT stage for runs ``zip(seeds, scenarios)`` of one width, batched.

    Minimises the cross-entropy ``−Σ_i Σ_k t_ik log π(k|x_i)`` to :func:`sft_targets` with Adam
    (``lr``, ``steps`` steps) from :func:`init_params`; the minimum of this objective is π = t.
    The last step completes it exactly: the output layer gets the least-norm correction
    (pseudo-inverse of [h_i, 1], h_i the last hidden state of prompt i) that makes every logit
    row equal log t_i up to a constant — exact whenever the four [h_i, 1] are linearly
    independent. Returns the stacked parameters (list of float64 tensors, leading axis = run)
    and each run's max |π − t|. The free-logit policy is set to log t directly.
    """
    with num_threads(threads):
        return _sft(seeds, scenarios, width, lr, steps)


def _sft(seeds, scenarios, width, lr, steps):
    torch = _torch()
    seeds = [_args.integer("seeds", s, lo=0) for s in seeds]
    scenarios = [_args.integer("scenarios", s, lo=1, hi=4) for s in scenarios]
    if len(seeds) != len(scenarios):
        raise _args.BadValue("scenarios: must have one entry per seed")
    width = _args.integer("width", width, lo=0)
    lr = _args.positive("lr", lr)
    steps = _args.integer("steps", steps, lo=0)
    targets = torch.tensor(np.stack([sft_targets(s) for s in scenarios]), dtype=torch.float64)
    if width == 0:
        ps = [targets.log()]
        err = (torch.softmax(ps[0], -1) - targets).abs().amax(dim=(1, 2))
        return ps, err.numpy()
    arch = "mlp"
    ps = _stack([init_params(s, width) for s in seeds], _PARAM_NAMES[arch])
    for p in ps:
        p.requires_grad_(True)
    opt = _optimizer("adam", ps, lr)
    for _ in range(steps):
        opt.zero_grad(set_to_none=False)
        logp = torch.log_softmax(_forward(arch, ps), -1)
        (-(targets * logp).sum()).backward()
        opt.step()
    ps = [p.detach().clone() for p in ps]
    with torch.no_grad():  # exact completion of the output layer
        h = _hidden(ps)
        A = torch.cat([h, torch.ones_like(h[..., :1])], -1)                  # (B, 4, H+1)
        z = _forward(arch, ps)
        want = targets.log()
        want = want + (z - want).mean(-1, keepdim=True)                      # free constant
        delta = torch.linalg.pinv(A) @ (want - z)                            # (B, H+1, 10)
        ps[4] += delta[:, :-1]
        ps[5] += delta[:, -1]
        err = (torch.softmax(_forward(arch, ps), -1) - targets).abs().amax(dim=(1, 2))
    return ps, err.numpy()


def _loss_key(s: Setting) -> tuple:
    return (s.loss, s.beta, s.beta_minus, s.gamma)


def _run_program(arch: str, slots: list[tuple[Setting, int]], init: list, ref_logp, counts,
                 epochs: int, pairs_per_prompt: int, desc: str = ""):
    """One tensor program: DPO-family training of every slot (setting, seed) of one
    architecture/width. Slots must come grouped by loss key (contiguous), so each loss is one
    :func:`~dpomath.losses.preference_loss` call on a view; the parameters are held in one
    stacked block per (optimizer, learning rate), each with its own ``torch.optim`` optimizer.
    Returns the per-epoch statistics (B, epochs + 1, len(STATS)) and the final log-probs."""
    torch = _torch()
    from ..losses import preference_loss
    from ..verify.progress import progress

    B = len(slots)
    keys = sorted({(s.optimizer, s.lr) for s, _ in slots})
    rows = [[j for j, (s, _) in enumerate(slots) if (s.optimizer, s.lr) == k] for k in keys]
    inv = torch.from_numpy(np.argsort(np.concatenate(rows)))
    blocks, opts = [], []
    for (opt_name, lr), r in zip(keys, rows):
        ps = [p[r].clone().requires_grad_(True) for p in init]
        blocks.append(ps)
        opts.append(_optimizer(opt_name, ps, lr))
    leaves = [p for ps in blocks for p in ps]

    def log_probs():
        logits = torch.cat([_forward(arch, ps) for ps in blocks])[inv]
        return torch.log_softmax(logits, -1)

    w = torch.tensor(counts, dtype=torch.float64) / (N_PROMPTS * pairs_per_prompt)  # (B,4,4)
    paired = w > 0
    n_paired = paired.sum(dim=(1, 2))
    ar, ch, rj = list(range(N_PROMPTS)), list(CHOSEN), list(REJECTED)
    ref_c = ref_logp[:, ar, ch]                                   # (B,4)
    ref_r = ref_logp[:, :, rj]                                    # (B,4,4)
    groups, start = [], 0                                         # runs of slots sharing a loss
    for k in range(1, B + 1):
        if k == B or _loss_key(slots[k][0]) != _loss_key(slots[start][0]):
            groups.append((k - start, slots[start][0]))
            start = k
    if len({_loss_key(s) for _, s in groups}) != len(groups):
        raise ValueError("slots: must be grouped by loss")
    sizes = [n for n, _ in groups]
    other = torch.ones(N_PROMPTS, N_RESPONSES, dtype=torch.bool)
    other[:, rj + list(UNSEEN)] = False
    other[ar, ch] = False
    neither = other.clone()
    neither[:, list(UNSEEN)] = True
    hist = torch.empty((B, epochs + 1, len(STATS)), dtype=torch.float64)
    for t in progress(range(epochs + 1), desc=desc, total=epochs + 1):
        logp = log_probs()
        logp_c = logp[:, ar, ch]                                  # (B,4)
        hw = (logp_c - ref_c)[:, :, None].expand(B, N_PROMPTS, len(REJECTED))
        hl = logp[:, :, rj] - ref_r
        losses = []
        for (n, s), hw_g, hl_g, lc_g, w_g in zip(groups, hw.split(sizes), hl.split(sizes),
                                                  logp_c.split(sizes), w.split(sizes)):
            params = s.loss_params()
            if s.loss == "sft":
                params["chosen_logps"] = lc_g[:, :, None].expand(-1, -1, len(REJECTED))
            per_pair = preference_loss(s.loss, hw_g, hl_g, s.beta, **params)
            losses.append((w_g * per_pair).sum(dim=(1, 2)))
        loss = torch.cat(losses)
        grads = torch.autograd.grad(loss.sum(), leaves + [logp])
        with torch.no_grad():
            lp = logp.detach()
            p = lp.exp()
            log_gp = grads[-1].abs().log() - lp      # log |∂L/∂π| = log |∂L/∂log π| − log π
            pc, pr, lpr = p[:, ar, ch], p[:, :, rj], lp[:, :, rj]
            st = hist[:, t]
            st[:, _S["p_chosen_mean"]] = pc.mean(1)
            st[:, _S["p_chosen_min"]] = pc.amin(1)
            st[:, _S["p_chosen_prompt1"]:_S["p_chosen_prompt1"] + N_PROMPTS] = pc
            st[:, _S["p_rejected_mean"]] = (pr * paired).sum((1, 2)) / n_paired
            st[:, _S["p_rejected_max"]] = pr.masked_fill(~paired, -1.0).amax((1, 2))
            st[:, _S["p_unseen_mass"]] = p[:, :, list(UNSEEN)].sum(2).mean(1)
            st[:, _S["p_other_mass"]] = (p * other).sum(2).mean(1)
            st[:, _S["logp_chosen"]] = lp[:, ar, ch].mean(1)
            st[:, _S["logp_rejected"]] = (lpr * paired).sum((1, 2)) / n_paired
            lpu = lp[:, :, list(UNSEEN)]
            st[:, _S["logp_unseen"]] = lpu.mean((1, 2))
            st[:, _S["logp_other"]] = lp.masked_fill(~other, 0.0).sum((1, 2)) / other.sum()
            st[:, _S["logp_neither"]] = lp.masked_fill(~neither, 0.0).sum((1, 2)) / neither.sum()
            log_n = math.log(N_PROMPTS)
            st[:, _S["log_unseen_mass"]] = torch.logsumexp(lpu.flatten(1), 1) - log_n
            st[:, _S["log_neither_mass"]] = torch.logsumexp(
                lp.masked_fill(~neither, -math.inf).flatten(1), 1) - log_n
            st[:, _S["log_grad_chosen"]] = 0.5 * torch.logsumexp(2 * log_gp[:, ar, ch], 1)
            st[:, _S["log_grad_rejected"]] = 0.5 * torch.logsumexp(
                (2 * log_gp[:, :, rj]).masked_fill(~paired, -math.inf).flatten(1), 1)
            st[:, _S["loss"]] = loss.detach()
        if t < epochs:
            for q, g in zip(leaves, grads[:-1]):
                q.grad = g
            for opt in opts:
                opt.step()
    return hist.numpy(), lp.numpy()


@dataclass
class ToyResult:
    """Runs of settings × seeds.

    ``history[s, n, e, k]`` is statistic ``STATS[k]`` of setting ``s``, seed ``n`` at epoch
    ``epochs_recorded[e]``; ``full`` metrics are computed from every epoch (not only the
    recorded ones): ``peak_p_chosen`` (max over epochs of ``p_chosen_mean``),
    ``peak_epoch_p_chosen``, ``peak_p_chosen_prompt<i>`` (max over epochs of prompt i's
    π(c_i|x_i)), ``peak_p_unseen``; and for every statistic its ``start``,
    ``end`` and value at ``early_epoch`` (a tenth of training) as ``<stat>_start`` etc.

    The trajectory is also kept at the ``checkpoints`` (epochs; by default a tenth, half and
    all of training — :data:`CHECKPOINT_FRACTIONS`): ``<stat>@<epoch>`` for every statistic
    and the running peaks ``peak_<stat>@<epoch>`` (max over epochs 0…epoch, every epoch) of
    :data:`PEAKED`; :meth:`at` reads them.
    """

    settings: list[Setting]
    seeds: list[int]
    epochs: int
    pairs_per_prompt: int
    epochs_recorded: np.ndarray
    history: np.ndarray
    metrics: dict[str, np.ndarray]
    sft_max_error: np.ndarray
    final_logp: np.ndarray | None = None  # (S, N, 4, 10) log-probabilities after DPO
    early_epoch: int = 0
    checkpoints: tuple = ()

    def index(self, setting: Setting) -> int:
        """Position of ``setting`` in :attr:`settings` (a dict built on first use)."""
        pos = self.__dict__.get("_positions")
        if pos is None or len(pos) != len(self.settings):
            pos = {s: k for k, s in enumerate(self.settings)}
            self.__dict__["_positions"] = pos
        try:
            return pos[setting]
        except KeyError:
            raise ValueError(f"{setting!r} is not in this result's settings") from None

    def metric(self, name: str, setting: Setting) -> np.ndarray:
        return self.metrics[name][self.index(setting)]

    def at(self, name: str, setting: Setting, epoch: int) -> np.ndarray:
        """Statistic ``name`` (or ``peak_<stat>``, a running peak) of a setting at ``epoch``
        (0 = the start, the SFT model; otherwise one of :attr:`checkpoints`), one value per seed."""
        if epoch == 0 and not name.startswith("peak_"):
            return self.metric(name + "_start", setting)
        if epoch not in self.checkpoints:
            raise _args.BadValue(f"epoch: must be 0 or one of the checkpoints {self.checkpoints}, "
                                 f"got {epoch!r}")
        return self.metric(f"{name}@{epoch}", setting)


#: Statistics whose running peak (max over epochs up to a checkpoint) is kept.
PEAKED = ("p_chosen_mean", "logp_chosen", *(f"p_chosen_prompt{i + 1}" for i in range(N_PROMPTS)))
#: Default checkpoints as fractions of training: early, middle, end (epochs 50, 250, 500 of 500).
CHECKPOINT_FRACTIONS = (0.1, 0.5, 1.0)


def checkpoint_epochs(epochs: int, fractions: Sequence[float] = CHECKPOINT_FRACTIONS) -> tuple:
    """The checkpoint epochs of a run of ``epochs`` epochs: ``max(1, round(f·epochs))`` for each
    fraction, distinct and increasing.

    >>> checkpoint_epochs(500), checkpoint_epochs(300)
    ((50, 250, 500), (30, 150, 300))
    """
    epochs = _args.integer("epochs", epochs, lo=1)
    out = sorted({max(1, min(epochs, round(float(f) * epochs))) for f in fractions})
    return tuple(int(e) for e in out)


def _metrics(hist: np.ndarray, early: int, checkpoints: Sequence[int] = ()) -> dict[str, np.ndarray]:
    out = {}
    for k, name in enumerate(STATS):
        out[name + "_start"] = hist[:, 0, k]
        out[name + "_end"] = hist[:, -1, k]
        out[name + "_early"] = hist[:, early, k]
        for e in checkpoints:
            out[f"{name}@{e}"] = hist[:, e, k]
    for name in PEAKED:
        running = np.maximum.accumulate(hist[:, :, _S[name]], axis=1)
        for e in checkpoints:
            out[f"peak_{name}@{e}"] = running[:, e]
    pc = hist[:, :, _S["p_chosen_mean"]]
    out["peak_p_chosen"] = pc.max(1)
    out["peak_epoch_p_chosen"] = pc.argmax(1).astype(np.float64)
    for i in range(N_PROMPTS):
        out[f"peak_p_chosen_prompt{i + 1}"] = hist[:, :, _S[f"p_chosen_prompt{i + 1}"]].max(1)
    out["peak_p_unseen"] = hist[:, :, _S["p_unseen_mass"]].max(1)
    return out


def run(settings: Sequence[Setting], seeds: Sequence[int], *, epochs: int = 500,
        pairs_per_prompt: int = 16, record_every: int = 5, sft_steps: int = 300,
        keep_final_logp: bool = False, threads: int = 1, desc: str = "toy") -> ToyResult:
    """Run every setting for every seed: SFT (shared by the settings of a width, scenario and
    seed) then ``epochs`` DPO-family epochs, batched into one tensor program per
    width (parameters in one stacked block per optimizer and learning rate). Deterministic for
    given arguments. Runs on ``threads`` torch threads (restored afterwards): these small
    batched ops gain little from more threads and lose much when the cores are shared.

    Raises RuntimeError if some SFT stage ends farther than 1e-3 from its targets.
    """
    torch = _torch()
    settings = list(settings)
    if not settings:
        raise _args.BadValue("settings: at least one setting is required")
    for s in settings:
        if not isinstance(s, Setting):
            raise _args.BadType(f"settings: expected Setting objects, got {type(s).__name__}")
    if len(set(settings)) != len(settings):
        raise _args.BadValue("settings: contains duplicates")
    seeds = [_args.integer("seeds", s, lo=0) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise _args.BadValue("seeds: must be a non-empty list of distinct integers >= 0")
    epochs = _args.integer("epochs", epochs, lo=1)
    pairs_per_prompt = _args.integer("pairs_per_prompt", pairs_per_prompt, lo=1)
    record_every = _args.integer("record_every", record_every, lo=1)
    S, N = len(settings), len(seeds)
    recorded = np.unique(np.r_[np.arange(0, epochs + 1, record_every), epochs])
    early = max(1, epochs // 10)
    checkpoints = checkpoint_epochs(epochs)
    counts = {seed: pair_counts(seed, pairs_per_prompt) for seed in seeds}

    history = np.empty((S, N, len(recorded), len(STATS)))
    metrics: dict[str, np.ndarray] = {}
    sft_err = np.empty((S, N))
    final = np.empty((S, N, N_PROMPTS, N_RESPONSES)) if keep_final_logp else None
    with num_threads(threads):
        for width in sorted({s.width for s in settings}):
            _run_width(width, settings, seeds, counts, epochs, pairs_per_prompt, sft_steps,
                       recorded, early, checkpoints, history, metrics, sft_err, final, desc)
    return ToyResult(settings, seeds, epochs, pairs_per_prompt, recorded, history, metrics,
                     sft_err, final, early, checkpoints)


def _run_width(width, settings, seeds, counts, epochs, pairs_per_prompt, sft_steps, recorded,
               early, checkpoints, history, metrics, sft_err, final, desc):
    """SFT then the DPO program of every setting of one width; fills the output arrays."""
    torch = _torch()
    S, N = len(settings), len(seeds)
    arch = "mlp" if width else "free-logit"
    scen = sorted({s.scenario for s in settings if s.width == width})
    sft_runs = [(sc, seed) for sc in scen for seed in seeds]
    sft_ps, err = sft([r[1] for r in sft_runs], [r[0] for r in sft_runs], width,
                      steps=sft_steps)
    if float(err.max()) > 1e-3:
        raise RuntimeError(f"SFT stage did not reach its targets (max error {err.max():.2e}) "
                           f"for width {width}")
    sft_index = {r: k for k, r in enumerate(sft_runs)}
    with torch.no_grad():
        sft_logp = torch.log_softmax(_forward(arch, sft_ps), -1)
    idx = [k for k, s in enumerate(settings) if s.width == width]
    idx.sort(key=lambda k: (_loss_key(settings[k]), k))
    slots = [(settings[k], seed) for k in idx for seed in seeds]
    rows = torch.tensor([sft_index[(s.scenario, seed)] for s, seed in slots])
    hist, last = _run_program(
        arch, slots, [p[rows] for p in sft_ps], sft_logp[rows],
        np.stack([counts[seed] for _, seed in slots]), epochs, pairs_per_prompt,
        desc=f"{desc} {arch}{width or ''} ({len(slots)} runs)")
    m = _metrics(hist, early, checkpoints)
    for j, k in enumerate(idx):
        sl = slice(j * N, (j + 1) * N)
        history[k] = hist[sl][:, recorded]
        for name, v in m.items():
            metrics.setdefault(name, np.empty((S, N)))[k] = v[sl]
        sft_err[k] = err[rows[sl].numpy()]
        if final is not None:
            final[k] = last[sl]


# ---------------------------------------------------------------------------------------------
# the one-run reference (torch.nn + torch.optim): test oracle and benchmark loop

def reference_run(setting: Setting, seed: int, *, epochs: int = 500, pairs_per_prompt: int = 16,
                  sft_steps: int = 300, threads: int = 1) -> dict[str, np.ndarray]:
    """One run written the plain way: ``torch.nn.Sequential`` (or a logits tensor), the loss
    as the mean over the explicit list of pairs, ``torch.optim.Adam``/``SGD``. Starts from the
    same SFT parameters (:func:`sft` for this one run). Returns the per-epoch
    ``logp`` (epochs + 1, 4, 10) and ``loss`` (epochs + 1,)."""
    with num_threads(threads):
        return _reference_run(setting, seed, epochs, pairs_per_prompt, sft_steps)


def _reference_run(setting, seed, epochs, pairs_per_prompt, sft_steps):
    torch = _torch()
    from ..losses import preference_loss

    if not isinstance(setting, Setting):
        raise _args.BadType(f"setting: expected a Setting, got {type(setting).__name__}")
    sft_ps, err = _sft([seed], [setting.scenario], setting.width, 1e-2, sft_steps)
    data = torch.tensor(pairs(seed, pairs_per_prompt))
    x, rej = data[:, 0], data[:, 1]
    if setting.width == 0:
        logits = sft_ps[0][0].clone().requires_grad_(True)
        params = [logits]
        model = lambda: logits  # noqa: E731
    else:
        H = setting.width
        net = torch.nn.Sequential(torch.nn.Linear(N_PROMPTS, H), torch.nn.ReLU(),
                                  torch.nn.Linear(H, H), torch.nn.ReLU(),
                                  torch.nn.Linear(H, N_RESPONSES)).double()
        with torch.no_grad():
            for k, lin in enumerate((net[0], net[2], net[4])):
                lin.weight.copy_(sft_ps[2 * k][0].T)
                lin.bias.copy_(sft_ps[2 * k + 1][0])
        params = list(net.parameters())
        eye = torch.eye(N_PROMPTS, dtype=torch.float64)
        model = lambda: net(eye)  # noqa: E731
    with torch.no_grad():
        ref = torch.log_softmax(model(), -1).clone()
    opt = (torch.optim.Adam(params, lr=setting.lr, betas=ADAM_BETAS, eps=ADAM_EPS, foreach=False)
           if setting.optimizer == "adam" else torch.optim.SGD(params, lr=setting.lr, foreach=False))
    chosen = torch.tensor(CHOSEN)[x]
    out_lp, out_loss = [], []
    for t in range(epochs + 1):
        logp = torch.log_softmax(model(), -1)
        lp_c = logp[x, chosen]
        hw = lp_c - ref[x, chosen]
        hl = logp[x, rej] - ref[x, rej]
        params_ = setting.loss_params()
        if setting.loss == "sft":
            params_["chosen_logps"] = lp_c
        loss = preference_loss(setting.loss, hw, hl, setting.beta, **params_).mean()
        out_lp.append(logp.detach().numpy().copy())
        out_loss.append(float(loss.detach()))
        if t == epochs:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {"logp": np.stack(out_lp), "loss": np.array(out_loss), "sft_max_error": float(err[0])}
