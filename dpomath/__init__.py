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
    "loss_partials": "losses",
    # argument errors (subclasses of ValueError / TypeError naming the parameter)
    "BadValue": "_args", "BadType": "_args", "DpomathWarning": "_args",
    # the ledger
    "Status": "verify.ledger", "Verdict": "verify.ledger", "claim": "verify.ledger",
    "registry": "verify.ledger", "run_claims": "verify.ledger",
    # numeric twins
    "numeric_twin": "verify.twins",
    # the SymPy symbols
    **{name: "symbols" for name in (
        "x1", "x2", "beta", "a", "b", "h_w", "h_l", "rho", "pi_plus", "pi_minus", "pi0_plus",
        "pi0_minus", "alpha", "z", "r_plus", "r_minus")},
    # paper F / paper Y formulas as SymPy objects (built on first access)
    **{name: "gradients.formulas" for name in (
        "dpo_loss_x", "paper_f_loss", "dpo_gradient_x", "paper_f_gradient", "update_ratio",
        "dpo_loss_h", "dpo_gradient_h", "update_ratio_h", "yan_loss", "yan_gradient",
        "yan_ratio", "rm_loss", "rm_gradient", "loss_in_x", "gradient_in_x")},
    # paper F's field numerically, its gradient flows
    "gradient_field": "gradients.field", "gradient_flow": "gradients.field",
    "probability_ratios": "gradients.field", "field_grid": "gradients.field",
    # derivations (``dpomath derive``)
    "derive": "verify.derive",
    # the conformance kit for users' loss code
    "check_preference_loss": "testing",
    # paper I: clusters, margin dynamics, Theorem 4.2, Theorem 4.3 and the scaling law
    "sample_clusters": "lastlayer.clusters", "solve_margins": "lastlayer.margins",
    "MarginSolution": "lastlayer.margins", "margin_rhs": "lastlayer.margins",
    "gradient_descent": "lastlayer.descent", "simulate": "lastlayer.runs",
    "theorem42_conditions": "lastlayer.theorem42", "theorem42_outcome": "lastlayer.runs",
    "tau1": "lastlayer.theorem42", "typical_margin": "lastlayer.theorem42",
    "q_star": "lastlayer.theorem43", "risk_bound": "lastlayer.theorem43",
    "mc_risk": "lastlayer.runs",
    # how a gradient step moves probability mass (papers R and S)
    "ches_scores": "displacement.ches",
    # real-model validation (torch/transformers imported on use)
    "validate_command": "validation.command", "run_sweep": "validation.ksweep",
    "train_rows": "validation.train", "PreferenceSplit": "validation.train",
    "read_persona_file": "validation.data", "select_personas": "validation.data",
}

#: sub-packages and modules reachable as attributes (``dm.losses``, ``dm.lastlayer`` ...)
_MODULES = ("losses", "gradients", "lastlayer", "toys", "verify", "testing", "strategies", "plots",
            "symbols", "displacement")

#: dpomath 0.1's flat module paths: ``dm.margins`` etc. still resolve (to the forwarding
#: modules, which warn on use) until dpomath 0.2
_OLD_MODULES = ("ledger", "twins", "ops", "report", "cli", "symbolic", "field", "derivations",
                "clusters", "margins", "guarantees", "scaling", "toy", "tabular")

__all__ = sorted(set(_LAZY) | set(_MODULES) | {"__version__"})


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _MODULES or name in _OLD_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'dpomath' has no attribute {name!r}")


def __dir__():
    return __all__
