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


def _smoothed(o, z, eps):
    """−(1−ε) log σ(z) − ε log σ(−z): the label-smoothed sigmoid loss at z."""
    return (1 - eps) * o.softplus(-z) + eps * o.softplus(z)


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
# cDPO with ε = 0 is DPO: a cDPO without its ε would silently be another member
_EPS_REQUIRED = Param(None, lo=0.0, hi=0.5, hi_open=True,
                      doc="label smoothing ε ∈ [0, 1/2), required (ε = 0 is `sigmoid`)")

#: DPO's (and the reward model's) optional target margin γ: −log σ(ρ − γ)
_GAMMA = Param(0.0, doc="target margin γ, the loss −log σ(ρ − γ) (SimPO's and CPO's γ; OpenRLHF's "
                        "reward `margin`); 0: none", spellings=("margin", "simpo_gamma"),
               symbolic_default=True)


def _swap_target_margin(o, hw, hl, b, gamma):
    """softplus(γ + ρ) − softplus(γ − ρ): ρ at γ = 0."""
    return o.softplus(gamma + b * (hw - hl)) - o.softplus(gamma - b * (hw - hl))


_SWAP_TARGET_MARGIN = ("L(swap) − L = softplus(γ + ρ) − softplus(γ − ρ), which is ρ at γ = 0",
                       _swap_target_margin)

_add(margin_member(
    "sigmoid", "DPO", "−log σ(ρ − γ), γ = 0 unless a target margin is given",
    "Rafailov et al. 2023, eq. 7; the target margin γ of SimPO (Meng et al. 2024) and CPO",
    f=lambda o, r, b, gamma: o.softplus(-(r - gamma)),
    df=lambda o, r, b, gamma: -o.sigmoid(-(r - gamma)),
    params={"gamma": _GAMMA}, swap=_SWAP_TARGET_MARGIN,
    mean_field=_mean_field_dpo, cli_name="dpo"))
_add(margin_member(
    "cdpo", "conservative DPO (label smoothing)", "−(1−ε) log σ(ρ) − ε log σ(−ρ)",
    "Mitchell 2023; TRL ≤ 0.28 `sigmoid` with `label_smoothing` (TRL ≥ 0.29 ignores it there)",
    f=lambda o, r, b, label_smoothing: (1 - label_smoothing) * o.softplus(-r)
    + label_smoothing * o.softplus(r),
    df=lambda o, r, b, label_smoothing: -(1 - label_smoothing) * o.sigmoid(-r)
    + label_smoothing * o.sigmoid(r),
    params={"label_smoothing": _EPS_REQUIRED},
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
    "hinge", "SLiC (hinge)", "max(0, 1 − ρ)", "Zhao et al. 2023; TRL `hinge`; torchtune `RSOLoss` (Liu et al. 2024, RSO; its `gamma` is β)",
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
    "−log σ(β(r₊ − r₋) − γ); inputs are the rewards r± (β = 1 is the plain loss)",
    "Yan et al. 2025, Section 3.1; Ouyang et al. 2022; OpenRLHF `PairWiseLoss` (γ = `margin`)",
    f=lambda o, r, b, gamma: o.softplus(-(r - gamma)),
    df=lambda o, r, b, gamma: -o.sigmoid(-(r - gamma)),
    params={"gamma": _GAMMA}, swap=_SWAP_TARGET_MARGIN, rewards=True))
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
    params={"tau": Param(0.05, lo=0.0, lo_open=True, doc="temperature τ > 0 (TRL default 0.05)",
                         spellings=("discopop_tau",))}))

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
            o, hw / chosen_lengths, hl / rejected_lengths, b,
            **{n: (0 if p.default == 0 else p.default) for n, p in spec.params.items()}),
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

# ---- reference-free members: defined on the policy's log-probabilities h = log πθ(y|x)
# (π_ref ≡ 1), the inputs the implementations take (SimPO and ORPO: per-token averages)

_add(LossSpec(
    "simpo", "SimPO",
    "−(1−ε) log σ(z) − ε log σ(−z), z = β(h_w/n_w − h_l/n_l) − γ − β·γ_r, h = log πθ (no reference)",
    "Meng et al. 2024 (SimPO), eq. 6; γ absolute: TRL `CPOTrainer(loss_type='simpo')`'s "
    "`simpo_gamma`, liger `simpo_loss`'s `gamma`; γ_r = γ/β: the SimPO code's `gamma_beta_ratio`",
    loss=lambda o, hw, hl, b, gamma, gamma_beta_ratio, label_smoothing, chosen_lengths,
    rejected_lengths: _smoothed(o, b * (hw / chosen_lengths - hl / rejected_lengths - gamma_beta_ratio)
                                - gamma, label_smoothing),
    params={"gamma": Param(0.0, doc="target margin γ, absolute (TRL's simpo_gamma, liger's gamma)",
                           spellings=("simpo_gamma",)),
            "gamma_beta_ratio": Param(0.0, doc="target margin as γ/β (the SimPO code's own parameter)"),
            "label_smoothing": _EPS,
            "chosen_lengths": Param(1.0, lo=0.0, lo_open=True, array=True,
                                    doc="tokens of each chosen response (1: the inputs are per-token "
                                        "averages already)"),
            "rejected_lengths": Param(1.0, lo=0.0, lo_open=True, array=True,
                                      doc="tokens of each rejected response (1: averages already)")},
    needs_one_of=("gamma", "gamma_beta_ratio"), reference_free=True))
_add(LossSpec(
    "cpo", "CPO", "−(1−ε) log σ(ρ) − ε log σ(−ρ) − α h_w, ρ = β(h_w − h_l), h = log πθ (no reference)",
    "Xu et al. 2024 (CPO), eq. 3 (the −α log πθ(y_w) term is its SFT/NLL regulariser); TRL "
    "`CPOTrainer` (`cpo_alpha` = α, default 1.0, added outside `cpo_loss`); liger `cpo_loss` "
    "(α added outside `preference_loss_fn`): check those with cpo_alpha=0",
    loss=lambda o, hw, hl, b, cpo_alpha, label_smoothing: (
        _smoothed(o, b * (hw - hl), label_smoothing) - cpo_alpha * hw),
    params={"cpo_alpha": Param(1.0, lo=0.0, doc="weight α ≥ 0 of the SFT term −α log πθ(y_w) "
                                                "(TRL's default 1.0; 0: the preference term alone)",
                               spellings=("alpha",)),
            "label_smoothing": _EPS},
    swap=("L(swap) − L = (1 − 2ε)ρ + α(h_w − h_l)",
          lambda o, hw, hl, b, cpo_alpha, label_smoothing:
          (1 - 2 * label_smoothing) * b * (hw - hl) + cpo_alpha * (hw - hl)),
    reference_free=True))


def _log_odds(o, h):
    """log(p/(1 − p)) at h = log p < 0."""
    return h - o.log1mexp(h)


_add(LossSpec(
    "orpo", "ORPO (odds-ratio term)",
    "−λ log σ(log odds(y_w) − log odds(y_l)), odds = πθ/(1 − πθ), h = log πθ < 0, λ = beta",
    "Hong et al. 2024 (ORPO), eq. 7 (the NLL term of eq. 6 is added outside, as TRL and liger "
    "do); TRL `ORPOTrainer` (beta = λ; its `odds_ratio_loss` returns minus this), liger `orpo_loss`",
    loss=lambda o, hw, hl, b: b * o.softplus(-(_log_odds(o, hw) - _log_odds(o, hl))),
    swap=("L(swap) − L = λ(log odds(y_w) − log odds(y_l))",
          lambda o, hw, hl, b: b * (_log_odds(o, hw) - _log_odds(o, hl))),
    reference_free=True, input_max=0.0))

# ---- DPO-Positive (Smaug): a penalty once πθ(y_w) falls below π_ref(y_w); implementations put
# it in two places

_LAMBDA = Param(50.0, lo=0.0, doc="penalty weight λ ≥ 0 (the paper's 50)",
                spellings=("lambda_dpop",))
_add(LossSpec(
    "dpop", "DPO-Positive (penalty inside σ)", "−log σ(β(h_w − h_l − λ max(0, −h_w)))",
    "Pal et al. 2024 (Smaug), eq. 3: the penalty max(0, log π_ref(y_w)/πθ(y_w)) subtracted "
    "inside the sigmoid, scaled by β",
    loss=lambda o, hw, hl, b, dpop_lambda: o.softplus(-b * (hw - hl - dpop_lambda * o.relu(-hw))),
    params={"dpop_lambda": _LAMBDA}, kinks_hw=(0.0,)))
_add(LossSpec(
    "dpop-outside", "DPO-Positive (penalty added outside σ)", "−log σ(ρ) + λ max(0, −h_w)",
    "the form of implementations that add λ·max(0, log π_ref(y_w) − log πθ(y_w)) to the DPO "
    "loss (not scaled by β); Pal et al. 2024's is `dpop`",
    loss=lambda o, hw, hl, b, dpop_lambda: o.softplus(-b * (hw - hl)) + dpop_lambda * o.relu(-hw),
    params={"dpop_lambda": _LAMBDA}, kinks_hw=(0.0,)))

#: Other names users know the members by.
ALIASES = {"dpo": "sigmoid", "slic": "hinge", "rso": "hinge", "conservative": "cdpo",
           "bt": "reward-model", "flex-dpo": "flex", "sft-dpo": "sft", "dpo-positive": "dpop"}
ALIASES.update({k.replace("-", "_"): k for k in ("exo-pair", "nca-pair", "bco-pair", "sppo-hard",
                                                 "apo-zero", "apo-down", "sigmoid-norm",
                                                 "dpop-outside")})
