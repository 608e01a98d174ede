"""Sequence-level DPO runs for papers R (§5–6: CHES against likelihood displacement, filtering)
and S (§5: off-policy DPO squeezes mass into the greedy response) on real persona statement
pairs, through the training engine :func:`dpomath.train.train`.

* Data (:func:`statement_data`): :func:`dpomath.train.data.persona_pairs` on the K = 8 persona
  set of paper I's selection (``select_personas``, its seed), ``pairs_per_persona`` training
  pairs each, no held-out pairs, no unseen statements, seed 0 — real sentences, chosen = a
  statement the persona would say, rejected = one it would not, under the chat template.
* CHES table (:func:`ches_table`): CHES and LN-CHES with the initial model (``ches.py``'s
  conventions, :func:`dpomath.displacement.scoring.score_token_pairs`), the companion script's
  variant (final position kept, normalised by |y| + 1), the normalised edit distance, the inner
  product of the last hidden states, and the signs of Theorem 6's α coefficients on the first
  pairs.
* Training (:func:`trained_scores`): every parameter, DPO β = 0.1, the engine's batches; the
  sequence log-probabilities of the responses are scored before (the initial model) and after
  training by :func:`score_sequences` (no padding enters a log-probability).
* S's responses (:func:`squeeze_responses`): the greedy response y_g of each pair — at each
  position of the chosen response, the initial model's argmax under teacher forcing on the chosen
  prefix (the paper's "argmax" response, computed here independently of the released code, whose
  issue #2 reports the variable overwritten) — and a control response sampled once at
  temperature 1 from the initial model (no top-k/top-p), as long as the chosen response at most.

Every run is kept under the cache root (:func:`dpomath.validation.persona_displacement.cached_run`)
keyed by the model's identity, the data's digest and the settings. torch is imported inside
functions.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .persona_displacement import LoadedModel, cached_run

__all__ = ["PERSONA_K", "persona_set", "statement_data", "tokenized", "score_sequences",
           "ches_table", "train_config", "trained_scores", "squeeze_responses", "VERSION"]

#: Personas of the statement pairs: paper I's K = 8 draw.
PERSONA_K = 8
VERSION = 1


def persona_set(persona_dir) -> list[str]:
    """The K = 8 persona set of paper I's selection (its seed) among the files present."""
    from dpomath.train.data import list_personas

    from .data import select_personas

    return list(select_personas(list_personas(persona_dir), [PERSONA_K]).sets[PERSONA_K])


def statement_data(persona_dir, pairs_per_persona: int, chat: bool = True):
    """Persona statement pairs (module docstring): 8 personas × ``pairs_per_persona``."""
    from dpomath.train.data import persona_pairs

    return persona_pairs(persona_dir, personas=persona_set(persona_dir), pairs_per_persona=pairs_per_persona,
                         heldout_per_persona=0, unseen_per_persona=0, seed=0, chat=chat)


def tokenized(lm: LoadedModel, data) -> list:
    """The training pairs as :class:`dpomath.train.data.Example` (TRL's tokenisation)."""
    from dpomath.train.data import tokenize

    return list(tokenize(data, lm.tokenizer).train)


def score_sequences(model, pad_id: int, prompts: Sequence[Sequence[int]],
                    responses: Sequence[Sequence[Sequence[int]]], batch: int = 8) -> np.ndarray:
    """Sequence log-probabilities log π(response | prompt), (slots, n) float64: ``responses[r][i]``
    follows ``prompts[i]``. Batches of ``batch`` prompts through the engine's scorer (concat
    layout: prompt + response per row, right padding, which causal attention keeps out of every
    real position), no gradient."""
    import torch

    from dpomath.train.logps import Scorer, make_batch

    n, R = len(prompts), len(responses)
    out = np.zeros((R, n))
    scorer = Scorer(model, "concat")
    was = model.training
    model.eval()
    with torch.no_grad():
        for s in range(0, n, batch):
            idx = list(range(s, min(n, s + batch)))
            b = make_batch([list(prompts[i]) for i in idx], [[list(responses[r][i]) for i in idx]
                                                              for r in range(R)], pad_id)
            sums = b.sequence_sums(scorer(b)).double().cpu().numpy()
            for r in range(R):
                out[r, idx] = sums[r * len(idx):(r + 1) * len(idx)]
    if was:
        model.train()
    return out


def ches_table(lm: LoadedModel, examples: Sequence, alpha_pairs: int = 32) -> dict:
    """Similarity scores of every pair under the initial model (module docstring).

    Returns
    -------
    dict
        ``ches``, ``ln_ches``, ``ches_script``, ``ln_ches_script``, ``edit_distance``,
        ``last_hidden_inner``, ``chosen_length``, ``rejected_length`` (lists), ``alpha_minus_positive``
        and ``alpha_plus_positive`` (fraction of positive entries per scored pair), ``seconds``.
    """
    from scipy.special import softmax

    from dpomath.displacement.scoring import hidden_states_fn, score_token_pairs
    from dpomath.displacement.sequences import alpha_coefficients

    lm.restore()
    m = lm.model
    m.eval()
    W = m.get_output_embeddings().weight.detach().double().cpu().numpy()
    forward = hidden_states_fn(m)
    held: list = []
    extra = {"sum_all": [], "alpha_minus_positive": [], "alpha_plus_positive": []}
    P = [len(e.prompt_ids) for e in examples]

    def recording(ids):
        h = forward(ids)
        held.append(h)
        if len(held) == 2:  # chosen then rejected of one pair (ches_from_forward's order)
            i = len(extra["sum_all"])
            e, p = examples[i], P[i]
            hc, hr = held
            extra["sum_all"].append((hc[p - 1:].sum(0), hr[p - 1:].sum(0)))
            if i < alpha_pairs:
                pc = softmax(hc[p - 1:-1] @ W.T, axis=1)
                pr = softmax(hr[p - 1:-1] @ W.T, axis=1)
                am = alpha_coefficients(pc, pr, e.chosen_ids, e.rejected_ids)
                ap = alpha_coefficients(pc, pc, e.chosen_ids, e.chosen_ids)
                extra["alpha_minus_positive"].append(float(np.mean(am > 0)))
                extra["alpha_plus_positive"].append(float(np.mean(ap > 0)))
            held.clear()
        return h

    t0 = time.perf_counter()
    s = score_token_pairs(recording, [(e.prompt_ids, e.chosen_ids, e.rejected_ids) for e in examples])
    ches_script, ln_script = [], []
    for (sp_, sm_), e in zip(extra["sum_all"], examples):
        a, b = len(e.chosen_ids) + 1, len(e.rejected_ids) + 1
        ches_script.append(float(sp_ @ sm_ - sp_ @ sp_))
        ln_script.append(float(sp_ @ sm_ / (a * b) - sp_ @ sp_ / a ** 2))
    return {"ches": s.ches.tolist(), "ln_ches": s.ln_ches.tolist(), "ches_script": ches_script,
            "ln_ches_script": ln_script, "edit_distance": s.edit_distance.tolist(),
            "last_hidden_inner": s.last_hidden_inner.tolist(), "chosen_length": s.chosen_lengths.tolist(),
            "rejected_length": s.rejected_lengths.tolist(),
            "alpha_minus_positive": extra["alpha_minus_positive"],
            "alpha_plus_positive": extra["alpha_plus_positive"], "seconds": time.perf_counter() - t0}


def train_config(*, optimizer: str, lr: float, steps: int, seed: int, batch_size: int = 8):
    """The engine's configuration of these runs: every parameter, DPO (``sigmoid``) β = 0.1, no
    evaluation pass of the engine's own (the responses are scored here), no checkpoints."""
    from dpomath.train.engine import TrainConfig

    return TrainConfig(mode="full", loss="sigmoid", beta=0.1, lr=lr, steps=steps, batch_size=batch_size,
                       optimizer=optimizer, seed=seed, log_every=steps, eval_pairs=0, eval_unseen=0,
                       greedy_prompts=0, device="cpu")


def _identity(lm: LoadedModel, data, cfg) -> dict:
    return {"model": lm.identity, "data": data.digest(), "config": cfg.identity(), "steps": cfg.steps,
            "version": VERSION}


def initial_scores(lm: LoadedModel, examples: Sequence, extra: dict | None = None, *, key: dict) -> dict:
    """log π of chosen, rejected (and any ``extra`` response slots) under the initial model,
    kept under the cache at ``key``."""
    def compute():
        lm.restore()
        slots = {"chosen": [e.chosen_ids for e in examples], "rejected": [e.rejected_ids for e in examples],
                 **(extra or {})}
        sc = score_sequences(lm.model, _pad(lm), [e.prompt_ids for e in examples], list(slots.values()))
        return {name: sc[i].tolist() for i, name in enumerate(slots)}
    return cached_run("pairs-initial", {**key, "slots": sorted(["chosen", "rejected", *(extra or {})]),
                                        "version": VERSION}, compute)


def _pad(lm: LoadedModel) -> int:
    tok = lm.tokenizer
    return tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id


def trained_scores(lm: LoadedModel, data, examples: Sequence, cfg, extra: dict | None = None) -> dict:
    """Train a copy of the initial model on ``data`` with ``cfg`` (the engine), then score every
    example's chosen, rejected (and ``extra`` slots) with the trained model; kept under the cache.

    Returns
    -------
    dict
        One list per slot (log π after training, in ``examples``' order), ``history`` (the
        engine's per-update rows: loss, rewards, log-probabilities), ``seconds`` (training) and
        ``seconds_per_step``.
    """
    def compute():
        from dpomath.train.engine import train

        lm.restore()
        t0 = time.perf_counter()
        res = train(lm.model, data, cfg, tokenizer=lm.tokenizer, keep_model=True)
        t_train = time.perf_counter() - t0
        slots = {"chosen": [e.chosen_ids for e in examples], "rejected": [e.rejected_ids for e in examples],
                 **(extra or {})}
        sc = score_sequences(lm.model, _pad(lm), [e.prompt_ids for e in examples], list(slots.values()))
        lm.restore()
        lm.model.eval()
        hist = [{k: r[k] for k in ("step", "loss", "rewards/margins", "logps/chosen", "logps/rejected")}
                for r in res.history]
        return {**{name: sc[i].tolist() for i, name in enumerate(slots)}, "history": hist,
                "seconds": t_train, "seconds_per_step": float(np.mean([r["seconds"] for r in res.history]))}

    key = {**_identity(lm, data, cfg), "examples": _examples_digest(examples),
           "slots": sorted(["chosen", "rejected", *(extra or {})])}
    return cached_run("pairs-trained", key, compute)


def _examples_digest(examples: Sequence) -> str:
    import hashlib

    h = hashlib.sha256()
    for e in examples:
        h.update(repr((e.prompt_ids, e.chosen_ids, e.rejected_ids)).encode())
    return h.hexdigest()


def squeeze_responses(lm: LoadedModel, examples: Sequence) -> dict:
    """:func:`_squeeze_responses`, kept under the cache."""
    return cached_run("squeeze-responses", {"model": lm.identity, "examples": _examples_digest(examples),
                                            "version": VERSION}, lambda: _squeeze_responses(lm, examples))


def _squeeze_responses(lm: LoadedModel, examples: Sequence) -> dict:
    """The greedy (argmax under teacher forcing on the chosen prefix) and the sampled (temperature
    1, seeded by the pair's index) response of every pair under the initial model, and the
    first-token squeeze check (not deciding): whether the greedy first token is in
    :func:`dpomath.displacement.squeezing.rising_set` of π(·|x) for ȳ = the rejected response's
    first token (c = 1)."""
    import torch

    from dpomath.displacement.squeezing import rising_set

    lm.restore()
    m, tok = lm.model, lm.tokenizer
    m.eval()
    greedy, sampled, first_in_rising, rising_sizes = [], [], [], []
    eos = tok.eos_token_id
    with torch.no_grad():
        for i, e in enumerate(examples):
            p = list(e.prompt_ids)
            ids = torch.tensor([p + list(e.chosen_ids)])
            logits = m(input_ids=ids, use_cache=False).logits[0].double()
            P = len(p)
            g = logits[P - 1:P - 1 + len(e.chosen_ids)].argmax(-1).tolist()
            greedy.append(g)
            probs = torch.softmax(logits[P - 1], -1).cpu().numpy()
            rs = rising_set(probs, int(e.rejected_ids[0]), c=1.0)
            first_in_rising.append(bool(g[0] in set(rs.tolist())))
            rising_sizes.append(int(len(rs)))
            torch.manual_seed(i)
            x = torch.tensor([p])
            out = m.generate(input_ids=x, attention_mask=torch.ones_like(x), do_sample=True, temperature=1.0,
                             top_k=0, top_p=1.0, max_new_tokens=len(e.chosen_ids), pad_token_id=_pad(lm),
                             eos_token_id=eos)
            r = out[0, P:].tolist()
            if eos is not None and eos in r:
                r = r[:r.index(eos) + 1]
            sampled.append(r or [int(out[0, -1])])
    return {"greedy": greedy, "sampled": sampled, "greedy_first_in_rising_set": first_in_rising,
            "rising_set_size": rising_sizes}
