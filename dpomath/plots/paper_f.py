"""Figures of paper F (Feng et al. 2024): its Figure 1 regenerated, the same field in log
coordinates beside it, and gradient-flow trajectories (Remark 3).

Each function takes the data it draws (grids from :func:`dpomath.gradients.field.field_grid`, flows
from :func:`dpomath.gradients.field.gradient_flow`) and a path, and returns the PNG path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from . import pyplot, save

__all__ = ["figure1", "field_coordinates", "flow_trajectories"]


def _quiver(ax, g: dict, title: str, xlabel: str, ylabel: str):
    """Contours of the loss, arrows of −∇L: direction normalised, colour = log10 |∇L|."""
    du, dv = -g["du"], -g["dv"]  # the descent direction, as in the paper's red arrows
    mag = np.hypot(du, dv)
    cs = ax.contourf(g["u"], g["v"], g["loss"], levels=20, cmap="Greys", alpha=0.55)
    q = ax.quiver(g["u"], g["v"], du / mag, dv / mag, np.log10(mag), cmap="autumn_r",
                  angles="xy", pivot="mid", scale=28, width=0.004)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_aspect("equal")
    return cs, q


def figure1(surface: dict, arrows: dict, beta: float, path: str | Path) -> Path:
    """Paper F's Figure 1: (a) the DPO loss surface over the unit square (reference
    probabilities 1, so x = πθ), (b) the descent field −∇L(x1, x2) seen from above.
    ``surface`` and ``arrows`` are :func:`~dpomath.gradients.field.field_grid` grids (fine, coarse)."""
    plt = pyplot()
    fig = plt.figure(figsize=(11, 4.6))
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    ax.plot_surface(surface["u"], surface["v"], surface["loss"], cmap="viridis", linewidth=0,
                    antialiased=True, rcount=60, ccount=60)
    ax.set_xlabel("x1 = πθ(y_w)/π_ref(y_w)")
    ax.set_ylabel("x2 = πθ(y_l)/π_ref(y_l)")
    ax.set_zlabel("L_DPO (nats)")
    ax.view_init(elev=28, azim=-125)
    ax.set_title(f"(a) loss surface L(x1, x2), β = {beta:g}", fontsize=10)
    ax2 = fig.add_subplot(1, 2, 2)
    cs, q = _quiver(ax2, arrows, f"(b) descent field −∇L(x1, x2), β = {beta:g}",
                    "x1 (probability ratio, dimensionless)", "x2 (probability ratio, dimensionless)")
    fig.colorbar(q, ax=ax2, label="log10 |∇L| (nats per unit ratio)")
    fig.suptitle("Paper F, Figure 1 regenerated: DPO in probability coordinates", fontsize=11)
    return save(fig, path)


def field_coordinates(grid_x: dict, grid_h: dict, beta: float, path: str | Path) -> Path:
    """The same DPO descent field in probability coordinates (x1, x2) and in log coordinates
    (h_w, h_l) = (log x1, log x2) over the same set of policies, side by side."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.7))
    _, q1 = _quiver(axes[0], grid_x, f"probability coordinates: −∇_x L (β = {beta:g})",
                    "x1 = e^{h_w} (dimensionless)", "x2 = e^{h_l} (dimensionless)")
    fig.colorbar(q1, ax=axes[0], shrink=0.85, label="log10 |∇_x L|")
    _, q2 = _quiver(axes[1], grid_h, f"log coordinates: −∇_h L (β = {beta:g})",
                    "h_w = log x1 (nats)", "h_l = log x2 (nats)")
    fig.colorbar(q2, ax=axes[1], shrink=0.85, label="log10 |∇_h L|")
    fig.suptitle("One loss, two coordinate systems: in (h_w, h_l) the gradient is always "
                 "(−1, +1)·βσ(−ρ)", fontsize=11)
    fig.tight_layout()
    return save(fig, path)


def flow_trajectories(flows_x: Sequence, flows_h: Sequence, beta: float, path: str | Path) -> Path:
    """Gradient-flow trajectories from the same starting policies in both coordinate systems
    (Remark 3), drawn in probability coordinates: the probability-coordinate flow moves on
    circles x1² + x2² = const, the log-coordinate flow on hyperbolas x1·x2 = const."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.4, 4.6), sharey=True)
    for ax, flows, title in ((axes[0], flows_x, "flow of −∇_x L (paper F's field)"),
                             (axes[1], flows_h, "flow of −∇_h L (log coordinates)")):
        for f in flows:
            t = np.concatenate([[0.0], np.geomspace(f.t_stop * 1e-9, f.t_stop, 600)])
            y = f.at(t)
            x = np.exp(y) if f.coords == "log" else y
            ax.plot(x[0], x[1], lw=1.4)
            s = np.exp(f.start) if f.coords == "log" else f.start
            ax.plot(*s, "ko", ms=4)
        ax.set_title(f"{title}, β = {beta:g}", fontsize=10)
        ax.set_xlabel("x1 (probability ratio)")
        ax.axvline(1.0, color="grey", lw=0.6, ls=":")
        ax.set_xlim(0, 3.2)
        ax.set_ylim(0, 1.0)
    axes[0].set_ylabel("x2 (probability ratio)")
    fig.suptitle("Remark 3: where the flow ends depends on the start only through a "
                 "conserved quantity", fontsize=11)
    fig.tight_layout()
    return save(fig, path)
