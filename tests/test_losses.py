"""The loss family: numpy and torch forms equal the symbolic definition (via 50-digit mpmath)
to 1e-12, stay finite at margins ±1e4, f′ is exactly the derivative of f, bad input raises."""
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, strategies as st

from dpomath import losses as L
from dpomath.strategies import betas, loss_configs

torch = pytest.importorskip("torch")

hw_st = st.floats(-40, 40, allow_nan=False)


def _call_args(kind, params, n):
    p = dict(params)
    if "chosen_logps" in L.get_loss(kind).params:
        p["chosen_logps"] = np.linspace(-5.0, -0.1, n)
    if "chosen_lengths" in L.get_loss(kind).params:  # length-normalised members
        p["chosen_lengths"] = np.full(n, 3.0)
        p["rejected_lengths"] = np.full(n, 7.0)
    return p


@given(cfg=loss_configs(), hw=hw_st, hl=hw_st, beta=betas(0.01, 5.0))
def test_numeric_forms_match_symbolic_definition(cfg, hw, hl, beta):
    kind, params = cfg
    p = _call_args(kind, params, 1)
    if L.get_loss(kind).input_max is not None:  # ORPO: log-probabilities < 0
        hw, hl = -abs(hw) - 1e-3, -abs(hl) - 1e-3
    a, b = np.array([hw]), np.array([hl])
    got_np = float(L.preference_loss(kind, a, b, beta, **p)[0])
    tp = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in p.items()}
    got_t = float(L.preference_loss(kind, torch.tensor(a), torch.tensor(b), beta, **tp)[0])
    # the symbolic definition, evaluated at 50 digits
    sym = L.symbolic_loss(kind, **{k: sp.Symbol(k, real=True) for k in p})
    subs = {L.h_w: sp.Float(hw, 60), L.h_l: sp.Float(hl, 60), L.beta: sp.Float(beta, 60)}
    for k, v in p.items():
        subs[sp.Symbol(k, real=True)] = sp.Float(float(np.ravel(v)[0]), 60)
    ref = float(sp.N(sym.subs(subs), 50))
    tol = 1e-12 * max(1.0, abs(ref))
    assert abs(got_np - ref) <= tol, (kind, got_np, ref)
    assert abs(got_t - ref) <= tol, (kind, got_t, ref)


@pytest.mark.parametrize("kind", L.kinds())
@pytest.mark.parametrize("margin", [-1e4, -700.0, 0.0, 700.0, 1e4])
def test_finite_at_extreme_margins(kind, margin):
    beta = 1.0
    params = {"label_smoothing": 0.1, "beta_minus": 0.5, "gamma": 0.1}  # simpo: γ = 0.1
    spec = L.get_loss(kind)
    p = {k: v for k, v in params.items() if k in spec.params}
    if "chosen_logps" in spec.params:
        p["chosen_logps"] = np.array([-1.0])
    if "chosen_lengths" in spec.params:
        p["chosen_lengths"], p["rejected_lengths"] = np.array([1.0]), np.array([1.0])
    hw, hl = margin, 0.0
    if spec.input_max is not None:  # ORPO: log-probabilities < 0, the margin made by either side
        hw, hl = (-1.0, -1.0 - margin) if margin > 0 else (-1.0 + margin, -1.0)
    with np.errstate(over="ignore"):
        val = L.preference_loss(kind, np.array([hw]), np.array([hl]), beta, **p)
    if kind == "exponential" and margin < -709.78:
        assert np.isinf(val[0])  # e^{1e4} exceeds float64: inf, the rounded true value
        return
    assert np.all(np.isfinite(val)), (kind, margin, val)
    # gradient through torch is finite too
    t = torch.tensor([hw], dtype=torch.float64, requires_grad=True)
    tp = {k: (torch.tensor(v) if isinstance(v, np.ndarray) else v) for k, v in p.items()}
    L.preference_loss(kind, t, torch.tensor([hl], dtype=torch.float64), beta, **tp).sum().backward()
    assert torch.isfinite(t.grad).all(), (kind, margin, t.grad)


@pytest.mark.parametrize("kind", [k for k, s in L.LOSSES.items() if s.is_margin_loss])
def test_dmargin_is_the_derivative(kind):
    f, df = L.symbolic_margin_loss(kind)
    diff = sp.simplify(sp.diff(f, L.rho) - df)
    if diff != 0:  # Max/Heaviside: equal except at the kink; check piecewise-rewritten form
        diff = sp.simplify((sp.diff(f, L.rho) - df).rewrite(sp.Piecewise))
    assert diff == 0 or all(
        abs(float(diff.subs(L.rho, r).subs({s: 0.3 for s in diff.free_symbols if s != L.rho}))) < 1e-30
        for r in (-3.1, -0.4, 0.2, 0.7, 1.3, 4.2))


def test_margin_weight_dpo_is_sigmoid_minus_r():
    r = np.array([-1e4, -1.0, 0.0, 2.0, 1e4])
    w = L.margin_weight("sigmoid", r)
    assert np.allclose(w, 1 / (1 + np.exp(np.clip(r, -700, 700))))
    assert np.all(np.isfinite(w))
    assert np.allclose(L.margin_weight("ipo-margin", r[1:4]), 2 * (1 - r[1:4]))
    assert list(L.margin_weight("hinge", np.array([0.5, 1.5]))) == [1.0, 0.0]


def test_log2_at_reference():
    assert math.isclose(float(L.preference_loss("dpo", 0.0, 0.0, 0.1)), math.log(2), rel_tol=1e-15)


def test_ipo_forms_map():
    # paper I's (r − 1)² at β equals β² × Azar's (h − 1/(2β'))² at β' = β/2
    h, b = sp.symbols("h b", positive=True)
    paper_i = L.symbolic_loss("ipo-margin", h, 0, b)
    azar = L.symbolic_loss("ipo", h, 0, b / 2)
    assert sp.simplify(paper_i - b**2 * azar) == 0


@pytest.mark.parametrize("call,msg", [
    (lambda: L.preference_loss("dpo", [0.0], [0.0], 0.0), "beta"),
    (lambda: L.preference_loss("dpo", [0.0], [0.0], -1.0), "beta"),
    (lambda: L.preference_loss("dpo", [float("nan")], [0.0], 0.1), "chosen_logratios"),
    (lambda: L.preference_loss("nope", [0.0], [0.0], 0.1), "kind"),
    (lambda: L.preference_loss("cdpo", [0.0], [0.0], 0.1, label_smoothing=0.5), "label_smoothing"),
    (lambda: L.preference_loss("flex", [0.0], [0.0], 0.1), "beta_minus"),
    (lambda: L.preference_loss("dpo", [0.0], [0.0], 0.1, tau=1.0), "tau"),
    (lambda: L.preference_loss("cdpo", [0.0], [0.0], 0.1), "label_smoothing"),  # ε = 0 is DPO
    (lambda: L.preference_loss("simpo", [-1.0], [-2.0], 0.1), "gamma"),  # γ or γ/β, named
    (lambda: L.preference_loss("orpo", [0.0], [-2.0], 0.1), "chosen_logratios"),  # log p < 0
    (lambda: L.preference_loss("discopop", [0.0], [0.0], 0.1, tau=0.1, discopop_tau=0.1), "discopop_tau"),
    (lambda: L.preference_loss("dpo", torch.zeros(1), np.zeros(1), 0.1), "rejected_logratios"),
    (lambda: L.preference_loss("exo_pair", [0.0], [0.0], 0.1), "label_smoothing"),
    (lambda: L.preference_loss("exo_pair", [0.0], [0.0], 0.1, label_smoothing=0.0), "label_smoothing"),
    (lambda: L.preference_loss("discopop", [0.0], [0.0], 0.1, tau=0.0), "tau"),
    (lambda: L.preference_loss("sigmoid_norm", [0.0], [0.0], 0.1, chosen_lengths=[0.0],
                               rejected_lengths=[1.0]), "chosen_lengths"),
    (lambda: L.preference_loss("ipo-norm", [0.0], [0.0], 0.1, chosen_lengths=[1.0]), "rejected_lengths"),
])
def test_bad_input_names_the_parameter(call, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        call()


def test_returns_the_same_kind():
    assert isinstance(L.preference_loss("dpo", np.zeros(3), np.zeros(3), 0.1), np.ndarray)
    out = L.preference_loss("dpo", torch.zeros(3, dtype=torch.float32), torch.zeros(3), 0.1)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32


def test_other_spellings_of_a_parameter_are_accepted():
    """TRL's discopop_tau is DiscoPOP's tau; TRL's simpo_gamma is SimPO's γ; OpenRLHF's margin is γ."""
    a, b = np.array([-1.0, -3.0]), np.array([-2.0, -0.5])
    assert np.array_equal(L.preference_loss("discopop", a, b, 0.5, discopop_tau=0.1),
                          L.preference_loss("discopop", a, b, 0.5, tau=0.1))
    assert np.array_equal(L.preference_loss("simpo", a, b, 2.0, simpo_gamma=0.5),
                          L.preference_loss("simpo", a, b, 2.0, gamma=0.5))
    assert np.array_equal(L.preference_loss("reward-model", a, b, 1.0, margin=0.3),
                          L.preference_loss("reward-model", a, b, 1.0, gamma=0.3))


def test_new_kinds_are_the_published_formulas():
    """rso is hinge; SimPO's γ/β and absolute γ agree when γ = β·ratio; CPO with α = 0 and ORPO
    and the two DPO-Positive placements, against formulas written out here."""
    from scipy.special import log_expit
    a, b = np.array([-1.0, -3.0, -0.2]), np.array([-2.0, -0.5, -0.9])
    n_w, n_l, beta = np.array([2.0, 3.0, 1.0]), np.array([4.0, 1.0, 5.0]), 2.0
    assert L.get_loss("rso") is L.get_loss("hinge")
    simpo = L.preference_loss("simpo", a, b, beta, gamma=1.0, chosen_lengths=n_w, rejected_lengths=n_l)
    assert np.allclose(simpo, -log_expit(beta * (a / n_w - b / n_l) - 1.0), rtol=1e-14)
    assert np.allclose(simpo, L.preference_loss("simpo", a, b, beta, gamma_beta_ratio=0.5,
                                                chosen_lengths=n_w, rejected_lengths=n_l), rtol=1e-14)
    assert np.allclose(L.preference_loss("cpo", a, b, beta, cpo_alpha=0.0), -log_expit(beta * (a - b)))
    assert np.allclose(L.preference_loss("cpo", a, b, beta), -log_expit(beta * (a - b)) - a)
    odds = lambda h: h - np.log1p(-np.exp(h))  # noqa: E731  (log odds at h = log p)
    assert np.allclose(L.preference_loss("orpo", a, b, 0.1), -0.1 * log_expit(odds(a) - odds(b)))
    pen = np.maximum(0.0, -a)
    assert np.allclose(L.preference_loss("dpop", a, b, 0.1, dpop_lambda=5.0),
                       -log_expit(0.1 * (a - b - 5.0 * pen)))
    assert np.allclose(L.preference_loss("dpop-outside", a, b, 0.1, dpop_lambda=5.0),
                       -log_expit(0.1 * (a - b)) + 5.0 * pen)
    assert np.allclose(L.preference_loss("sigmoid", a, b, 0.1, gamma=0.5), -log_expit(0.1 * (a - b) - 0.5))
