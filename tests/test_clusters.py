"""Paper I's cluster sampler: geometry, tokens, determinism, the δ variant, and bad input."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from dpomath._args import BadType, BadValue
from dpomath.lastlayer.clusters import DELTA_MODES, concept_vectors, sample_clusters, token_assignment, token_multiplicity


@given(K=st.integers(1, 30), data=st.data())
def test_token_assignment_has_distinct_sets_and_multiplicity_Z(K, data):
    Z = data.draw(st.integers(1, K))
    pt = token_assignment(K, Z)
    assert pt.shape == (K, 2)
    assert all(a != b for a, b in pt)
    assert len({frozenset(map(int, r)) for r in pt}) == K  # no two pairs share a response set
    assert token_multiplicity(pt) == Z


def test_geometry_and_labels():
    data = sample_clusters(K=3, Q=4, d=6, v=0.0, l_b=0.3, seed=1)
    X = data.features
    assert X.shape == (24, 6) and data.N == 24 and data.d == 6
    C, b = data.concepts, data.shared
    assert np.allclose(C @ C.T, np.eye(3)) and np.allclose(C @ b, 0) and np.isclose(b @ b, 0.09)
    # v = 0: every sample sits at its cluster mean ±c_i + b
    assert np.allclose(X, data.cluster_means()[data.cluster])
    # swapped preferences inside a pair
    for i in range(3):
        plus = (data.pair == i) & (data.sign > 0)
        minus = (data.pair == i) & (data.sign < 0)
        assert set(data.chosen[plus]) == set(data.rejected[minus])
        assert set(data.rejected[plus]) == set(data.chosen[minus])


def test_noise_scale_and_determinism():
    a = sample_clusters(K=2, Q=400, d=8, v=0.5, l_b=0.25, seed=7)
    b = sample_clusters(K=2, Q=400, d=8, v=0.5, l_b=0.25, seed=7)
    c = sample_clusters(K=2, Q=400, d=8, v=0.5, l_b=0.25, seed=8)
    assert np.array_equal(a.features, b.features)
    assert not np.array_equal(a.features, c.features)
    resid = a.features - a.cluster_means()[a.cluster]
    assert abs(resid.std() - 0.5) < 0.02


def test_fresh_draw_keeps_the_distribution():
    a = sample_clusters(K=2, Q=3, d=5, v=0.1, l_b=0.25, seed=0, delta=0.2)
    t = a.draw(10, seed=3)
    assert t.N == 40 and np.array_equal(t.concepts, a.concepts)
    assert np.array_equal(t.pair_tokens, a.pair_tokens)


@pytest.mark.parametrize("mode", DELTA_MODES)
@given(delta=st.floats(0.001, 0.499))
def test_delta_concepts_sit_on_the_edge(mode, delta):
    C = concept_vectors(4, 9, delta, mode, np.random.default_rng(0))
    assert np.allclose(np.linalg.norm(C, axis=1), 1.0)
    assert np.allclose(C[np.arange(4), np.arange(1, 5)], 1 - delta ** 2 / 8)


@pytest.mark.parametrize("kw, name", [
    (dict(K=0, Q=1, d=3, v=0.1), "K"),
    (dict(K=2, Q=0, d=3, v=0.1), "Q"),
    (dict(K=3, Q=1, d=3, v=0.1), "d"),
    (dict(K=2, Q=1, d=3, v=-0.1), "v"),
    (dict(K=2, Q=1, d=3, v=0.1, l_b=-1.0), "l_b"),
    (dict(K=2, Q=1, d=3, v=0.1, Z=3), "Z"),
    (dict(K=2, Q=1, d=3, v=0.1, delta=0.5), "delta"),
    (dict(K=2, Q=1, d=3, v=0.1, delta=0.1, delta_mode="sideways"), "delta_mode"),
    (dict(K=2, Q=1, d=3, v=0.1, delta=0.1, delta_mode="shared"), "d"),
    (dict(K=2, Q=1, d=3, v=float("nan")), "v"),
])
def test_bad_input_names_the_parameter(kw, name):
    with pytest.raises(BadValue) as e:
        sample_clusters(**kw)
    assert str(e.value).startswith(name + ":")


def test_bad_types():
    with pytest.raises(BadType, match="^K:"):
        sample_clusters(K=2.0, Q=1, d=3, v=0.1)
    with pytest.raises(BadType, match="^v:"):
        sample_clusters(K=2, Q=1, d=3, v="small")
