"""The members of the preference-loss family (GPO, Tang et al. 2024): **the one place to add
a loss.**

Each ``_add(...)`` below is one member with every fact about it (:class:`~dpomath.losses.spec.
LossSpec`): its formula over the ops backends, its parameters and their ranges, and the facts
the rest of dpomath reads — the swap identity and shift invariance the conformance kit checks
(proved with SymPy in tests/test_testing.py), kinks, the partial derivatives in the log-ratios
of members that are not functions of the margin alone (the free-logit model), the mean-field
closed form of paper I's cluster model, the name on the command line.

Notation: h_w = log πθ(y_w|x) − log π_ref(y_w|x) and h_l likewise are the *log-ratios*; the
margin is ρ = β(h_w − h_l) (paper I's r).
"""
from __future__ import annotations

import numpy as np

from .spec import LossSpec, Param, log_param, margin_member

__all__ = ["LOSSES", "ALIASES"]

LOSSES: dict[str, LossSpec] = {}


def _add(spec: LossSpec) -> None:
    LOSSES[spec.kind] = spec


def _tanh_half(o, x):
    """tanh(x/2) = σ(x) − σ(−x)."""
    return o.sigmoid(x) - o.sigmoid(-x)


def _rho(b, hw, hl):
    return b * (hw - hl)


# ---- mean-field closed forms of paper I (Theorem 4.2's model with every sample at its cluster
# mean): τṙ = (2β²/K)·rate·w(r), r(0) = 0, written in s = 2·rate·β²t/(Kτ)

def _mean_field_dpo(s):
    """r + e^r = 1 + s, i.e. r = c − ω(c), c = 1 + s (ω: the Wright omega function)."""
    from scipy.special import wrightomega

    c = 1.0 + s
    return np.real(c - wrightomega(c))


def _mean_field_ipo_margin(s):
    """w = 2(1 − r): r = 1 − e^{−2s}."""
    return -np.expm1(-2.0 * s)


def _mean_field_hinge(s):
    """w = [r < 1]: r = min(1, s)."""
    return np.minimum(1.0, s)


_EPS = Param(0.0, lo=0.0, hi=0.5, hi_open=True, doc="label smoothing ε ∈ [0, 1/2)")

_add(margin_member(
    "sigmoid", "DPO", "−log σ(ρ)", "Rafailov et al. 2023, eq. 7",
    f=lambda o, r, b: o.softplus(-r),
    df=lambda o, r, b: -o.sigmoid(-r),
    swap=("L(swap) − L = ρ", lambda o, hw, hl, b: b * (hw - hl)),
    mean_field=_mean_field_dpo, cli_name="dpo"))
_add(margin_member(
    "cdpo", "conservative DPO (label smoothing)", "−(1−ε) log σ(ρ) − ε log σ(−ρ)",
    "Mitchell 2023; TRL ≤ 0.28 `sigmoid` with `label_smoothing` (TRL ≥ 0.29 ignores it there)",
    f=lambda o, r, b, label_smoothing: (1 - label_smoothing) * o.softplus(-r)
    + label_smoothing * o.softplus(r),
    df=lambda o, r, b, label_smoothing: -(1 - label_smoothing) * o.sigmoid(-r)
    + label_smoothing * o.sigmoid(r),
    params={"label_smoothing": _EPS},
    swap=("L(swap) − L = (1 − 2ε)ρ",
          lambda o, hw, hl, b, label_smoothing: (1 - 2 * label_smoothing) * b * (hw - hl))))
_add(margin_member(
    "robust", "robust DPO", "(−(1−ε) log σ(ρ) + ε log σ(−ρ)) / (1 − 2ε)",
    "Chowdhury et al. 2024; TRL `robust`",
    f=lambda o, r, b, label_smoothing: ((1 - label_smoothing) * o.softplus(-r)
                                        - label_smoothing * o.softplus(r)) / (1 - 2 * label_smoothing),
    df=lambda o, r, b, label_smoothing: (-(1 - label_smoothing) * o.sigmoid(-r)
                                         - label_smoothing * o.sigmoid(r)) / (1 - 2 * label_smoothing),
    params={"label_smoothing": _EPS},
    swap=("L(swap) − L = ρ/(1 − 2ε)",
          lambda o, hw, hl, b, label_smoothing: b * (hw - hl) / (1 - 2 * label_smoothing))))
_add(margin_member(
    "ipo", "IPO (Azar form)", "(h − 1/(2β))² = (ρ − 1/2)²/β², h = h_w − h_l",
    "Azar et al. 2024, eq. 17; `ipo` of the original DPO repository (summed log-probabilities); "
    "TRL's `ipo` is `ipo-norm`",
    f=lambda o, r, b: o.square(2 * r - 1) / (4 * b * b),
    df=lambda o, r, b: (2 * r - 1) / (b * b),
    swap=("L(swap) − L = 2ρ/β² = 2(h_w − h_l)/β", lambda o, hw, hl, b: 2 * (hw - hl) / b)))
_add(margin_member(
    "ipo-margin", "IPO (paper I form)", "(ρ − 1)²", "Im & Li 2025, Section 4.3 (GPO family)",
    f=lambda o, r, b: o.square(r - 1),
    df=lambda o, r, b: 2 * (r - 1),
    swap=("L(swap) − L = 4ρ", lambda o, hw, hl, b: 4 * b * (hw - hl)),
    mean_field=_mean_field_ipo_margin, cli_name="ipo"))
_add(margin_member(
    "hinge", "SLiC (hinge)", "max(0, 1 − ρ)", "Zhao et al. 2023; TRL `hinge`",
    f=lambda o, r, b: o.relu(1 - r),
    df=lambda o, r, b: -o.heaviside(1 - r),
    kinks=(1.0,), mean_field=_mean_field_hinge, cli_name="slic"))
_add(margin_member(
    "exponential", "exponential", "e^{−ρ}", "Tang et al. 2024 (GPO), Table 1",
    f=lambda o, r, b: o.exp(-r),
    df=lambda o, r, b: -o.exp(-r),
    swap=("L(swap) − L = e^ρ − e^−ρ = 2 sinh ρ",
          lambda o, hw, hl, b: o.exp(b * (hw - hl)) - o.exp(-b * (hw - hl)))))
_add(margin_member(
    "truncated-quadratic", "truncated quadratic", "max(0, 1 − ρ)²", "Tang et al. 2024 (GPO), Table 1",
    f=lambda o, r, b: o.square(o.relu(1 - r)),
    df=lambda o, r, b: -2 * o.relu(1 - r)))
_add(margin_member(
    "savage", "Savage", "σ(−ρ)² = 1/(1 + e^ρ)²", "Tang et al. 2024 (GPO), Table 1",
    f=lambda o, r, b: o.square(o.sigmoid(-r)),
    df=lambda o, r, b: -2 * o.square(o.sigmoid(-r)) * o.sigmoid(r),
    swap=("L(swap) − L = tanh(ρ/2)", lambda o, hw, hl, b: _tanh_half(o, b * (hw - hl)))))
_add(margin_member(
    "reward-model", "reward-model (Bradley–Terry) loss",
    "−log σ(β(r₊ − r₋)); inputs are the rewards r± (β = 1 is the plain loss)",
    "Yan et al. 2025, Section 3.1; Ouyang et al. 2022",
    f=lambda o, r, b: o.softplus(-r),
    df=lambda o, r, b: -o.sigmoid(-r),
    swap=("L(swap) − L = ρ", lambda o, hw, hl, b: b * (hw - hl))))
_add(LossSpec(
    "flex", "Flex-DPO", "−log σ(β₊ h_w − β₋ h_l), β₊ = beta", "Yan et al. 2025, Section 4",
    loss=lambda o, hw, hl, b, beta_minus: o.softplus(-(b * hw - beta_minus * hl)),
    params={"beta_minus": Param(None, lo=0.0, lo_open=True, doc="β₋ > 0 (β₊ is `beta`)")},
    # u = β₊h_w − β₋h_l: (−β₊σ(−u), β₋σ(−u))
    partials=lambda o, hw, hl, b, beta_minus: (
        -b * o.sigmoid(-(b * hw - beta_minus * hl)),
        beta_minus * o.sigmoid(-(b * hw - beta_minus * hl)))))
_add(LossSpec(
    "sft", "SFT-DPO", "−log σ(ρ) − γ log πθ(y_w|x)", "Yan et al. 2025, Section 4 (sign as in its gradient)",
    loss=lambda o, hw, hl, b, gamma, chosen_logps: o.softplus(-b * (hw - hl)) - gamma * chosen_logps,
    params={"gamma": Param(None, lo=0.0, doc="γ ≥ 0"),
            "chosen_logps": Param(None, array=True, doc="policy log πθ(y_w|x), same shape")},
    # the policy's own log π_c moves with h_w: (−βσ(−ρ) − γ, βσ(−ρ))
    partials=lambda o, hw, hl, b, gamma: (
        -b * o.sigmoid(-_rho(b, hw, hl)) - gamma, b * o.sigmoid(-_rho(b, hw, hl))),
    # c added through the reference: the −γ log πθ(y_w) term sees the policy only
    shift_invariant=True))

# ---- the members TRL implements (trl/trainer/dpo_trainer.py, checked term by term against 1.16.0)

_add(margin_member(
    "exo-pair", "EXO (pairwise)",
    "σ(ρ)(log σ(ρ) − log(1−ε)) + σ(−ρ)(log σ(−ρ) − log ε) = KL(softmax(ρ, 0) ‖ (1−ε, ε))",
    "Ji et al. 2024 (EXO), eq. 16; TRL `exo_pair` (ε = `label_smoothing`)",
    f=lambda o, r, b, label_smoothing: (
        o.sigmoid(r) * (o.log_sigmoid(r) - log_param(o, 1 - label_smoothing))
        + o.sigmoid(-r) * (o.log_sigmoid(-r) - log_param(o, label_smoothing))),
    # log σ(ρ) − log σ(−ρ) = ρ, so f′ = σ(ρ)σ(−ρ)(ρ − log((1−ε)/ε)): zero at the target ρ* = logit(1−ε)
    df=lambda o, r, b, label_smoothing: o.sigmoid(r) * o.sigmoid(-r) * (
        r - log_param(o, 1 - label_smoothing) + log_param(o, label_smoothing)),
    params={"label_smoothing": Param(None, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                                     doc="ε ∈ (0, 1); the EXO paper recommends 1e-3")},
    swap=("L(swap) − L = tanh(ρ/2)·log((1 − ε)/ε)",
          lambda o, hw, hl, b, label_smoothing: _tanh_half(o, b * (hw - hl)) * (
              log_param(o, 1 - label_smoothing) - log_param(o, label_smoothing)))))
_add(LossSpec(
    "nca-pair", "NCA (pairwise)", "−log σ(βh_w) − ½ log σ(−βh_w) − ½ log σ(−βh_l)",
    "Chen et al. 2024 (NCA), pairwise form; TRL `nca_pair`",
    loss=lambda o, hw, hl, b: o.softplus(-b * hw) + (o.softplus(b * hw) + o.softplus(b * hl)) / 2))
_add(LossSpec(
    "bco-pair", "BCO (pairwise)", "−log σ(βh_w − δ) − log σ(−(βh_l − δ))",
    "Jung et al. 2024 (BCO); TRL `bco_pair` (TRL ≤ 0.28: δ = running mean of the rewards βh seen "
    "so far, a state; TRL ≥ 0.29: δ = 0)",
    loss=lambda o, hw, hl, b, delta: o.softplus(delta - b * hw) + o.softplus(b * hl - delta),
    params={"delta": Param(0.0, doc="reward baseline δ (TRL ≤ 0.28 kept it as a running mean; "
                                    "pass that mean here to reproduce it)")},
    swap=("L(swap) − L = ρ (for every δ)", lambda o, hw, hl, b, delta: b * (hw - hl))))
_add(LossSpec(
    "sppo-hard", "SPPO (hard labels)", "(h_w − 1/(2β))² + (h_l + 1/(2β))²",
    "Wu et al. 2024 (SPPO), eq. 4.7 with P = 1 for the winner, 0 for the loser; TRL `sppo_hard`",
    loss=lambda o, hw, hl, b: o.square(hw - 1 / (2 * b)) + o.square(hl + 1 / (2 * b)),
    swap=("L(swap) − L = 2(h_w − h_l)/β", lambda o, hw, hl, b: 2 * (hw - hl) / b)))
_add(LossSpec(
    "apo-zero", "APO-zero", "σ(−βh_w) + σ(βh_l) = (1 − σ(βh_w)) + σ(βh_l)",
    "D'Oosterlinck et al. 2024 (APO), eq. 7; TRL `apo_zero`",
    loss=lambda o, hw, hl, b: o.sigmoid(-b * hw) + o.sigmoid(b * hl),
    swap=("L(swap) − L = tanh(βh_w/2) − tanh(βh_l/2)",
          lambda o, hw, hl, b: _tanh_half(o, b * hw) - _tanh_half(o, b * hl))))
_add(LossSpec(
    "apo-down", "APO-down", "σ(βh_w) + σ(−ρ) = σ(βh_w) + (1 − σ(β(h_w − h_l)))",
    "D'Oosterlinck et al. 2024 (APO), eq. 8; TRL `apo_down`",
    loss=lambda o, hw, hl, b: o.sigmoid(b * hw) + o.sigmoid(-b * (hw - hl)),
    swap=("L(swap) − L = tanh(ρ/2) − (σ(βh_w) − σ(βh_l))",
          lambda o, hw, hl, b: _tanh_half(o, b * (hw - hl)) - o.sigmoid(b * hw) + o.sigmoid(b * hl))))
_add(margin_member(
    "discopop", "DiscoPOP (log-ratio modulated)",
    "(1 − σ(ρ/τ))·(−log σ(ρ)) + σ(ρ/τ)·e^{−ρ}",
    "Chris Lu et al. 2024 (DiscoPOP), eq. 5; TRL `discopop` (τ = `discopop_tau`)",
    # σ(ρ/τ)e^{−ρ} is formed as exp(log σ(ρ/τ) − ρ): finite where e^{−ρ} alone overflows
    f=lambda o, r, b, tau: o.sigmoid(-r / tau) * o.softplus(-r) + o.exp(o.log_sigmoid(r / tau) - r),
    df=lambda o, r, b, tau: (
        o.sigmoid(-r / tau) * (o.exp(o.log_sigmoid(r / tau) - r) - o.sigmoid(r / tau) * o.softplus(-r)) / tau
        - o.sigmoid(-r / tau) * o.sigmoid(-r) - o.exp(o.log_sigmoid(r / tau) - r)),
    params={"tau": Param(0.05, lo=0.0, lo_open=True, doc="temperature τ > 0 (TRL default 0.05)")}))

_LENGTHS = {
    "chosen_lengths": Param(None, lo=0.0, lo_open=True, array=True,
                            doc="number of completion tokens of each chosen response (> 0)"),
    "rejected_lengths": Param(None, lo=0.0, lo_open=True, array=True,
                              doc="number of completion tokens of each rejected response (> 0)"),
}


def _length_normalised(base: str, kind: str, title: str, reference: str, swap) -> LossSpec:
    """Member ``base`` evaluated at the per-token log-ratios (h_w/n_w, h_l/n_l)."""
    spec = LOSSES[base]
    return LossSpec(
        kind, title, f"{spec.formula} at h_w/n_w, h_l/n_l (n = completion tokens)", reference,
        loss=lambda o, hw, hl, b, chosen_lengths, rejected_lengths: spec.loss(
            o, hw / chosen_lengths, hl / rejected_lengths, b),
        params=_LENGTHS, swap=swap)


_add(_length_normalised(
    "sigmoid", "sigmoid-norm", "DPO on length-averaged log-ratios", "TRL `sigmoid_norm`",
    swap=("L(swap) − L = β(h_w/n_w − h_l/n_l) (lengths exchanged too)",
          lambda o, hw, hl, b, chosen_lengths, rejected_lengths:
          b * (hw / chosen_lengths - hl / rejected_lengths))))
_add(_length_normalised(
    "ipo", "ipo-norm", "IPO on length-averaged log-ratios",
    "TRL `ipo` (TRL divides by the completion length; Azar et al. and the original DPO "
    "repository do not: that is `ipo`)",
    swap=("L(swap) − L = 2(h_w/n_w − h_l/n_l)/β (lengths exchanged too)",
          lambda o, hw, hl, b, chosen_lengths, rejected_lengths:
          2 * (hw / chosen_lengths - hl / rejected_lengths) / b)))

#: Other names users know the members by.
ALIASES = {"dpo": "sigmoid", "slic": "hinge", "conservative": "cdpo", "bt": "reward-model",
           "flex-dpo": "flex", "sft-dpo": "sft"}
ALIASES.update({k.replace("-", "_"): k for k in ("exo-pair", "nca-pair", "bco-pair", "sppo-hard",
                                                 "apo-zero", "apo-down", "sigmoid-norm")})
