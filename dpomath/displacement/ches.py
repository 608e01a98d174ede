"""The centered hidden embedding similarity (CHES) of a preference pair (Razin et al., ICLR 2025,
arXiv 2410.08847, Definition 2), with the index conventions of the authors' ``ches/ches.py``.

For a prompt x and responses y⁺ (chosen), y⁻ (rejected), with h_{x,z<k} the model's final hidden
state (the input of the unembedding) given x and the first k − 1 tokens of z::

    s⁺ = Σ_{k=1}^{|y⁺|} h_{x,y⁺<k},   s⁻ = Σ_{k=1}^{|y⁻|} h_{x,y⁻<k}
    CHES    = ⟨s⁺, s⁻⟩ − ‖s⁺‖²
    LN-CHES = ⟨s⁺, s⁻⟩ / (|y⁺||y⁻|) − ‖s⁺‖² / |y⁺|²        (length-normalised)

In positions of the tokenised sequence prompt + response (length T, last prompt token at index
i = len(prompt) − 1) the hidden states summed are those at i, i + 1, …, T − 2: the last prompt
token counts, every position after it counts except the final one (the state after the last
response token, usually EOS, which predicts nothing in the response), and |y| = T − 1 − i.
``ches.py`` gets there by zeroing positions < i and dropping the tensor's final column; that is
right for unpadded or *left-padded* batches only (right padding would count pad states), so
:func:`ches_scores` accepts unpadded per-pair arrays or left-padded batches and nothing else.

A higher CHES means more similar responses and, by the paper's Theorem 6 (every α coefficient
set to 1; see :mod:`dpomath.displacement.sequences`), more likelihood displacement.

The companion script of the same repository (``compute_preference_similarity_per_example.py``)
uses a different convention — it keeps the final position and normalises by |y| + 1 — see
docs/paper-r.md; dpomath follows ``ches.py``.
"""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple, Sequence

import numpy as np

from . import _inputs
from .. import _args

__all__ = ["ChesScores", "ches_scores", "ches_from_forward", "normalized_edit_distance"]


class ChesScores(NamedTuple):
    """CHES per pair, its length-normalised form, and the response lengths |y⁺|, |y⁻| used."""

    ches: np.ndarray
    length_normalized: np.ndarray
    chosen_lengths: np.ndarray
    rejected_lengths: np.ndarray


def _indices(name: str, idx, n_pairs: int) -> np.ndarray:
    a = np.atleast_1d(np.asarray(idx.detach().cpu().numpy() if hasattr(idx, "detach") else idx))
    if a.dtype.kind not in "iu" or a.ndim != 1:
        raise _args.BadType(f"{name}: expected integer indices (one per pair), got dtype {a.dtype}, "
                            f"shape {a.shape}")
    if a.size != n_pairs:
        raise _args.BadValue(f"{name}: expected {n_pairs} indices (one per pair), got {a.size}")
    return a.astype(np.int64)


def _side(name: str, hidden, idx_name: str, last_prompt_index) -> tuple[np.ndarray, np.ndarray]:
    """(sums s (n, d), lengths (n,)) of one side: positions last_prompt_index … T − 2."""
    if isinstance(hidden, (list, tuple)):
        if not hidden:
            raise _args.BadValue(f"{name}: expected at least one pair")
        arrays = [_inputs.matrix(f"{name}[{i}]", h) for i, h in enumerate(hidden)]
        d = arrays[0].shape[1]
        for i, a in enumerate(arrays):
            if a.shape[1] != d:
                raise _args.BadValue(f"{name}[{i}]: expected hidden size {d} like {name}[0], got {a.shape[1]}")
        idx = _indices(idx_name, last_prompt_index, len(arrays))
        sums, lens = np.empty((len(arrays), d)), np.empty(len(arrays), dtype=np.int64)
        for i, (a, j) in enumerate(zip(arrays, idx)):
            if not 0 <= j <= a.shape[0] - 2:
                raise _args.BadValue(f"{idx_name}[{i}]: must lie in [0, {a.shape[0] - 2}] (the response "
                                     f"needs at least one token in a sequence of {a.shape[0]}), got {j}")
            sums[i] = a[j:a.shape[0] - 1].sum(0)
            lens[i] = a.shape[0] - 1 - j
        return sums, lens
    H = _inputs.f64(name, hidden)
    if H.ndim != 3 or H.shape[0] < 1 or H.shape[1] < 2 or H.shape[2] < 1:
        raise _args.BadValue(f"{name}: expected a left-padded batch (pairs, positions >= 2, hidden) or a "
                             f"list of (positions, hidden) arrays, got shape {H.shape}")
    n, T, _ = H.shape
    idx = _indices(idx_name, last_prompt_index, n)
    bad = np.flatnonzero((idx < 0) | (idx > T - 2))
    if bad.size:
        raise _args.BadValue(f"{idx_name}[{bad[0]}]: must lie in [0, {T - 2}] for sequences of {T} "
                             f"positions, got {idx[bad[0]]}")
    keep = np.arange(T - 1)[None, :] >= idx[:, None]
    return np.einsum("nt,ntd->nd", keep.astype(np.float64), H[:, :T - 1]), (T - 1 - idx)


def ches_scores(chosen_hidden, rejected_hidden, chosen_last_prompt_index,
                rejected_last_prompt_index) -> ChesScores:
    """CHES and length-normalised CHES of each preference pair from the model's hidden states.

    Parameters
    ----------
    chosen_hidden : array (pairs, T⁺, d) or list of arrays (T⁺_i, d)
        Final-layer hidden states (the input of the unembedding) of prompt + chosen response, one
        row per position: a left-padded batch (numpy or torch), or one unpadded array per pair.
    rejected_hidden : array (pairs, T⁻, d) or list of arrays (T⁻_i, d)
        The same for prompt + rejected response.
    chosen_last_prompt_index, rejected_last_prompt_index : int array (pairs,)
        Position of the last prompt token in each sequence (in padded coordinates for a batch;
        ``len(prompt) − 1`` for an unpadded sequence). Must leave at least one response token.

    Returns
    -------
    ChesScores
        ``ches``, ``length_normalized`` (float64, one per pair) and the response lengths
        |y| = T − 1 − index used for the normalisation.

    Examples
    --------
    Prompt of 2 positions, one response token each (so only the last prompt position counts):

    >>> hp = np.array([[[9.0, 9.0], [1.0, 0.0], [7.0, 7.0]]])   # positions 0, 1 (last prompt), 2
    >>> hm = np.array([[[9.0, 9.0], [1.0, 0.0], [5.0, 5.0]]])
    >>> ches_scores(hp, hm, [1], [1]).ches                      # ⟨h, h⟩ − ‖h‖² = 0: same prompt state
    array([0.])
    """
    s_plus, n_plus = _side("chosen_hidden", chosen_hidden, "chosen_last_prompt_index", chosen_last_prompt_index)
    s_minus, n_minus = _side("rejected_hidden", rejected_hidden, "rejected_last_prompt_index",
                             rejected_last_prompt_index)
    if s_plus.shape != s_minus.shape:
        raise _args.BadValue(f"rejected_hidden: expected {s_plus.shape[0]} pairs of hidden size {s_plus.shape[1]} "
                             f"like chosen_hidden, got {s_minus.shape[0]} of size {s_minus.shape[1]}")
    cross = np.einsum("nd,nd->n", s_plus, s_minus)
    norm2 = np.einsum("nd,nd->n", s_plus, s_plus)
    return ChesScores(cross - norm2, cross / (n_plus * n_minus) - norm2 / n_plus ** 2, n_plus, n_minus)


def ches_from_forward(forward: Callable[[Sequence[int]], object],
                      pairs: Iterable[tuple[Sequence[int], Sequence[int], Sequence[int]]]) -> ChesScores:
    """CHES of token-id pairs through a model's forward pass — the seam for real models.

    Parameters
    ----------
    forward : callable
        ``forward(token_ids) -> array (len(token_ids), d)``: the final-layer hidden states (the input
        of the unembedding, after the final norm) of one unpadded sequence, numpy or torch. For a
        transformers causal LM: ``lambda ids: model(torch.tensor([ids]),
        output_hidden_states=True).hidden_states[-1][0]`` under ``torch.no_grad()``.
    pairs : iterable of (prompt_ids, chosen_ids, rejected_ids)
        Token ids; the sequences scored are prompt + chosen and prompt + rejected (concatenated as
        ids, so the prompt boundary is exact), each with at least one prompt and one response token.

    Returns
    -------
    ChesScores
    """
    if not callable(forward):
        raise _args.BadType(f"forward: expected a callable token_ids -> hidden states, got {type(forward).__name__}")
    hp, hm, ip, im = [], [], [], []
    for i, pair in enumerate(pairs):
        try:
            prompt, chosen, rejected = (list(map(int, s)) for s in pair)
        except (TypeError, ValueError):
            raise _args.BadType(f"pairs[{i}]: expected (prompt_ids, chosen_ids, rejected_ids) of integers") from None
        if not prompt or not chosen or not rejected:
            raise _args.BadValue(f"pairs[{i}]: prompt, chosen and rejected need at least one token each")
        hp.append(forward(prompt + chosen))
        hm.append(forward(prompt + rejected))
        ip.append(len(prompt) - 1)
        im.append(len(prompt) - 1)
    if not hp:
        raise _args.BadValue("pairs: expected at least one pair")
    return ches_scores(hp, hm, np.array(ip), np.array(im))


def normalized_edit_distance(a: Sequence, b: Sequence) -> float:
    """Levenshtein distance between two token sequences divided by the longer length (the
    similarity baseline of Pal et al. that paper R compares CHES against; lower = more similar).

    >>> normalized_edit_distance([1, 2, 3], [1, 3])
    0.3333333333333333
    """
    a, b = list(a), list(b)
    if not a and not b:
        raise _args.BadValue("a, b: at least one sequence must be non-empty")
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j - 1] + (x != y), prev[j] + 1, cur[j - 1] + 1)
        prev = cur
    return prev[-1] / max(len(a), len(b))
