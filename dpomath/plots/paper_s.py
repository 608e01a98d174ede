"""Figures of paper S (the squeezing effect)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import pyplot, save

__all__ = ["squeeze_bars", "gain_against_pybar"]


def squeeze_bars(before, after, ybar: int, path: str | Path, c: float) -> Path:
    """π before and after one negative-gradient step on ȳ (log scale), tokens sorted by π before."""
    plt = pyplot()
    before, after = np.asarray(before), np.asarray(after)
    order = np.argsort(-before, kind="stable")
    x = np.arange(before.size)
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    ax.bar(x - 0.2, before[order], width=0.4, label="π before")
    ax.bar(x + 0.2, after[order], width=0.4, label="π after")
    pos = int(np.flatnonzero(order == ybar)[0])
    ax.annotate("ȳ", (pos, before[ybar]), xytext=(pos, before[ybar] * 30), ha="center", color="darkred",
                arrowprops=dict(arrowstyle="->", color="darkred"))
    ax.set_yscale("log")
    ax.set_xlabel("tokens, sorted by π before the step")
    ax.set_ylabel("probability")
    ax.set_title(f"Paper S: squeezing by a negative gradient on ȳ (c = η‖x‖² = {c:g})", fontsize=10)
    ax.legend()
    fig.tight_layout()
    return save(fig, path)


def gain_against_pybar(curves: dict, path: str | Path) -> Path:
    """Δ ln π(y*) against π(ȳ) for fixed c and fixed distribution of the other tokens (S-SMALL)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    for label, (p, g) in curves.items():
        ax.plot(p, g, label=label)
    ax.set_xlabel("π(ȳ) before the step")
    ax.set_ylabel("Δ ln π(y*) (nats)")
    ax.set_title("Paper S, statement 5: y*'s gain is not monotone in π(ȳ)", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)
