"""Figure of paper Y's Corollary 2: the gradients of ℓ = log(1 + α z^β) on π+ and π− as
π− → 0, for β below, at and above 1."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import pyplot, save

__all__ = ["gradient_limits"]


def gradient_limits(path: str | Path, pi_plus: float = 0.5, alpha: float = 1.0,
                    betas=(0.3, 1.0, 2.0)) -> Path:
    """|∂ℓ/∂π−| and |∂ℓ/∂π+| against π− (log–log), computed in log space:
    ∂ℓ/∂π− = (β/π−)·s, ∂ℓ/∂π+ = −(β/π+)·s with s = σ(log α + β log(π−/π+))."""
    from scipy.special import expit

    plt = pyplot()
    pm = np.logspace(-12, 0, 300)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), sharex=True)
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
