"""One member of the preference-loss family: :class:`LossSpec` holds every fact about it.

A member is a function ``loss(o, hw, hl, beta, **params)`` of an ops backend ``o``
(:mod:`dpomath.losses.ops`): with SymPy it is the definition, with numpy/torch the stable float
form, with mpmath the 50-digit reference. Beside the formula a spec carries what the rest of the
package needs to know about the member, so that adding a loss is one entry in
:mod:`dpomath.losses.members` and every consumer reads it from there:

* ``margin``/``dmargin``: f(ρ) and f′(ρ) when the loss is f(β(h_w − h_l)) (paper I's weight is
  −f′; paper F's field and the free-logit gradient derive from it);
* ``partials``: (∂ℓ/∂h_w, ∂ℓ/∂h_l) for members that are not functions of ρ alone;
* ``swap``: the exact change L(h_l, h_w) − L(h_w, h_l) in words and as a formula;
  ``shift_invariant``: L(h_w + c, h_l + c) = L(h_w, h_l); ``kinks``: margins where the loss is
  not differentiable (the conformance kit reads these three);
* ``mean_field``: the exact mean-field margin of paper I's cluster model (Theorem 4.2's
  closed form) as a function of s = 2·rate·β²t/(Kτ);
* ``cli_name``: the member's name on the ``dpomath simulate --loss`` command line;
* ``params``: the extra parameters, each with its range and the names other code spells it with
  (``Param.spellings``: TRL's ``discopop_tau`` for ``tau``); :meth:`LossSpec.check_params`;
  ``needs_one_of``: parameters of which at least one must be given (SimPO's γ, absolute or as
  γ/β);
* what the inputs are: ``reference_free`` members (SimPO, CPO, ORPO) are defined on the policy's
  log-probabilities h = log πθ(y|x) (no reference model: π_ref ≡ 1); ``rewards``: the member is
  also a loss on two rewards (r₊, r₋) directly (the reward-model loss); ``input_max``: the inputs
  must lie below it (ORPO's log-probabilities < 0, where the odds are finite);
  ``kinks_hw``: values of h_w where the loss is not differentiable (DPOP's penalty at h_w = 0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .. import _args
from .._args import is_torch

__all__ = ["Param", "LossSpec", "margin_member", "log_param"]


@dataclass(frozen=True)
class Param:
    """An extra parameter of a loss: default (None = required), allowed range, its symbol.

    Parameters
    ----------
    default : float or None
        The value used when the parameter is not given; None makes it required.
    lo, hi : float or None
        Bounds of the allowed range (None: unbounded); ``lo_open``/``hi_open`` exclude them.
    array : bool
        An array argument (SFT-DPO's policy log-probabilities, the lengths of the
        length-normalised members) rather than a scalar.
    doc : str
        The parameter in words, shown in error messages.
    spellings : tuple of str
        Other names implementations give the same parameter (TRL's ``discopop_tau`` for
        DiscoPOP's ``tau``, OpenRLHF's ``margin`` for the target margin ``gamma``); the
        conformance kit passes the value under whichever of the names the checked function takes.
    symbolic_default : bool
        :func:`dpomath.losses.symbolic_loss` puts the default in, not a symbol, unless the
        parameter is given: an optional term whose default removes it (DPO's target margin
        γ = 0), so the symbolic DPO loss stays −log σ(ρ).
    """

    default: float | None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    array: bool = False
    doc: str = ""
    spellings: tuple[str, ...] = ()
    symbolic_default: bool = False

    def check(self, name: str, value):
        """``value`` checked against the range: a float (or a float array for ``array``).

        Raises
        ------
        dpomath.BadValue, dpomath.BadType
            Naming ``name`` and the allowed range.
        """
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
    """One member of the family and every fact about it (see the module docstring).

    ``loss(o, hw, hl, beta, **params)``: the per-sample loss.
    ``margin(o, rho, beta, **params)`` and ``dmargin``: f(ρ) and f′(ρ) when the loss is
    f(β(h_w − h_l)); None for members that are not functions of ρ alone.
    ``partials(o, hw, hl, beta, **params)``: (∂ℓ/∂h_w, ∂ℓ/∂h_l) of such other members where
    known in closed form (margin members derive theirs from ``dmargin``).
    ``swap``: (the identity in words, g(o, hw, hl, beta, **params)) with
    L(h_l, h_w) − L(h_w, h_l) = g (the lengths of the length-normalised members exchanged too).
    ``mean_field(s)``: the exact mean-field margin of paper I's model, s = 2·rate·β²t/(Kτ).
    """

    kind: str
    title: str
    formula: str
    reference: str
    loss: Callable[..., Any]
    margin: Callable[..., Any] | None = None
    dmargin: Callable[..., Any] | None = None
    params: Mapping[str, Param] = field(default_factory=dict)
    partials: Callable[..., Any] | None = None
    swap: tuple[str, Callable[..., Any]] | None = None
    shift_invariant: bool = False
    kinks: tuple[float, ...] = ()
    mean_field: Callable[[Any], Any] | None = None
    cli_name: str | None = None
    needs_one_of: tuple[str, ...] = ()
    reference_free: bool = False
    rewards: bool = False
    input_max: float | None = None
    kinks_hw: tuple[float, ...] = ()

    @property
    def is_margin_loss(self) -> bool:
        """True when the loss is a function f(ρ) of the margin ρ = β(h_w − h_l) alone."""
        return self.margin is not None

    def check_params(self, params: Mapping[str, Any], *, arrays: bool = True) -> dict[str, Any]:
        """The member's parameters checked against their ranges, defaults filled in.

        Parameters
        ----------
        params : mapping
            Parameter name → value, as passed to :func:`dpomath.losses.preference_loss`.
        arrays : bool
            False: check the scalar parameters only (array parameters are neither required
            nor allowed).

        Returns
        -------
        dict
            Every (scalar, or also array) parameter of the member with its checked value.

        Raises
        ------
        dpomath.BadType
            An unknown parameter, or a required one missing (also: none of ``needs_one_of``).
        dpomath.BadValue
            A value out of its range.
        """
        allowed = {n: p for n, p in self.params.items() if arrays or not p.array}
        params = self.canonical(params, allowed)
        unknown = set(params) - set(allowed)
        if unknown:
            names = ", ".join(allowed) or "none"
            raise _args.BadType(f"{', '.join(sorted(unknown))}: not a parameter of loss {self.kind!r} "
                                f"(its parameters: {names})")
        if self.needs_one_of and not any(n in params for n in self.needs_one_of):
            first = self.needs_one_of[0]
            raise _args.BadType(f"{first}: loss {self.kind!r} needs one of "
                                + ", ".join(f"{n} ({self.params[n].doc})" for n in self.needs_one_of)
                                + f"; give {first}=0 for none")
        out = {}
        for name, p in allowed.items():
            if name in params:
                out[name] = p.check(name, params[name])
            elif p.default is None:
                raise _args.BadType(f"{name}: required by loss {self.kind!r} ({p.doc})")
            else:
                out[name] = p.default
        return out


    def canonical(self, params: Mapping[str, Any], allowed=None) -> dict[str, Any]:
        """``params`` with other implementations' spellings (``Param.spellings``) renamed to the
        member's own names: ``discopop_tau`` → ``tau``.

        Raises
        ------
        dpomath.BadType
            A parameter given under two names.
        """
        allowed = self.params if allowed is None else allowed
        out = {}
        for name, value in params.items():
            own = name if name in allowed else next(
                (n for n, p in allowed.items() if name in p.spellings), name)
            if own in out:
                raise _args.BadType(f"{name}: the same parameter as {own!r} of loss {self.kind!r}; "
                                    "give it once")
            out[own] = value
        return out


def margin_member(kind, title, formula, reference, f, df, params=None, **facts) -> LossSpec:
    """A member L = f(β(h_w − h_l)); ``f(o, rho, beta, **params)`` and f′ likewise. Margin
    members are shift invariant; ``facts`` are the other :class:`LossSpec` fields."""
    return LossSpec(kind, title, formula, reference,
                    loss=lambda o, hw, hl, b, **p: f(o, b * (hw - hl), b, **p),
                    margin=f, dmargin=df, params=params or {}, shift_invariant=True, **facts)


def log_param(o, x):
    """log of a parameter: ``math.log`` for a plain float (torch.log takes tensors only)."""
    return math.log(x) if isinstance(x, float) else o.log(x)
