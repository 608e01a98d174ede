"""Paper F's gradient field of a preference loss, numerically, in two coordinate systems, and
its gradient flows.

For a member L = f(ρ) of the loss family, ρ = β(h_w − h_l), the chain rule gives

* probability coordinates x1 = e^{h_w}, x2 = e^{h_l} (paper F, Theorem 1 for DPO):
  ∂L/∂x1 = β f′(ρ)/x1,  ∂L/∂x2 = −β f′(ρ)/x2;
* log coordinates (h_w, h_l):  ∂L/∂h_w = β f′(ρ) = −∂L/∂h_l.

Here f′ comes from :func:`dpomath.losses.margin_weight` (−f′(ρ) = σ(−ρ) for DPO), so the field
is computed in log space from the family's single definition — no x^β is ever formed, and the
values stay finite for margins up to ±1e4. The symbolic twins are in :mod:`dpomath.gradients.formulas`.

Gradient flows ẏ = −∇L(y): ``coords="probability"`` is the flow of paper F's Figure 1(b)
(state stored as (log x1, log x2) for relative accuracy near x2 → 0; it is the same trajectory);
``coords="log"`` is the flow in log coordinates, the coordinates in which models are trained.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import _args
from ..losses import get_loss, margin_weight
from ..losses.ops import NUMPY

__all__ = ["gradient_field", "probability_ratios", "gradient_flow", "field_grid", "Flow", "COORDS"]

COORDS = ("probability", "log")


def _positive_array(name: str, x) -> np.ndarray:
    a = np.asarray(_args.array(name, x), dtype=np.float64)
    if np.any(a <= 0):
        raise _args.BadValue(f"{name}: must be > 0 (a probability ratio), got min {np.min(a):g}")
    return a


def probability_ratios(policy_chosen, policy_rejected, reference_chosen=1.0,
                       reference_rejected=1.0) -> tuple[np.ndarray, np.ndarray]:
    """Paper F's coordinates (x1, x2) = (πθ(y_w)/π_ref(y_w), πθ(y_l)/π_ref(y_l)) from
    probabilities in (0, 1] (the reference defaults to 1, as in paper F's Figure 1).

    Parameters
    ----------
    policy_chosen, policy_rejected : array_like
        πθ(y_w|x), πθ(y_l|x), in (0, 1], of one shape (not broadcast).
    reference_chosen, reference_rejected : array_like
        π_ref(y_w|x), π_ref(y_l|x), in (0, 1] (default 1): a scalar applies to every pair,
        an array must have the policy's shape.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        x1 and x2.
    """
    pw = _args.probability("policy_chosen", policy_chosen)
    pl = _args.probability("policy_rejected", policy_rejected)
    rw = _args.probability("reference_chosen", reference_chosen)
    rl = _args.probability("reference_rejected", reference_rejected)
    shape = _args.same_shape(("policy_chosen", pw), ("policy_rejected", pl))
    for name, ref in (("reference_chosen", rw), ("reference_rejected", rl)):
        if np.ndim(ref):  # a scalar reference applies to every pair; an array must match
            _args.same_shape(("policy_chosen", pw), (name, ref))
    return pw / rw, pl / rl


def _margin(coords: str, u, v, beta: float) -> np.ndarray:
    return beta * (u - v) if coords == "log" else beta * (np.log(u) - np.log(v))


def gradient_field(u, v, beta: float, coords: str = "probability", kind: str = "sigmoid",
                   **params) -> tuple[np.ndarray, np.ndarray]:
    """(∂L/∂u, ∂L/∂v) of loss ``kind`` at (u, v) = (x1, x2) (``coords="probability"``, both > 0)
    or (h_w, h_l) (``coords="log"``). Paper F, Theorem 1 (DPO) and its generalisation G-RATIO.

    Parameters
    ----------
    u, v : array_like
        (x1, x2) > 0 or (h_w, h_l), of one shape (not broadcast).
    beta : float
        β > 0.
    coords : {"probability", "log"}
    kind : str
        A margin member of the loss family (default DPO); ``params`` its parameters.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        ∂L/∂u and ∂L/∂v.

    >>> g1, g2 = gradient_field(1.0, 1.0, beta=0.5)   # at the reference: (−β/2, β/2)
    >>> float(g1), float(g2)
    (-0.25, 0.25)
    """
    beta = _args.positive("beta", beta)
    coords = _args.choice("coords", coords, COORDS)
    if coords == "probability":
        u, v = _positive_array("x1", u), _positive_array("x2", v)
    else:
        u = np.asarray(_args.array("h_w", u), dtype=np.float64)
        v = np.asarray(_args.array("h_l", v), dtype=np.float64)
    _args.same_shape(("u", u), ("v", v))
    w = margin_weight(kind, _margin(coords, u, v, beta), beta, **params)  # −f′(ρ)
    if coords == "log":
        return -beta * w, beta * w
    return -beta * w / u, beta * w / v


def _weight_function(kind: str, beta: float, params: dict):
    """ρ ↦ −f′(ρ) as a fast scalar function (arguments validated once, here)."""
    spec = get_loss(kind)
    if not spec.is_margin_loss:
        raise _args.BadValue(f"kind: {spec.kind!r} is not a function of the margin alone")
    p = spec.check_params(params)
    return lambda r: -float(spec.dmargin(NUMPY, r, beta, **p))


@dataclass
class Flow:
    """A solved gradient flow: the solver's output plus where and when it stopped."""

    coords: str
    beta: float
    start: tuple[float, float]        # in the flow's coordinates
    t_stop: float                     # time of the stop event (or t_max)
    stop: tuple[float, float]         # state at t_stop, in the flow's coordinates
    stopped: bool                     # the stop event was reached
    nfev: int
    sol: Any                          # scipy OdeSolution (dense output) of the solver's state
    state_power: float = 0.0          # solver state x^λ (λ ≠ 0) or log x (λ = 0), probability flow

    def at(self, t) -> np.ndarray:
        """State in the flow's coordinates at time(s) ``t`` (rows: the two coordinates)."""
        y = np.asarray(self.sol(t))
        if self.coords == "log":
            return y
        if self.state_power == 0.0:
            return np.exp(y)
        return np.abs(y) ** (1.0 / self.state_power)


def gradient_flow(start, beta: float, coords: str = "probability", stop_margin: float | None = None,
                  t_max: float = 1e20, rtol: float = 1e-11, atol: float = 1e-30,
                  kind: str = "sigmoid", **params) -> Flow:
    """Integrate ẏ = −∇L(y) from ``start`` with ``scipy.integrate.solve_ivp`` (DOP853).

    ``coords="probability"``: y = (x1, x2), the flow of paper F's Figure 1(b),
    ẋ1 = −β f′(ρ)/x1, ẋ2 = β f′(ρ)/x2. The solver's state is s = x^λ with λ = 2 − β (log x
    when |λ| < 1/4): for DPO ds2/dt = −λβ/(x1^β + x2^β) stays bounded as x2 → 0, where ẋ2 itself
    diverges for β < 1 — the same trajectory, resolved in far fewer steps.
    ``coords="log"``: y = (h_w, h_l), ḣ_w = −β f′(ρ) = −ḣ_l, the coordinates models train in.
    The flow stops when the margin ρ = β(h_w − h_l) reaches ``stop_margin`` (terminal event)
    or at ``t_max``. ``rtol``/``atol`` apply to the solver's state.

    Parameters
    ----------
    start : (float, float)
        The start, in the flow's coordinates.
    beta : float
        β > 0.
    coords : {"probability", "log"}
    stop_margin : float, optional
        Stop when ρ reaches it (must exceed the start's margin).
    t_max, rtol, atol : float
        The time limit and the solver's tolerances.
    kind : str
        A margin member; ``params`` its parameters.

    Returns
    -------
    Flow
        The dense solution (``at(t)``), where and when it stopped, ``nfev``.
    """
    from scipy.integrate import solve_ivp

    beta = _args.positive("beta", beta)
    coords = _args.choice("coords", coords, COORDS)
    t_max = _args.positive("t_max", t_max)
    rtol = _args.real("rtol", rtol, lo=1e-14, hi=1e-3)
    atol = _args.positive("atol", atol)
    try:
        s0, s1 = start
    except (TypeError, ValueError):
        raise _args.BadType(f"start: expected a pair of numbers, got {start!r}") from None
    if coords == "probability":
        s0, s1 = _args.positive("start[0] (x1)", s0), _args.positive("start[1] (x2)", s1)
        lw, ll = math.log(s0), math.log(s1)
    else:
        s0, s1 = _args.real("start[0] (h_w)", s0), _args.real("start[1] (h_l)", s1)
        lw, ll = s0, s1
    if stop_margin is not None:
        stop_margin = _args.real("stop_margin", stop_margin)
        if stop_margin <= beta * (lw - ll):
            raise _args.BadValue(f"stop_margin: must exceed the start's margin "
                                 f"{beta * (lw - ll):g}, got {stop_margin:g}")
    weight = _weight_function(kind, beta, params)
    lam = 2.0 - beta if coords == "probability" and abs(2.0 - beta) >= 0.25 else 0.0

    def logs(y):  # (h_w, h_l) = (log x1, log x2) of the solver's state
        if coords == "log":
            return y[0], y[1]
        if lam == 0.0:
            return y[0], y[1]
        with np.errstate(invalid="ignore", divide="ignore"):  # trial stages may overshoot y2 < 0
            return math.log(y[0]) / lam if y[0] > 0 else math.nan, \
                math.log(y[1]) / lam if y[1] > 0 else math.nan

    def rhs(t, y):
        hw, hl = logs(y)
        w = weight(beta * (hw - hl))                  # −f′(ρ)
        if coords == "log":                           # ḣ = −∂L/∂h = (βw, −βw)
            return [beta * w, -beta * w]
        if lam == 0.0:                                # d(log x)/dt = ±βw/x²
            return [beta * w * math.exp(-2.0 * hw), -beta * w * math.exp(-2.0 * hl)]
        # d(x^λ)/dt = λ x^(λ−1) ẋ = ±λβw x^(λ−2) = ±λβw x^(−β)
        return [lam * beta * w * math.exp(-beta * hw), -lam * beta * w * math.exp(-beta * hl)]

    y0 = [lw, ll] if coords == "log" or lam == 0.0 else [s0 ** lam, s1 ** lam]
    events = None
    if stop_margin is not None:
        def hit(t, y):
            hw, hl = logs(y)
            return beta * (hw - hl) - stop_margin
        hit.terminal, hit.direction = True, 1
        events = [hit]
    sol = solve_ivp(rhs, (0.0, t_max), y0, method="DOP853", rtol=rtol, atol=atol,
                    events=events, dense_output=True)
    if sol.status == -1:
        raise RuntimeError(f"gradient_flow: integration failed: {sol.message}")
    stopped = bool(events and sol.t_events[0].size)
    t_stop = float(sol.t_events[0][0]) if stopped else float(sol.t[-1])
    y_stop = sol.y_events[0][0] if stopped else sol.y[:, -1]
    hw, hl = logs(y_stop)
    stop = (math.exp(hw), math.exp(hl)) if coords == "probability" else (float(hw), float(hl))
    return Flow(coords, beta, (float(s0), float(s1)), t_stop, stop, stopped, int(sol.nfev),
                sol.sol, lam)

def field_grid(beta: float, coords: str = "probability", lo: float = 0.02, hi: float = 1.0,
               n: int = 25, kind: str = "sigmoid", **params) -> dict[str, np.ndarray]:
    """Loss and gradient on an n×n grid for the figures: probability coordinates over
    [lo, hi]² (default: paper F's unit square, reference probabilities 1), or log coordinates
    over the image [log lo, log hi]² of the same square.

    Returns ``{"u", "v", "loss", "du", "dv"}`` (meshgrids, ``indexing="xy"``).

    Parameters
    ----------
    beta : float
        β > 0.
    coords : {"probability", "log"}
    lo, hi : float
        The square [lo, hi]² of probability ratios (0 < lo < hi).
    n : int
        Grid points per side (≥ 2).
    kind : str
        A margin member of the loss family; ``params`` its parameters.

    Returns
    -------
    dict
        ``"u"``, ``"v"`` (meshgrids, ``indexing="xy"``), ``"loss"``, ``"du"``, ``"dv"``.
    """
    from ..losses import preference_loss

    beta = _args.positive("beta", beta)
    coords = _args.choice("coords", coords, COORDS)
    lo = _args.positive("lo", lo)
    hi = _args.real("hi", hi, lo=lo, lo_open=True)
    n = _args.integer("n", n, lo=2)
    if coords == "probability":
        axis = np.linspace(lo, hi, n)
        U, V = np.meshgrid(axis, axis)
        hw, hl = np.log(U), np.log(V)
    else:
        axis = np.linspace(np.log(lo), np.log(hi), n)
        U, V = np.meshgrid(axis, axis)
        hw, hl = U, V
    loss = preference_loss(kind, hw, hl, beta, **params)
    du, dv = gradient_field(U, V, beta, coords=coords, kind=kind, **params)
    return {"u": U, "v": V, "loss": np.asarray(loss), "du": np.asarray(du), "dv": np.asarray(dv)}
