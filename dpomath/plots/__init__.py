"""Figures for the report: matplotlib (Agg), deterministic output, one function per figure.

Each paper's figures live in a module of their own here (``paper_f``, ``paper_y``, ``paper_i``,
``validation``); every function takes the data it draws and a path, and returns the path.
"""
from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend, with deterministic SVG ids."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "dpomath"
    return plt


def save(fig, path: str | Path, svg: bool = False) -> Path:
    """Save ``fig`` as PNG (and SVG beside it when asked) with no timestamps, then close it."""
    plt = pyplot()
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", metadata={"Software": None})
    if svg:
        fig.savefig(path.with_suffix(".svg"), bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return path
