"""dpomath — machine-checked mathematics of Direct Preference Optimization.

``import dpomath as dm`` does no SymPy work: names below are loaded on first use (PEP 562).

>>> import dpomath as dm
>>> dm.preference_loss("sigmoid", [0.0], [0.0], beta=0.1)   # log 2 at the reference
array([0.69314718])
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module that defines it (relative to this package)
_LAZY = {
    # the loss family
    "preference_loss": "losses", "margin_weight": "losses", "get_loss": "losses",
    "symbolic_loss": "losses", "symbolic_margin_loss": "losses", "LOSSES": "losses",
    # argument errors (subclasses of ValueError / TypeError naming the parameter)
    "BadValue": "_args", "BadType": "_args",
    # the ledger
    "Status": "ledger", "Verdict": "ledger", "claim": "ledger", "registry": "ledger",
    "run_claims": "ledger",
    # numeric twins
    "numeric_twin": "twins",
    # paper F / paper Y formulas as SymPy objects (built on first access)
    **{name: "symbolic" for name in (
        "x1", "x2", "beta", "a", "b", "h_w", "h_l", "rho", "pi_plus", "pi_minus", "pi0_plus",
        "pi0_minus", "alpha", "z", "r_plus", "r_minus",
        "dpo_loss_x", "paper_f_loss", "dpo_gradient_x", "paper_f_gradient", "update_ratio",
        "dpo_loss_h", "dpo_gradient_h", "update_ratio_h", "yan_loss", "yan_gradient",
        "yan_ratio", "rm_loss", "rm_gradient", "loss_in_x", "gradient_in_x")},
    # paper F's field numerically, its gradient flows
    "gradient_field": "field", "gradient_flow": "field", "probability_ratios": "field",
    "field_grid": "field",
    # derivations (``dpomath derive``)
    "derive": "derivations",
    # the conformance kit for users' loss code
    "check_preference_loss": "testing",
    # paper I: clusters, margin dynamics, Theorem 4.2, Theorem 4.3 and the scaling law
    "sample_clusters": "clusters", "solve_margins": "margins", "MarginSolution": "margins",
    "margin_rhs": "margins", "gradient_descent": "margins", "simulate": "margins",
    "theorem42_conditions": "guarantees", "theorem42_outcome": "guarantees", "tau1": "guarantees",
    "typical_margin": "guarantees", "q_star": "scaling", "risk_bound": "scaling",
    "mc_risk": "scaling",
    # how a gradient step moves probability mass (papers R and S)
    "ches_scores": "displacement.ches",
    # real-model validation (torch/transformers imported on use)
    "validate_command": "validation.experiment", "run_sweep": "validation.experiment",
    "train_rows": "validation.train", "PreferenceSplit": "validation.train",
    "read_persona_file": "validation.data", "select_personas": "validation.data",
}

_MODULES = ("losses", "ledger", "twins", "ops", "strategies", "report", "cli", "testing", "symbolic",
            "field", "derivations", "clusters", "margins", "guarantees", "scaling", "toy",
            "tabular", "displacement")

__all__ = sorted(set(_LAZY) | set(_MODULES) | {"__version__"})


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dpomath' has no attribute {name!r}")


def __dir__():
    return __all__
