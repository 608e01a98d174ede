"""Figures of paper Y (Yan et al., ICLR 2025): Corollary 2's gradient limits, and the toy
model's Figure 2 and the regulariser sweeps.

The toy's figures take a :class:`dpomath.toys.mlp.ToyResult` (or numbers drawn from one) and a
path, draw medians over seeds (bands: the 25–75 % range), and return the PNG path.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from . import pyplot, save

__all__ = ["toy_dynamics", "property_frequency", "flex_sweep", "flex_saturation", "sft_sweep",
           "gradient_limits"]

_SCEN = {1: "S1: chosen on, rejected on", 2: "S2: chosen off, rejected on",
         3: "S3: chosen on, rejected off", 4: "S4: chosen off, rejected off"}


def _band(ax, x, runs, label, color, log=False):
    """Median over runs (axis 0) with the interquartile band."""
    med = np.median(runs, axis=0)
    lo, hi = np.percentile(runs, [25, 75], axis=0)
    ax.plot(x, med, color=color, label=label, lw=1.4)
    ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
    if log:
        ax.set_yscale("log")


def toy_dynamics(res, settings, path: str | Path) -> Path:
    """Paper Y's Figure 2 for one setting in each scenario (rows): (left) average/min chosen,
    average/max rejected and average unseen probability over epochs; (middle) the gradient
    norms ‖∂L/∂π(chosen)‖ and ‖∂L/∂π(rejected)‖; (right) the probabilities on a log scale
    (axis capped just above 1)."""
    from ..toys.mlp import STATS

    plt = pyplot()
    settings = sorted(settings, key=lambda s: s.scenario)
    n = len(settings)
    fig, axes = plt.subplots(n, 3, figsize=(10.2, 1.85 * n + 1.0), squeeze=False)
    x = res.epochs_recorded
    k = {name: i for i, name in enumerate(STATS)}
    curves = [("p_chosen_mean", "chosen (avg)", "tab:blue", 1.0),
              ("p_chosen_min", "chosen (min)", "tab:cyan", 1.0),
              ("p_rejected_mean", "rejected (avg)", "tab:red", 1.0),
              ("p_rejected_max", "rejected (max)", "tab:orange", 1.0),
              ("p_unseen_mass", "unseen (avg)", "tab:green", 0.5)]
    for row, s in enumerate(settings):
        h = res.history[res.index(s)]                       # (seeds, epochs, stats)
        scen = _SCEN[s.scenario].split(":")[0]
        for col, log in ((0, False), (2, True)):
            ax = axes[row, col]
            for name, label, color, scale in curves:
                _band(ax, x, scale * h[:, :, k[name]], label, color, log=log)
            ax.set_ylabel("probability" + (" (log)" if log else ""), fontsize=9)
            if log:
                ax.set_ylim(top=1.5)  # probabilities: nothing above 1 to show
            else:
                ax.set_ylim(bottom=0)
        ax = axes[row, 1]
        _band(ax, x, np.exp(h[:, :, k["log_grad_chosen"]]), "‖∂L/∂π(chosen)‖", "tab:blue", log=True)
        _band(ax, x, np.exp(h[:, :, k["log_grad_rejected"]]), "‖∂L/∂π(rejected)‖", "tab:red", log=True)
        ax.set_ylabel("gradient norm (log)", fontsize=9)
        axes[row, 0].set_title(f"{_SCEN[s.scenario]}: probabilities", fontsize=9, loc="left")
        axes[row, 1].set_title(f"{scen}: gradient norms", fontsize=9, loc="left")
        axes[row, 2].set_title(f"{scen}: probabilities, log scale", fontsize=9, loc="left")
        for ax in axes[row]:
            ax.tick_params(labelsize=8)
            ax.set_xlabel("epoch" if row == n - 1 else "", fontsize=9)
    # the legends above the panels (inside a panel they would cover the curves)
    H = fig.get_size_inches()[1]
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper left", ncol=5, fontsize=8.5,
               bbox_to_anchor=(0.01, 1 - 0.32 / H), frameon=False, title="probabilities:",
               title_fontsize=8.5, alignment="left", columnspacing=1.0, handlelength=1.5)
    fig.legend(*axes[0, 1].get_legend_handles_labels(), loc="upper right", ncol=2, fontsize=8.5,
               bbox_to_anchor=(0.99, 1 - 0.32 / H), frameon=False, title="gradient norms:",
               title_fontsize=8.5, alignment="left", columnspacing=1.0, handlelength=1.5)
    s0 = settings[0]
    arch = "free-logit policy" if s0.width == 0 else f"MLP width {s0.width}"
    fig.suptitle(f"Paper Y toy: DPO dynamics, {arch}, {s0.optimizer} lr={s0.lr:g}, β={s0.beta:g}; "
                 f"median over {len(res.seeds)} seeds, band 25–75 %; unseen mass at half scale",
                 fontsize=10, y=1 - 0.08 / H)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.6 / H))
    return save(fig, path)


_SETTING = re.compile(r"^S(\d+) (.+)$")


def _row_label(rest: str) -> str:
    """``w16 adam lr=0.01 β=0.1`` → ``width 16 · adam · lr 0.01 · β 0.1``."""
    parts = [re.sub(r"^w(\d+)$", r"width \1", p).replace("=", " ") for p in rest.split()]
    return " · ".join(parts)


def property_frequency(labels: list[str], table: dict[str, list[float]], path: str | Path,
                       title: str = "Paper Y 3D-properties: how often each appears, per setting (MLP toy, DPO)") -> Path:
    """Heat map: fraction of runs showing each property in each setting. Settings labelled
    ``S<scenario> <rest>`` are drawn one panel per scenario (rows: the rest of the setting,
    columns: the properties, two panels a row); other labels as one panel."""
    plt = pyplot()
    names = list(table)
    data = np.array([table[n] for n in names]).T                 # (settings, properties)
    parsed = [_SETTING.match(lb) for lb in labels]
    short = [n.replace(" ", "\n") for n in names]                 # "P1\nlog", "P3\nunseen\n9–10"
    if all(parsed):
        scen = sorted({int(m.group(1)) for m in parsed})
        rows = list(dict.fromkeys(m.group(2) for m in parsed))
        grid = np.full((len(scen), len(rows), len(names)), np.nan)
        for m, v in zip(parsed, data):
            grid[scen.index(int(m.group(1))), rows.index(m.group(2))] = v
        row_labels = [_row_label(r) for r in rows]
    else:
        scen, grid, row_labels = [None], data[None], list(labels)
    n_rows = len(row_labels)
    ncols = min(2, len(scen))
    nrows = -(-len(scen) // ncols)
    cell_w, cell_h = 0.46, 0.3
    label_w = 0.2 + 0.068 * max(len(r) for r in row_labels)
    panel_w = len(names) * cell_w
    gap = 0.3                                                    # between panels (no labels there)
    width = label_w + ncols * panel_w + (ncols - 1) * gap + 1.2
    panel_h = cell_h * max(n_rows, 4)
    height = 1.7 + nrows * (panel_h + 1.1)
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(width, 5.5), height), squeeze=False)
    for j, sc in enumerate(scen):
        ax = axes.flat[j]
        g = grid[j]
        im = ax.imshow(g, aspect="auto", cmap="viridis", vmin=0, vmax=1)
        ax.set_xticks(range(len(names)), short, fontsize=8)
        ax.set_yticks(range(n_rows), row_labels if j % ncols == 0 else [""] * n_rows, fontsize=9)
        ax.tick_params(length=0)
        if sc is not None:
            ax.set_title(_SCEN.get(sc, f"S{sc}"), fontsize=9)
        for i in range(g.shape[0]):
            for k in range(g.shape[1]):
                if np.isfinite(g[i, k]):
                    ax.text(k, i, f"{g[i, k]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if g[i, k] < 0.5 else "black")
    for ax in list(axes.flat)[len(scen):]:
        ax.set_visible(False)
    W, H = fig.get_size_inches()
    left, right = label_w / W, 1 - 1.0 / W
    bottom, top = 1.0 / H, 1 - 0.7 / H
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=top, wspace=gap / panel_w,
                        hspace=1.1 / (panel_h + 0.1))
    cax = fig.add_axes((right + 0.15 / W, bottom, 0.14 / W, top - bottom))
    fig.colorbar(im, cax=cax).set_label("fraction of runs", fontsize=9)
    fig.suptitle(title, fontsize=10.5)
    fig.text(0.01, 0.005, "Columns: the property under each reading. Rows: MLP hidden width, optimizer, learning rate lr, "
             "DPO β. Panels: scenario S1–S4 (whether the\nchosen / rejected responses are "
             "on-policy). Cell: fraction of the setting's seeds whose run shows the property.",
             fontsize=8, ha="left", va="bottom")
    return save(fig, path)


def _reg_lines(res, spec, loss):
    return sorted({(s.width, s.optimizer, s.lr) for s in res.settings if s.loss == loss and s.width > 0})


def _sweep_axes(plt, n: int):
    """Panels for the regulariser sweeps: two a row (so the figure fits a page at 100 %)."""
    cols = min(2, n)
    rows = -(-n // cols)
    return plt.subplots(rows, cols, figsize=(10, 3.4 * rows + 0.6), squeeze=False)


def _hide_unused(axes, n: int) -> None:
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)


def flex_sweep(res, spec, path: str | Path) -> Path:
    """Flex-DPO over training: median change of log π(rejected) since the start against β₋ (β₊
    fixed; β₋ = β₊ is DPO), one row per checkpoint of the trajectory (early, middle, end), one
    panel per scenario, one line per (width, optimizer, lr)."""
    from ..toys.mlp import Setting

    plt = pyplot()
    bp = spec.flex_beta_plus
    bms = sorted(set(spec.flex_beta_minus) | {bp})
    eps = list(res.checkpoints) or [res.epochs]
    fig, axes = plt.subplots(len(eps), len(spec.scenarios), figsize=(10.4, 2.6 * len(eps) + 1.2),
                             squeeze=False, sharex=True, sharey="row")
    for row, e in enumerate(eps):
        for ax, sc in zip(axes[row], spec.scenarios):
            for w, opt, lr in _reg_lines(res, spec, "flex"):
                ys = []
                for bm in bms:
                    s = (Setting(sc, opt, lr, bp, w) if np.isclose(bm, bp)
                         else Setting(sc, opt, lr, bp, w, "flex", beta_minus=bm))
                    d = res.metric(f"logp_rejected@{e}", s) - res.metric("logp_rejected_start", s)
                    ys.append(np.median(d))
                ax.plot(bms, ys, marker="o", ms=3, lw=1, label=f"width {w}, {opt}, lr {lr:g}")
            ax.axvline(bp, color="grey", ls=":", lw=1)
            ax.set_title(f"{_SCEN[sc]}\nepoch {e}", fontsize=8.5)
            ax.tick_params(labelsize=8)
            if row == len(eps) - 1:
                ax.set_xlabel("β₋ (β₊ = %g)" % bp, fontsize=9)
        axes[row, 0].set_ylabel("median Δ log π(rej.)\n(nats)", fontsize=9)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.suptitle(f"Flex-DPO sweep on the paper Y toy over training (median over {len(res.seeds)} "
                 "seeds; dotted: β₋ = β₊ = DPO;\na line above the DPO point at β₋ < β₊ = a moderated drop)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return save(fig, path)


def flex_saturation(points: list[tuple[float, float, int]], saturated: float, path: str | Path) -> Path:
    """Flex-DPO against the phase of training: one point per (setting, checkpoint) — x the median
    plain-DPO loss as a fraction of its start (the phase; the line at ``saturated`` separates
    'saturated' on its left), y the fraction of paired runs with β₋ < β₊ whose rejected drop is
    moderated; colour = checkpoint epoch. ``points``: (loss fraction, moderated fraction, epoch)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    eps = sorted({p[2] for p in points})
    colors = dict(zip(eps, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    for e in eps:
        xs = [p[0] for p in points if p[2] == e]
        ys = [p[1] for p in points if p[2] == e]
        ax.scatter(xs, ys, s=22, color=colors[e], label=f"epoch {e}", alpha=0.8)
    ax.set_xscale("log")
    ax.axvline(saturated, color="grey", ls="--", lw=1)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.text(saturated, 0.36, f"← saturated   unsaturated →\n(loss = {saturated:g} × start)",
            fontsize=9, ha="center", va="center", transform=ax.get_xaxis_transform(),
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_xlabel("plain-DPO loss / its start (median over seeds; log scale)")
    ax.set_ylabel("fraction of paired runs moderated (β₋ < β₊)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=9, loc="lower right")
    ax.set_title("Flex-DPO (β₋ < β₊) on the paper Y toy against the phase of training: one point "
                 "per setting and checkpoint", fontsize=10)
    fig.tight_layout()
    return save(fig, path)


def sft_sweep(res, spec, path: str | Path) -> Path:
    """SFT-DPO: median over seeds of min_i p_i(end)/p_i(0) (the worst prompt's chosen probability
    relative to SFT, p_i = π(chosen_i|prompt_i)) against γ (γ = 0 is DPO), one panel per
    scenario, one line per (width, optimizer, lr)."""
    from ..toys.mlp import N_PROMPTS, Setting

    def worst(s):
        return np.min([res.metric(f"p_chosen_prompt{i + 1}_end", s) / res.metric(f"p_chosen_prompt{i + 1}_start", s)
                       for i in range(N_PROMPTS)], axis=0)

    plt = pyplot()
    gs = [0.0] + sorted(spec.sft_gammas)
    fig, axes = _sweep_axes(plt, len(spec.scenarios))
    for ax, sc in zip(axes.flat, spec.scenarios):
        for w, opt, lr in _reg_lines(res, spec, "sft"):
            ys = []
            for g in gs:
                s = (Setting(sc, opt, lr, spec.sft_beta, w) if g == 0
                     else Setting(sc, opt, lr, spec.sft_beta, w, "sft", gamma=g))
                ys.append(np.median(worst(s)))
            ax.plot(gs, ys, marker="o", ms=4, lw=1.2, label=f"width {w}, {opt}, lr {lr:g}")
        ax.set_xscale("symlog", linthresh=min(spec.sft_gammas))
        ax.set_yscale("log")
        ax.axhline(1.0, color="grey", ls=":", lw=1)
        ax.set_title(_SCEN[sc], fontsize=10)
        ax.set_xlabel("γ (0 = DPO)")
        ax.set_ylabel("median of min_i π_end(c_i) / π_SFT(c_i)")
    _hide_unused(axes, len(spec.scenarios))
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"SFT-DPO sweep on the paper Y toy, β = {spec.sft_beta:g} "
                 f"(median over {len(res.seeds)} seeds)", fontsize=11)
    fig.tight_layout()
    return save(fig, path)


def gradient_limits(path: str | Path, pi_plus: float = 0.5, alpha: float = 1.0,
                    betas=(0.3, 1.0, 2.0)) -> Path:
    """|∂ℓ/∂π−| and |∂ℓ/∂π+| against π− (log–log), computed in log space:
    ∂ℓ/∂π− = (β/π−)·s, ∂ℓ/∂π+ = −(β/π+)·s with s = σ(log α + β log(π−/π+))."""
    from scipy.special import expit

    plt = pyplot()
    pm = np.logspace(-12, 0, 300)
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 4.3), sharex=True)
    for b in betas:
        s = expit(np.log(alpha) + b * (np.log(pm) - np.log(pi_plus)))
        axes[0].loglog(pm, b * s / pm, label=f"β = {b:g}")
        axes[1].loglog(pm, b * s / pi_plus, label=f"β = {b:g}")
    axes[0].set_title("|∂ℓ/∂π−|: → ∞ (β < 1), → α/π+ (β = 1), → 0 (β > 1)", fontsize=10)
    axes[1].set_title("|∂ℓ/∂π+| → 0 for every β", fontsize=10)
    for ax in axes:
        ax.set_xlabel("π− = πθ(a−|x) (probability)")
        ax.legend()
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("gradient magnitude (nats per unit probability)")
    fig.suptitle(f"Paper Y, Corollary 2 as π− → 0 (π+ = {pi_plus:g}, α = {alpha:g})", fontsize=11)
    fig.tight_layout()
    return save(fig, path)


def lm_logps_over_steps(panels: list[dict], path: str | Path, title: str = "") -> Path:
    """Paper Y's properties on a real language model: the change since step 0 of the mean
    log-probability of the chosen, rejected and unseen responses over training steps, one
    column per panel (a model and training mode), sequence log π on top and per-token log π
    below; thin lines are seeds, thick lines their mean.

    Parameters
    ----------
    panels : list of dict
        Each ``{"title": str, "steps": [int], "series": {name: {"seq": [[per seed values]],
        "tok": [[...]]}}}`` with ``name`` among chosen, rejected, unseen would-say, unseen
        would-not-say (values: change since step 0, nats, one list per seed over ``steps``).
    path : str or Path
        The PNG to write.

    Returns
    -------
    Path
    """
    plt = pyplot()
    colors = {"chosen": "tab:green", "rejected": "tab:red", "unseen would-say": "tab:blue",
              "unseen would-not-say": "tab:purple", "greedy": "tab:gray"}
    n = len(panels)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 6.4), squeeze=False, sharex="col")
    for j, p in enumerate(panels):
        x = np.asarray(p["steps"])
        for row, key, ylabel in ((0, "seq", "Δ mean sequence log π (nats)"),
                                 (1, "tok", "Δ mean per-token log π (nats)")):
            ax = axes[row][j]
            for name, ser in p["series"].items():
                runs = np.asarray(ser.get(key) or [], float)
                if runs.size == 0:
                    continue
                c = colors.get(name, "black")
                for r in runs:
                    ax.plot(x, r, color=c, lw=0.6, alpha=0.35)
                ax.plot(x, runs.mean(axis=0), color=c, lw=2.0, label=name)
            ax.axhline(0.0, color="black", lw=0.6)
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel(ylabel)
            if row == 0:
                ax.set_title(p["title"], fontsize=10)
            else:
                ax.set_xlabel("update (step)")
    axes[0][0].legend(fontsize=8, loc="best")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return save(fig, path)
