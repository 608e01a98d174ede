"""Figures of paper R (likelihood displacement): Theorem 4's rate against autograd, and the tokens
that gain (Theorem 5)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import pyplot, save

__all__ = ["displacement_rates", "gain_vs_score"]


def displacement_rates(predicted, measured, engineered, path: str | Path) -> Path:
    """Scatter of Theorem 4's d/dt ln π(y⁺) against the autograd central difference, one point per
    random instance; the engineered instances (W_{y⁻} = λW_{y⁺} + noise, λ ∈ [1, 2]) in orange."""
    plt = pyplot()
    predicted, measured = np.asarray(predicted), np.asarray(measured)
    eng = np.asarray(engineered, dtype=bool)
    fig, ax = plt.subplots(figsize=(5.6, 4.6))
    ax.scatter(predicted[~eng], measured[~eng], s=12, label="random W, h")
    ax.scatter(predicted[eng], measured[eng], s=12, color="tab:orange", label="W_{y−} = λW_{y+} + noise, λ ∈ [1, 2]")
    lim = float(np.max(np.abs(np.concatenate([predicted, measured])))) * 1.05
    ax.plot([-lim, lim], [-lim, lim], color="grey", lw=0.8)
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel("Theorem 4: d/dt ln π(y⁺) (nats per unit time, symlog)")
    ax.set_ylabel("autograd central difference (nats per unit time, symlog)")
    ax.set_title("Paper R, Theorem 4: below 0 = likelihood displacement", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)


def gain_vs_score(score, gain, path: str | Path, lr: float) -> Path:
    """Change of ln π(z) after one finite step against ⟨W_z, W_{y⁺} − W_{y⁻}⟩ for the tokens other
    than y⁺, y⁻ of one instance: a straight line of slope ηc (Theorem 5, exact for one step)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    ax.scatter(score, gain, s=14)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("⟨W_z, W_{y+} − W_{y−}⟩")
    ax.set_ylabel(f"Δ ln π(z) after one step, η = {lr:g} (nats)")
    ax.set_title("Paper R, Theorem 5: the tokens that gain", fontsize=10)
    fig.tight_layout()
    return save(fig, path)
