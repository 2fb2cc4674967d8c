"""Plots the chapters share: training curves."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt


def plot_history(
    history: Mapping[str, Sequence[float]],
    keys: Sequence[str] | None = None,
    title: str = "Training curves",
    xlabel: str = "epoch",
    ylabel: str = "",
    logy: bool = False,
    ax=None,
):
    """Plot one line per key of ``history`` (a dict of equal-length lists).

    Returns the axes so that a notebook can add to the figure.
    """
    keys = list(keys) if keys is not None else list(history)
    if not keys:
        raise ValueError("plot_history needs at least one series")
    missing = [k for k in keys if k not in history]
    if missing:
        raise ValueError(f"history has no series {missing}; it has {list(history)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for k in keys:
        values = list(history[k])
        ax.plot(range(1, len(values) + 1), values, label=k, marker="o" if len(values) <= 30 else None)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
