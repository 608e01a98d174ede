"""Paper R's persona experiment (Razin et al., ICLR 2025, §3, Tables 1–2) on a real model: DPO on
one persona prompt at a time with single-token responses, and Theorem 4's geometry at step 0.

The design follows the authors' plans (``persona_experiments/experiments_plans/*.json``) and their
datamodule (``persona_single_output_token_datamodule.py``):

* data: the persona file ``ends-justify-means.jsonl`` when present, else the fixed substitute
  :data:`SUBSTITUTE_FILE` (this project's copy of the persona data lacks the paper's file);
* token pairs (preferred ≻ dispreferred) and the records they train on (:data:`PAIRS`):
  Yes ≻ No on records whose behaviour-matching answer is "No", No ≻ Never on "Yes" records,
  Sure ≻ Yes on "No" records; tokens are raw vocabulary strings (``convert_tokens_to_ids("No")``,
  no leading space);
* the prompt of a run: ``torch.randperm(n, generator=torch.Generator().manual_seed(seed))[0]`` over
  the filtered records in file order, for the paper's 10 seeds (:data:`SEEDS`); an instruct
  model's chat template with the generation prompt (tokenised without added special tokens),
  ``question + "\\n"`` for a model without a template;
* training: every parameter, float32, DPO β = 0.1 on the next-token log-probabilities at the
  last prompt position, reference = the initial model, full batch (one prompt), 100 steps;
  RMSprop lr 1e-7 with PyTorch's defaults (the paper) or SGD lr 1e-4 (the theory's dynamics).

Per run (:func:`run_persona`): π(y⁺), π(y⁻) and the loss at every step; the largest decrease of
π(y⁺) (the paper's metric); the three tokens (other than y⁺, y⁻) whose probability rose most from
step 0 to the step of minimal π(y⁺). With ``geometry=True`` also, at step 0: Theorem 4's terms
(:func:`dpomath.displacement.single_token.theorem4_terms`) from W = the unembedding and h = the
final hidden state of the last prompt token; the full model's first-order rate
⟨∇ ln π(y⁺), −∇L⟩ (autograd over every parameter); and the Spearman correlation over the
vocabulary between ⟨W_z, W_{y⁺} − W_{y⁻}⟩ and the first step's Δ ln π(z).

Results are kept per run as JSON under the cache root (``DPOMATH_CACHE_DIR``), keyed by the
model's identity, the data file's digest and every setting, so an interrupted sweep resumes and
a finished one is read back. torch and transformers are imported inside functions.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["PAPER_FILE", "SUBSTITUTE_FILE", "SEEDS", "PAIRS", "YES_VARIANTS", "LEARNING_RATES",
           "PersonaRunConfig", "persona_file", "select_record", "prompt_ids", "token_id",
           "run_persona", "largest_decrease", "loss_rises", "LoadedModel", "load", "results_dir",
           "cached_run"]

#: The paper's persona subset.
PAPER_FILE = "ends-justify-means.jsonl"
#: Fixed in advance as the substitute when the paper's file is absent.
SUBSTITUTE_FILE = "very-small-harm-justifies-very-large-benefit.jsonl"
#: The plans' ``train_samples_random_seed`` values: each selects one prompt.
SEEDS = (9773, 5290, 8767, 9818, 7596, 344, 2701, 3298, 7834, 6327)
#: name -> (preferred token, dispreferred token, behaviour-matching answer of the records used).
PAIRS = {"yes_vs_no": ("Yes", "No", "No"), "no_vs_never": ("No", "Never", "Yes"),
         "sure_vs_yes": ("Sure", "Yes", "No")}
#: The paper's "Yes" tokens of the catastrophic case (Ġ = a leading space in byte-level BPE).
YES_VARIANTS = ("Yes", "\u0120Yes", "yes", "\u0120yes")
#: optimizer -> learning rate of the design.
LEARNING_RATES = {"rmsprop": 1e-7, "sgd": 1e-4}


@dataclass(frozen=True)
class PersonaRunConfig:
    """One run: the pair, the prompt seed, the optimizer and its rate, steps, β, geometry."""

    pair: str
    seed: int
    optimizer: str
    lr: float
    steps: int = 100
    beta: float = 0.1
    geometry: bool = False


def persona_file(persona_dir: str | os.PathLike) -> Path:
    """The paper's ``ends-justify-means.jsonl`` if ``persona_dir`` has it, else the substitute.

    Raises
    ------
    FileNotFoundError
        When neither file is there.
    """
    d = Path(persona_dir)
    for name in (PAPER_FILE, SUBSTITUTE_FILE):
        if (d / name).is_file():
            return d / name
    raise FileNotFoundError(f"neither {PAPER_FILE} nor {SUBSTITUTE_FILE} is in {d}")


def _records(path: Path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out


def select_record(records: Sequence[dict], behaviour: str, seed: int) -> tuple[int, dict]:
    """The authors' prompt selection: filter the records whose ``answer_matching_behavior``
    (stripped, lower case) is ``behaviour``, keep file order, take
    ``torch.randperm(n, generator=torch.Generator().manual_seed(seed))[0]``.

    Returns
    -------
    (int, dict)
        The index among the filtered records and the record.
    """
    import torch

    kept = [r for r in records if str(r.get("answer_matching_behavior", "")).strip().lower()
            == behaviour.strip().lower()]
    if not kept:
        raise ValueError(f"no record with answer_matching_behavior {behaviour!r}")
    i = int(torch.randperm(len(kept), generator=torch.Generator().manual_seed(seed))[0])
    return i, kept[i]


def prompt_ids(tokenizer, question: str) -> list[int]:
    """Token ids of the prompt as the authors' datamodule builds it: the chat template with the
    generation prompt, tokenised without added special tokens, when the tokenizer has one;
    ``question + "\\n"`` with the tokenizer's special tokens otherwise."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(question + "\n", add_special_tokens=True)["input_ids"])


def token_id(tokenizer, token: str) -> int | None:
    """The id of a raw vocabulary entry, or None when the vocabulary has no such entry."""
    i = tokenizer.get_vocab().get(token)
    return None if i is None else int(i)


def largest_decrease(p: Sequence[float]) -> float:
    """max_{t < t′} p_t − p_{t′} (0 when p never falls): the paper's displacement metric.

    >>> largest_decrease([0.5, 0.7, 0.2, 0.4])
    0.49999999999999994
    """
    best, run_max = 0.0, -np.inf
    for x in p:
        run_max = max(run_max, x)
        best = max(best, run_max - x)
    return float(best)


def loss_rises(losses: Sequence[float]) -> bool:
    """True when the loss rises at some step (loss_{t+1} > loss_t): such runs are excluded, as
    in the paper (which averages over runs whose loss decreased at every step)."""
    a = np.asarray(losses, dtype=float)
    return bool(np.any(a[1:] > a[:-1]))


# ---------------------------------------------------------------- the model, loaded once

@dataclass
class LoadedModel:
    """A model and tokenizer in float32 on the CPU, its initial weights (to restore before each
    run), its name and identity (the result cache's key)."""

    model: object
    tokenizer: object
    initial: dict
    name: str
    identity: str

    def restore(self) -> None:
        self.model.load_state_dict(self.initial)


_LOADED: dict[str, LoadedModel] = {}


def load(model: str | None = None) -> LoadedModel:
    """Load ``model`` (None: SmolLM2-135M-Instruct) once per process, offline, tied head kept."""
    import torch

    from dpomath.train.models import ModelSpec, load_model, plain_model_dir, resolve_model

    key = model or ""
    if key not in _LOADED:
        spec = resolve_model(model)
        path = plain_model_dir(spec)
        m, tok = load_model(ModelSpec(spec.name, "local", str(path), identity=spec.identity), "cpu",
                            untie=False)
        m.float().eval()
        initial = {k: v.detach().clone() for k, v in m.state_dict().items()}
        _LOADED[key] = LoadedModel(m, tok, initial, spec.describe(), spec.identity)
        torch.manual_seed(0)
    return _LOADED[key]


def results_dir(kind: str) -> Path:
    """Where the runs of ``kind`` are kept: ``<cache root>/papers-rs/<kind>``."""
    from dpomath.train.models import default_cache_root

    return Path(default_cache_root()) / "papers-rs" / kind


def _key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def cached_run(kind: str, parts: dict, compute):
    """``compute()``'s JSON-able result, kept under :func:`results_dir` at a key of ``parts``;
    read back when already there (a file that does not parse is recomputed)."""
    d = results_dir(kind)
    path = d / f"{_key(parts)}.json"
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
            if doc.get("key") == parts:
                return doc["result"]
        except (OSError, ValueError, KeyError):
            pass
    result = compute()
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".tmp-{os.getpid()}-{uuid.uuid4().hex}.json"
    tmp.write_text(json.dumps({"key": parts, "result": result}))
    os.replace(tmp, path)
    return result


# ---------------------------------------------------------------- one run

def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _last_logp(m, x):
    """(final hidden state of the last position, log π over the vocabulary there): the backbone
    once, the head on the last position only (the head's scale, bias and soft-cap applied)."""
    import torch

    from dpomath.train.logps import backbone_of, head_of

    h = backbone_of(m)(input_ids=x).last_hidden_state[0, -1]
    weight, bias, scale, softcap = head_of(m)
    z = torch.nn.functional.linear(h, weight, bias) * scale
    if softcap:
        z = softcap * torch.tanh(z / softcap)
    return h, torch.log_softmax(z.float(), -1)


def _geometry(lm: LoadedModel, h_last, y_plus: int, y_minus: int, beta: float, ref_margin: float,
              loss, logp) -> dict:
    """Theorem 4's terms, gain scores and the full-model rate at step 0 (see the module
    docstring). Leaves the loss's gradient in ``.grad`` for the optimizer step."""
    import torch

    from dpomath.displacement.single_token import gain_scores, theorem4_terms

    m = lm.model
    W = m.get_output_embeddings().weight.detach().double().cpu().numpy()
    h = h_last.detach().double().cpu().numpy()
    t4 = theorem4_terms(W, h, y_plus, y_minus, beta=beta, ref_margin=ref_margin)
    pi = np.exp(logp.detach().double().cpu().numpy())
    flipped_weight = 1.0 + pi[y_plus] - pi[y_minus]
    t4["bracket_flipped_weight"] = t4["bracket"] + (t4["alignment_weight"] - flipped_weight) * t4["alignment"]
    params = [p for p in m.parameters() if p.requires_grad]
    g_lp = torch.autograd.grad(logp[y_plus], params, retain_graph=True)
    loss.backward()
    rate = -sum(float((a.double() * p.grad.double()).sum()) for a, p in zip(g_lp, params))
    del g_lp
    gains = gain_scores(W, y_plus, y_minus)
    return {"theorem4": t4, "full_model_rate": rate, "gain_scores": gains,
            "head_logp_gap": float(np.max(np.abs(
                (W @ h - np.logaddexp.reduce(W @ h)) - logp.detach().double().cpu().numpy())))}


def run_persona(lm: LoadedModel, ids: Sequence[int], y_plus: int, y_minus: int,
                cfg: PersonaRunConfig) -> dict:
    """One run of the persona experiment from the initial weights (module docstring).

    Returns
    -------
    dict
        ``pi_plus``, ``pi_minus``, ``loss`` (steps + 1 values: after 0 … steps updates),
        ``largest_decrease``, ``loss_rises``, ``argmin_step``, ``top_gainers`` (three
        (token, Δπ) from step 0 to the step of minimal π(y⁺); empty when π(y⁺) never fell),
        ``pi_tracked`` (π over the steps of the Yes-variants, No, ĠNo, Never, ĠNever, Sure),
        ``seconds``; with geometry: ``theorem4``, ``full_model_rate``,
        ``gain_first_step_spearman``, ``head_logp_gap`` (max |log softmax(W h) − the model's
        log π| at step 0, a check that h and W are the head's input and weight).
    """
    import torch

    from dpomath._torch import num_threads
    from dpomath.train.models import cpu_threads

    m, tok = lm.model, lm.tokenizer
    lm.restore()
    m.eval()  # no dropout; gradients still flow
    for p in m.parameters():
        p.requires_grad_(True)
    x = torch.tensor([list(ids)])
    beta = cfg.beta
    t0 = time.perf_counter()
    with num_threads(cpu_threads()):
        if cfg.optimizer == "rmsprop":
            opt = torch.optim.RMSprop(m.parameters(), lr=cfg.lr)
        elif cfg.optimizer == "sgd":
            opt = torch.optim.SGD(m.parameters(), lr=cfg.lr)
        else:
            raise ValueError(f"optimizer: rmsprop or sgd, got {cfg.optimizer!r}")
        with torch.no_grad():
            ref = _last_logp(m, x)[1]
        ref_margin = float(ref[y_plus] - ref[y_minus])
        pi_p, pi_m, losses = [], [], []
        tracked = {t: i for t in YES_VARIANTS + ("No", "\u0120No", "Never", "\u0120Never", "Sure")
                   if (i := token_id(tok, t)) is not None}
        pi_tracked = {t: [] for t in tracked}
        logp0 = None
        best = (np.inf, None, 0)   # (π⁺, log π at that step, step)
        geo = {}
        for t in range(cfg.steps + 1):
            h_last, logp = _last_logp(m, x)
            margin = (logp[y_plus] - logp[y_minus]) - ref_margin
            loss = -torch.nn.functional.logsigmoid(beta * margin)
            lp = logp.detach().double().cpu().numpy()
            pi_p.append(float(np.exp(lp[y_plus])))
            pi_m.append(float(np.exp(lp[y_minus])))
            losses.append(float(loss.detach()))
            for t_name, i in tracked.items():
                pi_tracked[t_name].append(float(np.exp(lp[i])))
            if t == 0:
                logp0 = lp
            if t == 1 and cfg.geometry:
                mask = np.ones(lp.shape[0], dtype=bool)
                mask[[y_plus, y_minus]] = False
                geo["gain_first_step_spearman"] = _spearman(geo.pop("gain_scores")[mask], (lp - logp0)[mask])
            if pi_p[-1] < best[0]:
                best = (pi_p[-1], lp, t)
            if t == cfg.steps:
                break
            if t == 0 and cfg.geometry:
                geo.update(_geometry(lm, h_last, y_plus, y_minus, beta, ref_margin, loss, logp))
            else:
                loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            del h_last, logp, loss
    seconds = time.perf_counter() - t0
    argmin = best[2]
    top = []
    if argmin > 0:
        dpi = np.exp(best[1]) - np.exp(logp0)
        dpi[[y_plus, y_minus]] = -np.inf
        for i in np.argsort(-dpi)[:3]:
            top.append([tok.convert_ids_to_tokens(int(i)), float(dpi[i])])
    geo.pop("gain_scores", None)
    lm.restore()
    return {"pi_plus": pi_p, "pi_minus": pi_m, "loss": losses,
            "largest_decrease": largest_decrease(pi_p), "loss_rises": loss_rises(losses),
            "argmin_step": argmin, "top_gainers": top, "seconds": seconds, "pi_tracked": pi_tracked,
            "pi_plus_fell_5": bool(len(pi_p) > 5 and pi_p[5] < pi_p[0]), **geo}


def run_case(lm: LoadedModel, path: Path, cfg: PersonaRunConfig) -> dict:
    """Select the prompt of ``cfg.seed`` for ``cfg.pair`` in the persona file at ``path``, run it
    (or read the kept result back), and return the run's record with its setting."""
    pref, disp, behaviour = PAIRS[cfg.pair]
    tok = lm.tokenizer
    y_plus, y_minus = token_id(tok, pref), token_id(tok, disp)
    if y_plus is None or y_minus is None:
        missing = [t for t, i in ((pref, y_plus), (disp, y_minus)) if i is None]
        return {"skipped": f"{', '.join(missing)} not a single vocabulary entry of {lm.name}"}
    records = _records(path)
    index, rec = select_record(records, behaviour, cfg.seed)
    ids = prompt_ids(tok, rec["question"])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    parts = {"model": lm.identity, "file": path.name, "file_sha256": digest, "prompt_ids": ids,
             "y_plus": y_plus, "y_minus": y_minus, **asdict(cfg), "version": 3}
    res = cached_run("persona", parts, lambda: run_persona(lm, ids, y_plus, y_minus, cfg))
    return {**res, "record_index": index, "statement": rec.get("statement", rec["question"]),
            "prompt_tokens": len(ids), "y_plus": pref, "y_minus": disp}
