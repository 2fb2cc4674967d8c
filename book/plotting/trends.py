"""Chapter 13's figures: sourced trends on log scales (training compute or emissions with a
fitted doubling line) and two schematics (the gradient-saliency pipeline and
mixture-of-experts routing)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from book.checks import positive_int
from book.plotting.schematic import arrow, box, canvas


def _check_series(dates, values, labels, owner):
    dates, values = np.asarray(dates, float), np.asarray(values, float)
    if dates.ndim != 1 or dates.shape != values.shape or len(labels) != len(dates) or len(dates) == 0:
        raise ValueError(f"{owner}: dates, values and labels must be 1-D and of the same non-zero length")
    if np.any(values <= 0):
        raise ValueError(f"{owner}: values must be positive for a log scale")
    return dates, values


def log_trend_figure(dates: Sequence[float], values: Sequence[float], labels: Sequence[str],
                     ylabel: str, title: str, fit: dict | None = None, fit_label: str = "fit",
                     label_offsets: dict[str, tuple[float, float]] | None = None):
    """Dated values as labelled points on a log y-axis; with ``fit`` (a dict with ``slope`` and
    ``intercept`` of ``log2(value)`` against the date, as :func:`book.data.trends.doubling_time`
    returns) the fitted line. ``label_offsets`` maps a label to its offset from the point in
    points (default ``(4, 4)``), to move labels that would overlap. Returns ``(fig, ax)``."""
    import matplotlib.pyplot as plt

    dates, values = _check_series(dates, values, labels, "log_trend_figure")
    offsets = {} if label_offsets is None else dict(label_offsets)
    unknown = set(offsets) - set(labels)
    if unknown:
        raise ValueError(f"log_trend_figure: label_offsets names labels that are not plotted: {sorted(unknown)}")
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.scatter(dates, values, color="#2e86c1", zorder=3)
    for d, v, name in zip(dates, values, labels):
        ax.annotate(name, (d, v), textcoords="offset points", xytext=offsets.get(name, (4, 4)), fontsize=8)
    if fit is not None:
        t = np.linspace(dates.min() - 0.3, dates.max() + 0.3, 50)
        ax.plot(t, 2.0 ** (fit["slope"] * t + fit["intercept"]), "--", color="#c0392b", label=fit_label)
        ax.legend(loc="lower right")
    ax.set_yscale("log")
    ax.set_xlabel("publication date (year)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    fig.tight_layout()
    return fig, ax


def saliency_pipeline_figure():
    """Gradient saliency as a pipeline: image -> network -> logit of the class -> gradient back to
    the pixels -> |gradient| as a map, and the deletion test beside it. Returns the figure."""
    ax = canvas(11.0, 4.2, scale=0.75)
    y = 2.9
    box(ax, (1.0, y), "image x\n8×8 pixels", width=1.6, height=0.9, colour="input", fontsize=9)
    box(ax, (3.6, y), "trained\nnetwork", width=1.6, height=0.9, colour="hidden", fontsize=9)
    box(ax, (6.2, y), "logit z_c of\nclass c", width=1.6, height=0.9, colour="output", fontsize=9)
    box(ax, (9.4, y), "saliency map\n|∂z_c / ∂x|", width=2.0, height=0.9, colour="param", fontsize=9)
    arrow(ax, (1.0, y), (3.6, y), gap=0.8, gap_end=0.8)
    arrow(ax, (3.6, y), (6.2, y), gap=0.8, gap_end=0.8)
    ax.annotate("", xy=(1.0, y - 0.5), xytext=(6.2, y - 0.5),
                arrowprops=dict(arrowstyle="->", color="#c0392b", connectionstyle="arc3,rad=-0.3"))
    ax.text(3.6, y - 1.5, "backward pass to the input (weights fixed)", ha="center", fontsize=8.5, color="#c0392b")
    arrow(ax, (6.2, y), (9.4, y), gap=0.8, gap_end=1.0)
    box(ax, (5.5, 0.55), "deletion test: set the k most salient pixels to 0 and measure how far z_c falls;\n"
        "compare with k random pixels", width=10.4, height=0.8, colour="op", fontsize=8.5)
    return ax.figure


def moe_figure(n_experts: int = 4, top_k: int = 2):
    """A mixture-of-experts layer: a token's vector goes to a router that scores ``n_experts``
    feed-forward experts, only the ``top_k`` best run, and their outputs are mixed by the router's
    weights. Returns the figure."""
    n_experts = positive_int(n_experts, "n_experts", owner="moe_figure")
    top_k = positive_int(top_k, "top_k", owner="moe_figure")
    if top_k > n_experts or n_experts > 8:
        raise ValueError(f"moe_figure: need top_k <= n_experts <= 8, got top_k={top_k}, n_experts={n_experts}")
    height = max(4.0, 1.0 * n_experts + 0.8)
    ax = canvas(11.0, height, scale=0.7)
    yc = height / 2
    box(ax, (0.9, yc), "token\nvector h", width=1.4, height=0.9, colour="input", fontsize=9)
    box(ax, (3.0, yc), "router\nsoftmax(hW_r)", width=2.1, height=0.9, colour="op", fontsize=9)
    arrow(ax, (0.9, yc), (3.0, yc), gap=0.7, gap_end=1.05)
    box(ax, (9.9, yc), "Σ g_i · E_i(h)", width=1.8, height=0.9, colour="output", fontsize=9)
    ys = yc + (np.arange(n_experts)[::-1] - (n_experts - 1) / 2) * 1.0
    for i, ye in enumerate(ys):
        chosen = i < top_k
        box(ax, (6.6, ye), f"expert {i + 1} (FFN)", width=2.0, height=0.7,
            colour="hidden" if chosen else "dropped", fontsize=9)
        arrow(ax, (3.0, yc), (6.6, ye), gap=1.05, gap_end=1.0, colour="edge" if chosen else "dropped",
              label=f"g_{i + 1}" if chosen else None)
        if chosen:
            arrow(ax, (6.6, ye), (9.9, yc), gap=1.0, gap_end=0.9)
    ax.text(5.5, 0.15, f"only the top {top_k} of {n_experts} experts run for this token (grey: skipped)",
            ha="center", fontsize=8.5)
    return ax.figure


__all__ = ["log_trend_figure", "moe_figure", "saliency_pipeline_figure"]
