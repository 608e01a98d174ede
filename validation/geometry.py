"""Geometry of persona features against paper I's data model.

Paper I's model (Section 3): pair i of clusters is N(±c_i + b, v² I_d) with unit, mutually
orthogonal c_i and a shared b = l_b e_1 orthogonal to every c_i; within a cluster the
responses are fixed and the two clusters of a pair swap them. On persona data, persona i's
"+" cluster is its statements whose chosen answer is the first response token (" Yes" for
the Anthropic data: statements the persona agrees with) and its "−" cluster the others, so
c_i = (μ_{i,+} − μ_{i,−})/2 and b_i = (μ_{i,+} + μ_{i,−})/2. Everything is measured in units
of the mean ‖c_i‖, the theory's unit length.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["cosine_matrix", "persona_cosines", "ClusterStats", "cluster_stats", "gaussian_stats"]


def cosine_matrix(X: np.ndarray) -> np.ndarray:
    """Cosine similarity of the rows of X."""
    n = np.linalg.norm(X, axis=1, keepdims=True)
    U = X / np.where(n > 0, n, 1.0)
    return U @ U.T


def persona_cosines(groups: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Paper I's Figure 3 statistics for persona feature sets (each (n_i, d)).

    ``centroid_raw`` / ``centroid_demeaned``: cosine of the persona-mean embeddings, raw and
    after subtracting the mean of all features. ``sample_raw`` / ``sample_demeaned``: the
    mean over sample pairs (one from each persona) of their cosine, raw and demeaned (the
    paper's code's statistic).
    """
    allx = np.concatenate(groups).astype(np.float64)
    mu = allx.mean(axis=0)
    cent = np.stack([g.astype(np.float64).mean(axis=0) for g in groups])

    def sample_cos(gs):
        U = [g / np.linalg.norm(g, axis=1, keepdims=True) for g in gs]
        m = np.stack([u.mean(axis=0) for u in U])
        return m @ m.T  # mean_{a∈i, b∈j} cos(a, b) = (mean unit vector of i) · (of j)

    return {"centroid_raw": cosine_matrix(cent), "centroid_demeaned": cosine_matrix(cent - mu),
            "sample_raw": sample_cos([g.astype(np.float64) for g in groups]),
            "sample_demeaned": sample_cos([g.astype(np.float64) - mu for g in groups])}


def off_diagonal(M: np.ndarray) -> np.ndarray:
    return M[~np.eye(len(M), dtype=bool)]


def gaussian_stats(X: np.ndarray) -> dict[str, float]:
    """Paper I's Gaussian statistics of one feature cluster: the covariance's Frobenius norm,
    the mean squared distance from the mean (= trace of the covariance = v² d for N(μ, v² I_d)),
    and the effective rank trace² / ‖Σ‖_F² (= d for an isotropic cluster)."""
    X = X.astype(np.float64)
    C = np.cov(X, rowvar=False) if len(X) > 1 else np.zeros((X.shape[1], X.shape[1]))
    fro = float(np.linalg.norm(C))
    msd = float(np.mean(np.sum((X - X.mean(axis=0)) ** 2, axis=1)))
    tr = float(np.trace(C))
    return {"cov_frobenius": fro, "mean_sq_dist": msd, "effective_rank": tr * tr / fro ** 2 if fro > 0 else 0.0,
            "mean_norm": float(np.linalg.norm(X.mean(axis=0)))}


@dataclass
class ClusterStats:
    """Paper I's data-model parameters estimated from persona clusters (in units of the mean
    ‖c_i‖): l_b, v, the cosines between the c_i and with b, cluster sizes Q, Z, d."""

    scale: float
    l_b: float
    v: float
    Q_min: int
    Q_median: float
    Z: int
    d: int
    K: int
    c_norms: np.ndarray
    cos_cc: np.ndarray
    cos_cb: np.ndarray
    response_sets: int

    @property
    def max_abs_cos_cc(self) -> float:
        return float(np.max(np.abs(off_diagonal(self.cos_cc)))) if self.K > 1 else 0.0

    @property
    def max_abs_cos_cb(self) -> float:
        return float(np.max(np.abs(self.cos_cb)))


def cluster_stats(features: np.ndarray, chosen: np.ndarray, rejected: np.ndarray,
                  group: np.ndarray) -> ClusterStats:
    """Estimate the data model from pairs ``(features, chosen, rejected)`` grouped by persona."""
    features = features.astype(np.float64)
    cs, bs, dev2, sizes, clusters = [], [], [], [], []
    tokens_in: dict[int, int] = {}
    for gi in np.unique(group):
        m = group == gi
        toks = np.unique(np.concatenate([chosen[m], rejected[m]]))
        plus = m & (chosen == toks[0])
        minus = m & ~plus
        if plus.sum() == 0 or minus.sum() == 0:
            continue
        mp, mm = features[plus].mean(axis=0), features[minus].mean(axis=0)
        cs.append((mp - mm) / 2)
        bs.append((mp + mm) / 2)
        for sel, mu in ((plus, mp), (minus, mm)):
            dev2.append(np.sum((features[sel] - mu) ** 2))
            sizes.append(int(sel.sum()))
        pair = frozenset(int(t) for t in toks)   # the persona's response set
        clusters.append(pair)
        for t in pair:                            # Z counts cluster pairs using a token
            tokens_in[t] = tokens_in.get(t, 0) + 1
    C, B = np.array(cs), np.array(bs)
    d = features.shape[1]
    scale = float(np.mean(np.linalg.norm(C, axis=1)))
    b = B.mean(axis=0)
    v = float(np.sqrt(np.sum(dev2) / (np.sum(sizes) * d))) / scale
    return ClusterStats(scale=scale, l_b=float(np.linalg.norm(b)) / scale, v=v,
                        Q_min=int(min(sizes)), Q_median=float(np.median(sizes)),
                        Z=max(tokens_in.values()), d=d, K=len(C),
                        c_norms=np.linalg.norm(C, axis=1) / scale, cos_cc=cosine_matrix(C),
                        cos_cb=(C @ b) / (np.linalg.norm(C, axis=1) * np.linalg.norm(b)),
                        response_sets=len(set(clusters)))


def synthetic_persona_groups(K: int = 16, d: int = 64, n: int = 50, block_cos: float | None = None,
                             shared: float = 5.0, noise: float = 0.5, seed: int = 0) -> list[np.ndarray]:
    """K synthetic persona feature sets with a large shared component: persona i's samples are
    ``shared``·e_0 + c_i + N(0, noise² I_d). The c_i are unit vectors, exactly orthogonal
    (``block_cos=None``) or in two blocks of K/2 with cosine ``block_cos`` inside a block
    (c_i = √ρ u_block + √(1 − ρ) e_i). A known truth for the orthogonality statistics.

    Parameters
    ----------
    K, d, n : int
        Personas, dimension (≥ K + 3), samples per persona.
    block_cos : float, optional
    shared, noise : float
    seed : int

    Returns
    -------
    list of ndarray
        K arrays of shape (n, d).
    """
    if d < K + 3:
        raise ValueError(f"d: must be at least K + 3 = {K + 3}, got {d}")
    rng = np.random.default_rng(seed)
    E = np.eye(d)
    C = E[1:K + 1].copy()
    if block_cos is not None:
        rho = float(block_cos)
        blocks = (E[K + 1], E[K + 2])
        C = np.stack([np.sqrt(rho) * blocks[i < K // 2] + np.sqrt(1 - rho) * E[1 + i] for i in range(K)])
    return [shared * E[0] + C[i] + noise * rng.standard_normal((n, d)) for i in range(K)]
