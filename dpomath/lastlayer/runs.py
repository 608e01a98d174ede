"""Paper I's experiments on the cluster model: one function per experiment, above the kernel
(:mod:`~dpomath.lastlayer.margins`) and the theorems (:mod:`~dpomath.lastlayer.theorem42`,
:mod:`~dpomath.lastlayer.theorem43`) — the only module that imports them together.

* :func:`theorem42_outcome` — sample the clusters, integrate Lemma 4.1 to τ1, test Theorem 4.2's
  conclusion (claim I-T42 and ``dpomath simulate``, which is the same experiment with a test set
  and the time the first margin reaches log 3: :func:`simulate`);
* :func:`risk_at_tau1`, :func:`mc_risk`, :func:`empirical_q` — the population risk at τ1 that
  Theorem 4.3 bounds, exactly and by Monte Carlo.

>>> o = theorem42_outcome(K=2, Q=4, d=8, v=v_limit(4), l_b=0.25, seed=0)
>>> o.ok, round(o.r_tau1_mean, 3)
(True, 0.208)
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .. import _args
from .._results import Record
from ..verify.stats import clopper_pearson
from .clusters import sample_clusters
from .margins import solve_margins
from .theorem42 import (d_limit, r_lower, r_upper, tau1, theorem42_conditions, typical_margin,
                        v_limit, window)
from .theorem43 import risk_bound

__all__ = ["RTOL", "ATOL", "Theorem42Outcome", "theorem42_outcome", "Simulation", "simulate",
           "risk_at_tau1", "mc_risk", "empirical_q"]

#: The one tolerance policy of the Theorem 4.2 experiment (solve_ivp DOP853).
RTOL, ATOL = 1e-9, 1e-13
#: The relative tolerance of the window test (on the ratios r/r_L, r/r_U, the slopes, r(τ1)).
WINDOW_TOL = 1e-9


@dataclass
class Theorem42Outcome(Record):
    """What :func:`theorem42_outcome` found (``to_dict()`` gives the fields as a dict).

    ``ok`` = ``ok_lower and ok_upper and ok_window``; the ratios are the worst over the grid;
    ``slope0_*`` the initial slopes Kτṙ(0)/β² (theorem: [1/8, 5]). The ``test_*`` and
    ``event_*`` fields are filled when a test set or a horizon was asked for.
    """

    ok: bool
    ok_lower: bool
    ok_upper: bool
    ok_window: bool
    min_ratio_to_r_L: float
    max_ratio_to_r_U: float
    r_tau1_min: float
    r_tau1_max: float
    r_tau1_mean: float
    slope0_min: float
    slope0_max: float
    window: list
    K: int
    Q: int
    d: int
    v: float
    l_b: float
    Z: int
    seed: int
    delta: float
    loss: str
    nfev: int
    tau1: float | None = None
    train_error: float | None = None
    test_per_cluster: int | None = None
    test_margin_min: float | None = None
    test_margin_mean: float | None = None
    test_margin_max: float | None = None
    test_error: float | None = None
    horizon: float | None = None
    event_time: float | None = None
    test_nfev: int | None = None
    seconds: float | None = None

    OPTIONAL = ("tau1", "train_error", "test_per_cluster", "test_margin_min", "test_margin_mean",
                "test_margin_max", "test_error", "horizon", "event_time", "test_nfev", "seconds")


#: Peak bytes per sample and feature of :func:`theorem42_outcome` (features of the training and
#: test draws, the solver's products and dense output): 9–12.5 measured for N = 400–8000 (the
#: first allocation alone, the N×d normal draw, is 8), so 12 plus a fixed 64 MiB.
BYTES_PER_FEATURE = 12.0


def _check_size(K, Q, d, test_per_cluster) -> None:
    """Refuse, before allocating, a run that cannot fit in the memory available."""
    from .._memory import require

    K, Q, d = _args.integer("K", K, lo=1), _args.integer("Q", Q, lo=1), _args.integer("d", d, lo=1)
    n = 2 * K * Q + (2 * K * test_per_cluster if isinstance(test_per_cluster, int) else 0)
    require(BYTES_PER_FEATURE * n * d + 64 * 2 ** 20, "K, Q, d",
            f"the cluster model with {n} samples of d = {d} features")


def theorem42_outcome(K: int, Q: int, d: int, v: float, l_b: float, Z: int = 1, seed: int = 0,
                      *, beta: float = 0.01, tau: float = 1.0, loss: str = "sigmoid",
                      delta: float = 0.0, delta_mode: str = "random", window_low: float | None = None,
                      grid: int = 65, rtol: float = RTOL, atol: float = ATOL,
                      test_per_cluster: int | None = None,
                      horizon: float | None = None) -> Theorem42Outcome:
    """Sample the clusters, integrate to τ1 and test Theorem 4.2's conclusion: the experiment of
    claim I-T42 and of ``dpomath simulate``.

    ``ok`` is True when r_L(t) ≤ r_i(t) ≤ r_U(t) for every training margin on a grid of
    ``grid`` times in [0, τ1] and at t → 0 (initial slopes within [β²/(8Kτ), 5β²/(Kτ)]), and
    every r_i(τ1) ∈ [window_low, log 3] (window_low defaults to log 3/40; Appendix C uses
    log 3/80), each to a relative tolerance of 1e-9. β and τ only rescale time (τṙ ∝ β²), so
    they do not change the verdict.

    Parameters
    ----------
    K, Q, d : int
        Values, samples per cluster, feature dimension (d ≥ K + 1).
    v, l_b : float
        Cluster spread and the shared component's norm.
    Z : int
        The largest token multiplicity.
    seed : int
        Seed of the draw (the test set, if any, comes from ``default_rng([seed, 1])``).
    beta, tau : float
        β and the time constant τ.
    loss : str
        A margin member of the loss family.
    delta, delta_mode : float, str
        Appendix C's approximate orthogonality (:func:`~dpomath.lastlayer.clusters.sample_clusters`).
    window_low : float, optional
        The lower end of the window at τ1.
    grid : int
        Grid points on [0, τ1].
    rtol, atol : float
        ``solve_ivp`` tolerances (the experiment's one policy: :data:`RTOL`, :data:`ATOL`).
    test_per_cluster : int, optional
        Also draw this many test samples per cluster and report their margins at τ1.
    horizon : float, optional
        Also find the first time a training margin reaches log 3, integrating to horizon·τ1.

    Returns
    -------
    Theorem42Outcome
    """
    t0 = time.perf_counter()
    _check_size(K, Q, d, test_per_cluster)
    data = sample_clusters(K, Q, d, v=v, l_b=l_b, Z=Z, delta=delta, delta_mode=delta_mode,
                           seed=seed)
    T = tau1(K, beta, tau)
    ts = np.linspace(0.0, T, grid)
    sol = solve_margins(data.features, data.chosen, data.rejected, beta=beta, tau=tau, t_end=T,
                        t_eval=ts, rtol=rtol, atol=atol, loss=loss)
    slopes = sol.field.rates(np.zeros(data.N))[0] * K * tau / beta ** 2
    R = sol.train[1:]  # t > 0
    lo_ratio = R / r_lower(ts[1:], K, beta, tau)[:, None]
    hi_ratio = R / r_upper(ts[1:], K, beta, tau)[:, None]
    low, high = window(window_low)
    tol = WINDOW_TOL
    r1 = sol.train[-1]
    ok_lower = bool(lo_ratio.min() >= 1 - tol and slopes.min() >= 1 / 8 - tol)
    ok_upper = bool(hi_ratio.max() <= 1 + tol and slopes.max() <= 5 + tol)
    ok_window = bool(r1.min() >= low - tol and r1.max() <= high + tol)
    out = Theorem42Outcome(
        ok=ok_lower and ok_upper and ok_window, ok_lower=ok_lower, ok_upper=ok_upper,
        ok_window=ok_window, min_ratio_to_r_L=float(lo_ratio.min()),
        max_ratio_to_r_U=float(hi_ratio.max()), r_tau1_min=float(r1.min()),
        r_tau1_max=float(r1.max()), r_tau1_mean=float(r1.mean()),
        slope0_min=float(slopes.min()), slope0_max=float(slopes.max()),
        window=[low, high], K=K, Q=Q, d=d, v=v, l_b=l_b, Z=Z, seed=seed, delta=delta, loss=loss,
        nfev=sol.nfev)
    if test_per_cluster is None and horizon is None:
        return out
    # the same draw with a test set, integrated on to the first time a margin reaches log 3
    Qt = Q if test_per_cluster is None else _args.integer("test_per_cluster", test_per_cluster, lo=1)
    H = 1.0 if horizon is None else _args.real("horizon", horizon, lo=1.0)
    test = data.draw(Qt, seed=np.random.default_rng([seed, 1]))
    sol2 = solve_margins(data.features, data.chosen, data.rejected, beta=beta, tau=tau,
                         t_end=H * T, loss=loss, test_features=test.features,
                         test_chosen=test.chosen, test_rejected=test.rejected, rtol=rtol, atol=atol)
    te = sol2.at(T)[1]
    out.tau1, out.train_error = T, float(np.mean(r1 <= 0))
    out.test_per_cluster = Qt
    out.test_margin_min, out.test_margin_mean = float(te.min()), float(te.mean())
    out.test_margin_max, out.test_error = float(te.max()), float(np.mean(te <= 0))
    out.horizon, out.event_time, out.test_nfev = H, sol2.event_time, sol2.nfev
    out.seconds = time.perf_counter() - t0
    return out


@dataclass
class Simulation(Record):
    """``dpomath simulate``'s answer (``to_dict()`` is its JSON document)."""

    parameters: dict
    tau1: float
    r_L_tau1: float
    r_U_tau1: float
    train_margin_min: float
    train_margin_mean: float
    train_margin_max: float
    test_margin_min: float
    test_margin_mean: float
    test_margin_max: float
    train_error: float
    test_error: float
    within_bounds: bool            #: Theorem 4.2's conclusion held (the I-T42 test)
    event_time: float | None
    event_time_over_tau1: float | None
    conditions_hold: bool
    conditions: dict
    window_test: dict              #: the ratios and slopes behind ``within_bounds``
    solver: str
    nfev: int
    seconds: float
    typical_margin_tau1: float | None = None
    note: str | None = None
    event_note: str | None = None
    outcome: Theorem42Outcome | None = None

    OPTIONAL = ("typical_margin_tau1", "note", "event_note", "outcome")

    def to_dict(self) -> dict:
        out = super().to_dict()
        out.pop("outcome", None)
        return out


def simulate(K: int, Q: int, d: int | None = None, beta: float = 0.01, loss: str = "sigmoid",
             v: float | None = None, l_b: float = 0.25, seed: int = 0, tau: float = 1.0,
             Z: int = 1, delta: float = 0.0, test_per_cluster: int | None = None,
             horizon: float = 20.0, rtol: float = RTOL, atol: float = ATOL) -> Simulation:
    """Sample paper I's clusters and integrate the margins (``dpomath simulate``): the
    experiment of :func:`theorem42_outcome` with a test set and the time the first margin
    reaches log 3.

    Defaults are the edge of Theorem 4.2's conditions: d = 5Q (raised to K + 1 where 5Q is
    smaller, which breaks d ≤ 5Q), v = 1/(32√Q), l_b = 1/4, β = 0.01, τ = 1, Z = 1.

    Parameters
    ----------
    K, Q : int
        Values and samples per cluster.
    d : int, optional
        Feature dimension (default 5Q).
    beta, tau : float
        β and τ.
    loss : str
        A margin member (``dpomath simulate --loss dpo|ipo|slic`` = sigmoid, ipo-margin, hinge).
    v : float, optional
        Cluster spread (default 1/(32√Q)).
    l_b : float
        The shared component's norm.
    seed : int
    Z : int
    delta : float
    test_per_cluster : int, optional
        Test samples per cluster (default Q).
    horizon : float
        Integrate to horizon·τ1 to find the first time a margin reaches log 3.
    rtol, atol : float
        ``solve_ivp`` tolerances.

    Returns
    -------
    Simulation
        The margins at τ1 = Kτ log 3/(5β²), whether r_L ≤ r ≤ r_U held on [0, τ1] (the same
        test as claim I-T42), the conditions.
    """
    from ..losses import get_loss

    K = _args.integer("K", K, lo=1)
    Q = _args.integer("Q", Q, lo=1)
    d_note = None
    if d is None:
        d = d_limit(Q)
        if d < K + 1:
            d, d_note = K + 1, f"5Q = {d_limit(Q)} < K + 1: d raised to {K + 1}"
    d = _args.integer("d", d, lo=1)
    v = v_limit(Q) if v is None else _args.real("v", v, lo=0.0)
    beta = _args.positive("beta", beta)
    tau = _args.positive("tau", tau)
    horizon = _args.real("horizon", horizon, lo=1.0)
    kind = get_loss(loss).kind
    Qt = Q if test_per_cluster is None else _args.integer("test_per_cluster", test_per_cluster, lo=1)
    o = theorem42_outcome(K, Q, d, v, l_b, Z, seed, beta=beta, tau=tau, loss=kind, delta=delta,
                          rtol=rtol, atol=atol, test_per_cluster=Qt, horizon=horizon)
    T1 = o.tau1
    conds = theorem42_conditions(K, Q, d, v, l_b, Z)
    low, high = o.window
    sim = Simulation(
        parameters={"K": K, "Q": Q, "d": d, "N": 2 * K * Q, "beta": beta, "tau": tau, "v": v,
                    "l_b": l_b, "Z": Z, "delta": delta, "loss": kind, "seed": seed,
                    "test_per_cluster": Qt},
        tau1=T1, r_L_tau1=low, r_U_tau1=high,
        train_margin_min=o.r_tau1_min, train_margin_mean=o.r_tau1_mean,
        train_margin_max=o.r_tau1_max,
        test_margin_min=o.test_margin_min, test_margin_mean=o.test_margin_mean,
        test_margin_max=o.test_margin_max,
        train_error=o.train_error, test_error=o.test_error,
        within_bounds=o.ok,
        event_time=o.event_time,
        event_time_over_tau1=(None if o.event_time is None else o.event_time / T1),
        conditions_hold=all(c["holds"] for c in conds.values()),
        conditions={k: ("holds" if c["holds"] else "fails") + f": {c['text']}"
                    for k, c in conds.items()},
        window_test={"min_ratio_to_r_L": o.min_ratio_to_r_L, "max_ratio_to_r_U": o.max_ratio_to_r_U,
                     "slope0_min": o.slope0_min, "slope0_max": o.slope0_max,
                     "tolerance": WINDOW_TOL},
        solver=(f"DOP853 rtol={rtol:g} atol={atol:g}: to tau1 on a 65-point grid (the window "
                f"test), and to {horizon:g} tau1 with the test set"),
        nfev=o.nfev + o.test_nfev, seconds=round(o.seconds, 3), outcome=o)
    if kind == "sigmoid":
        sim.typical_margin_tau1 = typical_margin(T1, K, beta, tau)
    if d_note:
        sim.note = d_note
    if o.event_time is None:
        sim.event_note = f"no training margin reached log 3 by {horizon:g} tau1"
    return sim


def risk_at_tau1(K: int, Q: int, d: int, v: float, *, l_b: float = 0.25, Z: int = 1,
                 beta: float = 0.01, tau: float = 1.0, seed: int = 0, test_per_cluster: int = 1000,
                 delta: float = 0.0, delta_mode: str = "random", t: float | None = None,
                 rtol: float = 1e-8, atol: float = 1e-11) -> dict:
    """The population risk R(P) = Pr[r(x) ≤ 0] of the model trained to τ1 on one draw.

    A fresh sample's margin is linear in its features, r(x) = β(ΔW_{y_w} − ΔW_{y_l})·g(x), so
    on a cluster N(μ, v²I) it is exactly N(a·μ, v²‖a‖²): the conditional risk is
    (1/2K) Σ_c Φ(−a_c·μ_c/(v‖a_c‖)) (``log10_risk_exact`` via log Φ, exact even at 1e-300).
    Beside it, ``test_per_cluster`` fresh samples per cluster are pushed through the model and
    counted: ``errors`` of ``n_test`` with a Clopper–Pearson interval for this model's risk.

    Parameters
    ----------
    K, Q, d : int
    v, l_b : float
    Z, seed, test_per_cluster : int
    beta, tau, delta : float
    delta_mode : str
    t : float, optional
        Another time than τ1.
    rtol, atol : float

    Returns
    -------
    dict
        ``log10_risk_exact``, ``risk_exact``, ``errors``, ``n_test``, ``risk_mc``,
        ``cp_low``, ``cp_high``, the margins, ``bound``, ``nfev``.
    """
    from scipy.special import log_ndtr, logsumexp

    data = sample_clusters(K, Q, d, v=v, l_b=l_b, Z=Z, delta=delta, delta_mode=delta_mode,
                           seed=seed)
    T = tau1(K, beta, tau) if t is None else _args.positive("t", t)
    sol = solve_margins(data.features, data.chosen, data.rejected, beta=beta, tau=tau, t_end=T,
                        t_eval=[T], rtol=rtol, atol=atol, track_weights=True)
    dW = sol.delta_W(T)
    vocab = sol.field.vocab
    row = {int(tok): i for i, tok in enumerate(vocab)}
    means = data.cluster_means()
    log_risks = []
    a_list = []
    for c in range(2 * K):
        i, s = divmod(c, 2)
        u, w_ = data.pair_tokens[i]
        yw, yl = (u, w_) if s == 0 else (w_, u)
        a = beta * (dW[row[int(yw)]] - dW[row[int(yl)]])
        a_list.append(a)
        m = float(a @ means[c])
        sd = v * float(np.linalg.norm(a))
        if sd == 0.0:
            log_risks.append(0.0 if m <= 0 else -np.inf)
        else:
            log_risks.append(float(log_ndtr(-m / sd)))
    log_risk = float(logsumexp(log_risks) - math.log(2 * K))
    test = data.draw(test_per_cluster, seed=np.random.default_rng([seed, 7]))
    A = np.stack(a_list)
    test_margins = np.einsum("nd,nd->n", test.features, A[test.cluster])
    errors = int(np.sum(test_margins <= 0))
    n = int(test.N)
    lo, hi = clopper_pearson(errors, n)
    return {"K": K, "Q": Q, "d": d, "v": v, "l_b": l_b, "Z": Z, "seed": seed, "t": T,
            "log10_risk_exact": log_risk / math.log(10.0),
            "risk_exact": math.exp(log_risk), "errors": errors, "n_test": n,
            "risk_mc": errors / n, "cp_low": lo, "cp_high": hi,
            "train_margin_min": float(sol.train[-1].min()),
            "train_margin_max": float(sol.train[-1].max()),
            "test_margin_mean": float(test_margins.mean()),
            "bound": risk_bound(K, Q), "nfev": sol.nfev}


def mc_risk(K: int, Q: int, *, d: int | None = None, v: float | None = None, l_b: float = 0.25,
            Z: int = 1, draws: int = 4, test_per_cluster: int = 1000, seed: int = 0,
            beta: float = 0.01, alpha: float = 0.05, **kw) -> dict:
    """Monte-Carlo R(P) at τ1 over ``draws`` training sets (defaults: d = min(5Q, 64) but at
    least K + 1, v = 1/(32√Q), the edge of Theorem 4.2's conditions).

    Pools the fresh-sample counts of all draws for ``risk_mc`` with a Clopper–Pearson interval:
    exact for the risk of one trained model (one draw; its fresh samples are i.i.d.), and with
    several draws an interval for E R(P) that ignores the spread between models —
    ``risk_exact_se`` is the between-draw standard error of the exact conditional risks,
    ``risk_exact_mean`` their mean; ``cp_high_max`` is the largest per-draw upper limit.
    Compare with ``bound`` = 2KQ²e^{−Q/45}.

    Parameters
    ----------
    K, Q : int
    d : int, optional
    v : float, optional
    l_b : float
    Z, draws, test_per_cluster, seed : int
    beta, alpha : float
        β and 1 − the interval's confidence.
    **kw
        Passed to :func:`risk_at_tau1`.

    Returns
    -------
    dict
        The keys named above, ``errors``, ``n_test``, ``risk_mc``, ``cp_low``, ``cp_high``.
    """
    K = _args.integer("K", K, lo=1)
    Q = _args.integer("Q", Q, lo=1)
    d = max(K + 1, min(d_limit(Q), 64)) if d is None else _args.integer("d", d, lo=K + 1)
    v = v_limit(Q) if v is None else _args.real("v", v, lo=0.0)
    draws = _args.integer("draws", draws, lo=1)
    runs = [risk_at_tau1(K, Q, d, v, l_b=l_b, Z=Z, beta=beta, seed=int(s),
                         test_per_cluster=test_per_cluster, **kw)
            for s in np.random.default_rng([seed, K, Q]).integers(0, 2 ** 31, size=draws)]
    errors = sum(r["errors"] for r in runs)
    n = sum(r["n_test"] for r in runs)
    lo, hi = clopper_pearson(errors, n, alpha)
    from scipy.special import logsumexp

    l10 = [r["log10_risk_exact"] for r in runs]
    mean_log10 = float(logsumexp(np.array(l10) * math.log(10.0)) - math.log(draws)) / math.log(10.0)
    return {"K": K, "Q": Q, "d": d, "v": v, "l_b": l_b, "Z": Z, "draws": draws,
            "errors": errors, "n_test": n, "risk_mc": errors / n, "cp_low": lo, "cp_high": hi,
            "cp_high_max": max(r["cp_high"] for r in runs),
            "log10_risk_exact_mean": mean_log10,
            "log10_risk_exact_max": max(l10),
            "risk_exact_mean": 10.0 ** mean_log10,
            "risk_exact_draws": [r["risk_exact"] for r in runs],
            "risk_exact_se": (float(np.std([r["risk_exact"] for r in runs], ddof=1) / math.sqrt(draws))
                              if draws > 1 else None),
            "bound": risk_bound(K, Q), "bound_vacuous": risk_bound(K, Q) >= 1.0,
            "train_margin_min": min(r["train_margin_min"] for r in runs),
            "train_margin_max": max(r["train_margin_max"] for r in runs)}


def empirical_q(K: int, eps: float, *, draws: int = 2, seed: int = 0, q_max: int = 4096,
                beta: float = 0.01) -> dict:
    """The smallest Q inside Theorem 4.2's conditions (v = 1/(32√Q), d = K + 1 ≤ 5Q, l_b = 1/4,
    Z = 1) at which the simulated model's exact risk at τ1, averaged over ``draws`` training
    sets, is ≤ ε — the dynamics' own answer to the question Q*(K, ε) answers from the bound."""
    K = _args.integer("K", K, lo=1)
    eps = _args.real("eps", eps, lo=0.0, hi=1.0, lo_open=True)
    Q = max(1, -(-(K + 1) // 5))
    rng = np.random.default_rng([seed, K])
    while Q <= q_max:
        runs = [risk_at_tau1(K, Q, K + 1, v_limit(Q), seed=int(s), beta=beta,
                             test_per_cluster=200)
                for s in rng.integers(0, 2 ** 31, draws)]
        from scipy.special import logsumexp

        l10 = float(logsumexp(np.array([r["log10_risk_exact"] for r in runs]) * math.log(10.0))
                    - math.log(draws)) / math.log(10.0)
        if l10 <= math.log10(eps):
            return {"K": K, "eps": eps, "Q": Q, "d": K + 1, "log10_risk_exact": l10,
                    "errors": sum(r["errors"] for r in runs),
                    "n_test": sum(r["n_test"] for r in runs), "Q_min_allowed": Q == max(1, -(-(K + 1) // 5))}
        Q = Q + 1 if Q < 16 else int(Q * 1.25)
    return {"K": K, "eps": eps, "Q": None, "d": K + 1, "log10_risk_exact": None}
