"""Paper I's diverse preference distribution (Im & Li 2025, Section 3; Appendix C).

K values, each a *pair* of Gaussian clusters N(±c_i + b, v² I_d) with Q samples per cluster,
N = 2KQ samples in all. b = l_b e_0 is the component every value shares; c_i = e_{i+1} are unit
and mutually orthogonal (and orthogonal to b), so d ≥ K + 1. In Appendix C's variant the
concepts are only δ-approximately orthogonal: ⟨c_i, e_{i+1}⟩ = 1 − δ²/8 (the edge of the
appendix's condition), tilted towards a random, a shared, or the b direction.

Responses are single tokens. Pair i has its own response set {a_i, b_i}: the + cluster prefers
a_i over b_i, the − cluster the reverse (swapped preferences). No two pairs share a response
set. Z is the largest number of pairs whose response sets contain one token (Z = 1: every pair
has two tokens of its own; Z ≥ 2: one "hub" token is shared by the first Z pairs). Theorem 4.2
asks Z ≤ 1/(4 l_b²), which is ≥ 1 exactly when l_b ≤ 1/2.

>>> from dpomath.lastlayer.clusters import sample_clusters
>>> data = sample_clusters(K=2, Q=3, d=4, v=0.01, l_b=0.25, seed=0)
>>> data.features.shape, data.chosen.tolist(), data.rejected.tolist()
((12, 4), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], [1, 1, 1, 0, 0, 0, 3, 3, 3, 2, 2, 2])
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _args

__all__ = ["ClusterData", "sample_clusters", "token_assignment", "token_multiplicity",
           "concept_vectors", "DELTA_MODES"]

#: How δ-approximately orthogonal concepts tilt away from their basis vectors.
DELTA_MODES = ("random", "shared", "toward-b")


def token_assignment(K: int, Z: int = 1) -> np.ndarray:
    """(K, 2) token ids {a_i, b_i} of each pair: distinct response sets, largest token
    multiplicity exactly Z. Z = 1: pair i gets tokens (2i, 2i+1); Z ≥ 2: token 0 is shared by
    pairs 0..Z−1 as (0, i+1), the other pairs get fresh tokens."""
    K = _args.integer("K", K, lo=1)
    Z = _args.integer("Z", Z, lo=1, hi=K)
    if Z == 1:
        return np.arange(2 * K, dtype=np.int64).reshape(K, 2)
    out = np.empty((K, 2), dtype=np.int64)
    out[:Z, 0] = 0
    out[:Z, 1] = np.arange(1, Z + 1)
    nxt = Z + 1
    for i in range(Z, K):
        out[i] = (nxt, nxt + 1)
        nxt += 2
    return out


def token_multiplicity(pair_tokens) -> int:
    """Z of an assignment: the largest number of response sets that contain one token."""
    pt = np.asarray(pair_tokens)
    if pt.ndim != 2 or pt.shape[1] != 2 or pt.dtype.kind not in "iu":
        raise _args.BadValue(f"pair_tokens: expected a (K, 2) integer array, got shape {pt.shape}")
    sets = [frozenset(map(int, row)) for row in pt]
    counts: dict[int, int] = {}
    for s in sets:
        for tok in s:
            counts[tok] = counts.get(tok, 0) + 1
    return max(counts.values())


def concept_vectors(K: int, d: int, delta: float = 0.0, mode: str = "random",
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """(K, d) unit concept vectors c_i. δ = 0: c_i = e_{i+1}. δ > 0: c_i = α e_{i+1} + s u_i
    with α = 1 − δ²/8, s = √(1 − α²) and u_i a unit vector ⟂ e_{i+1}: random (``random``),
    the same e_{K+1} for all (``shared``; c_i·c_k = s²), or b's direction e_0 (``toward-b``;
    c_i·c_k = s², c_i·b = s l_b)."""
    K = _args.integer("K", K, lo=1)
    d = _args.integer("d", d, lo=K + 1)
    delta = _args.real("delta", delta, lo=0.0, hi=0.5, hi_open=True)
    _args.choice("delta_mode", mode, DELTA_MODES)
    C = np.zeros((K, d))
    C[np.arange(K), np.arange(1, K + 1)] = 1.0
    if delta == 0.0:
        return C
    alpha = 1.0 - delta * delta / 8.0
    s = np.sqrt(1.0 - alpha * alpha)
    if mode == "random":
        rng = rng if rng is not None else np.random.default_rng(0)
        U = rng.standard_normal((K, d))
        U[np.arange(K), np.arange(1, K + 1)] = 0.0
        U /= np.linalg.norm(U, axis=1, keepdims=True)
    elif mode == "shared":
        if d < K + 2:
            raise _args.BadValue(f"d: delta_mode 'shared' needs d >= K + 2 = {K + 2}, got {d}")
        U = np.zeros((K, d))
        U[:, K + 1] = 1.0
    else:  # toward-b
        U = np.zeros((K, d))
        U[:, 0] = 1.0
    return alpha * C + s * U


@dataclass(frozen=True)
class ClusterData:
    """Samples of the diverse preference distribution.

    ``features`` (N, d) are the frozen last hidden states g(x); ``chosen``/``rejected`` (N,)
    token ids; ``pair`` (N,) the value index i; ``sign`` (N,) +1 for C_{i,+}, −1 for C_{i,−}.
    Samples are stored pair by pair, + cluster first, so each cluster is a contiguous block.
    """

    features: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    pair: np.ndarray
    sign: np.ndarray
    concepts: np.ndarray      # (K, d) c_i
    shared: np.ndarray        # (d,) b
    pair_tokens: np.ndarray   # (K, 2) {a_i, b_i}; + cluster prefers a_i
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def N(self) -> int:
        return int(self.features.shape[0])

    @property
    def d(self) -> int:
        return int(self.features.shape[1])

    @property
    def cluster(self) -> np.ndarray:
        """Cluster label 2i (C_{i,+}) or 2i + 1 (C_{i,−})."""
        return 2 * self.pair + (self.sign < 0)

    def cluster_means(self) -> np.ndarray:
        """(2K, d) means ±c_i + b, in cluster-label order."""
        K = self.concepts.shape[0]
        M = np.empty((2 * K, self.d))
        M[0::2] = self.concepts + self.shared
        M[1::2] = -self.concepts + self.shared
        return M

    def draw(self, Q: int, seed: int | np.random.Generator = 1) -> "ClusterData":
        """Fresh samples (Q per cluster) of the same distribution: same concepts, b, tokens."""
        return _draw(self.concepts, self.shared, self.pair_tokens, Q, self.params["v"],
                     _rng(seed), dict(self.params, Q=_args.integer("Q", Q, lo=1)))


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_args.integer("seed", seed, lo=0))


def _draw(C, b, pair_tokens, Q, v, rng, params) -> ClusterData:
    K, d = C.shape
    N = 2 * K * Q
    X = rng.standard_normal((N, d))
    if v != 1.0:
        X *= v
    pair = np.repeat(np.arange(K), 2 * Q)
    sign = np.tile(np.repeat([1, -1], Q), K)
    for i in range(K):
        s = 2 * i * Q
        X[s:s + Q] += C[i] + b
        X[s + Q:s + 2 * Q] += -C[i] + b
    a, bb = pair_tokens[pair, 0], pair_tokens[pair, 1]
    chosen = np.where(sign > 0, a, bb).astype(np.int64)
    rejected = np.where(sign > 0, bb, a).astype(np.int64)
    return ClusterData(X, chosen, rejected, pair, sign, C, b, pair_tokens, params)


def sample_clusters(K: int, Q: int, d: int, *, v: float, l_b: float = 0.25, Z: int = 1,
                    delta: float = 0.0, delta_mode: str = "random",
                    seed: int | np.random.Generator = 0) -> ClusterData:
    """Draw Q samples from each of the 2K clusters N(±c_i + b, v² I_d).

    K ≥ 1 values; Q ≥ 1 samples per cluster; d ≥ K + 1 (b ⟂ every c_i); v ≥ 0 (v = 0 puts
    every sample at its cluster mean); l_b ≥ 0 = ‖b‖; Z ∈ [1, K] the largest token
    multiplicity; δ ∈ [0, 1/2) Appendix C's approximate orthogonality. Deterministic for a seed.

    Parameters
    ----------
    K, Q, d : int
        Values, samples per cluster, feature dimension.
    v, l_b : float
        Cluster spread and ‖b‖.
    Z : int
        The largest token multiplicity.
    delta : float
        Appendix C's δ; ``delta_mode`` how the concepts tilt.
    seed : int or numpy.random.Generator

    Returns
    -------
    ClusterData
    """
    K = _args.integer("K", K, lo=1)
    Q = _args.integer("Q", Q, lo=1)
    d = _args.integer("d", d)
    if d < K + 1:
        raise _args.BadValue(f"d: must be >= K + 1 = {K + 1} (b and the K concept directions "
                             f"are orthogonal), got {d}")
    v = _args.real("v", v, lo=0.0)
    l_b = _args.real("l_b", l_b, lo=0.0)
    Z = _args.integer("Z", Z, lo=1)
    if Z > K:
        raise _args.BadValue(f"Z: must be <= K = {K} (a token can appear in at most K response "
                             f"sets), got {Z}")
    delta = _args.real("delta", delta, lo=0.0, hi=0.5, hi_open=True)
    _args.choice("delta_mode", delta_mode, DELTA_MODES)
    rng = _rng(seed)
    C = concept_vectors(K, d, delta, delta_mode, rng)
    b = np.zeros(d)
    b[0] = l_b
    params = {"K": K, "Q": Q, "d": d, "v": v, "l_b": l_b, "Z": Z, "delta": delta,
              "delta_mode": delta_mode}
    return _draw(C, b, token_assignment(K, Z), Q, v, rng, params)
