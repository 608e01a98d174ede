"""Last-layer DPO on the response rows equals full-head training (synthetic heads here; the
real-model check is in test_validation_model.py); its full-softmax log-probabilities are
exact; the Lemma 4.1 ODE matches gradient descent on features (V-ODE's machinery)."""
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import log_softmax

torch = pytest.importorskip("torch")

from dpomath._args import BadType, BadValue  # noqa: E402
from dpomath.validation import train as T  # noqa: E402
from dpomath.validation.ksweep import growth_rate  # noqa: E402


def _problem(seed, N=40, d=8, V=30, n_tok=2, shared=1.0):
    rng = np.random.default_rng(seed)
    W0 = rng.normal(size=(V, d))
    G = rng.normal(size=(N, d)) + shared * rng.normal(size=d)
    toks = rng.choice(V, n_tok, replace=False)
    c = rng.choice(toks, N)
    r = np.array([rng.choice([t for t in toks if t != x]) for x in c])
    lse = np.log(np.exp(G @ W0.T).sum(1))
    return W0, T.PreferenceSplit(G, c, r, lse)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), opt=st.sampled_from(["adam", "gd"]), n_tok=st.sampled_from([2, 3]))
def test_rows_equal_full_head(seed, opt, n_tok):
    W0, s = _problem(seed, n_tok=n_tok)
    _, te = _problem(seed + 1, N=10, n_tok=n_tok)
    te = T.PreferenceSplit(te.features, s.chosen[:10], s.rejected[:10])
    cfg = T.TrainConfig(steps=30, lr=1e-2 if opt == "adam" else 5.0, optimizer=opt, beta=0.1,
                        record_margins=True)
    rows = T.train_rows({int(t): W0[t] for t in range(len(W0))}, s, te, cfg)
    full = T.train_full_head(W0, s, cfg, te)
    for k in ("train", "test"):
        assert np.max(np.abs(rows.margins[k] - full.margins[k])) < 1e-10
        assert np.allclose(rows.history[k]["loss"], full.history[k]["loss"], atol=1e-12)
    assert np.max(np.abs(rows.margins["train"][-1])) > 1e-3  # it did train


def test_logps_are_the_exact_full_softmax():
    W0, s = _problem(3, n_tok=3)
    res = T.train_rows({int(t): W0[t] for t in range(len(W0))}, s, None, T.TrainConfig(steps=20, lr=0.05))
    W = W0.copy()
    W[res.tokens] = res.rows
    lp = log_softmax(s.features @ W.T, axis=1)
    ar = np.arange(len(s))
    assert np.allclose(res.logps["train"]["chosen"], lp[ar, s.chosen], atol=1e-10)
    assert np.allclose(res.logps["train"]["rejected"], lp[ar, s.rejected], atol=1e-10)
    other = np.log1p(-np.exp(lp[ar, s.chosen]) - np.exp(lp[ar, s.rejected]))
    assert np.allclose(res.logps["train"]["other"], other, atol=1e-10)
    lp0 = log_softmax(s.features @ W0.T, axis=1)
    assert np.allclose(res.logps["train"]["chosen0"], lp0[ar, s.chosen], atol=1e-10)
    h = res.history["train"]
    assert np.isclose(h["logps/chosen"][-1], lp[ar, s.chosen].mean())
    assert np.isclose(h["probs/other"][-1], np.exp(other).mean())


def test_metrics_use_trl_names_and_start_at_the_reference():
    W0, s = _problem(5)
    res = T.train_rows({int(t): W0[t] for t in range(len(W0))}, s, s, T.TrainConfig(steps=5))
    h = res.history["train"]
    for k in ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
              "logps/chosen", "logps/rejected", "loss", "error", "logps/other"):
        assert len(h[k]) == 6
    # at the reference the margins are 0 up to rounding: z and z0 are separate BLAS products,
    # which may differ in the last bits on another machine (6e-19 seen), so no exact 0 — and
    # the error at step 0 (ties count as errors) is rounding noise, not checked
    assert abs(h["rewards/margins"][0]) <= 1e-12 and np.isclose(h["loss"][0], np.log(2))
    assert np.allclose(h["rewards/margins"], h["rewards/chosen"] - h["rewards/rejected"])
    assert np.allclose(h["error"], 1 - h["rewards/accuracies"])


def test_two_response_rows_move_exactly_opposite():
    W0, s = _problem(7, n_tok=2)
    res = T.train_rows({int(t): W0[t] for t in range(len(W0))}, s, None, T.TrainConfig(steps=50, lr=0.01))
    dW = res.rows - res.rows0
    assert np.linalg.norm(dW[0] + dW[1]) <= 1e-12 * np.linalg.norm(dW[0])


def test_bad_inputs_are_named():
    W0, s = _problem(1)
    with pytest.raises(BadValue, match="^features"):
        T.PreferenceSplit(np.zeros(3), np.zeros(3, int), np.ones(3, int))
    with pytest.raises(BadValue, match="^chosen, rejected"):
        T.PreferenceSplit(np.zeros((2, 3)), np.array([1, 2]), np.array([1, 3]))
    with pytest.raises(BadType, match="^chosen"):
        T.PreferenceSplit(np.zeros((2, 3)), np.array([1.0, 2.0]), np.array([0, 3]))
    with pytest.raises(BadValue, match="^head_rows"):
        T.train_rows({}, s)
    with pytest.raises(BadValue, match="^optimizer"):
        T.TrainConfig(optimizer="sgd")
    with pytest.raises(BadValue, match="^beta"):
        T.TrainConfig(beta=0)
    with pytest.raises(BadValue, match="^loss"):
        T.TrainConfig(loss="flex")


def test_growth_rate_is_the_slope_of_the_mean_margin():
    rng = np.random.default_rng(0)
    M = np.cumsum(rng.random((11, 7)), axis=0)
    rate, se = growth_rate(M)
    assert np.isclose(rate, np.polyfit(np.arange(11), M.mean(1), 1)[0])
    assert se > 0
    assert np.isclose(growth_rate(M[::2], np.arange(0, 11, 2))[0], np.polyfit(np.arange(0, 11, 2), M[::2].mean(1), 1)[0])


# ---------------------------------------------------------------- V-ODE machinery

def _reference_solver():
    """A plain Lemma 4.1 integrator, used only when dpomath.lastlayer.margins is not in this build."""
    from scipy.integrate import solve_ivp
    from scipy.special import expit

    def solve_margins(train_features, train_chosen, train_rejected, *, beta, tau=1.0, t_end,
                      loss="sigmoid", test_features=None, test_chosen=None, test_rejected=None,
                      t_eval=None, rtol=1e-10, atol=1e-12):
        G = np.asarray(train_features, float)
        toks = np.unique(np.concatenate([train_chosen, train_rejected]))
        pos = {t: i for i, t in enumerate(toks)}

        def U(c, r):
            u = np.zeros((len(c), len(toks)))
            u[np.arange(len(c)), [pos[t] for t in c]] += 1
            u[np.arange(len(c)), [pos[t] for t in r]] -= 1
            return u
        Utr, N = U(train_chosen, train_rejected), len(G)
        Gte = None if test_features is None else np.asarray(test_features, float)
        Ute = None if Gte is None else U(test_chosen, test_rejected)

        def rhs(t, r):
            M = (Utr * expit(-r[:N])[:, None]).T @ G
            out = beta ** 2 / (N * tau) * np.einsum("nk,kd,nd->n", Utr, M, G)
            if Gte is not None:
                out = np.concatenate([out, beta ** 2 / (N * tau) * np.einsum("nk,kd,nd->n", Ute, M, Gte)])
            return out
        n0 = N + (0 if Gte is None else len(Gte))
        sol = solve_ivp(rhs, (0, t_end), np.zeros(n0), t_eval=t_eval, rtol=rtol, atol=atol, method="DOP853")
        return types.SimpleNamespace(t=sol.t, train=sol.y.T[:, :N],
                                     test=None if Gte is None else sol.y.T[:, N:])
    return solve_margins


@pytest.fixture
def margins_module(monkeypatch):
    try:
        from dpomath.lastlayer.margins import solve_margins  # noqa: F401
        return "dpomath.lastlayer.margins"
    except (ImportError, AttributeError):
        mod = types.ModuleType("dpomath.lastlayer.margins")
        mod.solve_margins = _reference_solver()
        monkeypatch.setitem(sys.modules, "dpomath.lastlayer.margins", mod)
        return "reference"


def test_gd_follows_the_lemma_41_ode_with_first_order_error(margins_module):
    from dpomath.validation.ode import compare_ode_gd

    rng = np.random.default_rng(0)
    K, Q, d = 3, 20, 12
    C = np.eye(d)[1:K + 1]
    b = 0.3 * np.eye(d)[0]
    G, ch, rj = [], [], []
    for i in range(K):
        for s in (1, -1):
            G.append(s * C[i] + b + 0.05 * rng.normal(size=(Q, d)))
            ch += [10 + 2 * i if s > 0 else 11 + 2 * i] * Q
            rj += [11 + 2 * i if s > 0 else 10 + 2 * i] * Q
    G = np.concatenate(G) * 30.0
    tr = T.PreferenceSplit(G, np.array(ch), np.array(rj))
    rows = {t: rng.normal(size=d) for t in range(10, 10 + 2 * K)}
    cmp = compare_ode_gd(rows, tr, tr, beta=0.01)
    assert cmp.err_half < 0.02 and 1.6 < cmp.err / cmp.err_half < 2.4, (cmp.err, cmp.err_half)
    assert cmp.ode_train[-1].mean() > 0.3  # the margins moved well away from 0
    assert cmp.eta * cmp.curvature <= 0.5 + 1e-12
