"""Figures of paper I's dynamics and scaling law (one function a figure; each takes the data it
draws and a path, and returns the written PNG's path)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..lastlayer.theorem42 import LOG3, r_lower, r_upper, window
from . import pyplot, save

__all__ = ["margin_trajectories", "risk_vs_bound", "qstar_vs_empirical", "gpo_trajectories"]


def margin_trajectories(curves: Mapping[int, dict], beta: float, tau: float, path) -> Path:
    """Training margins (min–max band and mean) for each K against time in units of τ/β², with
    Theorem 4.2's r_L(t) = β²t/(8Kτ) and r_U(t) = 5β²t/(Kτ) up to τ1; right: the same curves
    against t/τ1, where all K collapse. ``curves[K] = {"t", "min", "mean", "max"}``."""
    plt = pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10.4, 4.2))
    cmap = plt.get_cmap("viridis")
    Ks = sorted(curves)
    for n, K in enumerate(Ks):
        c = curves[K]
        col = cmap(n / max(1, len(Ks) - 1))
        s = np.asarray(c["t"]) * beta ** 2 / tau
        ax.fill_between(s, c["min"], c["max"], color=col, alpha=0.25, lw=0)
        ax.plot(s, c["mean"], color=col, lw=1.6, label=f"K = {K}")
        T1 = K * LOG3 / 5.0  # τ1 β²/τ
        ss = np.linspace(0, T1, 50)
        ax.plot(ss, r_lower(ss, K, 1.0), color=col, ls=":", lw=1)   # in units β²t/τ: β = τ = 1
        ax.plot(ss, r_upper(ss, K, 1.0), color=col, ls="--", lw=1)
        bx.plot(s / T1, c["mean"], color=col, lw=1.6, label=f"K = {K}")
    u = np.linspace(0, 1, 50)
    low, high = window()                    # r_L(τ1), r_U(τ1); both are linear in t
    bx.plot(u, u * low, "k:", lw=1, label="r_L")
    bx.plot(u, u * high, "k--", lw=1, label="r_U")
    ax.set_ylim(0, max(0.5, max(np.max(curves[K]["max"]) for K in Ks) * 1.15))
    ax.set_xlabel("time t·β²/τ (dimensionless)")
    ax.set_ylabel("training reward margin r (nats)")
    ax.set_title("Margins and Theorem 4.2's r_L (dotted), r_U (dashed)")
    ax.legend(fontsize=8)
    bx.set_xlabel("t / τ1 (τ1 = Kτ log 3 / (5β²))")
    bx.set_ylabel("mean training margin (nats)")
    bx.set_ylim(0, 1.15)
    bx.set_title("Rescaled by τ1: every K follows one curve")
    bx.legend(fontsize=8)
    return save(fig, path)


def risk_vs_bound(rows: Sequence[dict], path, low: float = -8.0) -> Path:
    """Theorem 4.3's bound 2KQ²e^{−Q/45} (log10; vacuous above 0) against the Monte-Carlo
    Clopper–Pearson 95% upper limits of R(P) at τ1 (top), and the exact conditional risk, far
    below any Monte-Carlo resolution, on its own axis as −log10 R (bottom, log scale).
    ``rows``: dicts of :func:`dpomath.lastlayer.runs.mc_risk`."""
    from ..lastlayer.theorem43 import log_risk_bound, vacuous_below

    plt = pyplot()
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(9.6, 6.4), sharex=True,
                                 gridspec_kw={"height_ratios": [2.2, 1]})
    cmap = plt.get_cmap("plasma")
    Ks = sorted({r["K"] for r in rows})
    Qs = np.linspace(1, max(r["Q"] for r in rows) * 1.1, 400)
    for n, K in enumerate(Ks):
        col = cmap(n / max(1, len(Ks)))
        rr = sorted((r for r in rows if r["K"] == K), key=lambda r: r["Q"])
        q = [r["Q"] for r in rr]
        ax.plot(Qs, log_risk_bound(K, Qs) / math.log(10), color=col, lw=1.5, label=f"bound, K = {K}")
        ax.plot(q, [math.log10(max(r["cp_high"], 1e-300)) for r in rr], "v", color=col, ms=7,
                mfc="none", mew=1.4, label=f"MC 95% upper limit, K = {K}")
        ex = np.array([r["log10_risk_exact_mean"] for r in rr], dtype=float)
        bx.plot(q, -ex, "o-", color=col, ms=5, lw=1, label=f"exact risk, K = {K}")
        for v in (ax, bx):
            v.axvline(vacuous_below(K), color=col, ls=":", lw=0.9)
    ax.axhline(0, color="grey", lw=0.8)
    ax.text(0.3 * Qs[-1], -0.35, "above 0 the bound is ≥ 1 (vacuous);\ndotted: the Q where it stops "
            "being vacuous", ha="left", va="top", fontsize=8.5, color="dimgrey")
    ax.set_ylim(low, 5.5)
    ax.set_ylabel("log10 probability")
    ax.set_title("R(P) at τ1 on the cluster model (v = 1/(32√Q)) vs Theorem 4.3's bound", fontsize=11)
    ax.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    bx.set_yscale("log")
    bx.set_ylabel("−log10 exact risk")
    bx.set_xlabel("samples per cluster Q")
    bx.set_title("exact conditional risk R = 10^(−y), far below the top panel's axis", fontsize=9.5)
    bx.grid(True, which="major", alpha=0.3)
    bx.legend(fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    return save(fig, path)


def qstar_vs_empirical(Ks: Sequence[int], q_bound: Mapping[float, Sequence[int]],
                       q_empirical: Sequence[int], path, note: str = "") -> Path:
    """Q*(K, ε) that the bound asks for, for each ε, against the smallest Q at which the
    simulated dynamics reach the target (inside Theorem 4.2's conditions)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.3))
    for eps, qs in sorted(q_bound.items()):
        ax.plot(Ks, qs, "o-", ms=4, label=f"bound's Q*(K, ε = {eps:g})")
    ax.plot(Ks, q_empirical, "s-", color="k", ms=4, label="simulated: smallest Q reaching ε")
    L = [math.log(2 * K / 0.05) for K in Ks]
    ax.plot(Ks, [45 * x + 90 * math.log(45 * x) for x in L], ":", color="grey",
            label="45L + 90 log 45L, L = log(2K/0.05)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("number of values K")
    ax.set_ylabel("samples per cluster Q")
    ax.set_title("Sample size: Theorem 4.3's bound vs the simulated dynamics" + (f"\n{note}" if note else ""))
    ax.legend(fontsize=8)
    return save(fig, path)


def gpo_trajectories(curves: Mapping[str, dict], path) -> Path:
    """Mean margin (and min–max band) against t/τ1 for each loss of the GPO family, with
    log 3 and the fixed point 1. ``curves[loss] = {"u": t/τ1, "min", "mean", "max"}``."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.3))
    for name, c in curves.items():
        ln, = ax.plot(c["u"], c["mean"], lw=1.6, label=name)
        ax.fill_between(c["u"], c["min"], c["max"], color=ln.get_color(), alpha=0.2, lw=0)
    ax.axhline(LOG3, color="grey", ls="--", lw=0.8)
    ax.text(0.02, LOG3 + 0.02, "log 3", fontsize=8, color="grey")
    ax.axhline(1.0, color="grey", ls=":", lw=0.8)
    ax.axvline(1.0, color="grey", lw=0.6)
    ax.set_xlabel("t / τ1")
    ax.set_ylabel("training reward margin r (nats)")
    ax.set_title("DPO, IPO and SLiC margins on the cluster model")
    ax.legend(fontsize=8)
    return save(fig, path)
