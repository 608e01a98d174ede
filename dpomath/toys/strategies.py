"""Hypothesis strategies for paper Y's free-logit policy (users import them as
``dpomath.strategies``)."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import _args

__all__ = ["free_logit_prompts"]


def free_logit_prompts(min_responses: int = 3, max_responses: int = 9) -> st.SearchStrategy:
    """One prompt of the free-logit policy (:mod:`dpomath.toys.free_logit`): ``(logits, ref_logp,
    rejected, weights)`` with the chosen response at index 0, 1..n−1 distinct rejected indices
    and positive weights summing to 1 — the arguments of ``free_logit.step(logits, ref_logp, 0,
    rejected, weights, lr=...)``. Bad bounds are refused when the strategy is made, not when it
    is drawn from."""
    lo = _args.integer("min_responses", min_responses, lo=3)
    hi = _args.integer("max_responses", max_responses, lo=lo)
    return _free_logit_prompts(lo, hi)


@st.composite
def _free_logit_prompts(draw, lo: int, hi: int):
    n = draw(st.integers(lo, hi))
    fl = st.floats(-6, 6, allow_nan=False, allow_infinity=False)
    z = np.array(draw(st.lists(fl, min_size=n, max_size=n)))
    ref = np.array(draw(st.lists(fl, min_size=n, max_size=n)))
    ref = ref - np.log(np.exp(ref).sum())
    rej = draw(st.lists(st.integers(1, n - 1), min_size=1, max_size=n - 1, unique=True))
    w = np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=len(rej), max_size=len(rej))))
    return z, ref, np.array(rej), w / w.sum()
