"""G-RATIO: the update ratio of every member of the loss family, proved and re-checked at
Hypothesis-drawn points in 50-digit arithmetic and with the float field."""
import functools
import math

import mpmath as mp
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from dpomath.gradients import formulas as S
from dpomath.gradients.field import gradient_field
from dpomath.verify.ledger import Status, get_claim
from dpomath.losses import LOSSES, margin_weight
from dpomath.strategies import betas, loss_configs

X = st.floats(1e-2, 1e2, allow_nan=False)


@pytest.fixture(scope="module")
def verdict():
    return get_claim("G-RATIO").run(seed=0, quick=True).verdict


def test_proved_for_every_member(verdict):
    assert verdict.status is Status.PROVED, verdict.summary
    ev = verdict.evidence
    assert ev["members"] == len(LOSSES)
    assert ev["margin_members"] == sum(s.is_margin_loss for s in LOSSES.values())
    for kind, spec in LOSSES.items():
        if spec.is_margin_loss:
            assert ev[f"{kind}: x1*dL/dx1 + x2*dL/dx2"] == "0"
    assert ev["sigmoid: f'=0 at"] == "EmptySet"
    assert ev["hinge: f'=0 at"] == "Interval(1, oo)"
    assert ev["cdpo: f'=0 at"] == "{-log(label_smoothing) + log(1 - label_smoothing)}"
    assert ev["robust: f'=0 at"] == "EmptySet" and ev["ipo-margin: f'=0 at"] == "{1}"
    assert ev["flex_ratio_beta_plus*x2/(beta_minus*x1)"] and ev["sft_ratio_(x2/x1)(1+gamma(1+e^rho)/beta)"]
    assert ev["sft: x1*dL/dx1 + x2*dL/dx2"] != "0"
    # the kinds users have (issue 12): target margins keep DPO and the reward model functions
    # of ρ; CPO's SFT term breaks Euler's identity by exactly −α; DPOP's penalty acts below h_w = 0
    assert ev["sigmoid: x1*dL/dx1 + x2*dL/dx2"] == "0" and ev["reward-model: f'=0 at"] == "EmptySet"
    assert ev["cpo: x1*dL/dx1 + x2*dL/dx2"] == "-cpo_alpha"
    assert ev["dpop-outside: x1*dL/dx1 + x2*dL/dx2"] == "-dpop_lambda*Heaviside(-log(x1))"
    for kind in ("simpo", "cpo", "orpo", "dpop", "dpop-outside"):
        assert ev[f"{kind}: ratio"].startswith("x2/x1 * ("), kind


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # extreme τ, see below
@given(cfg=loss_configs(margin_only=True), x1=X, x2=X, b=betas(1e-2, 3.0))
def test_float_ratio_is_x2_over_x1_where_fprime_nonzero(cfg, x1, x2, b):
    kind, params = cfg
    w = float(margin_weight(kind, b * (math.log(x1) - math.log(x2)), b, **params))
    # f′ = 0: no update (ratio 0/0); |f′| beyond float64 (e.g. DiscoPOP with τ ~ 1e-320): inf
    assume(math.isfinite(w) and abs(w) > 1e-12)
    g1, g2 = gradient_field(x1, x2, b, kind=kind, **params)
    assert abs(float(g1) / float(g2)) == pytest.approx(x2 / x1, rel=1e-12)
    assert x1 * float(g1) + x2 * float(g2) == pytest.approx(0.0, abs=1e-12 * max(1.0, abs(x1 * float(g1))))


@given(cfg=loss_configs(margin_only=True), b=betas(1e-2, 3.0))
def test_gradient_vanishes_where_fprime_vanishes(cfg, b):
    kind, params = cfg
    # hinge and truncated quadratic: f′ = 0 for ρ ≥ 1 — pick x1/x2 with ρ = 2
    if kind not in ("hinge", "truncated-quadratic"):
        return
    x2 = 0.5
    x1 = x2 * math.exp(2.0 / b)
    g1, g2 = gradient_field(x1, x2, b, kind=kind, **params)
    assert float(g1) == 0.0 and float(g2) == 0.0


@functools.lru_cache(maxsize=None)
def _flex_sft():
    bms, gs, cs = sp.Symbol("bm", positive=True), sp.Symbol("g", positive=True), sp.Symbol("c", negative=True)
    args = (S.x1, S.x2, S.beta, bms, gs, cs)
    fl = [sp.lambdify(args, e, "mpmath") for e in S.gradient_in_x("flex", beta_minus=bms)]
    sf = [sp.lambdify(args, e, "mpmath") for e in S.gradient_in_x("sft", gamma=gs, chosen_logps=sp.log(S.x1) + cs)]
    return fl, sf


@given(x1=X, x2=X, b=betas(1e-2, 3.0), bm=st.floats(1e-2, 3.0), gam=st.floats(1e-3, 3.0),
       c=st.floats(-8.0, -1e-3))
def test_flex_and_sft_ratios_at_50_digits(x1, x2, b, bm, gam, c):
    fl, sf = _flex_sft()
    with mp.workdps(50):
        v = [mp.mpf(t) for t in (x1, x2, b, bm, gam, c)]
        r = abs(fl[0](*v) / fl[1](*v))
        assert abs(r - v[2] * v[1] / (v[3] * v[0])) <= mp.mpf("1e-40") * r
        rs = abs(sf[0](*v) / sf[1](*v))
        rho = v[2] * (mp.log(v[0]) - mp.log(v[1]))
        want = (v[1] / v[0]) * (1 + v[4] * (1 + mp.exp(rho)) / v[2])
        assert abs(rs - want) <= mp.mpf("1e-40") * want


def test_cdpo_field_reverses_beyond_its_zero():
    eps, b = 0.1, 0.5
    rho_star = math.log((1 - eps) / eps)
    for rho, sign in ((rho_star - 0.5, -1), (rho_star + 0.5, 1)):
        x2 = 1.0
        x1 = math.exp(rho / b)
        g1, _ = gradient_field(x1, x2, b, kind="cdpo", label_smoothing=eps)
        assert math.copysign(1, float(g1)) == sign
