"""Paper I's margin ODE (Lemma 4.1) against real gradient descent on real features.

Gradient flow τ Ẇ = −∇_W L with τ = 1 is the continuous limit of gradient descent
W ← W − η ∇L at time t = η · step, so the margins of GD on the response-token rows must
follow the solution of Lemma 4.1's ODE (``dpomath.lastlayer.margins.solve_margins``) up to an O(η)
discretisation error. :func:`compare_ode_gd` measures that error at η and η/2.

The step size is chosen from the data, before any comparison: the time scale is
t₁ = 1 / mean_j ṙ_j(0) (when the linearised mean margin reaches 1), with
mean_j ṙ_j(0) = β² ‖Σ_i u_i g_iᵀ‖_F² / (2N²), u_i = e_{y_w,i} − e_{y_l,i}; GD takes 100 steps
to t₁ unless that violates η λ ≤ 0.5 for the loss's curvature bound
λ = β² λ_max(Σ_i (u_i u_iᵀ) ⊗ (g_i g_iᵀ)) / (4N) (σ′ ≤ 1/4; GD is stable for η λ < 2), in
which case it takes more (at most ``max_steps``) smaller steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .train import PreferenceSplit, TrainConfig, train_rows

__all__ = ["time_scale", "curvature_bound", "choose_step", "compare_ode_gd", "OdeComparison"]


def _u(split: PreferenceSplit, tokens: np.ndarray) -> np.ndarray:
    pos = {int(t): k for k, t in enumerate(tokens)}
    U = np.zeros((len(split), len(tokens)))
    U[np.arange(len(split)), [pos[int(t)] for t in split.chosen]] += 1.0
    U[np.arange(len(split)), [pos[int(t)] for t in split.rejected]] -= 1.0
    return U


def time_scale(split: PreferenceSplit, tokens: np.ndarray, beta: float) -> float:
    """t₁ = 1 / mean_j ṙ_j(0) for the margin ODE at r = 0 (τ = 1)."""
    U, G = _u(split, tokens), split.features.astype(np.float64)
    N = len(split)
    rate = beta ** 2 * float(np.sum((U.T @ G) ** 2)) / (2.0 * N * N)
    return 1.0 / rate if rate > 0 else math.inf


def curvature_bound(split: PreferenceSplit, tokens: np.ndarray, beta: float) -> float:
    """λ = β² λ_max(Σ_i (u_i u_iᵀ) ⊗ (g_i g_iᵀ)) / (4N): the largest Hessian eigenvalue of
    the DPO loss in the trained rows is at most λ (σ′ ≤ 1/4)."""
    U, G = _u(split, tokens), split.features.astype(np.float64)
    n_t, d = U.shape[1], G.shape[1]
    H = np.zeros((n_t * d, n_t * d))
    for a in range(n_t):
        for b in range(a, n_t):
            blk = G.T @ (G * (U[:, a] * U[:, b])[:, None])
            H[a * d:(a + 1) * d, b * d:(b + 1) * d] = blk
            H[b * d:(b + 1) * d, a * d:(a + 1) * d] = blk.T
    return beta ** 2 * float(np.linalg.eigvalsh(H)[-1]) / (4.0 * len(split))


def choose_step(t1: float, lam: float, steps: int = 100, max_steps: int = 20000,
                eta_lambda: float = 0.5) -> tuple[float, int]:
    """(η, number of steps) reaching t₁ with η λ ≤ ``eta_lambda``, at most ``max_steps``
    steps (then the run stops before t₁)."""
    eta = t1 / steps
    if eta * lam > eta_lambda:
        eta = eta_lambda / lam
        steps = min(int(math.ceil(t1 / eta)), max_steps)
    return eta, steps


@dataclass
class OdeComparison:
    eta: float
    steps: int
    t_end: float
    t1: float
    curvature: float
    times: np.ndarray
    ode_train: np.ndarray
    gd_train: np.ndarray
    gd_train_half: np.ndarray
    ode_test: np.ndarray | None
    gd_test: np.ndarray | None
    err: float          # max |r_GD − r_ODE| / max |r_ODE| over train pairs and logged times, step η
    err_half: float     # the same at η/2
    err_test: float
    ode_seconds: float
    n_train: int
    n_test: int


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-300))


def compare_ode_gd(head_rows, train: PreferenceSplit, test: PreferenceSplit | None, *,
                   beta: float = 0.01, n_points: int = 50, max_steps: int = 20000,
                   rtol: float = 1e-10, atol: float = 1e-12) -> OdeComparison:
    """Run GD at η and η/2 on the response rows and the Lemma 4.1 ODE on the same features;
    compare the margins at ``n_points`` common times."""
    import time

    from dpomath.lastlayer.margins import solve_margins  # the dynamics module (Lemma 4.1)

    tokens = np.array(sorted(set(train.chosen.tolist()) | set(train.rejected.tolist())
                             | (set(test.chosen.tolist()) | set(test.rejected.tolist()) if test else set())),
                      dtype=np.int64)
    t1 = time_scale(train, tokens, beta)
    lam = curvature_bound(train, tokens, beta)
    eta, steps = choose_step(t1, lam, max_steps=max_steps)
    every = max(1, steps // n_points)
    steps = every * max(1, steps // every)
    runs = []
    for k in (1, 2):
        cfg = TrainConfig(beta=beta, lr=eta / k, steps=steps * k, optimizer="gd",
                          record_margins=True, log_every=every * k)
        runs.append(train_rows(head_rows, train, test, cfg, tokens=tokens))
    times = runs[0].steps_logged * eta
    t0 = time.perf_counter()
    sol = solve_margins(train.features, train.chosen, train.rejected, beta=beta, tau=1.0,
                        t_end=float(times[-1]), loss="sigmoid",
                        test_features=None if test is None else test.features,
                        test_chosen=None if test is None else test.chosen,
                        test_rejected=None if test is None else test.rejected,
                        t_eval=times, rtol=rtol, atol=atol)
    ode_s = time.perf_counter() - t0
    ode_tr = np.asarray(sol.train)
    ode_te = None if test is None or sol.test is None else np.asarray(sol.test)
    gd_tr, gd_tr2 = runs[0].margins["train"], runs[1].margins["train"]
    gd_te = runs[0].margins.get("test")
    return OdeComparison(
        eta=eta, steps=steps, t_end=float(times[-1]), t1=t1, curvature=lam, times=times,
        ode_train=ode_tr, gd_train=gd_tr, gd_train_half=gd_tr2, ode_test=ode_te, gd_test=gd_te,
        err=_rel(gd_tr, ode_tr), err_half=_rel(gd_tr2, ode_tr),
        err_test=_rel(gd_te, ode_te) if ode_te is not None and gd_te is not None else float("nan"),
        ode_seconds=ode_s, n_train=len(train), n_test=0 if test is None else len(test))
