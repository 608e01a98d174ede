"""The preference-loss family (GPO, Tang et al. 2024), each member defined once.

Notation: h_w = log πθ(y_w|x) − log π_ref(y_w|x) and h_l likewise are the *log-ratios*
(``chosen_logratios``, ``rejected_logratios``); the margin is ρ = β(h_w − h_l) (paper I's r).
A member is a function ``loss(o, hw, hl, beta, **params)`` of an ops backend ``o``
(:mod:`dpomath.ops`): with SymPy it is the definition, with numpy/torch the stable float form,
with mpmath the 50-digit reference. Members that depend on the pair only through ρ also give
their margin function f(ρ) and its derivative f′(ρ) (checked against ``sympy.diff`` in the
tests); the gradient-flow weight of paper I is −f′(ρ) (σ(−ρ) for DPO).

>>> import numpy as np, dpomath as dm
>>> float(dm.preference_loss("sigmoid", np.array(0.0), np.array(0.0), beta=0.1))  # log 2
0.6931471805599453
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import sympy as sp

from . import _args
from .ops import MPMATH, NUMPY, SYMPY, is_torch, ops_for

__all__ = ["LossSpec", "LOSSES", "ALIASES", "get_loss", "preference_loss", "margin_weight",
           "symbolic_loss", "symbolic_margin_loss", "kinds", "TRL_LOSS_TYPES"]

# Symbols of the symbolic forms (log-ratios are real, β > 0).
h_w, h_l = sp.symbols("h_w h_l", real=True)
rho = sp.Symbol("rho", real=True)
beta = sp.Symbol("beta", positive=True)


@dataclass(frozen=True)
class Param:
    """An extra parameter of a loss: default (None = required), allowed range, its symbol."""

    default: float | None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    array: bool = False  # an array argument (e.g. SFT-DPO's policy chosen log-probabilities)
    doc: str = ""

    def check(self, name: str, value):
        if self.array:
            a = _args.array(name, value)
            n = a.numel() if is_torch(a) else a.size
            if self.lo is not None and n:
                low = float(a.min())
                if low < self.lo or (self.lo_open and low == self.lo):
                    raise _args.BadValue(f"{name}: every value must be {'>' if self.lo_open else '>='} "
                                         f"{self.lo:g}, got a minimum of {low!r}")
            return a
        return _args.real(name, value, lo=self.lo, hi=self.hi, lo_open=self.lo_open,
                          hi_open=self.hi_open)


@dataclass(frozen=True)
class LossSpec:
    """One member of the family.

    ``loss(o, hw, hl, beta, **params)``: the per-sample loss.
    ``margin(o, rho, beta, **params)`` and ``dmargin``: f(ρ) and f′(ρ) when the loss is
    f(β(h_w − h_l)); None for members that are not functions of ρ alone.
    """

    kind: str
    title: str
    formula: str
    reference: str
    loss: Callable[..., Any]
    margin: Callable[..., Any] | None = None
    dmargin: Callable[..., Any] | None = None
    params: Mapping[str, Param] = field(default_factory=dict)

    @property
    def is_margin_loss(self) -> bool:
        return self.margin is not None


def _margin_member(kind, title, formula, reference, f, df, params=None) -> LossSpec:
    """A member L = f(β(h_w − h_l)); ``f(o, rho, beta, **params)`` and f′ likewise."""
    return LossSpec(kind, title, formula, reference,
                    loss=lambda o, hw, hl, b, **p: f(o, b * (hw - hl), b, **p),
                    margin=f, dmargin=df, params=params or {})


_EPS = Param(0.0, lo=0.0, hi=0.5, hi_open=True, doc="label smoothing ε ∈ [0, 1/2)")

LOSSES: dict[str, LossSpec] = {}


def _add(spec: LossSpec) -> None:
    LOSSES[spec.kind] = spec


_add(_margin_member(
    "sigmoid", "DPO", "−log σ(ρ)", "Rafailov et al. 2023, eq. 7",
    f=lambda o, r, b: o.softplus(-r),
    df=lambda o, r, b: -o.sigmoid(-r)))
_add(_margin_member(
    "cdpo", "conservative DPO (label smoothing)", "−(1−ε) log σ(ρ) − ε log σ(−ρ)",
    "Mitchell 2023; TRL ≤ 0.28 `sigmoid` with `label_smoothing` (TRL ≥ 0.29 ignores it there)",
    f=lambda o, r, b, label_smoothing: (1 - label_smoothing) * o.softplus(-r)
    + label_smoothing * o.softplus(r),
    df=lambda o, r, b, label_smoothing: -(1 - label_smoothing) * o.sigmoid(-r)
    + label_smoothing * o.sigmoid(r),
    params={"label_smoothing": _EPS}))
_add(_margin_member(
    "robust", "robust DPO", "(−(1−ε) log σ(ρ) + ε log σ(−ρ)) / (1 − 2ε)",
    "Chowdhury et al. 2024; TRL `robust`",
    f=lambda o, r, b, label_smoothing: ((1 - label_smoothing) * o.softplus(-r)
                                        - label_smoothing * o.softplus(r)) / (1 - 2 * label_smoothing),
    df=lambda o, r, b, label_smoothing: (-(1 - label_smoothing) * o.sigmoid(-r)
                                         - label_smoothing * o.sigmoid(r)) / (1 - 2 * label_smoothing),
    params={"label_smoothing": _EPS}))
_add(_margin_member(
    "ipo", "IPO (Azar form)", "(h − 1/(2β))² = (ρ − 1/2)²/β², h = h_w − h_l",
    "Azar et al. 2024, eq. 17; `ipo` of the original DPO repository (summed log-probabilities); "
    "TRL's `ipo` is `ipo-norm`",
    f=lambda o, r, b: o.square(2 * r - 1) / (4 * b * b),
    df=lambda o, r, b: (2 * r - 1) / (b * b)))
_add(_margin_member(
    "ipo-margin", "IPO (paper I form)", "(ρ − 1)²", "Im & Li 2025, Section 4.3 (GPO family)",
    f=lambda o, r, b: o.square(r - 1),
    df=lambda o, r, b: 2 * (r - 1)))
_add(_margin_member(
    "hinge", "SLiC (hinge)", "max(0, 1 − ρ)", "Zhao et al. 2023; TRL `hinge`",
    f=lambda o, r, b: o.relu(1 - r),
    df=lambda o, r, b: -o.heaviside(1 - r)))
_add(_margin_member(
    "exponential", "exponential", "e^{−ρ}", "Tang et al. 2024 (GPO), Table 1",
    f=lambda o, r, b: o.exp(-r),
    df=lambda o, r, b: -o.exp(-r)))
_add(_margin_member(
    "truncated-quadratic", "truncated quadratic", "max(0, 1 − ρ)²", "Tang et al. 2024 (GPO), Table 1",
    f=lambda o, r, b: o.square(o.relu(1 - r)),
    df=lambda o, r, b: -2 * o.relu(1 - r)))
_add(_margin_member(
    "savage", "Savage", "σ(−ρ)² = 1/(1 + e^ρ)²", "Tang et al. 2024 (GPO), Table 1",
    f=lambda o, r, b: o.square(o.sigmoid(-r)),
    df=lambda o, r, b: -2 * o.square(o.sigmoid(-r)) * o.sigmoid(r)))
_add(_margin_member(
    "reward-model", "reward-model (Bradley–Terry) loss",
    "−log σ(β(r₊ − r₋)); inputs are the rewards r± (β = 1 is the plain loss)",
    "Yan et al. 2025, Section 3.1; Ouyang et al. 2022",
    f=lambda o, r, b: o.softplus(-r),
    df=lambda o, r, b: -o.sigmoid(-r)))
_add(LossSpec(
    "flex", "Flex-DPO", "−log σ(β₊ h_w − β₋ h_l), β₊ = beta", "Yan et al. 2025, Section 4",
    loss=lambda o, hw, hl, b, beta_minus: o.softplus(-(b * hw - beta_minus * hl)),
    params={"beta_minus": Param(None, lo=0.0, lo_open=True, doc="β₋ > 0 (β₊ is `beta`)")}))
_add(LossSpec(
    "sft", "SFT-DPO", "−log σ(ρ) − γ log πθ(y_w|x)", "Yan et al. 2025, Section 4 (sign as in its gradient)",
    loss=lambda o, hw, hl, b, gamma, chosen_logps: o.softplus(-b * (hw - hl)) - gamma * chosen_logps,
    params={"gamma": Param(None, lo=0.0, doc="γ ≥ 0"),
            "chosen_logps": Param(None, array=True, doc="policy log πθ(y_w|x), same shape")}))



def _log(o, x):
    """log of a parameter: ``math.log`` for a plain float (torch.log takes tensors only)."""
    return math.log(x) if isinstance(x, float) else o.log(x)


# ---- the members TRL implements (trl/trainer/dpo_trainer.py, checked term by term against 1.16.0)

_add(_margin_member(
    "exo-pair", "EXO (pairwise)",
    "σ(ρ)(log σ(ρ) − log(1−ε)) + σ(−ρ)(log σ(−ρ) − log ε) = KL(softmax(ρ, 0) ‖ (1−ε, ε))",
    "Ji et al. 2024 (EXO), eq. 16; TRL `exo_pair` (ε = `label_smoothing`)",
    f=lambda o, r, b, label_smoothing: (
        o.sigmoid(r) * (o.log_sigmoid(r) - _log(o, 1 - label_smoothing))
        + o.sigmoid(-r) * (o.log_sigmoid(-r) - _log(o, label_smoothing))),
    # log σ(ρ) − log σ(−ρ) = ρ, so f′ = σ(ρ)σ(−ρ)(ρ − log((1−ε)/ε)): zero at the target ρ* = logit(1−ε)
    df=lambda o, r, b, label_smoothing: o.sigmoid(r) * o.sigmoid(-r) * (
        r - _log(o, 1 - label_smoothing) + _log(o, label_smoothing)),
    params={"label_smoothing": Param(None, lo=0.0, hi=1.0, lo_open=True, hi_open=True,
                                     doc="ε ∈ (0, 1); the EXO paper recommends 1e-3")}))
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
                                    "pass that mean here to reproduce it)")}))
_add(LossSpec(
    "sppo-hard", "SPPO (hard labels)", "(h_w − 1/(2β))² + (h_l + 1/(2β))²",
    "Wu et al. 2024 (SPPO), eq. 4.7 with P = 1 for the winner, 0 for the loser; TRL `sppo_hard`",
    loss=lambda o, hw, hl, b: o.square(hw - 1 / (2 * b)) + o.square(hl + 1 / (2 * b))))
_add(LossSpec(
    "apo-zero", "APO-zero", "σ(−βh_w) + σ(βh_l) = (1 − σ(βh_w)) + σ(βh_l)",
    "D'Oosterlinck et al. 2024 (APO), eq. 7; TRL `apo_zero`",
    loss=lambda o, hw, hl, b: o.sigmoid(-b * hw) + o.sigmoid(b * hl)))
_add(LossSpec(
    "apo-down", "APO-down", "σ(βh_w) + σ(−ρ) = σ(βh_w) + (1 − σ(β(h_w − h_l)))",
    "D'Oosterlinck et al. 2024 (APO), eq. 8; TRL `apo_down`",
    loss=lambda o, hw, hl, b: o.sigmoid(b * hw) + o.sigmoid(-b * (hw - hl))))
_add(_margin_member(
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


def _length_normalised(base: str, kind: str, title: str, reference: str) -> LossSpec:
    """Member ``base`` evaluated at the per-token log-ratios (h_w/n_w, h_l/n_l)."""
    spec = LOSSES[base]
    return LossSpec(
        kind, title, f"{spec.formula} at h_w/n_w, h_l/n_l (n = completion tokens)", reference,
        loss=lambda o, hw, hl, b, chosen_lengths, rejected_lengths: spec.loss(
            o, hw / chosen_lengths, hl / rejected_lengths, b),
        params=_LENGTHS)


_add(_length_normalised("sigmoid", "sigmoid-norm", "DPO on length-averaged log-ratios",
                        "TRL `sigmoid_norm`"))
_add(_length_normalised("ipo", "ipo-norm", "IPO on length-averaged log-ratios",
                        "TRL `ipo` (TRL divides by the completion length; Azar et al. and the "
                        "original DPO repository do not: that is `ipo`)"))

#: Other names users know the members by.
ALIASES = {"dpo": "sigmoid", "slic": "hinge", "conservative": "cdpo", "bt": "reward-model",
           "flex-dpo": "flex", "sft-dpo": "sft"}
ALIASES.update({k.replace("-", "_"): k for k in ("exo-pair", "nca-pair", "bco-pair", "sppo-hard",
                                                 "apo-zero", "apo-down", "sigmoid-norm")})

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


def kinds() -> list[str]:
    return list(LOSSES)


def get_loss(kind: str) -> LossSpec:
    """The member named ``kind`` (or an alias); ValueError listing the kinds otherwise."""
    if not isinstance(kind, str):
        raise _args.BadType(f"kind: expected a string, got {type(kind).__name__}")
    k = ALIASES.get(kind, kind)
    if k not in LOSSES:
        raise _args.BadValue(f"kind: unknown loss kind {kind!r}; known: {', '.join(LOSSES)} "
                         f"(aliases: {', '.join(ALIASES)})")
    return LOSSES[k]


def _check_params(spec: LossSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(params) - set(spec.params)
    if unknown:
        allowed = ", ".join(spec.params) or "none"
        raise _args.BadType(f"{', '.join(sorted(unknown))}: not a parameter of loss {spec.kind!r} "
                        f"(its parameters: {allowed})")
    out = {}
    for name, p in spec.params.items():
        if name in params:
            out[name] = p.check(name, params[name])
        elif p.default is None:
            raise _args.BadType(f"{name}: required by loss {spec.kind!r} ({p.doc})")
        else:
            out[name] = p.default
    return out


def preference_loss(kind: str, chosen_logratios, rejected_logratios, beta: float, **params):
    """Per-sample loss of member ``kind`` at the log-ratios (h_w, h_l); take ``.mean()`` for
    the batch loss.

    Accepts numpy arrays (or scalars/lists) or torch tensors and returns the same kind, with
    gradients flowing through torch inputs. Stable for margins up to ±1e4 (log-space
    primitives); the exponential member's value exceeds float64 for ρ < −709.78 and is then
    ``inf``, the true value rounded, not clipped.
    """
    spec = get_loss(kind)
    beta = _args.positive("beta", beta)
    hw = _args.array("chosen_logratios", chosen_logratios)
    hl = _args.array("rejected_logratios", rejected_logratios)
    p = _check_params(spec, params)
    arrays = [hw, hl] + [v for v in p.values() if not isinstance(v, float)]
    if any(is_torch(a) for a in arrays) and not all(is_torch(a) for a in arrays):
        raise _args.BadType("chosen_logratios, rejected_logratios: mix of torch tensors and numpy "
                        "arrays; pass both as the same kind")
    return spec.loss(ops_for(hw, hl), hw, hl, beta, **p)


def margin_weight(kind: str, margin, beta: float = 1.0, **params):
    """−f′(ρ), the weight a sample of margin ρ gets in paper I's gradient flow (Lemma 4.1
    with σ(−r_i) replaced by −f′(r_i), Section 4.3): σ(−ρ) for DPO, 2(1 − ρ) for
    ``ipo-margin``, [ρ < 1] for ``hinge``. numpy or torch in, same out."""
    spec = get_loss(kind)
    if not spec.is_margin_loss:
        raise _args.BadValue(f"kind: {spec.kind!r} is not a function of the margin alone; "
                         f"margin losses: {', '.join(k for k, s in LOSSES.items() if s.is_margin_loss)}")
    beta = _args.positive("beta", beta)
    r = _args.array("margin", margin)
    p = _check_params(spec, params)
    return -spec.dmargin(ops_for(r), r, beta, **p)


def _param_symbols(spec: LossSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, p in spec.params.items():
        if name in given:
            out[name] = given[name]
        elif p.lo is None and not p.array:
            out[name] = sp.Symbol(name, real=True)
        elif p.array or p.default is None or p.default != 0:
            out[name] = sp.Symbol(name, real=True) if p.array else sp.Symbol(name, positive=True)
        else:
            out[name] = sp.Symbol(name, nonnegative=True)
    return out


def symbolic_loss(kind: str, hw=h_w, hl=h_l, b=beta, **params) -> sp.Expr:
    """The SymPy definition of member ``kind`` in the log-ratios (default symbols h_w, h_l,
    beta; parameters become symbols unless given)."""
    spec = get_loss(kind)
    return spec.loss(SYMPY, hw, hl, b, **_param_symbols(spec, params))


def symbolic_margin_loss(kind: str, r=rho, b=beta, **params) -> tuple[sp.Expr, sp.Expr]:
    """(f(ρ), f′(ρ)) of a margin member, as SymPy expressions."""
    spec = get_loss(kind)
    if not spec.is_margin_loss:
        raise _args.BadValue(f"kind: {spec.kind!r} is not a function of the margin alone")
    ps = _param_symbols(spec, params)
    return spec.margin(SYMPY, r, b, **ps), spec.dmargin(SYMPY, r, b, **ps)


def reference_loss(kind: str, hw, hl, b, dps: int = 50, **params):
    """High-precision (mpmath, ``dps`` digits) value of one loss, for numeric twins."""
    import mpmath as mp

    spec = get_loss(kind)
    with mp.workdps(dps):
        p = {k: mp.mpf(v) for k, v in params.items()}
        return spec.loss(MPMATH, mp.mpf(hw), mp.mpf(hl), mp.mpf(b), **p)
