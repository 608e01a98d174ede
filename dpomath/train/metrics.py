"""What a training run measures: the cached reference, the loss and TRL's per-step metrics,
and the evaluations at logged steps.

Notation: for a pair (x, y_w, y_l), log π(y|x) = Σ_t log π(y_t | x, y_<t) (sequence
log-probability, the sum of the per-token ones); h = log πθ(y|x) − log π_ref(y|x) (log-ratio);
β h is TRL's *reward*.

At a logged step (the state after s updates) :class:`Evaluator` measures, on the first
``eval_pairs`` training pairs (``train``), the held-out pairs (``heldout``) and the unseen
responses (``unseen``):

* TRL's quantities: ``logps/chosen``, ``logps/rejected`` (mean log πθ), ``rewards/*``, ``loss``;
* ``logps/pair_mass`` = mean log(πθ(y_w|x) + πθ(y_l|x)), the log of the probability the model
  puts on the pair's two responses together, and ``logps/pair_mass_change`` = its change from
  the reference: negative when mass moves off the responses trained on (sequence level);
* per token: ``tokens/logp_chosen``, ``tokens/logp_rejected`` (mean log π(y_t | ·) over the
  response tokens) and ``tokens/mass_moved_off`` = mean over those tokens of
  π_ref(y_t | ·) − πθ(y_t | ·), the probability each next-token distribution moves off the
  trained token (positive: moved off);
* unseen responses: ``logps/unseen`` (mean log πθ), ``logps/unseen_change`` (mean change from
  the reference), ``tokens/logp_unseen``, and the same per ``kind`` (e.g. ``would-say``);
* the greedy response (``greedy``): for the first ``greedy_prompts`` distinct prompts, the response
  decoded greedily (at most ``greedy_tokens`` tokens, EOS included), its mean log πθ
  (``logps/greedy``) and length; the texts are kept in the evaluation record;
* the per-token log-probabilities of every scored response, kept in
  ``TrainResult.per_token[step]`` and, with ``out``, written to
  ``evals/step-<N>.safetensors``.

All full-vocabulary work goes through the chunked head (:mod:`dpomath.train.logps`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

__all__ = ["Reference", "LossFn", "Evaluator", "gather_step_metrics"]

_R = {"train": 2, "heldout": 2, "unseen": 1}


def _batches(n: int, size: int):
    for s in range(0, n, size):
        yield list(range(s, min(n, s + size)))


class Reference:
    """Reference per-token log-probabilities of every response of every split, computed once
    with the initial model (the adapter disabled in ``lora`` mode), flat in sequence order
    (sequence r·n + i: response r of item i), with offsets and sequence sums (float32)."""

    def __init__(self, tokens: dict, offsets: dict, sums: dict):
        self.tok, self.off, self.sums = tokens, offsets, sums

    @classmethod
    def compute(cls, run, cfg, batch: int | None = None) -> "Reference":
        import contextlib

        batch = batch or max(8, cfg.batch_size)
        ctx = contextlib.nullcontext()
        if cfg.mode == "lora":
            ctx = run.model.disable_adapter()
        tokens, offsets, sums = {}, {}, {}
        with ctx:
            for split in ("train", "heldout", "unseen"):
                n = len(run._split_items(split))
                R = _R[split]
                per_seq: list = [None] * (R * n)
                for idx in _batches(n, batch):
                    tl, b = run.token_logps(split, idx, grad=False)
                    tl = tl.detach().float().cpu()
                    offs = np.concatenate([[0], np.cumsum(b.lengths.tolist())])
                    for s in range(b.R * b.k):
                        r, i = divmod(s, b.k)
                        per_seq[r * n + idx[i]] = tl[offs[s]:offs[s + 1]]
                if n:
                    tokens[split] = torch.cat(per_seq)
                    lens = torch.tensor([len(x) for x in per_seq])
                    offsets[split] = torch.cat([torch.zeros(1, dtype=torch.long), lens.cumsum(0)])
                    sums[split] = torch.stack([x.sum() for x in per_seq])
                else:
                    tokens[split] = torch.zeros(0)
                    offsets[split] = torch.zeros(1, dtype=torch.long)
                    sums[split] = torch.zeros(0)
        return cls(tokens, offsets, sums)

    def tensors(self) -> dict:
        out = {}
        for split in self.tok:
            out[f"{split}.tokens"] = self.tok[split]
            out[f"{split}.offsets"] = self.off[split]
            out[f"{split}.sums"] = self.sums[split]
        return out

    @classmethod
    def from_tensors(cls, t: dict) -> "Reference":
        splits = {k.split(".")[0] for k in t}
        return cls({s: t[f"{s}.tokens"] for s in splits}, {s: t[f"{s}.offsets"] for s in splits},
                   {s: t[f"{s}.sums"] for s in splits})

    def n(self, split: str) -> int:
        return len(self.sums[split]) // _R[split]

    def pairs(self, split: str, idx: Sequence[int], device) -> tuple:
        """Reference sequence log-probabilities (chosen, rejected) of items ``idx``."""
        n = self.n(split)
        s = self.sums[split]
        ix = torch.as_tensor(list(idx), dtype=torch.long)
        return s[ix].to(device), s[ix + n].to(device)

    def seq_tokens(self, split: str, seq: int):
        o = self.off[split]
        return self.tok[split][o[seq]:o[seq + 1]]


class LossFn:
    """Per-pair loss from ``dpomath.losses.preference_loss`` and the per-pair quantities behind
    TRL's metrics."""

    def __init__(self, cfg):
        from dpomath.losses import get_loss

        self.kind = get_loss(cfg.loss).kind
        self.spec = get_loss(cfg.loss)
        self.beta = cfg.beta
        self.params = dict(cfg.loss_params)

    def __call__(self, pc, pr, rc, rr, b):
        from dpomath.losses import preference_loss

        hw, hl = pc - rc, pr - rr
        p = dict(self.params)
        if "chosen_lengths" in self.spec.params:
            p["chosen_lengths"] = b.lengths[:b.k].to(pc.dtype)
            p["rejected_lengths"] = b.lengths[b.k:].to(pc.dtype)
        if "chosen_logps" in self.spec.params:
            p["chosen_logps"] = pc
        losses = preference_loss(self.kind, hw, hl, self.beta, **p)
        rw, rl = self.beta * hw.detach(), self.beta * hl.detach()
        return losses, {"loss": losses.detach(), "rewards/chosen": rw, "rewards/rejected": rl,
                        "rewards/margins": rw - rl, "rewards/accuracies": (rw > rl).float(),
                        "logps/chosen": pc.detach(), "logps/rejected": pr.detach()}


def gather_step_metrics(per_pair: dict, dist) -> dict:
    """Means over the micro-batch (all processes) of each per-pair metric, as floats."""
    return {k: dist.mean(v) for k, v in per_pair.items()}


def _pair_stats(pc, pr, rc, rr, tok_c, tok_r, ref_c, ref_r, loss_fn, lengths) -> dict:
    beta = loss_fn.beta
    hw, hl = pc - rc, pr - rr

    class _B:  # lengths for length-normalised losses
        pass

    b = _B()
    b.k = len(pc)
    b.lengths = lengths
    losses, _ = loss_fn(pc, pr, rc, rr, b)
    mass = torch.logaddexp(pc.double(), pr.double())
    mass0 = torch.logaddexp(rc.double(), rr.double())
    moved = torch.cat([ref_c.double().exp() - tok_c.double().exp(), ref_r.double().exp() - tok_r.double().exp()])
    return {"n": int(len(pc)),
            "loss": float(losses.mean()),
            "rewards/chosen": float((beta * hw).mean()), "rewards/rejected": float((beta * hl).mean()),
            "rewards/margins": float((beta * (hw - hl)).mean()),
            "rewards/accuracies": float((hw > hl).float().mean()),
            "logps/chosen": float(pc.mean()), "logps/rejected": float(pr.mean()),
            "logps/chosen_change": float(hw.mean()), "logps/rejected_change": float(hl.mean()),
            "logps/pair_mass": float(mass.mean()), "logps/pair_mass_change": float((mass - mass0).mean()),
            "tokens/logp_chosen": float(tok_c.mean()), "tokens/logp_rejected": float(tok_r.mean()),
            "tokens/mass_moved_off": float(moved.mean())}


class Evaluator:
    """The evaluations at logged steps (module docstring)."""

    def __init__(self, run, ref: Reference, cfg):
        self.run, self.ref, self.cfg = run, ref, cfg
        self.loss_fn = LossFn(cfg)
        self.batch = max(8, cfg.batch_size)

    def _scores(self, split: str, n: int):
        """Per-sequence token log-probabilities (list, sequence order r·n + i) of the first n
        items of ``split`` under the current model."""
        R = _R[split]
        per_seq: list = [None] * (R * n)
        for idx in _batches(n, self.batch):
            tl, b = self.run.token_logps(split, idx, grad=False)
            tl = tl.detach().float().cpu()
            offs = np.concatenate([[0], np.cumsum(b.lengths.tolist())])
            for s in range(b.R * b.k):
                r, i = divmod(s, b.k)
                per_seq[r * n + idx[i]] = tl[offs[s]:offs[s + 1]]
        return per_seq

    def evaluate(self, step: int, per_token: dict, out: Path | None) -> dict:
        cfg, run = self.cfg, self.run
        was_training = run.model.training
        row: dict[str, Any] = {"step": step}
        keep: dict[str, torch.Tensor] = {}
        for split in ("train", "heldout"):
            total = len(run._split_items(split))
            cap = cfg.eval_pairs if split == "heldout" or cfg.eval_train_pairs is None else cfg.eval_train_pairs
            n = min(total, cap)
            if n == 0:
                continue
            seqs = self._scores(split, n)
            N = self.ref.n(split)
            cur_c = [seqs[i] for i in range(n)]
            cur_r = [seqs[n + i] for i in range(n)]
            ref_c = [self.ref.seq_tokens(split, i) for i in range(n)]
            ref_r = [self.ref.seq_tokens(split, N + i) for i in range(n)]
            pc = torch.stack([x.sum() for x in cur_c])
            pr = torch.stack([x.sum() for x in cur_r])
            rc, rr = self.ref.sums[split][:n], self.ref.sums[split][N:N + n]
            lengths = torch.tensor([len(x) for x in cur_c] + [len(x) for x in cur_r])
            row[split] = _pair_stats(pc, pr, rc, rr, torch.cat(cur_c), torch.cat(cur_r),
                                     torch.cat(ref_c), torch.cat(ref_r), self.loss_fn, lengths)
            row[split]["of"] = total
            keep[f"{split}.chosen.tokens"] = torch.cat(cur_c)
            keep[f"{split}.rejected.tokens"] = torch.cat(cur_r)
            keep[f"{split}.chosen.offsets"] = torch.tensor(np.concatenate([[0], np.cumsum([len(x) for x in cur_c])]))
            keep[f"{split}.rejected.offsets"] = torch.tensor(np.concatenate([[0], np.cumsum([len(x) for x in cur_r])]))
        total = len(run._split_items("unseen"))
        n = min(total, cfg.eval_unseen)
        if n:
            seqs = self._scores("unseen", n)
            cur = torch.stack([x.sum() for x in seqs])
            ref = self.ref.sums["unseen"][:n]
            toks = torch.cat(seqs)
            u = {"n": n, "of": total, "logps/unseen": float(cur.mean()),
                 "logps/unseen_change": float((cur - ref).mean()), "tokens/logp_unseen": float(toks.mean())}
            kinds = [run.td.unseen[i].kind for i in range(n)]
            for kind in sorted(set(kinds) - {""}):
                sel = torch.tensor([k == kind for k in kinds])
                u[f"logps/unseen_{kind}"] = float(cur[sel].mean())
                u[f"logps/unseen_{kind}_change"] = float((cur[sel] - ref[sel]).mean())
            row["unseen"] = u
            keep["unseen.tokens"] = toks
            keep["unseen.offsets"] = torch.tensor(np.concatenate([[0], np.cumsum([len(x) for x in seqs])]))
        if cfg.greedy_prompts and cfg.greedy_tokens:
            row["greedy"] = self._greedy(keep)
        if was_training:
            run.model.train()
        per_token[step] = {k: v.numpy() for k, v in keep.items()}
        if out is not None and run.dist.main:
            from safetensors.torch import save_file

            d = Path(out) / "evals"
            d.mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in keep.items()}, str(d / f"step-{step:08d}.safetensors"),
                      metadata={"summary": json.dumps(row)})
        return row

    def _greedy(self, keep: dict) -> dict:
        """Greedy responses to the first prompts of the held-out pairs (else the training
        pairs), and their log-probabilities under the current model."""
        run, cfg = self.run, self.cfg
        items = run.td.heldout or run.td.train
        prompts = list(dict.fromkeys(e.prompt_ids for e in items))[:cfg.greedy_prompts]  # distinct
        lm = run.model
        lm.eval()
        eos = run.tok.eos_token_id
        texts, logps, lengths = [], [], []
        with torch.no_grad(), run.autocast():
            for p in prompts:
                ids = torch.tensor([p], device=run.device)
                gen = lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                  max_new_tokens=cfg.greedy_tokens, pad_token_id=run.pad,
                                  eos_token_id=eos, num_beams=1)
                resp = gen[0, len(p):].tolist()
                if eos is not None and eos in resp:
                    resp = resp[:resp.index(eos) + 1]
                if not resp:
                    continue
                b = run.LP.make_batch([p], [[resp]], run.pad).to(run.device)
                if cfg.mode == "last-layer":
                    h = run.scorer.hidden(b)
                    w, bias, scale, softcap = run.LP.head_of(lm)
                    tl = run.LP.token_logps(h, w, b.targets, bias=bias, scale=scale, softcap=softcap)
                else:
                    tl = run.scorer(b)
                logps.append(float(tl.sum()))
                lengths.append(len(resp))
                texts.append(run.tok.decode(resp))
        lm.train()
        return {"n": len(logps), "logps/greedy": float(np.mean(logps)) if logps else None,
                "length": float(np.mean(lengths)) if lengths else None, "texts": texts,
                "logps": logps}
