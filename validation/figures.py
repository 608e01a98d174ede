"""Figures of the real-model validation (last-layer DPO on persona data), drawn with the
helpers of :mod:`dpomath.plots`: one function per
figure; each takes the numbers it draws and a path, and returns the path written."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from dpomath.plots import pyplot, save

__all__ = ["margins_by_k", "error_vs_k", "persona_heatmaps", "ode_vs_gd", "three_d",
           "assumption_ratios", "persona_trajectories", "bracket_vs_rate", "ches_vs_displacement",
           "squeeze_changes"]


def margins_by_k(steps: Mapping[int, np.ndarray], train: Mapping[int, np.ndarray],
                 test: Mapping[int, np.ndarray], path, model: str = "",
                 setting: str = "Last-layer DPO",
                 margin: str = "β(h_w − h_l)") -> Path:
    """Mean train and test reward margin against the step, one line per K (paper I, Fig. 5).

    ``setting`` names the training in the title ("Last-layer DPO", "Full fine-tuning DPO", ...);
    ``margin`` is the y axis' formula (the last-layer margin β(h_w − h_l) by default; with
    fine-tuning, β times the difference of the log-ratios to the reference)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
    cmap = plt.get_cmap("viridis")
    Ks = sorted(train)
    for i, K in enumerate(Ks):
        c = cmap(i / max(len(Ks) - 1, 1))
        axes[0].plot(steps[K], train[K], color=c, label=f"K = {K}")
        axes[1].plot(steps[K], test[K], color=c, label=f"K = {K}")
    for ax, name in zip(axes, ("train", "test")):
        ax.set_xlabel("optimizer step")
        ax.set_title(f"{name} reward margin")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"mean margin {margin} (nats)")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"{setting} on persona data: margin growth by K" + (f" ({model})" if model else ""),
                 fontsize=10)
    return save(fig, path)


def error_vs_k(Ks: Sequence[int], err: Sequence[float], se: Sequence[float],
               lin: tuple[float, float, float], logfit: tuple[float, float, float], path,
               setting: str | None = None) -> Path:
    """Final test error against K with the linear fit (a + bK) and the fit against log K;
    ``setting`` (the model and how it was trained) is the title's second line."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    Ks = np.asarray(Ks, dtype=float)
    ax.errorbar(Ks, err, yerr=se, fmt="o", color="k", capsize=3, label="measured (±1 SE)")
    x = np.linspace(Ks.min(), Ks.max(), 200)
    a, b, r2 = lin
    ax.plot(x, a + b * x, label=f"linear in K: R² = {r2:.3f}")
    a2, b2, r22 = logfit
    ax.plot(x, a2 + b2 * np.log(x), "--", label=f"linear in log K: R² = {r22:.3f}")
    ax.set_xlabel("K (number of personas)")
    ax.set_ylabel("test error (fraction, margin ≤ 0)")
    ax.set_title("Test error against the number of values K" + (f"\n{setting}" if setting else ""),
                 fontsize=11 if setting else None)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save(fig, path)


def persona_heatmaps(raw: np.ndarray, demeaned: np.ndarray, names: Sequence[str], path) -> Path:
    """Cosine similarity of persona-mean embeddings, raw and after removing the shared mean
    (paper I, Fig. 3), with the key from persona index to persona name below (full names,
    two columns)."""
    plt = pyplot()
    n = len(names)
    half = -(-n // 2)
    key_h = 0.19 * half + 0.25
    H = 4.6 + key_h
    fig, axes = plt.subplots(1, 2, figsize=(10.4, H))
    ticks = np.arange(n) if n <= 16 else np.arange(0, n, max(1, n // 8))
    lo = float(np.min(raw))
    for ax, M, title, kw in ((axes[0], raw, f"raw (colour scale {lo:.3f} to 1)",
                              {"vmin": lo, "vmax": 1.0, "cmap": "viridis"}),
                             (axes[1], demeaned, "shared mean removed", {"vmin": -1, "vmax": 1, "cmap": "RdBu_r"})):
        im = ax.imshow(M, **kw)
        ax.set_title(f"persona-mean cosine, {title}", fontsize=10)
        ax.set_xlabel("persona index")
        ax.set_ylabel("persona index")
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.tick_params(labelsize=8)
        fig.colorbar(im, ax=ax, shrink=0.85, label="cosine similarity")
    fig.tight_layout(rect=(0, key_h / H, 1, 1))
    fig.text(0.01, key_h / H, "persona index → name:", ha="left", va="top", fontsize=9,
             fontweight="bold")
    for col in range(2):
        lines = [f"{i}: {names[i]}" for i in range(col * half, min(n, (col + 1) * half))]
        fig.text(0.01 + 0.5 * col, key_h / H - 0.22 / H, "\n".join(lines), ha="left", va="top",
                 fontsize=8.5, linespacing=1.3)
    return save(fig, path)


def ode_vs_gd(times: np.ndarray, ode: np.ndarray, gd: np.ndarray, gd_half: np.ndarray,
              eta: float, path, n_show: int = 6) -> Path:
    """Margins of gradient descent (step η and η/2) against the Lemma 4.1 ODE, for a few
    training pairs, and the error over time."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    idx = np.linspace(0, ode.shape[1] - 1, min(n_show, ode.shape[1])).astype(int)
    for j, i in enumerate(idx):
        axes[0].plot(times, ode[:, i], color=f"C{j}", lw=1.5, label="ODE" if j == 0 else None)
        axes[0].plot(times, gd[:, i], "o", color=f"C{j}", ms=2.5, label="GD" if j == 0 else None)
    axes[0].set_xlabel("time t = η · step")
    axes[0].set_ylabel("margin r_j (nats)")
    axes[0].set_title("training margins: GD (dots) and ODE (lines)")
    axes[0].legend(fontsize=8)
    axes[1].semilogy(times[1:], np.abs(gd - ode).max(axis=1)[1:], label=f"step η = {eta:.3g}")
    axes[1].semilogy(times[1:], np.abs(gd_half - ode).max(axis=1)[1:], label="step η/2")
    axes[1].set_xlabel("time t = η · step")
    axes[1].set_ylabel("max_j |r_GD − r_ODE| (nats)")
    axes[1].set_title("discretisation error")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    return save(fig, path)


def three_d(steps: np.ndarray, hist: Mapping[str, np.ndarray], K: int, path) -> Path:
    """Mean log-probability of the chosen and rejected token and log of the mass on all other
    tokens over training (the 3D-properties of paper Y on a real LLM)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    axes[0].plot(steps, hist["logps/chosen"] - hist["logps/chosen"][0], label="chosen")
    axes[0].plot(steps, hist["logps/rejected"] - hist["logps/rejected"][0], label="rejected")
    axes[0].plot(steps, hist["logps/other"] - hist["logps/other"][0], label="all other tokens")
    axes[0].set_ylabel("change of mean log-probability (nats)")
    axes[0].set_title(f"log π change, train pairs, K = {K}")
    axes[1].plot(steps, hist["probs/chosen"], label="chosen")
    axes[1].plot(steps, hist["probs/rejected"], label="rejected")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("mean probability")
    axes[1].set_title("chosen and rejected probability")
    for ax in axes:
        ax.set_xlabel("optimizer step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save(fig, path)


#: How each assumption's bar is formed when it is not "measured / allowed" (a lower bound, or
#: a count that must reach K): the figure says so beside the bar.
_INVERTED = {"distinct response sets": "K ÷ distinct sets"}


def _pretty(name: str) -> str:
    return (name.replace("<=", "≤").replace(">=", "≥").replace("sqrt Q", "√Q")
            .replace("l_b^2", "l_b²"))


def assumption_ratios(names: Sequence[str], ratios: Sequence[float], path) -> Path:
    """Each assumption of paper I's Theorem 4.2 as a ratio to its bound, on a log scale, with
    the value at the bar's end: measured / allowed for an upper bound (``x <= a``), allowed /
    measured for a lower bound (``x >= a``) and K / distinct sets for the response sets — so
    that in every row ≤ 1 means the assumption holds."""
    plt = pyplot()
    r = np.asarray(ratios, dtype=float)
    labels = []
    for nm in names:
        how = _INVERTED.get(nm) or ("bound ÷ measured" if ">=" in nm or "≥" in nm else "")
        labels.append(_pretty(nm) + (f"\n(bar: {how})" if how else ""))
    fig, ax = plt.subplots(figsize=(8.4, 0.55 * len(names) + 1.5))
    colors = ["#2e8b57" if x <= 1 else "#c53030" for x in r]
    shown = np.maximum(r, 1e-6)
    ax.barh(range(len(r)), shown, color=colors)
    ax.axvline(1.0, color="k", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(min(shown.min() / 3, 0.1), max(shown.max() * 30, 10))
    for i, (x, v) in enumerate(zip(shown, r)):
        ax.text(x * 1.15, i, f"{v:.3g}", va="center", ha="left", fontsize=8.5)
    ax.set_yticks(range(len(r)), labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("ratio to the bound (≤ 1: the assumption holds; green holds, red fails)")
    ax.set_title("Paper I's assumptions on real persona features")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return save(fig, path)


def persona_trajectories(runs: Mapping, path, model: str = "") -> Path:
    """Paper R's persona experiment: π(preferred) over the steps, one line per prompt, one
    panel per (pair, optimizer) configuration (the keys of ``runs``: (pair, optimizer, steps))."""
    plt = pyplot()
    keys = [k for k in sorted(runs) if any("pi_plus" in r for r in runs[k])]
    fig, axes = plt.subplots(1, max(1, len(keys)), figsize=(4.6 * max(1, len(keys)), 3.6),
                             squeeze=False, layout="constrained")
    for ax, key in zip(axes[0], keys):
        pair, opt, _ = key
        for r in runs[key]:
            if "pi_plus" not in r:
                continue
            ls = ":" if r.get("loss_rises") else "-"
            ax.plot(range(len(r["pi_plus"])), r["pi_plus"], ls, lw=1, alpha=0.85)
        ax.set_title(f"{pair.replace('_vs_', ' ≻ ').replace('_', ' ')}, {opt}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("π(preferred token)")
        ax.grid(alpha=0.3)
    fig.suptitle("Persona DPO, one prompt per line (dotted: loss rose, excluded)" + (f" — {model}" if model else ""),
                 fontsize=9)
    return save(fig, path)


def bracket_vs_rate(cases: Sequence[Mapping], path, model: str = "") -> Path:
    """Theorem 4's bracket at step 0 against the full model's first-order rate of ln π(preferred),
    one point per (prompt, pair) case, on symmetric-log axes."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
    pairs = sorted({c["label"].split(" seed")[0] for c in cases})
    for i, pair in enumerate(pairs):
        sel = [c for c in cases if c["label"].startswith(pair + " seed")]
        ax.scatter([c["bracket"] for c in sel], [c["full_model_rate"] for c in sel], s=18,
                   label=pair.replace("_vs_", " ≻ "), color=f"C{i}")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("symlog", linthresh=1.0)
    b = np.array([c["bracket"] for c in cases], dtype=float)
    r = np.array([c["full_model_rate"] for c in cases], dtype=float)
    if len(b):  # both signs on both axes, and the count of cases in each quadrant
        xm = max(10.0, float(np.max(np.abs(b))) * 3)
        ym = max(10.0, float(np.max(np.abs(r))) * 3)
        ax.set_xlim(-xm, xm)
        ax.set_ylim(-ym, ym)
        for sx in (1, -1):
            for sy in (1, -1):
                n = int(np.sum((np.sign(b) == sx) & (np.sign(r) == sy)))
                ax.text(0.5 + 0.25 * sx, 0.5 + 0.25 * sy, f"{n} case{'s' if n != 1 else ''}",
                        transform=ax.transAxes, ha="center", va="center", fontsize=9,
                        color="0.25" if sx == sy else "C3")
    ax.set_xlabel("Theorem 4 bracket at step 0 (W, h of the model)")
    ax.set_ylabel("full-model rate ⟨∇ln π(y⁺), −∇L⟩")
    ax.set_title("Sign of Theorem 4's bracket vs the real rate (signs agree: upper right, lower left)"
                 + (f"\n{model}" if model else ""), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
    return save(fig, path)


def ches_vs_displacement(ches: np.ndarray, delta: np.ndarray, quintile_means: Sequence[float], path,
                         model: str = "", x_label: str = "CHES (initial model)") -> Path:
    """Paper R §5 on one dataset: each pair's Δ log π(chosen) against its CHES score, and the mean
    Δ per CHES quintile."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    axes[0].scatter(ches, delta, s=8, alpha=0.6)
    axes[0].axhline(0, color="k", lw=0.8)
    axes[0].set_xlabel(x_label)
    axes[0].set_ylabel("Δ log π(chosen) after training (nats)")
    axes[0].set_title("per pair", fontsize=9)
    axes[1].bar(range(1, len(quintile_means) + 1), quintile_means, color="C1")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_xlabel("CHES quintile (1 = lowest)")
    axes[1].set_ylabel("mean Δ log π(chosen)")
    axes[1].set_title("by CHES quintile", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("CHES and likelihood displacement" + (f" — {model}" if model else ""), fontsize=9)
    return save(fig, path)


def squeeze_changes(changes: Mapping[str, Sequence[float]], path, model: str = "") -> Path:
    """Paper S on a real model: mean Δ log π of the chosen, rejected, greedy (argmax) and sampled
    responses after off-policy DPO, one group of bars per seed."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    names = list(changes)
    n_seeds = len(next(iter(changes.values()))) if names else 0
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        ax.bar(np.arange(n_seeds) + i * width, changes[name], width, label=name)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(np.arange(n_seeds) + 0.4 - width / 2, [f"seed {s}" for s in range(n_seeds)])
    ax.set_ylabel("mean Δ log π (nats)")
    ax.set_title("Off-policy DPO: which responses gain" + (f" — {model}" if model else ""), fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return save(fig, path)
