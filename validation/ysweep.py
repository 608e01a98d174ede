"""Paper Y's properties on a real language model: the runs behind the claims ``Y-*-LM``
(:mod:`dpomath.validation.paper_y`) and the statistics they read.

**The data** (per seed; :func:`statement_data`, :func:`onpolicy_data`). Paper I's K = 2 persona
set (:func:`dpomath.validation.data.select_personas`, the paper's seed) through the training
engine's persona construction (:func:`dpomath.train.data.persona_pairs`): for each persona, one
instruction prompt ("Say one thing that someone with this persona believes: …", under the
model's chat template when it has one), ``pairs_per_persona`` training pairs (chosen = a real
statement the persona would say, rejected = one it would not) and ``unseen_per_persona``
statements set aside (half of each kind): responses in no pair, scored at every evaluation.
The seed draws the statements. A user's preference JSONL works too (``DPOMATH_Y_DATA``): then
there are no unseen statements.

**On- and off-policy** (Y-ONPOL). *Off-policy* pairs are the persona statements (text the model
did not write: per-token log-probability far below its own samples'). *On-policy* pairs are
responses sampled from the reference model itself (temperature 1, no top-k/top-p truncation,
until the end-of-turn token, at most ``sample_tokens`` tokens; twice the needed number drawn
per round, and rounds repeated until enough have ended) under the same prompts, two independent samples per pair, chosen and rejected by a
seeded coin — paper Y's toy scenario 1 (both on-policy), where which of the two is chosen is
arbitrary too. The on-policy run scores the *same* unseen statements as the off-policy run of
its seed, so that the two runs' dispersion is measured on the same responses.

**The runs** (:class:`LMRun`, :class:`LMSpec`): for every model, mode and seed, plain DPO (β =
0.1) on the statement pairs; DPO on the on-policy pairs; Flex-DPO (β₊ = 0.1, β₋ swept) and
SFT-DPO (γ swept) on the statement pairs, in the modes ``sweep_modes``. Every run is evaluated
at steps 0, ``eval_steps`` and the last; the claims read the checkpoints a tenth, half and all
of training (:meth:`LMSpec.checkpoints`). Runs are cached under
``$DPOMATH_CACHE_DIR/paper-y-lm/<key>/summary.json`` when they end: an interrupted sweep
resumes at the first run without a summary.

**The statistics** (per run and evaluated step, :func:`summarise`): for each training pair the
sequence log-probability log π(y|x) = Σₜ log π(yₜ|x, y<ₜ) of the chosen and the rejected
response, their per-token mean log-probability and mean per-token probability; the same for each
unseen statement; the greedy responses' log-probabilities; and, at every position of the trained
responses, the probability on the rest of the vocabulary, 1 − π(yₜ|·). Sequence probabilities
are far below 1e-20; every mean of probabilities is kept as a log (log-sum-exp), so nothing
underflows.

torch and transformers are imported inside functions only.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dpomath._args import BadValue

from .data import persona_dir_from_env

__all__ = ["LMSpec", "LMRun", "SamplingShortfall", "QUICK", "FULL", "FULL_OTHER", "CPU", "CPU_OTHER", "spec_for", "LMResult", "NEEDS", "needed_runs",
           "statement_data", "onpolicy_data", "summarise", "run_one", "get_result", "spec_runs",
           "lse_mean", "persona_dir_from_env"]


@dataclass(frozen=True)
class LMSpec:
    """A sweep of real-model runs (fixed before any run; see the module docstring).

    ``lr``: learning rate per mode; ``eval_steps``: evaluated steps besides 0 and ``steps``;
    ``sweep_modes``: the modes in which the Flex-DPO and SFT-DPO sweeps run (each is
    ``len(flex_beta_minus) + len(sft_gammas)`` runs per seed)."""

    name: str
    models: tuple = ("smollm2",)
    modes: tuple = ("lora", "full")
    seeds: int = 3
    personas: int = 2
    pairs_per_persona: int = 4
    unseen_per_persona: int = 4
    steps: int = 12
    batch_size: int = 4
    beta: float = 0.1
    lr: tuple = (("lora", 5e-5), ("full", 5e-6), ("last-layer", 1e-3))
    eval_steps: tuple = (1, 3, 6, 9)
    checkpoint_fractions: tuple = (0.1, 0.5, 1.0)
    flex_beta_plus: float = 0.1
    flex_beta_minus: tuple = (0.02, 0.04, 0.06, 0.08, 0.12, 0.14)
    sft_gammas: tuple = (0.01, 0.1, 1.0)
    sweep_modes: tuple = ("lora",)
    onpolicy: bool = True
    greedy_tokens: int = 24
    sample_tokens: int = 48
    lora_r: int = 8

    def lr_of(self, mode: str) -> float:
        return dict(self.lr)[mode]

    def checkpoints(self) -> list[int]:
        """The steps read as early, middle and end: round(f · steps) for f in
        ``checkpoint_fractions`` (at least 1), each an evaluated step."""
        out = sorted({max(1, int(round(f * self.steps))) for f in self.checkpoint_fractions})
        missing = [c for c in out if c != self.steps and c not in self.eval_steps]
        if missing:
            raise BadValue(f"eval_steps: must include the checkpoints {missing}")
        return out

    def with_models(self, models: Sequence[str]) -> "LMSpec":
        return replace(self, models=tuple(models))


#: CI: SmolLM2, last-layer mode (the frozen body's states are computed once per run), one
#: persona, 2 seeds, 6 updates, no greedy decoding, one β₋ and one γ.
QUICK = LMSpec("quick", modes=("last-layer",), seeds=2, personas=1, pairs_per_persona=4,
               unseen_per_persona=4, steps=6, batch_size=4, eval_steps=(1, 3),
               flex_beta_minus=(0.02,), sft_gammas=(1.0,), sweep_modes=("last-layer",),
               greedy_tokens=0, sample_tokens=48)
#: The documented runs on the default model (docs/paper-y-real.md).
FULL = LMSpec("full")
#: The documented runs on any other model (Gemma-3-270M is ~2.5x slower per update here, and
#: on-policy sampling is the sweep's most expensive part): plain DPO on the statement pairs in
#: LoRA mode, so Y-P1-LM … Y-P3-LM are decided on it; ``DPOMATH_Y_SWEEP=full`` runs :data:`FULL`
#: on every model.
FULL_OTHER = LMSpec("full-other", modes=("lora",), sweep_modes=(), onpolicy=False)
#: The part of the documented sweep that fits a shared 2-core CPU machine in well under an hour
#: (``DPOMATH_Y_SWEEP=cpu``; the runs measured in docs/paper-y-real.md): the same runs as
#: :data:`FULL` / :data:`FULL_OTHER` — so the same cache entries, as a run's key holds only its
#: own settings — fewer of them: plain DPO on the statement pairs, LoRA and full fine-tuning
#: with three seeds on the default model, LoRA with one seed on the others. Y-ONPOL-LM, Y-FLEX-LM
#: and Y-SFT-LM are then SKIPPED (their runs are not part of it).
CPU = LMSpec("cpu", sweep_modes=(), onpolicy=False)
CPU_OTHER = LMSpec("cpu-other", modes=("lora",), sweep_modes=(), onpolicy=False, seeds=1)


def spec_for(model_key: str, quick: bool, default_key: str = "smollm2") -> LMSpec:
    """The sweep of one model: :data:`QUICK`; else :data:`FULL` on the default model (and on
    every model with ``DPOMATH_Y_SWEEP=full``), :data:`FULL_OTHER` on the others;
    ``DPOMATH_Y_SWEEP=cpu``: :data:`CPU` on the default model, :data:`CPU_OTHER` on the others."""
    from dpomath.verify.provenance import run_size

    sweep = run_size("DPOMATH_Y_SWEEP")
    if quick:
        base = QUICK
    elif sweep == "cpu":
        base = CPU if model_key == default_key else CPU_OTHER
    elif model_key == default_key or sweep == "full":
        base = FULL
    else:
        base = FULL_OTHER
    return base.with_models((model_key,))


@dataclass(frozen=True)
class LMRun:
    """One training run: model, mode, data (``statements`` or ``onpolicy``), loss (``sigmoid``
    = DPO, ``flex``, ``sft``) with β₋ or γ, and the seed."""

    model: str
    mode: str
    data: str = "statements"
    loss: str = "sigmoid"
    beta_minus: float | None = None
    gamma: float | None = None
    seed: int = 0

    @property
    def setting(self) -> "LMRun":
        """The run without its seed (seed 0): what a cell groups seeds by."""
        return replace(self, seed=0)

    def label(self, with_seed: bool = False) -> str:
        extra = (f" β₋={self.beta_minus:g}" if self.loss == "flex" else
                 f" γ={self.gamma:g}" if self.loss == "sft" else "")
        name = {"sigmoid": "DPO", "flex": "Flex-DPO", "sft": "SFT-DPO"}[self.loss]
        return (f"{self.model} {self.mode} {self.data} {name}{extra}"
                + (f" seed {self.seed}" if with_seed else ""))


def spec_runs(spec: LMSpec) -> list[LMRun]:
    """Every run of the sweep, in the order they are run (statement DPO first: the claims
    Y-P1…P3 need only those)."""
    runs = []
    for model in spec.models:
        for mode in spec.modes:
            for s in range(spec.seeds):
                runs.append(LMRun(model, mode, seed=s))
        for mode in spec.modes:
            if spec.onpolicy:
                for s in range(spec.seeds):
                    runs.append(LMRun(model, mode, "onpolicy", seed=s))
        for mode in spec.sweep_modes:
            if mode not in spec.modes:
                continue
            for s in range(spec.seeds):
                for bm in spec.flex_beta_minus:
                    runs.append(LMRun(model, mode, loss="flex", beta_minus=bm, seed=s))
                for g in spec.sft_gammas:
                    runs.append(LMRun(model, mode, loss="sft", gamma=g, seed=s))
    return runs


# ---------------------------------------------------------------- configuration from the environment

# ---------------------------------------------------------------- data

def personas_for(persona_dir: Path, k: int) -> list[str]:
    """Paper I's persona set for K = ``k`` (its seed), from the personas present."""
    from dpomath.train.data import list_personas

    from .data import select_personas

    return list(select_personas(list_personas(persona_dir), [k]).sets[k])


def statement_data(spec: LMSpec, source: str, seed: int, chat: bool):
    """The off-policy data of ``seed``: persona statement pairs and unseen statements
    (``source`` = a persona directory), or a preference JSONL file (no unseen responses)."""
    from dpomath.train import data as D

    p = Path(source)
    if p.is_file() and p.suffix == ".jsonl" and not _is_persona_file(p):
        d = D.read_preference_jsonl(p)
        if len(d.train) < 2:
            raise BadValue(f"DPOMATH_Y_DATA: {p} holds {len(d.train)} usable pairs; at least 2 are needed")
        rng = random.Random(f"dpomath-y-lm-{seed}")
        idx = sorted(rng.sample(range(len(d.train)), min(len(d.train), spec.personas * spec.pairs_per_persona)))
        d.train = [d.train[i] for i in idx]
        return d
    names = personas_for(p, spec.personas)
    return D.persona_pairs(p, personas=names, pairs_per_persona=spec.pairs_per_persona,
                           heldout_per_persona=0, unseen_per_persona=spec.unseen_per_persona,
                           seed=seed, chat=chat)


def _is_persona_file(p: Path) -> bool:
    try:
        with p.open(encoding="utf-8") as f:
            first = json.loads(f.readline() or "{}")
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and "statement" in first and "answer_matching_behavior" in first


def _sample_seed(model: str, seed: int, prompt_index: int, attempt: int) -> int:
    h = hashlib.sha256(f"dpomath-onpolicy-{model}-{seed}-{prompt_index}-{attempt}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def onpolicy_data(spec: LMSpec, off, model, tok, model_name: str, seed: int):
    """On-policy pairs for ``off``'s prompts: responses sampled from ``model`` (the reference)
    — see the module docstring — with ``off``'s unseen responses. Returns (PreferenceData,
    sampling record)."""
    import torch

    from dpomath._torch import num_threads
    from dpomath.train import data as D
    from dpomath.train.models import cpu_threads

    with num_threads(cpu_threads()):      # two threads on a busy 2-core machine: 7x slower
        return _onpolicy_data(spec, off, model, tok, model_name, seed, torch, D)


class SamplingShortfall(RuntimeError):
    """The reference model did not finish enough distinct responses for the on-policy pairs
    (a base model without an end-of-turn token rarely ends a statement within
    ``LMSpec.sample_tokens``): nothing was trained, the on-policy runs cannot be made."""


def _onpolicy_data(spec, off, model, tok, model_name, seed, torch, D):
    chat = off.train[0].conversational
    prompts = list(dict.fromkeys(json.dumps(p.prompt) for p in off.train))
    per_prompt = {k: sum(json.dumps(p.prompt) == k for p in off.train) for k in prompts}
    eos = tok.eos_token_id
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos
    pairs, record = [], {"prompts": len(prompts), "drawn": 0, "unfinished": 0, "empty_or_repeated": 0}
    model.eval()
    for pi, key in enumerate(prompts):
        prompt = json.loads(key)
        group = next(p.group for p in off.train if json.dumps(p.prompt) == key)
        ids = D._ids(tok, prompt, generation_prompt=True) if chat else list(tok(prompt).input_ids)
        need = 2 * per_prompt[key]
        got: list[str] = []
        for attempt in range(8):
            if len(got) >= need:
                break
            torch.manual_seed(_sample_seed(model_name, seed, pi, attempt))
            x = torch.tensor([ids] * (2 * need), device=next(model.parameters()).device)
            with torch.no_grad():
                gen = model.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=True,
                                     temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=spec.sample_tokens,
                                     eos_token_id=eos, pad_token_id=pad)
            for row in gen[:, len(ids):].tolist():
                record["drawn"] += 1
                if eos not in row:
                    record["unfinished"] += 1
                    continue
                text = tok.decode(row[:row.index(eos)], skip_special_tokens=True).strip()
                if not text or text in got:
                    record["empty_or_repeated"] += 1
                    continue
                got.append(text)
        got = got[:need]
        if len(got) < need:
            raise SamplingShortfall(f"on-policy sampling: {len(got)} finished responses of {need} for "
                                    f"prompt {pi} after 8 rounds of {2 * need} samples (a response "
                                    f"finishes at the end-of-sequence token within {spec.sample_tokens} "
                                    f"tokens; {record['unfinished']} of {record['drawn']} drawn did not)")
        coin = random.Random(f"dpomath-onpolicy-coin-{model_name}-{seed}-{pi}")
        for j in range(per_prompt[key]):
            a, b = got[2 * j], got[2 * j + 1]
            if coin.random() < 0.5:
                a, b = b, a
            resp = (lambda t: [{"role": "assistant", "content": t}]) if chat else (lambda t: t)
            pairs.append(D.Pair(prompt, resp(a), resp(b), f"sampled:{model_name}:seed{seed}:{pi}:{j}", group))
    out = D.PreferenceData(pairs, [], list(off.unseen), [], source=f"onpolicy:{off.source}",
                           files=dict(off.files),
                           notes=["on-policy pairs: two responses sampled from the reference model "
                                  "per pair (temperature 1), chosen/rejected by a seeded coin"])
    record["samples"] = [[p.chosen if isinstance(p.chosen, str) else p.chosen[0]["content"],
                          p.rejected if isinstance(p.rejected, str) else p.rejected[0]["content"]]
                         for p in pairs]
    return out, record


# ---------------------------------------------------------------- statistics of one run

def lse_mean(logs) -> float:
    """log of the mean of exp(logs), exactly (log-sum-exp): the log of a mean of probabilities
    that may each be far below 1e-300.

    >>> round(lse_mean([-1000.0, -1000.0]), 6)
    -1000.0
    >>> round(lse_mean([0.0, math.log(3)]), 6) == round(math.log(2), 6)
    True
    """
    x = np.asarray(logs, dtype=np.float64)
    if x.size == 0:
        return float("nan")
    m = float(np.max(x))
    return m + math.log(float(np.mean(np.exp(x - m))))


def _segments(tokens, offsets) -> list[np.ndarray]:
    t = np.asarray(tokens, dtype=np.float64)
    o = np.asarray(offsets, dtype=np.int64)
    return [t[o[i]:o[i + 1]] for i in range(len(o) - 1)]


def _log_rest(lp: np.ndarray) -> np.ndarray:
    """log(1 − π) from log π, exact near π = 1 and π = 0."""
    return np.log(-np.expm1(np.minimum(lp, -1e-300)))


def summarise(per_token: dict, row: dict, n_train: int) -> dict:
    """The statistics of one evaluated step (module docstring) from the engine's per-token
    arrays (``evals/step-N.safetensors``) and its evaluation row."""
    out: dict[str, Any] = {"step": int(row["step"])}
    if "train.chosen.tokens" in per_token:
        ch = _segments(per_token["train.chosen.tokens"], per_token["train.chosen.offsets"])
        rj = _segments(per_token["train.rejected.tokens"], per_token["train.rejected.offsets"])
        if len(ch) != n_train:
            raise ValueError(f"summarise: {len(ch)} chosen responses evaluated, {n_train} training pairs")
        for name, seqs in (("chosen", ch), ("rejected", rj)):
            out[f"seq_{name}"] = [float(s.sum()) for s in seqs]
            out[f"tok_{name}"] = [float(s.mean()) for s in seqs]
            out[f"tokp_{name}"] = [float(np.exp(s).mean()) for s in seqs]
            out[f"len_{name}"] = [int(s.size) for s in seqs]
            allt = np.concatenate(seqs)
            out[f"rest_{name}"] = float(np.mean(-np.expm1(allt)))     # mean of 1 − π(yₜ|·)
            out[f"logrest_{name}"] = float(np.mean(_log_rest(allt)))
        allt = np.concatenate(ch + rj)
        out["rest_all"] = float(np.mean(-np.expm1(allt)))
        out["logrest_all"] = float(np.mean(_log_rest(allt)))
        out["loss"] = float(row["train"]["loss"])
        out["accuracy"] = float(row["train"]["rewards/accuracies"])
    if "unseen.tokens" in per_token:
        us = _segments(per_token["unseen.tokens"], per_token["unseen.offsets"])
        out["seq_unseen"] = [float(s.sum()) for s in us]
        out["tok_unseen"] = [float(s.mean()) for s in us]
        out["tokp_unseen"] = [float(np.exp(s).mean()) for s in us]
        out["len_unseen"] = [int(s.size) for s in us]
    g = row.get("greedy")
    if g and g.get("logps"):
        out["greedy_logps"] = [float(x) for x in g["logps"]]
        out["greedy_lengths"] = None if g.get("length") is None else float(g["length"])
        out["greedy_texts"] = list(g.get("texts", []))
    return out


# ---------------------------------------------------------------- running (cached, resumable)

def run_key(run: LMRun, spec: LMSpec, data_source: str, model_identity: str) -> str:
    """The cache key of a run: everything that decides its numbers."""
    d = {"run": asdict(run), "data": data_source, "model": model_identity,
         **{k: v for k, v in asdict(spec).items() if k not in ("name", "models", "modes", "seeds",
                                                                 "sweep_modes", "flex_beta_minus",
                                                                 "sft_gammas", "onpolicy",
                                                                 "checkpoint_fractions")}}
    d["lr"] = spec.lr_of(run.mode)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:20]


def _config(run: LMRun, spec: LMSpec, n_train: int):
    from dpomath.train import TrainConfig

    params: tuple = ()
    beta = spec.beta
    if run.loss == "flex":
        beta, params = spec.flex_beta_plus, (("beta_minus", float(run.beta_minus)),)
    elif run.loss == "sft":
        params = (("gamma", float(run.gamma)),)
    return TrainConfig(mode=run.mode, loss=run.loss, beta=beta, lr=spec.lr_of(run.mode),
                       steps=spec.steps, batch_size=spec.batch_size, optimizer="adam", seed=run.seed,
                       loss_params=params, lora_r=spec.lora_r, eval_steps=tuple(spec.eval_steps),
                       eval_pairs=n_train, eval_unseen=10_000 if run.loss == "sigmoid" else 0,
                       greedy_prompts=8 if run.loss == "sigmoid" and spec.greedy_tokens else 0,
                       greedy_tokens=spec.greedy_tokens, device=sweep_device(), precision="float32")


def sweep_device() -> str:
    """Where the sweep trains: ``$DPOMATH_DEVICE`` (``cpu`` by default; ``auto`` or ``cuda`` for a
    GPU). Always in float32, so that a GPU computes the CPU's numbers up to float noise (as another
    thread count does) and the runs share their cache keys; bf16-mixed training learned far less per
    update than float32 in the one comparison made (docs/train.md). The sampling of the on-policy
    responses stays on the CPU either way (its random stream is the CPU's)."""
    from dpomath.train.models import resolve_device

    try:
        return resolve_device(os.environ.get("DPOMATH_DEVICE") or "cpu")
    except BadValue as e:
        raise BadValue(f"DPOMATH_DEVICE: {str(e).removeprefix('device: ')}") from None


class _Models:
    """Each model loaded once per process (the engine trains a copy)."""

    def __init__(self, cache_root: Path | None):
        self.cache_root = cache_root
        self.loaded: dict[str, tuple] = {}

    def get(self, name: str):
        if name not in self.loaded:
            from dpomath.train.models import ModelSpec, load_model, plain_model_dir, resolve_model

            spec = resolve_model(name)
            path = plain_model_dir(spec, self.cache_root)
            m, tok = load_model(ModelSpec(spec.name, "local", str(path), identity=spec.identity), "cpu",
                                untie=False)
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            self.loaded[name] = (m, tok, spec)
        return self.loaded[name]


def _text(x) -> str:
    return x if isinstance(x, str) else " ".join(m["content"] for m in x)


def run_one(run: LMRun, spec: LMSpec, source: str, models: _Models, root: Path,
            data_cache: dict) -> dict:
    """Run (or read from the cache) one run; returns its record: the statistics at every
    evaluated step (:func:`summarise`), timing, the data's counts and the on-policy sampling
    record. The record is written to ``root/<key>/summary.json`` when the run ends, so an
    interrupted sweep resumes at the first run without one."""
    import copy

    from dpomath.train import train

    m, tok, mspec = models.get(run.model)
    chat = bool(getattr(tok, "chat_template", None))
    skey = (run.model, run.seed, "statements")
    if skey not in data_cache:
        data_cache[skey] = (statement_data(spec, source, run.seed, chat), None)
    dkey = (run.model, run.seed, run.data)
    if dkey not in data_cache:
        data_cache[dkey] = onpolicy_data(spec, data_cache[skey][0], m, tok, run.model, run.seed)
    data, sampling = data_cache[dkey]
    key = run_key(run, spec, data.digest(), mspec.identity)
    out = root / key
    done = out / "summary.json"
    if done.is_file():
        rec = json.loads(done.read_text())
        if rec.get("run") == asdict(run):
            return rec
    cfg = _config(run, spec, len(data.train))
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    res = train(copy.deepcopy(m), data, cfg, tokenizer=tok, keep_model=False)
    seconds = time.perf_counter() - t0
    rows = {int(e["step"]): e for e in res.evals}
    steps = [summarise(res.per_token[s], rows[s], len(data.train)) for s in sorted(res.per_token)]
    rec = {"run": asdict(run), "key": key, "model": mspec.describe(), "steps": steps,
           "history": [{k: h[k] for k in ("step", "loss", "logps/chosen", "logps/rejected")} for h in res.history],
           "timing": {**res.timing, "wall_seconds": seconds, "load_1min_before": load0,
                      "load_1min_after": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
           "data": {"source": data.source, "counts": data.counts(), "digest": data.digest()},
           "config": res.to_dict()["config"], "sampling": sampling, "notes": res.notes,
           "unseen_kinds": [u.kind for u in data.unseen],
           "train_texts": [_text(x) for p in data.train for x in (p.chosen, p.rejected)]}
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "summary.json.tmp"
    tmp.write_text(json.dumps(rec))
    tmp.replace(done)
    return rec


# ---------------------------------------------------------------- the result the claims read

@dataclass
class LMResult:
    """Every run's record, by run; the claims read per-seed arrays of a statistic at a step."""

    spec: LMSpec
    records: dict = field(default_factory=dict)       # LMRun -> record
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    def runs(self, **match) -> list[LMRun]:
        return [r for r in self.records if all(getattr(r, k) == v for k, v in match.items())]

    def settings(self, **match) -> list[LMRun]:
        """Distinct settings (runs without their seed) matching ``match``, in run order."""
        return list(dict.fromkeys(r.setting for r in self.runs(**match)))

    def seeds(self, setting: LMRun) -> list[LMRun]:
        return [replace(setting, seed=s) for s in range(self.spec.seeds)
                if replace(setting, seed=s) in self.records]

    def at(self, run: LMRun, step: int) -> dict:
        for row in self.records[run]["steps"]:
            if row["step"] == step:
                return row
        raise KeyError(f"{run.label(True)}: step {step} was not evaluated")

    def trajectory(self, run: LMRun, upto: int | None = None) -> list[dict]:
        return [r for r in self.records[run]["steps"] if upto is None or r["step"] <= upto]

    def per_seed(self, setting: LMRun, fn, step: int) -> np.ndarray:
        """``fn(result, run, step)`` for each seed of ``setting`` (array over seeds)."""
        return np.array([fn(self, r, step) for r in self.seeds(setting)])

    @property
    def checkpoints(self) -> list[int]:
        return self.spec.checkpoints()

    def timing_rows(self) -> list[dict]:
        rows = []
        for r, rec in self.records.items():
            t = rec.get("timing", {})
            rows.append({"run": r.label(True), "seconds": t.get("seconds"),
                         "step_seconds_mean": t.get("step_seconds_mean"), "pairs_per_s": t.get("pairs_per_s"),
                         "load_1min": (t.get("load_1min_before"), t.get("load_1min_after"))})
        return rows


_RESULTS: dict = {}
_MODELS: dict = {}       # cache root -> _Models (each model loaded once per process)
_DATA: dict = {}         # (source, spec's data fields) -> data cache (on-policy samples drawn once)

#: Which runs a claim needs: ``"properties"`` (plain DPO on the statement pairs: Y-P1…P3),
#: ``"onpolicy"`` (those and the on-policy runs), ``"sweep"`` (those and Flex-DPO, SFT-DPO),
#: ``"all"``.
NEEDS = ("properties", "onpolicy", "sweep", "all")


def needed_runs(spec: LMSpec, needs: str = "all") -> list[LMRun]:
    """The runs of ``spec`` a claim needs (:data:`NEEDS`), in sweep order."""
    if needs not in NEEDS:
        raise BadValue(f"needs: must be one of {NEEDS}, got {needs!r}")
    runs = spec_runs(spec)
    if needs == "all":
        return runs
    keep = {"properties": lambda r: r.data == "statements" and r.loss == "sigmoid",
            "onpolicy": lambda r: r.loss == "sigmoid",
            "sweep": lambda r: r.data == "statements"}[needs]
    return [r for r in runs if keep(r)]


def get_result(spec: LMSpec, source: str, cache_root: Path | None = None,
               runs: Sequence[LMRun] | None = None, progress=None) -> LMResult:
    """Run (or read) every run of ``spec`` (or ``runs``) once per process; the cache makes later
    processes read them back."""
    from dpomath.train.models import default_cache_root

    root = Path(cache_root) if cache_root is not None else default_cache_root()
    todo = list(runs) if runs is not None else spec_runs(spec)
    key = (spec, str(source), str(root), tuple(todo))
    if key in _RESULTS:
        return _RESULTS[key]
    models = _MODELS.setdefault(str(root), _Models(root))
    data_cache = _DATA.setdefault((str(source), spec.personas, spec.pairs_per_persona,
                                   spec.unseen_per_persona, spec.sample_tokens), {})
    res = LMResult(spec)
    t0 = time.perf_counter()
    lm_root = root / "paper-y-lm"
    lm_root.mkdir(parents=True, exist_ok=True)
    for i, run in enumerate(todo):
        if progress is not None:
            progress(i, len(todo), run)
        res.records[run] = run_one(run, spec, source, models, lm_root, data_cache)
    res.seconds = time.perf_counter() - t0
    _RESULTS[key] = res
    return res


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dpomath.validation.ysweep [--quick] [--models a,b] [--needs all]``: run (or
    resume) the real-model sweep of the paper-Y claims ahead of ``dpomath verify --paper Y``,
    printing each run's time and the load average."""
    import argparse

    from dpomath.verify.per_model import configured_models, set_models

    p = argparse.ArgumentParser(prog="python -m dpomath.validation.ysweep")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--models", default=None, help="comma-separated (default: the configured models)")
    p.add_argument("--needs", choices=NEEDS, default="all")
    a = p.parse_args(argv)
    if a.models:
        set_models(a.models)
    source = os.environ.get("DPOMATH_Y_DATA") or (str(persona_dir_from_env() or ""))
    if not source:
        p.error("no data: set DPOMATH_PERSONA_DIR (persona data) or DPOMATH_Y_DATA (a preference JSONL)")
    t0 = time.perf_counter()
    for m in configured_models():
        spec = spec_for(m.key, a.quick).with_models((m.arg,))
        runs = needed_runs(spec, a.needs)

        def show(i, n, run, _t=[time.perf_counter()]):
            print(f"[{time.perf_counter() - t0:7.0f} s, load {os.getloadavg()[0]:.1f}] {m.name}: run "
                  f"{i + 1}/{n} {run.label(True)}", flush=True)
        cache = os.environ.get("DPOMATH_CACHE_DIR") or None
        try:
            res = get_result(spec, source, cache, runs=runs, progress=show)
        except SamplingShortfall as e:  # as the claims do: that model's on-policy runs are skipped
            print(f"{m.name}: the on-policy runs are skipped ({e}); the others go on", flush=True)
            runs = [r for r in runs if r.data != "onpolicy"]
            res = get_result(spec, source, cache, runs=runs, progress=show)
        for row in res.timing_rows():
            print(f"  {row['run']}: {row['seconds'] or 0:.0f} s, {row['step_seconds_mean'] or 0:.2f} s/update, "
                  f"{row['pairs_per_s'] or 0:.2f} pairs/s, load {row['load_1min']}", flush=True)
    print(f"done in {time.perf_counter() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
