"""Lemma 4.1's ODE: exact solutions, the O(N·d) kernel against the N×N form and autograd,
gradient descent converging at O(h), events, test samples, the simulate command."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dpomath._args import BadType, BadValue
from dpomath.lastlayer.clusters import sample_clusters
from dpomath.lastlayer.theorem42 import LOG3, tau1, typical_margin
from dpomath.lastlayer.margins import MarginField, gram_rhs, margin_rhs, solve_margins
from dpomath.lastlayer.descent import gradient_descent
from dpomath.lastlayer.runs import simulate

BETA = 0.01


@pytest.mark.parametrize("K, Q, Z, l_b", [(1, 5, 1, 0.25), (3, 2, 2, 0.4), (4, 3, 4, 0.25)])
def test_exact_solution_when_samples_sit_at_their_means(K, Q, Z, l_b):
    # v = 0: all margins equal and r + e^r = 1 + 2β²t/(Kτ) exactly
    data = sample_clusters(K, Q, K + 2, v=0.0, l_b=l_b, Z=Z, seed=0)
    T = tau1(K, BETA)
    ts = np.linspace(0, 8 * T, 41)
    sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, t_end=8 * T, t_eval=ts)
    exact = typical_margin(ts, K, BETA)
    assert np.max(np.abs(sol.train - exact[:, None])) <= 1e-8
    # event: the first time a margin reaches log 3, exactly t = (log 3 + 2) Kτ/(2β²)
    assert sol.event_time == pytest.approx((LOG3 + 2) * K / (2 * BETA ** 2), rel=1e-8)


@st.composite
def problems(draw):
    N = draw(st.integers(1, 14))
    d = draw(st.integers(1, 6))
    V = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    cw = rng.integers(0, V, N)
    cl = rng.integers(0, V, N)  # may equal cw: Δy = 0 is allowed
    return rng.standard_normal((N, d)), cw, cl, rng.normal(0, 2, N)


@given(p=problems(), loss=st.sampled_from(["sigmoid", "ipo-margin", "hinge", "exponential", "ipo"]))
def test_fast_kernel_equals_the_gram_form(p, loss):
    X, cw, cl, r = p
    ref = gram_rhs(X, cw, cl, r, beta=0.7, tau=1.3, loss=loss)
    scale = max(1.0, np.max(np.abs(ref)))
    for strategy in ("grouped", "sparse"):
        f = MarginField(X, cw, cl, beta=0.7, tau=1.3, loss=loss, strategy=strategy)
        assert np.max(np.abs(f.rates(r)[0] - ref)) <= 1e-12 * scale
    perm = np.random.default_rng(0).permutation(len(r))  # non-contiguous groups: one sorted copy
    got = margin_rhs(X[perm], cw[perm], cl[perm], r[perm], beta=0.7, tau=1.3, loss=loss)
    assert np.max(np.abs(got - ref[perm])) <= 1e-12 * scale


@pytest.mark.parametrize("loss", ["sigmoid", "ipo-margin", "hinge"])
def test_rhs_matches_autograd(loss):
    from dpomath.lastlayer.descent import lemma41_autograd_check

    pytest.importorskip("torch")
    for seed in range(3):
        c = lemma41_autograd_check(seed=seed, loss=loss)
        assert c["max_rel_diff_fast"] <= 1e-12 and c["max_rel_diff_gram"] <= 1e-12


def test_gradient_descent_converges_at_first_order():
    pytest.importorskip("torch")
    data = sample_clusters(K=2, Q=3, d=6, v=0.2, l_b=0.3, seed=4)
    T = 4 * tau1(2, BETA)  # past τ1, where the margins bend
    ode = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, t_end=T, t_eval=[T])
    errs = []
    for n in (25, 50, 100, 200):
        gd = gradient_descent(data.features, data.chosen, data.rejected, beta=BETA, t_end=T,
                              steps=n, record=1)
        errs.append(float(np.max(np.abs(gd.train[-1] - ode.train[-1]))))
    ratios = [a / b for a, b in zip(errs, errs[1:])]
    assert all(1.8 <= q <= 2.2 for q in ratios), (errs, ratios)  # error ∝ step
    assert errs[-1] < 1e-2 * np.max(np.abs(ode.train[-1]))


def test_test_samples_follow_the_training_weights():
    data = sample_clusters(K=2, Q=4, d=7, v=0.1, l_b=0.25, seed=2)
    # a test copy of the training set has the training margins; a sample whose tokens no
    # training sample uses never moves
    Xt = np.vstack([data.features, data.features[:1]])
    tw = np.concatenate([data.chosen, [50]])
    tl = np.concatenate([data.rejected, [51]])
    T = tau1(2, BETA)
    sol = solve_margins(data.features, data.chosen, data.rejected, beta=BETA, t_end=T,
                        test_features=Xt, test_chosen=tw, test_rejected=tl, track_weights=True)
    assert np.max(np.abs(sol.test[:, :-1] - sol.train)) <= 1e-10
    assert np.max(np.abs(sol.test[:, -1])) == 0.0
    # margins rebuilt from W(t) − W0 equal the integrated ones
    dW = sol.delta_W(T)
    row = {int(t): i for i, t in enumerate(sol.field.vocab)}
    r = BETA * np.einsum("nd,nd->n", data.features,
                         dW[[row[int(t)] for t in data.chosen]] - dW[[row[int(t)] for t in data.rejected]])
    assert np.max(np.abs(r - sol.at(T)[0])) <= 1e-10


def test_shared_tokens_like_yes_no():
    # every sample answers with the same two tokens (the persona data's case)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 4))
    yes = rng.integers(0, 2, 20)
    sol = solve_margins(X, 100 + yes, 101 - yes, beta=0.5, t_end=5.0, t_eval=[5.0])
    ref = solve_margins(X, yes, 1 - yes, beta=0.5, t_end=5.0, t_eval=[5.0])  # ids are labels only
    assert np.allclose(sol.train, ref.train, atol=1e-12)
    assert sol.field.train.P == 2


def test_torch_inputs_are_accepted():
    torch = pytest.importorskip("torch")
    X = np.random.default_rng(1).standard_normal((6, 3))
    a = solve_margins(torch.tensor(X), torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([1, 1, 0, 0, 0, 0]),
                      beta=1.0, t_end=1.0, t_eval=[1.0])
    b = solve_margins(X, [0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 0, 0], beta=1.0, t_end=1.0, t_eval=[1.0])
    np.testing.assert_allclose(a.train, b.train, rtol=1e-14, atol=0)  # BLAS inside: no ==


@pytest.mark.parametrize("kw, name, exc", [
    (dict(train_chosen=[0, 1]), "train_chosen", BadValue),
    (dict(train_chosen=[0.0, 1.0, 0.0]), "train_chosen", BadType),
    (dict(train_rejected=[1, -1, 1]), "train_rejected", BadValue),
    (dict(beta=0.0), "beta", BadValue),
    (dict(t_end=-1.0), "t_end", BadValue),
    (dict(t_eval=[0.0, 2.0]), "t_eval", BadValue),
    (dict(test_features=np.ones((2, 2))), "test_features", BadValue),
    (dict(loss="flex"), "loss", BadValue),
    (dict(loss="nope"), "kind", BadValue),
    (dict(train_features=np.ones(3)), "train_features", BadValue),
])
def test_bad_input(kw, name, exc):
    args = dict(train_features=np.eye(3), train_chosen=[0, 1, 0], train_rejected=[1, 0, 1],
                beta=1.0, t_end=1.0)
    args.update(kw)
    with pytest.raises(exc) as e:
        solve_margins(**args)
    assert str(e.value).startswith(name + ":")


def test_simulate_reports_the_window_and_is_json():
    sim = simulate(K=2, Q=5)
    doc = sim.to_dict()
    json.dumps(doc)
    assert sim.within_bounds is doc["within_bounds"]
    p = doc["parameters"]
    assert p["d"] == 25 and p["v"] == pytest.approx(1 / (32 * math.sqrt(5)))
    assert doc["conditions_hold"] and doc["within_bounds"]
    assert LOG3 / 40 <= doc["train_margin_min"] <= doc["train_margin_max"] <= LOG3
    assert doc["event_time_over_tau1"] > 1
    ipo = simulate(K=2, Q=5, loss="ipo-margin")
    assert ipo.parameters["loss"] == "ipo-margin" and ipo.train_margin_max < 1


def test_cli_simulate_json(capsys):
    from dpomath.verify.cli import main

    assert main(["simulate", "--K", "2", "--Q", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {"train_margin_min", "train_margin_max", "test_margin_mean", "event_time",
            "parameters"} <= set(doc)
    assert main(["simulate", "--K", "2", "--Q", "3", "--lb", "0.3", "--loss", "slic"]) == 0
    out = capsys.readouterr().out
    assert "train_margin_min" in out and "hinge" in out
