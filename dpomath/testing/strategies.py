"""Hypothesis strategies for property-testing DPO code (yours and ours): the general ones.

Users import them as ``dpomath.strategies`` (with the paper-specific ones of
:mod:`dpomath.lastlayer.strategies` and :mod:`dpomath.toys.strategies`).

Import them in your own test suite::

    import math
    from hypothesis import given
    from dpomath.strategies import preference_batches, betas

    @given(batch=preference_batches(), beta=betas())
    def test_my_loss_is_log2_at_reference(batch, beta):
        b = dict(batch, reference_chosen_logps=batch["policy_chosen_logps"],
                 reference_rejected_logps=batch["policy_rejected_logps"])
        assert my_dpo_loss(**b, beta=beta).mean() == pytest.approx(math.log(2))

For the whole battery of checks at once (value, gradients, invariances, reduction) call
:func:`dpomath.testing.check_preference_loss` instead; it uses these strategies.

Every strategy draws finite float64 values; bounds are parameters, checked when the strategy
is built (a bad bound raises ValueError/TypeError naming it).
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .. import _args

__all__ = ["betas", "log_ratios", "logps", "probabilities", "probability_ratios",
           "preference_batches", "loss_kinds", "loss_configs", "probability_vectors"]


def betas(min_value: float = 1e-3, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """β ∈ [min_value, max_value], β > 0: the KL strength of DPO.

    ::

        @given(beta=betas(0.01, 1.0))
        def test_weight_at_zero_margin(beta):
            assert dm.margin_weight("dpo", 0.0, beta) == 0.5
    """
    lo = _args.positive("min_value", min_value)
    hi = _args.real("max_value", max_value, lo=lo)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def log_ratios(min_value: float = -50.0, max_value: float = 50.0) -> st.SearchStrategy[float]:
    """A log-ratio h = log πθ(y|x) − log π_ref(y|x) in [min_value, max_value].

    ::

        @given(hw=log_ratios(), hl=log_ratios(), beta=betas())
        def test_loss_nonnegative(hw, hl, beta):
            assert dm.preference_loss("dpo", hw, hl, beta) >= 0
    """
    lo = _args.real("min_value", min_value)
    hi = _args.real("max_value", max_value, lo=lo)
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def logps(min_value: float = -100.0) -> st.SearchStrategy[float]:
    """A sequence log-probability log π(y|x) ∈ [min_value, 0] (a sum of token log-probs).

    ::

        @given(pc=logps(), rc=logps())
        def test_log_ratio_sign(pc, rc):
            assert (pc - rc > 0) == (math.exp(pc) > math.exp(rc))
    """
    lo = _args.real("min_value", min_value, hi=0.0, hi_open=True)
    return st.floats(lo, 0.0, allow_nan=False, allow_infinity=False)


def probabilities(min_value: float = 1e-6) -> st.SearchStrategy[float]:
    """A probability in [min_value, 1] (so in (0, 1]).

    ::

        @given(p=probabilities())
        def test_bt_preference_is_sigmoid_of_logit(p):
            assert abs(scipy.special.expit(scipy.special.logit(p)) - p) < 1e-12
    """
    lo = _args.real("min_value", min_value, lo=0.0, hi=1.0, lo_open=True)
    return st.floats(lo, 1.0, allow_nan=False, allow_infinity=False)


def probability_ratios(min_value: float = 1e-4, max_value: float = 1e4) -> st.SearchStrategy[tuple[float, float]]:
    """(x₁, x₂) = (πθ(y_w)/π_ref(y_w), πθ(y_l)/π_ref(y_l)), both in [min_value, max_value]:
    paper F's coordinates, in which DPO's gradient ratio is |∂L/∂x₁| / |∂L/∂x₂| = x₂/x₁.

    ::

        @given(x=probability_ratios(), beta=betas())
        def test_gradient_ratio(x, beta):
            x1, x2 = x
            ...  # differentiate your loss at h_w = log x1, h_l = log x2
    """
    lo = _args.positive("min_value", min_value)
    hi = _args.real("max_value", max_value, lo=lo)
    x = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return st.tuples(x, x)


@st.composite
def _batches(draw, min_size: int, max_size: int, min_logp: float) -> dict[str, np.ndarray]:
    el = st.floats(min_logp, 0.0, allow_nan=False, allow_infinity=False)
    names = ("policy_chosen_logps", "policy_rejected_logps",
             "reference_chosen_logps", "reference_rejected_logps")
    # one row (pair) at a time, so that shrinking deletes whole pairs and a failure shrinks to
    # the fewest pairs; lists rather than hypothesis.extra.numpy.arrays (half the drawing time)
    rows = draw(st.lists(st.tuples(el, el, el, el), min_size=min_size, max_size=max_size))
    cols = np.array(rows, dtype=np.float64).reshape(len(rows), 4).T
    return {k: cols[i].copy() for i, k in enumerate(names)}


def preference_batches(min_size: int = 1, max_size: int = 16,
                       min_logp: float = -100.0) -> st.SearchStrategy[dict[str, np.ndarray]]:
    """A batch of the four log-probability vectors of the classic ``dpo_loss`` signature:
    ``{"policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps",
    "reference_rejected_logps"}``, each a float64 array of the same length n ∈ [min_size,
    max_size], values in [min_logp, 0]. Drawn pair by pair, so a failing batch shrinks to the
    fewest pairs.

    ::

        @given(batch=preference_batches(max_size=8), beta=betas())
        def test_matches_dpomath(batch, beta):
            mine = my_dpo_loss(**batch, beta=beta)          # per-sample losses
            hw = batch["policy_chosen_logps"] - batch["reference_chosen_logps"]
            hl = batch["policy_rejected_logps"] - batch["reference_rejected_logps"]
            np.testing.assert_allclose(mine, dm.preference_loss("dpo", hw, hl, beta), rtol=1e-9)
    """
    lo = _args.integer("min_size", min_size, lo=1)
    hi = _args.integer("max_size", max_size, lo=lo)
    m = _args.real("min_logp", min_logp, hi=0.0, hi_open=True)
    return _batches(lo, hi, m)


def loss_kinds(margin_only: bool = False) -> st.SearchStrategy[str]:
    """The name of a member of dpomath's loss family (only the functions of the margin ρ
    alone if ``margin_only``).

    ::

        @given(kind=loss_kinds(margin_only=True), r=log_ratios())
        def test_weight_is_minus_derivative(kind, r):
            f, df = dm.symbolic_margin_loss(kind)
            ...
    """
    from ..losses import LOSSES

    ks = [k for k, s in LOSSES.items() if s.is_margin_loss or not margin_only]
    return st.sampled_from(ks)


@st.composite
def loss_configs(draw, margin_only: bool = False) -> tuple[str, dict]:
    """(kind, params) with every scalar parameter drawn inside its allowed range.
    Array parameters (SFT-DPO's ``chosen_logps``, the lengths of ``sigmoid-norm`` and
    ``ipo-norm``) are left for the caller to supply.

    ::

        @given(cfg=loss_configs(margin_only=True), hw=log_ratios(), hl=log_ratios())
        def test_finite(cfg, hw, hl):
            kind, params = cfg
            assert np.isfinite(dm.preference_loss(kind, hw, hl, 0.1, **params))
    """
    from ..losses import LOSSES

    kind = draw(loss_kinds(margin_only))
    params = {}
    for name, p in LOSSES[kind].params.items():
        if p.array:
            continue
        lo = p.lo if p.lo is not None else -10.0
        hi = p.hi if p.hi is not None else 10.0
        params[name] = draw(st.floats(lo, hi, exclude_min=p.lo_open, exclude_max=p.hi_open, allow_nan=False, allow_infinity=False))
    return kind, params


@st.composite
def _probability_vectors(draw, lo: int, hi: int, m: float):
    n = draw(st.integers(lo, hi))
    z = np.array(draw(st.lists(st.floats(-m, m, allow_nan=False, allow_infinity=False),
                               min_size=n, max_size=n)))
    p = np.exp(z - z.max())
    return p / p.sum()


def probability_vectors(min_size: int = 2, max_size: int = 12,
                        max_logit: float = 8.0) -> st.SearchStrategy[np.ndarray]:
    """A probability vector π = softmax(z) with 2 ≤ min_size ≤ len(π) ≤ max_size and logits
    z ∈ [−max_logit, max_logit] (so every entry is > 0 and they sum to 1 up to rounding).

    ::

        @given(p=probability_vectors())
        def test_sums_to_one(p):
            assert abs(p.sum() - 1) < 1e-12
    """
    lo = _args.integer("min_size", min_size, lo=2)
    hi = _args.integer("max_size", max_size, lo=lo)
    m = _args.positive("max_logit", max_logit)
    return _probability_vectors(lo, hi, m)
