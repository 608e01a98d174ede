"""How a gradient step moves probability mass between responses.

Modules (SymPy, numpy and torch are imported on use):

``single_token``  one DPO step with the hidden state and the unembedding trained, single-token
                  responses: the exact logit change, Theorems 4 and 5 of Razin et al. (paper R);
``sequences``     multi-token responses in the unconstrained features model: Theorem 6 of paper R
                  and its α coefficients;
``ches``          the centered hidden embedding similarity (CHES) of paper R, per preference pair,
                  with the index conventions of the authors' ``ches/ches.py``;
``squeezing``     the squeezing effect of a negative gradient, exactly (paper S, Ren & Sutherland);
``akg``           paper S's one-step A·K·G decomposition and the ‖I − 1πᵀ‖_F identity.
"""
from __future__ import annotations

import importlib

_SUBMODULES = ("single_token", "sequences", "ches", "squeezing", "akg")

#: public name -> submodule
_LAZY = {
    "step_logit_change": "single_token", "log_prob_rates": "single_token",
    "theorem4_terms": "single_token", "theorem5_rates": "single_token",
    "gain_scores": "single_token", "dpo_coefficient": "single_token",
    "theorem6_terms": "sequences",
    "ches_scores": "ches", "ChesScores": "ches", "ches_from_forward": "ches",
    "squeeze_step": "squeezing", "rising_set": "squeezing", "squeeze_threshold": "squeezing",
    "akg_decomposition": "akg", "log_softmax_jacobian": "akg", "frobenius_norm_A": "akg",
}

__all__ = sorted(set(_SUBMODULES) | set(_LAZY))


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dpomath.displacement' has no attribute {name!r}")


def __dir__():
    return __all__
