"""dpomath.displacement: closed forms against torch autograd, symbolic facts, properties
(Hypothesis, dpomath's strategies) and argument errors."""
import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

import dpomath as dm
from dpomath.displacement import akg, sequences, single_token, squeezing
from dpomath.verify.twins import reduces_to_zero
from dpomath.testing.strategies import probability_vectors

torch = pytest.importorskip("torch")


def _case(seed, V=7, d=4):
    rng = np.random.default_rng(seed)
    W, h = rng.normal(0, 1, (V, d)), rng.normal(0, 1, d)
    return W, h, 2, 5, float(rng.uniform(0.05, 1)), float(rng.normal())


def _autograd_logits(W, h, yp, yn, beta, r, lr):
    Wt = torch.tensor(W, requires_grad=True)
    ht = torch.tensor(h, requires_grad=True)
    lp = torch.log_softmax(Wt @ ht, 0)
    loss = -torch.nn.functional.logsigmoid(beta * (lp[yp] - lp[yn] - r))
    gW, gh = torch.autograd.grad(loss, (Wt, ht))
    with torch.no_grad():
        return ((Wt - lr * gW) @ (ht - lr * gh) - Wt @ ht).numpy()


# ------------------------------------------------------------------------------ single token (R)

@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("lr", [1e-3, 0.5, 3.0])
def test_exact_step_matches_autograd(seed, lr):
    W, h, yp, yn, beta, r = _case(seed)
    got = single_token.step_logit_change(W, h, yp, yn, beta=beta, lr=lr, ref_margin=r)
    np.testing.assert_allclose(got, _autograd_logits(W, h, yp, yn, beta, r, lr), rtol=1e-10, atol=1e-12)


def test_second_order_term_only_on_the_pair():
    W, h, yp, yn, beta, r = _case(1)
    ex = single_token.step_logit_change(W, h, yp, yn, beta=beta, lr=0.7, ref_margin=r)
    fo = single_token.step_logit_change(W, h, yp, yn, beta=beta, lr=0.7, ref_margin=r, order="first")
    diff = ex - fo
    others = [k for k in range(W.shape[0]) if k not in (yp, yn)]
    assert np.all(diff[others] == 0) and diff[yp] == -diff[yn] != 0


@pytest.mark.parametrize("seed", range(4))
def test_theorems_4_and_5_are_the_first_order_rates(seed):
    W, h, yp, yn, beta, r = _case(seed)
    rates = single_token.log_prob_rates(W, h, yp, yn, beta=beta, ref_margin=r)
    t4 = single_token.theorem4_terms(W, h, yp, yn, beta=beta, ref_margin=r)
    assert t4["rate"] == pytest.approx(rates[yp], rel=1e-12, abs=1e-14)
    assert t4["m"] >= 0
    t5 = single_token.theorem5_rates(W, h, yp, yn, beta=beta, ref_margin=r)
    others = [k for k in range(W.shape[0]) if k not in (yp, yn)]
    np.testing.assert_allclose(t5[others], rates[others], rtol=1e-12, atol=1e-14)
    assert np.isnan(t5[[yp, yn]]).all()
    # and the rates are derivatives: forward difference of the exact step's log-probabilities
    def lp(lr):
        dz = single_token.step_logit_change(W, h, yp, yn, beta=beta, lr=lr, ref_margin=r)
        return torch.log_softmax(torch.tensor(W @ h + dz), 0).numpy()

    eps = 1e-6
    np.testing.assert_allclose((lp(eps) - lp(0.0)) / eps, rates, atol=1e-4)


def test_displacement_example_and_gain_ranking():
    # W_{y−} = 1.5·W_{y+}: the preferred log-probability falls, the token aligned with D gains most
    W = np.array([[1.0, 0.0, 0.0], [1.5, 0.0, 0.1], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    h = np.array([0.1, 0.1, 0.1])
    t4 = single_token.theorem4_terms(W, h, 0, 1, beta=0.1)
    assert t4["rate"] < 0
    score = single_token.gain_scores(W, 0, 1)
    dlp = torch.log_softmax(torch.tensor(W @ h + single_token.step_logit_change(W, h, 0, 1, beta=0.1, lr=5.0)), 0) \
        - torch.log_softmax(torch.tensor(W @ h), 0)
    assert np.argsort(score[2:]).tolist() == np.argsort(dlp.numpy()[2:]).tolist()
    assert dlp[0] < 0 and dlp[2] > 0          # the "opposite" token 2 gains


def test_symbolic_facts_reduce_and_false_variants_do_not():
    assert all(single_token.check_symbolic_facts().values())
    f = single_token.symbolic_facts()
    V, d, W, h, u, eta, beta, c = single_token._symbols()
    a, _ = f["step"]
    wrong = eta * c * (W * W.T * u - u * (h.T * h)) + eta ** 2 * c ** 2 * u * (h.T * (W.T * u))
    assert (a - wrong).expand() != sp.ZeroMatrix(V, 1)
    a4, b4 = f["theorem4"]
    g, pp, pn = sp.Symbol("g", real=True), *sp.symbols("pi_plus pi_minus", positive=True)
    assert not reduces_to_zero(a4 - b4 - (pp - pn) * g)


def test_derivation_renders():
    from dpomath.verify.derive import derive, render

    text = render(derive("likelihood-displacement"))
    assert "Theorem 4" in text and "True" not in text and "False" not in text


@pytest.mark.parametrize("kw,match", [
    (dict(chosen=1, rejected=1), "^rejected: must differ"),
    (dict(chosen=9), "^chosen: must be <= 6"),
    (dict(beta=0.0), "^beta: must be > 0"),
    (dict(h=np.zeros(3)), "^h: expected a 1-D array of length 4"),
    (dict(order="second"), "^order: must be one of"),
    (dict(lr=-1.0), "^lr: must be >= 0"),
])
def test_single_token_bad_arguments(kw, match):
    W, h, yp, yn, beta, r = _case(0)
    args = dict(W=W, h=h, chosen=yp, rejected=yn, beta=beta, lr=0.1, order="exact")
    args.update(kw)
    with pytest.raises((dm.BadValue, dm.BadType), match=match):
        single_token.step_logit_change(args.pop("W"), args.pop("h"), args.pop("chosen"), args.pop("rejected"), **args)


# ------------------------------------------------------------------------------ Theorem 6 (R)

def test_theorem6_matches_autograd_and_validates():
    from dpomath.proofs.paper_r import _seq_case, autograd_sequence_rate

    rng = np.random.default_rng(3)
    for _ in range(5):
        cs = _seq_case(rng)
        rate, slope = autograd_sequence_rate(cs)
        t6 = sequences.theorem6_terms(cs["W"], cs["Hp"], cs["Hm"], cs["yp"], cs["ym"], loss_slope=slope)
        assert t6["rate"] == pytest.approx(rate, rel=1e-10, abs=1e-12)
        assert np.all(np.abs(t6["alpha_minus"]) <= 2) and np.all(np.abs(t6["alpha_plus"]) <= 2)
    with pytest.raises(dm.BadValue, match="^hidden_rejected: row 0 must equal"):
        sequences.theorem6_terms(cs["W"], cs["Hp"], cs["Hm"] + 1, cs["yp"], cs["ym"])
    with pytest.raises(dm.BadValue, match="^rejected_tokens: Theorem 6 assumes"):
        sequences.theorem6_terms(cs["W"], cs["Hp"], cs["Hm"], cs["yp"], [cs["yp"][0]] + cs["ym"][1:])


# ------------------------------------------------------------------------------ squeezing (S)

@given(p=probability_vectors(2, 20, max_logit=5.0), data=st.data())
def test_squeeze_guarantees(p, data):
    r = data.draw(st.integers(0, p.size - 1))
    c = data.draw(st.floats(1e-2, 30.0))
    d = squeezing.squeeze_step(p, r, c=c)
    others = [i for i in range(p.size) if i != r]
    star = max(others, key=lambda i: p[i])
    assert d[r] < 0 < d[star]
    L = squeezing.squeeze_threshold(p, r, c=c) * c
    for i in others:
        if abs(c * p[i] - L) > 1e-12:
            assert (d[i] > 0) == (c * p[i] > L)
    risers = squeezing.rising_set(p, r, c=c)          # a top-k set of the others
    rest = [i for i in others if i not in set(risers.tolist())]
    assert risers.size >= 1
    assert not rest or p[risers].min() >= p[rest].max()


@given(p=probability_vectors(2, 12), data=st.data())
def test_squeeze_step_is_softmax_shift(p, data):
    r = data.draw(st.integers(0, p.size - 1))
    c = data.draw(st.floats(1e-3, 20.0))
    z = np.log(p)
    z2 = z + c * (p - np.eye(p.size)[r])
    want = torch.log_softmax(torch.tensor(z2), 0).numpy() - torch.log_softmax(torch.tensor(z), 0).numpy()
    np.testing.assert_allclose(squeezing.squeeze_step(p, r, c=c), want, atol=1e-10)


def test_first_order_limit_is_g_squeeze():
    from dpomath.toys import free_logit

    p = np.array([0.5, 0.2, 0.2, 0.1])
    eps = 1e-7
    np.testing.assert_allclose(squeezing.squeeze_step(p, 3, c=eps) / eps, free_logit.squeeze_change(p, 3), atol=1e-6)
    assert squeezing.squeeze_threshold(p, 3, c=1e-8) == pytest.approx(p @ p - p[3], abs=1e-7)


def test_negative_gradient_logits_and_symbolic_facts():
    rng = np.random.default_rng(0)
    W, x = rng.normal(0, 1, (5, 3)), rng.normal(0, 1, 3)
    z = W @ x
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(squeezing.negative_gradient_logits(W, x, 2, lr=0.3),
                               0.3 * (x @ x) * (p - np.eye(5)[2]), atol=1e-12)
    assert all(squeezing.check_symbolic_facts().values())


@pytest.mark.parametrize("probs,match", [([0.5, 0.6], "^probs: expected a probability vector"),
                                         ([1.0], "^probs: expected a 1-D array of length >= 2"),
                                         ([0.5, 0.5, 0.0], "^probs: expected a probability vector")])
def test_squeeze_bad_probs(probs, match):
    with pytest.raises(dm.BadValue, match=match):
        squeezing.squeeze_step(probs, 0, c=1.0)


def test_squeeze_bad_c_and_index():
    with pytest.raises(dm.BadValue, match="^c: must be > 0"):
        squeezing.squeeze_step([0.5, 0.5], 0, c=0.0)
    with pytest.raises(dm.BadValue, match="^rejected: must be <= 1"):
        squeezing.squeeze_step([0.5, 0.5], 2, c=1.0)


# ------------------------------------------------------------------------------ A·K·G (S)

@given(p=probability_vectors(2, 40))
def test_frobenius_identity(p):
    p = p / p.sum()
    assert np.linalg.norm(akg.log_softmax_jacobian(p)) == pytest.approx(akg.frobenius_norm_A(p), rel=1e-12)
    V = p.size
    assert abs(np.linalg.norm(akg.log_softmax_jacobian(p)) - np.sqrt(V * (p @ p) + V - 1)) > 1e-6  # false form


def test_jacobian_matches_autograd_and_linear_ntk():
    z = torch.tensor([0.3, -1.0, 2.0, 0.1], dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: torch.log_softmax(v, 0), z).numpy()
    np.testing.assert_allclose(akg.log_softmax_jacobian(torch.softmax(z, 0).numpy()), J, atol=1e-14)
    rng = np.random.default_rng(1)
    V, d = 4, 3
    fo, fu = torch.tensor(rng.normal(0, 1, d)), torch.tensor(rng.normal(0, 1, d))
    K = akg.empirical_ntk(lambda th, x: th.reshape(V, d) @ x, torch.tensor(rng.normal(0, 1, V * d)), fo, fu)
    np.testing.assert_allclose(K.numpy(), float(fo @ fu) * np.eye(V), atol=1e-12)
    assert all(akg.check_symbolic_facts().values())


def test_akg_bad_arguments():
    with pytest.raises(dm.BadValue, match=r"^K: expected shape \(2, 2\)"):
        akg.akg_decomposition([0.5, 0.5], np.eye(3), [1.0, -1.0], lr=0.1)
    with pytest.raises(dm.BadType, match="^params: expected a 1-D torch tensor"):
        akg.empirical_ntk(lambda th, x: th, np.zeros(3), 0, 0)


def test_lazy_exports():
    from dpomath import displacement

    assert displacement.ches_scores is dm.ches_scores
    assert "squeeze_step" in dir(displacement)
    with pytest.raises(AttributeError):
        displacement.nope  # noqa: B018


@pytest.mark.parametrize("page", ["paper-r.md", "paper-s.md"])
def test_docs_examples_run(page):
    import doctest
    from pathlib import Path

    res = doctest.testfile(str(Path(__file__).resolve().parents[1] / "docs" / page), module_relative=False)
    assert res.failed == 0 and res.attempted > 0


def test_probability_vectors_strategy_bounds():
    with pytest.raises(dm.BadValue, match="^min_size: must be >= 2"):
        probability_vectors(min_size=1)
    with pytest.raises(dm.BadValue, match="^max_size: must be >= 3"):
        probability_vectors(min_size=3, max_size=2)
