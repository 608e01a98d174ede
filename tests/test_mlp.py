"""Paper Y's toy model: SFT targets, determinism, batched program = one-run reference."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dpomath.toys import mlp as toy  # noqa: E402
from dpomath.toys.sweeps import FULL  # noqa: E402
from dpomath._args import BadType, BadValue  # noqa: E402

K = {name: i for i, name in enumerate(toy.STATS)}


def test_sft_targets_are_distributions_with_the_scenario_probabilities():
    for sc, (c, r) in toy.SCENARIOS.items():
        t = toy.sft_targets(sc)
        assert t.shape == (4, 10)
        np.testing.assert_allclose(t.sum(1), 1.0, atol=1e-15)
        pc, pr = (toy.P_ON if v == "on" else toy.P_OFF for v in (c, r))
        for i in range(4):
            assert t[i, i] == pc
            assert np.all(t[i, 4:8] == pr)
            assert np.all(t[i, 8:] > 0)


@pytest.mark.parametrize("width", [0, 16, 32])
def test_sft_stage_reaches_targets_within_1e_3(width):
    seeds, scen = [0, 1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 1, 2, 3, 4]
    ps, err = toy.sft(seeds, scen, width)
    assert err.shape == (8,)
    assert err.max() < 1e-3
    with torch.no_grad():
        p = torch.softmax(toy._forward("mlp" if width else "free-logit", ps), -1).numpy()
    want = np.stack([toy.sft_targets(s) for s in scen])
    assert np.abs(p - want).max() < 1e-3


def test_sft_stage_without_completion_is_only_approximate():
    """The exact completion matters: Adam alone (few steps) is not within 1e-3 everywhere, and
    the completed stage is — so the test above can fail."""
    seeds = list(range(8))
    scen = [1, 2, 3, 4] * 2
    ps = toy._stack([toy.init_params(s, 16) for s in seeds], toy._PARAM_NAMES["mlp"])
    want = torch.tensor(np.stack([toy.sft_targets(s) for s in scen]))
    err0 = (torch.softmax(toy._forward("mlp", ps), -1) - want).abs().max().item()
    assert err0 > 1e-3
    _, err = toy.sft(seeds, scen, 16, steps=0)   # completion alone from the random init
    assert err.max() < 1e-12


SETTINGS = [toy.Setting(2, "adam", 1e-2, 0.1, 16), toy.Setting(4, "sgd", 1.0, 0.5, 16),
            toy.Setting(1, "adam", 1e-3, 0.1, 16, "flex", beta_minus=0.04),
            toy.Setting(3, "sgd", 0.1, 0.1, 16, "sft", gamma=0.1),
            toy.Setting(2, "adam", 1e-2, 0.1, 0), toy.Setting(1, "sgd", 1.0, 0.1, 0, "sft", gamma=0.3)]


@pytest.fixture(scope="module")
def small_run():
    return toy.run(SETTINGS, [3, 11], epochs=40, record_every=1, keep_final_logp=True, desc="")


def test_runs_are_deterministic_for_a_seed(small_run):
    again = toy.run(SETTINGS, [3, 11], epochs=40, record_every=1, keep_final_logp=True, desc="")
    assert np.array_equal(small_run.history, again.history)
    assert np.array_equal(small_run.final_logp, again.final_logp)


def test_batched_run_equals_one_run_references(small_run):
    """Each (setting, seed) of the batched program equals the plain torch.nn/torch.optim run."""
    for k, s in enumerate(SETTINGS):
        for n, seed in enumerate(small_run.seeds):
            ref = toy.reference_run(s, seed, epochs=40)
            np.testing.assert_allclose(small_run.final_logp[k, n], ref["logp"][-1], atol=1e-8, rtol=0)
            np.testing.assert_allclose(small_run.history[k, n, :, K["loss"]], ref["loss"], atol=1e-10,
                                       rtol=1e-9)


def test_batched_run_equals_per_seed_runs(small_run):
    one = toy.run(SETTINGS[:3], [11], epochs=40, record_every=1, keep_final_logp=True, desc="")
    np.testing.assert_allclose(one.final_logp[:, 0], small_run.final_logp[:3, 1], atol=1e-10, rtol=0)
    np.testing.assert_allclose(one.history[:, 0], small_run.history[:3, 1], atol=1e-10, rtol=1e-9)


def test_recorded_statistics_match_their_definitions(small_run):
    """Final statistics recomputed from the final log-probabilities and the pair data."""
    r = small_run
    for k, s in enumerate(SETTINGS):
        for n, seed in enumerate(r.seeds):
            lp = r.final_logp[k, n]
            p = np.exp(lp)
            counts = toy.pair_counts(seed, r.pairs_per_prompt)
            paired = counts > 0
            st = r.history[k, n, -1]
            pc = p[range(4), range(4)]
            assert math.isclose(st[K["p_chosen_mean"]], pc.mean(), rel_tol=1e-12)
            assert math.isclose(st[K["p_chosen_min"]], pc.min(), rel_tol=1e-12)
            for i in range(4):
                assert math.isclose(st[K[f"p_chosen_prompt{i + 1}"]], pc[i], rel_tol=1e-12)
                assert math.isclose(r.metrics[f"peak_p_chosen_prompt{i + 1}"][k, n],
                                    r.history[k, n, :, K[f"p_chosen_prompt{i + 1}"]].max(), rel_tol=1e-12)
            assert math.isclose(st[K["p_rejected_mean"]], p[:, 4:8][paired].mean(), rel_tol=1e-12)
            assert math.isclose(st[K["p_rejected_max"]], p[:, 4:8][paired].max(), rel_tol=1e-12)
            assert math.isclose(st[K["p_unseen_mass"]], p[:, 8:].sum(1).mean(), rel_tol=1e-12)
            other = np.array([p[i, [j for j in range(4) if j != i]].sum() for i in range(4)]).mean()
            assert math.isclose(st[K["p_other_mass"]], other, rel_tol=1e-12)
            assert math.isclose(st[K["logp_rejected"]], lp[:, 4:8][paired].mean(), rel_tol=1e-12)
            assert math.isclose(st[K["logp_unseen"]], lp[:, 8:].mean(), rel_tol=1e-12)
            others = [[j for j in range(4) if j != i] for i in range(4)]
            assert math.isclose(st[K["logp_other"]], np.mean([lp[i, o] for i, o in enumerate(others)]),
                                rel_tol=1e-12)
            neither = [o + [8, 9] for o in others]
            assert math.isclose(st[K["logp_neither"]], np.mean([lp[i, n] for i, n in enumerate(neither)]),
                                rel_tol=1e-12)
            assert math.isclose(st[K["log_unseen_mass"]], math.log(p[:, 8:].sum(1).mean()), rel_tol=1e-12)
            assert math.isclose(st[K["log_neither_mass"]],
                                math.log(np.mean([p[i, n].sum() for i, n in enumerate(neither)])), rel_tol=1e-12)
            assert math.isclose(r.metrics["peak_p_chosen"][k, n],
                                r.history[k, n, :, K["p_chosen_mean"]].max(), rel_tol=1e-12)


def test_gradient_norm_statistics_follow_corollary_1():
    """One pair per prompt, DPO: |∂ℓ/∂π(rejected)| / |∂ℓ/∂π(chosen)| = π(chosen)/π(rejected) for each
    pair (paper Y, Corollary 1) — so the recorded norms satisfy it prompt by prompt."""
    s = toy.Setting(2, "sgd", 1.0, 0.1, 0)
    r = toy.run([s], [5], epochs=10, pairs_per_prompt=1, record_every=1, keep_final_logp=True, desc="")
    lp = r.final_logp[0, 0]
    pairs = toy.pairs(5, 1)
    pc = np.exp(lp[pairs[:, 0], pairs[:, 0]])
    pr = np.exp(lp[pairs[:, 0], pairs[:, 1]])
    st = r.history[0, 0, -1]
    # L = (1/4) Σ_i ℓ_i; |∂L/∂π(c_i)| = βσ(−ρ_i)/(4π(c_i)), |∂L/∂π(r_i)| = βσ(−ρ_i)/(4π(r_i))
    h = lp - np.log(toy.sft_targets(2))          # the free-logit SFT model is log t exactly
    rho = 0.1 * (h[pairs[:, 0], pairs[:, 0]] - h[pairs[:, 0], pairs[:, 1]])
    w = 0.1 / (1 + np.exp(rho)) / 4
    assert math.isclose(st[K["log_grad_chosen"]], 0.5 * math.log(np.sum((w / pc) ** 2)), rel_tol=1e-9)
    assert math.isclose(st[K["log_grad_rejected"]], 0.5 * math.log(np.sum((w / pr) ** 2)), rel_tol=1e-9)


def test_pairs_are_seeded_and_shared_across_widths():
    a, b = toy.pairs(3, 16), toy.pairs(3, 16)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, toy.pairs(4, 16))
    c = toy.pair_counts(3, 16)
    assert c.sum() == 64 and np.all(c.sum(1) == 16)
    assert set(np.unique(a[:, 1])) <= set(toy.REJECTED)


def test_sweep_spec_covers_the_required_grid():
    spec = FULL
    assert spec.seeds >= 20 and spec.epochs == 500
    assert set(spec.optimizers) == {"adam", "sgd"} and len(spec.widths) >= 2
    assert all(len(spec.lr_values(o)) >= 2 for o in spec.optimizers)
    assert {0.1, 0.5} <= set(spec.betas)
    assert spec.flex_beta_plus == 0.1 and min(spec.flex_beta_minus) == 0.02 and max(spec.flex_beta_minus) == 0.14
    sets = spec.all_settings()
    assert len(sets) == len(set(sets))
    for s in spec.flex_settings():   # the β₋ = β₊ point is the DPO run itself
        assert toy.Setting(s.scenario, s.optimizer, s.lr, 0.1, s.width) in sets


def test_bad_arguments_name_the_parameter():
    with pytest.raises(BadValue, match="^scenario"):
        toy.Setting(5)
    with pytest.raises(BadValue, match="^beta_minus"):
        toy.Setting(1, loss="flex")
    with pytest.raises(BadValue, match="^gamma"):
        toy.Setting(1, gamma=0.1)
    with pytest.raises(BadValue, match="^optimizer"):
        toy.Setting(1, optimizer="rmsprop")
    with pytest.raises(BadValue, match="^settings"):
        toy.run([], [0])
    with pytest.raises(BadValue, match="^seeds"):
        toy.run([toy.Setting(1)], [1, 1])
    with pytest.raises(BadType, match="^settings"):
        toy.run(["S1"], [0])
    with pytest.raises(BadValue, match="^epochs"):
        toy.run([toy.Setting(1)], [0], epochs=0)


def test_trajectory_is_kept_at_the_checkpoints(small_run):
    """Every statistic at each checkpoint (a tenth, half, all of training) equals the history
    there, and the running peaks equal the maximum over the epochs up to it."""
    r = small_run
    assert r.checkpoints == toy.checkpoint_epochs(40) == (4, 20, 40)
    assert toy.checkpoint_epochs(500) == (50, 250, 500) and toy.checkpoint_epochs(1) == (1,)
    for k, s in enumerate(SETTINGS):
        for e in r.checkpoints:
            row = list(r.epochs_recorded).index(e)
            for name in toy.STATS:
                np.testing.assert_array_equal(r.at(name, s, e), r.history[k, :, row, K[name]])
            for name in toy.PEAKED:
                np.testing.assert_array_equal(r.at("peak_" + name, s, e),
                                              r.history[k, :, :row + 1, K[name]].max(1))
        np.testing.assert_array_equal(r.at("loss", s, 0), r.history[k, :, 0, K["loss"]])
        np.testing.assert_array_equal(r.at("loss", s, 40), r.metric("loss_end", s))
    with pytest.raises(BadValue):
        r.at("loss", SETTINGS[0], 7)


def test_log_masses_stay_exact_where_the_mass_underflows_its_relative_change():
    """A run whose unseen mass collapses: log_unseen_mass keeps the log exactly (log-sum-exp),
    where the old relative change m_end/m_start − 1 rounds to −1."""
    s = toy.Setting(2, "adam", 1e-2, 0.1, 16)
    r = toy.run([s], [0, 1], epochs=300, record_every=50, desc="")
    m0, m1 = r.metric("p_unseen_mass_start", s), r.metric("p_unseen_mass_end", s)
    lg = r.metric("log_unseen_mass_end", s) - r.metric("log_unseen_mass_start", s)
    assert np.all(m1 / m0 < 1e-12)
    np.testing.assert_allclose(lg, np.log(m1) - np.log(m0), rtol=1e-9)
    assert np.all(lg < -20) and abs(lg[0] - lg[1]) > 0.01      # not tied on the log scale
