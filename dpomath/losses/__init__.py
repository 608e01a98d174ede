"""The preference-loss family (GPO, Tang et al. 2024), each member defined once.

Notation: h_w = log πθ(y_w|x) − log π_ref(y_w|x) and h_l likewise are the *log-ratios*
(``chosen_logratios``, ``rejected_logratios``); the margin is ρ = β(h_w − h_l) (paper I's r).
A member is a function ``loss(o, hw, hl, beta, **params)`` of an ops backend ``o``
(:mod:`dpomath.losses.ops`): with SymPy it is the definition, with numpy/torch the stable float
form, with mpmath the 50-digit reference. Members that depend on the pair only through ρ also
give their margin function f(ρ) and its derivative f′(ρ) (checked against ``sympy.diff`` in the
tests); the gradient-flow weight of paper I is −f′(ρ) (σ(−ρ) for DPO).

The package: :mod:`~dpomath.losses.ops` (the backends), :mod:`~dpomath.losses.spec`
(:class:`LossSpec`, every fact about a member), :mod:`~dpomath.losses.members` (the table of
members: **the one place to add a loss**), :mod:`~dpomath.losses.trl` (TRL's names); the
functions below evaluate any member. Importing it costs NumPy only: SymPy and SciPy are imported
by the first symbolic or numeric evaluation.

>>> import numpy as np, dpomath as dm
>>> float(dm.preference_loss("sigmoid", np.array(0.0), np.array(0.0), beta=0.1))  # log 2
0.6931471805599453
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .. import _args
from .._args import is_torch
from . import ops
from .members import ALIASES, LOSSES
from .ops import MPMATH, ops_for
from .spec import LossSpec, Param
from .trl import TRL_LOSS_TYPES

__all__ = ["LossSpec", "Param", "LOSSES", "ALIASES", "get_loss", "preference_loss",
           "margin_weight", "loss_partials", "symbolic_loss", "symbolic_margin_loss",
           "reference_loss", "kinds", "margin_kinds", "cli_losses", "TRL_LOSS_TYPES",
           "h_w", "h_l", "rho", "beta"]

_SYMBOLS = ("h_w", "h_l", "rho", "beta")


def __getattr__(name: str):
    if name in _SYMBOLS:  # the symbols of the symbolic forms (dpomath.symbols), on first use
        from .. import symbols

        return getattr(symbols, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def kinds() -> list[str]:
    """The names of every member, in the order of the table.

    Returns
    -------
    list of str

    >>> kinds()[:3]
    ['sigmoid', 'cdpo', 'robust']
    """
    return list(LOSSES)


def margin_kinds() -> list[str]:
    """The members that are functions of the margin ρ alone."""
    return [k for k, s in LOSSES.items() if s.is_margin_loss]


def cli_losses() -> dict[str, str]:
    """Command-line name → member, for ``dpomath simulate --loss`` (from ``LossSpec.cli_name``).

    >>> cli_losses()
    {'dpo': 'sigmoid', 'ipo': 'ipo-margin', 'slic': 'hinge'}
    """
    return {s.cli_name: k for k, s in LOSSES.items() if s.cli_name}


def get_loss(kind: str) -> LossSpec:
    """The member named ``kind`` (or an alias).

    Parameters
    ----------
    kind : str
        A member (``kinds()``) or an alias (``ALIASES``: ``dpo``, ``slic``, ...).

    Returns
    -------
    LossSpec

    Raises
    ------
    dpomath.BadValue
        For an unknown name (the message lists the members and aliases).
    """
    if not isinstance(kind, str):
        raise _args.BadType(f"kind: expected a string, got {type(kind).__name__}")
    k = ALIASES.get(kind, kind)
    if k not in LOSSES:
        raise _args.BadValue(f"kind: unknown loss kind {kind!r}; known: {', '.join(LOSSES)} "
                             f"(aliases: {', '.join(ALIASES)})")
    return LOSSES[k]


def preference_loss(kind: str, chosen_logratios, rejected_logratios, beta: float, **params):
    """Per-sample loss of member ``kind`` at the log-ratios (h_w, h_l); take ``.mean()`` for
    the batch loss.

    Stable for margins up to ±1e4 (log-space primitives); the exponential member's value
    exceeds float64 for ρ < −709.78 and is then ``inf``, the true value rounded, not clipped.

    Parameters
    ----------
    kind : str
        The member (or an alias), e.g. ``"sigmoid"`` (DPO), ``"ipo"``, ``"hinge"``.
    chosen_logratios, rejected_logratios : array_like or torch.Tensor
        h_w and h_l, of one shape (nothing is broadcast: a mismatch raises BadValue naming
        both). numpy arrays (or scalars, lists) or torch tensors, not a mix; gradients flow
        through torch inputs. For the reference-free members (``LossSpec.reference_free``:
        ``simpo``, ``cpo``, ``orpo``) the policy's log-probabilities log πθ(y|x); for
        ``reward-model`` the rewards r±.
    beta : float
        β > 0.
    **params
        The member's parameters (``label_smoothing=``, ``tau=``, ...; see ``LossSpec.params``).

    Returns
    -------
    numpy.ndarray or torch.Tensor
        One loss per pair, the same kind as the inputs.
    """
    spec = get_loss(kind)
    beta = _args.positive("beta", beta)
    hw = _args.array("chosen_logratios", chosen_logratios)
    hl = _args.array("rejected_logratios", rejected_logratios)
    p = spec.check_params(params)
    _args.same_shape(("chosen_logratios", hw), ("rejected_logratios", hl),
                     *_per_pair(spec, p))
    if spec.input_max is not None:
        for name, a in (("chosen_logratios", hw), ("rejected_logratios", hl)):
            top = float((a.detach() if is_torch(a) else a).max()) if (a.numel() if is_torch(a) else a.size) else -np.inf
            if not top < spec.input_max:
                raise _args.BadValue(f"{name}: loss {spec.kind!r} is defined for inputs < "
                                     f"{spec.input_max:g} (log-probabilities), got {top!r}")
    arrays = [hw, hl] + [v for v in p.values() if not isinstance(v, float)]
    if any(is_torch(a) for a in arrays) and not all(is_torch(a) for a in arrays):
        raise _args.BadType("chosen_logratios, rejected_logratios: mix of torch tensors and numpy "
                            "arrays; pass both as the same kind")
    return spec.loss(ops_for(hw, hl), hw, hl, beta, **p)


def _per_pair(spec: LossSpec, p: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """The array parameters given with one value per pair (a scalar, like SimPO's default
    length 1, is one value for every pair): they must have the pairs' shape."""
    return [(n, v) for n, v in p.items()
            if spec.params[n].array and (v.dim() if is_torch(v) else np.ndim(v)) > 0]


def margin_weight(kind: str, margin, beta: float = 1.0, **params):
    """−f′(ρ), the weight a sample of margin ρ gets in paper I's gradient flow (Lemma 4.1 with
    σ(−r_i) replaced by −f′(r_i), Section 4.3).

    Parameters
    ----------
    kind : str
        A margin member (``margin_kinds()``).
    margin : array_like or torch.Tensor
        ρ; numpy or torch in, the same out.
    beta : float
        β > 0 (default 1).
    **params
        The member's parameters.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        σ(−ρ) for DPO, 2(1 − ρ) for ``ipo-margin``, [ρ < 1] for ``hinge``.

    >>> float(margin_weight("sigmoid", 0.0))
    0.5
    """
    spec = get_loss(kind)
    if not spec.is_margin_loss:
        raise _args.BadValue(f"kind: {spec.kind!r} is not a function of the margin alone; "
                             f"margin losses: {', '.join(margin_kinds())}")
    beta = _args.positive("beta", beta)
    r = _args.array("margin", margin)
    p = spec.check_params(params)
    _args.same_shape(("margin", r), *_per_pair(spec, p))
    return -spec.dmargin(ops_for(r), r, beta, **p)


def loss_partials(kind: str, hw, hl, beta: float, **params):
    """(∂ℓ/∂h_w, ∂ℓ/∂h_l) of a member of the loss family, elementwise (numpy, stable).

    Margin members ℓ = f(β(h_w − h_l)): ∂ℓ/∂h_w = βf′(ρ) = −β·margin_weight(ρ),
    ∂ℓ/∂h_l = −∂ℓ/∂h_w. Other members: their ``LossSpec.partials`` — Flex-DPO,
    u = β₊h_w − β₋h_l: (−β₊σ(−u), β₋σ(−u)); SFT-DPO (its −γ log πθ(y_w) term moves with h_w, so
    ``chosen_logps`` is not needed): (−βσ(−ρ) − γ, βσ(−ρ)). Checked against ``sympy.diff`` of
    :func:`symbolic_loss` in the tests.

    Parameters
    ----------
    kind : str
        A member with known partials (every margin member, ``flex``, ``sft``).
    hw, hl : array_like
        The log-ratios, of one shape (not broadcast).
    beta : float
        β > 0.
    **params
        The member's scalar parameters.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ∂ℓ/∂h_w and ∂ℓ/∂h_l.
    """
    spec = get_loss(kind)
    beta = _args.positive("beta", beta)
    hw = _float_array("hw", hw)
    hl = _float_array("hl", hl)
    _args.same_shape(("hw", hw), ("hl", hl))
    if spec.partials is not None:
        p = spec.check_params({k: v for k, v in params.items() if k != "chosen_logps"}, arrays=False)
        return spec.partials(ops.numpy_ops(), hw, hl, beta, **p)
    s = margin_weight(spec.kind, beta * (hw - hl), beta, **params)
    return -beta * s, beta * s


def _float_array(name: str, x):
    """A finite float64 numpy array."""
    return np.asarray(_args.array(name, x), dtype=np.float64)


def _param_symbols(spec: LossSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    import sympy as sp

    out = {}
    for name, p in spec.params.items():
        if name in given:
            out[name] = given[name]
        elif p.symbolic_default:
            out[name] = sp.nsimplify(p.default)
        elif p.lo is None and not p.array:
            out[name] = sp.Symbol(name, real=True)
        elif p.array or p.default is None or p.default != 0:
            out[name] = sp.Symbol(name, real=True) if p.array else sp.Symbol(name, positive=True)
        else:
            out[name] = sp.Symbol(name, nonnegative=True)
    return out


def symbolic_loss(kind: str, hw=None, hl=None, b=None, **params):
    """The SymPy definition of member ``kind`` in the log-ratios.

    Parameters
    ----------
    kind : str
        The member.
    hw, hl, b : sympy expressions, optional
        Default: the symbols h_w, h_l, beta of :mod:`dpomath.symbols`.
    **params
        Values for the member's parameters; those not given become symbols (except the
        optional terms, ``Param.symbolic_default``, which take their default: DPO's γ = 0).

    Returns
    -------
    sympy.Expr

    >>> symbolic_loss("sigmoid")
    log(1 + exp(-beta*(-h_l + h_w)))
    """
    from .. import symbols as S

    spec = get_loss(kind)
    hw, hl, b = (S.h_w if hw is None else hw), (S.h_l if hl is None else hl), (S.beta if b is None else b)
    return spec.loss(ops.sympy_ops(), hw, hl, b, **_param_symbols(spec, params))


def symbolic_margin_loss(kind: str, r=None, b=None, **params):
    """(f(ρ), f′(ρ)) of a margin member, as SymPy expressions (default symbols rho, beta).

    Returns
    -------
    (sympy.Expr, sympy.Expr)
    """
    from .. import symbols as S

    r, b = (S.rho if r is None else r), (S.beta if b is None else b)
    spec = get_loss(kind)
    if not spec.is_margin_loss:
        raise _args.BadValue(f"kind: {spec.kind!r} is not a function of the margin alone")
    ps = _param_symbols(spec, params)
    o = ops.sympy_ops()
    return spec.margin(o, r, b, **ps), spec.dmargin(o, r, b, **ps)


def reference_loss(kind: str, hw, hl, b, dps: int = 50, **params):
    """High-precision (mpmath, ``dps`` digits) value of one loss, for numeric twins.

    Returns
    -------
    mpmath.mpf
    """
    import mpmath as mp

    spec = get_loss(kind)
    given = spec.canonical(params)
    given.update({n: q.default for n, q in spec.params.items()
                  if n not in given and q.default is not None})
    with mp.workdps(dps):
        p = {k: mp.mpf(v) for k, v in given.items()}
        return spec.loss(MPMATH, mp.mpf(hw), mp.mpf(hl), mp.mpf(b), **p)
