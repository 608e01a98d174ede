"""Hypothesis strategies for property-testing DPO code (yours and ours): one import for all of
them. The general ones live in :mod:`dpomath.testing.strategies`, those of paper I's cluster
model in :mod:`dpomath.lastlayer.strategies`, those of paper Y's free-logit policy in
:mod:`dpomath.toys.strategies`.

    from hypothesis import given
    from dpomath.strategies import preference_batches, betas

    @given(batch=preference_batches(), beta=betas())
    def test_my_loss(batch, beta):
        ...
"""
from __future__ import annotations

from ._optional import require as _require

_require("hypothesis", "dpomath.strategies")  # an ImportError naming the extra

from .lastlayer.strategies import theorem42_params  # noqa: E402
from .testing.strategies import (betas, log_ratios, logps, loss_configs, loss_kinds,  # noqa: E402
                                 preference_batches, probabilities, probability_ratios,
                                 probability_vectors)
from .toys.strategies import free_logit_prompts  # noqa: E402

__all__ = ["betas", "log_ratios", "logps", "probabilities", "probability_ratios",
           "preference_batches", "loss_kinds", "loss_configs", "theorem42_params",
           "free_logit_prompts", "probability_vectors"]
