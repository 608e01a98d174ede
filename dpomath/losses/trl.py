"""TRL's names for the members of the family (``DPOConfig.loss_type``, TRL 1.16.0)."""
from __future__ import annotations

__all__ = ["TRL_LOSS_TYPES"]

#: TRL's ``loss_type`` → the dpomath member that computes the same loss, and the TRL argument
#: behind each of its parameters (TRL 1.16.0). Note TRL's ``ipo`` is dpomath's ``ipo-norm``.
TRL_LOSS_TYPES = {
    "sigmoid": ("sigmoid", {}),
    "hinge": ("hinge", {}),
    "ipo": ("ipo-norm", {"chosen_lengths": "completion tokens", "rejected_lengths": "completion tokens"}),
    "exo_pair": ("exo-pair", {"label_smoothing": "label_smoothing"}),
    "nca_pair": ("nca-pair", {}),
    "robust": ("robust", {"label_smoothing": "label_smoothing"}),
    "bco_pair": ("bco-pair", {}),
    "sppo_hard": ("sppo-hard", {}),
    "apo_zero": ("apo-zero", {}),
    "apo_down": ("apo-down", {}),
    "discopop": ("discopop", {"tau": "discopop_tau"}),
    "sigmoid_norm": ("sigmoid-norm", {"chosen_lengths": "completion tokens",
                                      "rejected_lengths": "completion tokens"}),
}
