"""Figures of sequence-level DPO runs (``dpomath train``): one function per figure; each takes
the numbers it draws and a path, and returns the path written."""
from __future__ import annotations

from typing import Mapping, Sequence

from . import pyplot, save

__all__ = ["logps_over_steps"]

#: (split, key, label, colour, line style) of the curves of :func:`logps_over_steps`.
_CURVES = (
    ("train", "logps/chosen", "chosen (trained)", "tab:green", "-"),
    ("train", "logps/rejected", "rejected (trained)", "tab:red", "-"),
    ("heldout", "logps/chosen", "chosen (held out)", "tab:green", "--"),
    ("heldout", "logps/rejected", "rejected (held out)", "tab:red", "--"),
    ("unseen", "logps/unseen_would-say", "unseen, would say", "tab:blue", ":"),
    ("unseen", "logps/unseen_would-not-say", "unseen, would not say", "tab:purple", ":"),
)


def logps_over_steps(evals: Sequence[Mapping], path, title: str = "") -> "object":
    """Mean sequence log-probability log πθ(y|x) of the chosen, rejected and unseen responses
    against the optimizer step (left), and its change from the reference, log πθ − log π_ref
    (right), from the evaluations of a run (``TrainResult.evals``)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    steps = [e["step"] for e in evals]
    for split, key, label, colour, style in _CURVES:
        if not all(split in e and key in e[split] for e in evals):
            continue
        y = [e[split][key] for e in evals]
        change_key = "logps/unseen_" + key.split("_", 1)[1] + "_change" if split == "unseen" else key + "_change"
        y0 = [e[split][change_key] for e in evals]
        axes[0].plot(steps, y, style, color=colour, marker="o", ms=3, label=label)
        axes[1].plot(steps, y0, style, color=colour, marker="o", ms=3, label=label)
    axes[0].set_ylabel("mean log πθ(y|x) (nats per response)")
    axes[0].set_title("sequence log-probability")
    axes[1].set_ylabel("mean log πθ(y|x) − log π_ref(y|x) (nats)")
    axes[1].set_title("change from the reference model")
    axes[1].axhline(0.0, color="k", lw=0.7)
    for ax in axes:
        ax.set_xlabel("optimizer step (updates)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path)
