"""The free-logit policy: closed-form step = autograd step, the facts it forces, squeezing."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from dpomath.toys import derivations as D
from dpomath.toys import free_logit as tabular
from dpomath._args import BadValue
from dpomath.verify.derive import derive, render
from dpomath.losses import beta as BETA
from dpomath.losses import h_l, h_w, loss_partials, symbolic_loss
from dpomath.strategies import free_logit_prompts

torch = pytest.importorskip("torch")

KINDS = [("sigmoid", {}), ("flex", {"beta_minus": 0.04}), ("flex", {"beta_minus": 0.3}),
         ("sft", {"gamma": 0.5}), ("ipo", {}), ("ipo-margin", {}), ("exponential", {}),
         ("cdpo", {"label_smoothing": 0.1}), ("savage", {})]


prompts = free_logit_prompts


def _autograd_step(z, ref, rej, w, lr, kind, beta, params):
    from dpomath.losses import preference_loss

    zt = torch.tensor(z, requires_grad=True)
    lp = torch.log_softmax(zt, 0)
    m = len(rej)
    hw = (lp[0] - ref[0]).expand(m)
    hl = lp[torch.tensor(rej)] - torch.tensor(ref[rej])
    extra = dict(params)
    if kind == "sft":
        extra["chosen_logps"] = lp[0].expand(m)
    loss = (torch.tensor(w) * preference_loss(kind, hw, hl, beta, **extra)).sum()
    (g,) = torch.autograd.grad(loss, zt)
    return torch.log_softmax(zt.detach() - lr * g, 0).numpy()


@given(prompts(), st.floats(0.01, 3.0), st.floats(0.05, 1.0), st.sampled_from(range(len(KINDS))))
def test_closed_form_step_equals_autograd_step_to_1e_10(prompt, lr, beta, which):
    z, ref, rej, w = prompt
    kind, params = KINDS[which]
    auto = _autograd_step(z, ref, rej, w, lr, kind, beta, params)
    closed = tabular.step(z, ref, 0, rej, w, lr=lr, kind=kind, beta=beta, **params)
    # 1e-10 absolute, and a few ulps relative: the exponential loss reaches |log π| ~ 1e5, where
    # one rounding is already 1.5e-11 (a draw at 2e5 differed by 3.5e-10 = 1.8e-15 relative)
    np.testing.assert_allclose(closed, auto, atol=1e-10, rtol=1e-14)


@given(prompts(), st.floats(0.05, 1.0), st.sampled_from(range(len(KINDS))))
def test_first_order_change_is_the_derivative_of_the_step(prompt, beta, which):
    z, ref, rej, w = prompt
    kind, params = KINDS[which]
    fo = tabular.first_order_change(z, ref, 0, rej, w, kind=kind, beta=beta, **params)
    scale = max(1.0, np.abs(fo).max())
    # one-sided difference (lr >= 0): error O(η g²), so η shrinks with the gradient's size
    # (a fixed η = 1e-5 failed at |g| ≈ 1400, exponential loss: 0.6 % off)
    eta = 1e-5 / scale
    plus = tabular.step(z, ref, 0, rej, w, lr=eta, kind=kind, beta=beta, **params)
    base = tabular.log_softmax(z)
    np.testing.assert_allclose((plus - base) / eta, fo, atol=1e-3 * scale)


@pytest.mark.parametrize("kind,params", KINDS)
def test_loss_partials_match_sympy_diff(kind, params):
    rng = np.random.default_rng(1)
    extra = {"chosen_logps": h_w} if kind == "sft" else {}   # log π_c moves with h_w
    loss = symbolic_loss(kind, **{**params, **extra})
    dw, dl = sp.diff(loss, h_w), sp.diff(loss, h_l)
    for _ in range(5):
        hw_, hl_, b = rng.uniform(-4, 4), rng.uniform(-4, 4), rng.uniform(0.05, 1.0)
        sub = {h_w: hw_, h_l: hl_, BETA: b}
        lw, ll = loss_partials(kind, hw_, hl_, b, **params)
        assert float(lw) == pytest.approx(float(dw.evalf(30, subs=sub)), rel=1e-10, abs=1e-12)
        assert float(ll) == pytest.approx(float(dl.evalf(30, subs=sub)), rel=1e-10, abs=1e-12)


@given(prompts(), st.floats(0.01, 50.0), st.floats(0.05, 2.0))
def test_dpo_step_always_raises_the_chosen_log_probability(prompt, lr, beta):
    z, ref, rej, w = prompt
    new = tabular.step(z, ref, 0, rej, w, lr=lr, kind="sigmoid", beta=beta)
    assert new[0] >= tabular.log_softmax(z)[0] - 1e-12


@given(prompts(), st.floats(0.05, 2.0))
def test_dpo_moves_only_chosen_and_rejected_logits(prompt, beta):
    z, ref, rej, w = prompt
    g = tabular.logit_gradient(z, ref, 0, rej, w, kind="sigmoid", beta=beta)
    others = [k for k in range(len(z)) if k != 0 and k not in set(rej)]
    assert np.all(g[others] == 0)
    assert g[0] < 0 and np.all(g[rej] > 0)
    assert abs(g.sum()) < 1e-12


@given(st.floats(0.01, 0.9), st.floats(0.01, 0.9))
def test_dpo_first_order_rules(pc, pr):
    assume(pc + pr < 0.99)
    assume(abs(pc - pr) > 1e-9)  # at a float tie both sides of the iff round to 1: not decided
    # a 4-response prompt with these probabilities (chosen 0, rejected 1)
    rest = (1 - pc - pr) / 2
    z = np.log([pc, pr, rest, rest])
    fo = tabular.first_order_change(z, z, 0, [1], kind="sigmoid", beta=1.0)  # ρ = 0: σ = 1/2
    d = tabular.dpo_first_order(pc, pr, sigma_weight=0.5)
    np.testing.assert_allclose(fo, [d["chosen"], d["rejected"], d["other"], d["other"]], atol=1e-12)
    assert (fo[2] > 0) == (pr > pc)                       # unseen gain iff π_r > π_c
    assert (d["log_ratio"] > 1) == (pc > pr)              # drastic drop in log space iff π_c > π_r


@given(st.lists(st.floats(-5, 5), min_size=3, max_size=12), st.data())
def test_squeezing_first_order_and_the_mode(zs, data):
    z = np.array(zs)
    p = np.exp(z - z.max())
    p /= p.sum()
    mode = int(np.argmax(p))
    assume(np.sum(p == p[mode]) == 1)
    r = data.draw(st.sampled_from([k for k in range(len(z)) if k != mode]))
    pred = tabular.squeeze_change(p, r)
    zt = torch.tensor(z, requires_grad=True)
    (g,) = torch.autograd.grad(torch.log_softmax(zt, 0)[r], zt)
    eta = 1e-5
    plus = torch.log_softmax(zt.detach() - eta * g, 0).numpy()
    minus = torch.log_softmax(zt.detach() + eta * g, 0).numpy()
    np.testing.assert_allclose((plus - minus) / (2 * eta), pred, atol=1e-6)
    assert pred[mode] >= p[r] - 1e-12                   # the mode gains at least π_r
    order = np.argsort(p)
    keep = [k for k in order if k != r]
    assert np.all(np.diff(pred[keep]) >= -1e-12)        # gains increase with π_k
    assert abs(p @ pred) < 1e-12                        # first-order mass conservation


def test_symbolic_facts_all_reduce_to_zero():
    res = D.check_symbolic_facts(4)
    assert len(res) >= 30
    assert all(res.values()), [k for k, v in res.items() if not v]


def test_a_false_fact_does_not_reduce():
    """The reduction can fail: the squeeze formula with the wrong sign of π_r does not hold."""
    z, a_c, a_r, eta, logp, pi = D.prompt_symbols(4)
    gs = [sp.diff(logp[1], v) for v in z]
    moved = z[0] - eta * gs[0] - sp.log(sum(sp.exp(z[i] - eta * gs[i]) for i in range(4)))
    d = sp.diff(moved, eta).subs(eta, 0)
    wrong = pi[0] - pi[1] - sum(p * p for p in pi)
    assert sp.simplify(sp.expand(d - wrong)) != 0


def test_derivations_render():
    for name in ("tabular-step", "squeezing"):
        text = render(derive(name))
        assert "1." in text and len(text.splitlines()) > 5
        assert render(derive(name), latex=True)


def test_bad_inputs_name_the_parameter():
    z = np.zeros(4)
    with pytest.raises(BadValue, match="^rejected"):
        tabular.step(z, z, 0, [0], lr=0.1)
    with pytest.raises(BadValue, match="^weights"):
        tabular.step(z, z, 0, [1, 2], [1.0], lr=0.1)
    with pytest.raises(BadValue, match="^lr"):
        tabular.step(z, z, 0, [1], lr=-1.0)
    with pytest.raises(BadValue, match="^probs"):
        tabular.squeeze_change([0.5, 0.6], 0)
    with pytest.raises(BadValue, match="^logits"):
        tabular.step(np.zeros((2, 2)), z, 0, [1], lr=0.1)


def test_loss_partials_check_parameters():
    from dpomath._args import BadType

    with pytest.raises(BadType, match="^beta_minus"):
        loss_partials("flex", 0.0, 0.0, 0.1)
    with pytest.raises(BadType, match="^gamma"):
        loss_partials("sft", 0.0, 0.0, 0.1)
    with pytest.raises(BadType, match="^foo"):
        loss_partials("flex", 0.0, 0.0, 0.1, beta_minus=0.1, foo=1.0)
