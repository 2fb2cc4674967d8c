"""The figure of a multilayer perceptron (chapter 3): layers of units, the weight
matrix between each pair of layers with its shape, and the activation of
each hidden layer, in the book's notation (rows are samples, Z = XW + 1bᵀ,
W of shape d_in × d_out).
"""
from __future__ import annotations

from typing import Sequence

from book.checks import positive_int, positive_ints
from book.plotting import schematic as sch


def draw_mlp(sizes: Sequence[int], activation: str = "ReLU", max_units: int = 5, ax=None):
    """Draw an MLP with ``sizes`` units per layer (input first); returns the axes.

    The widths are written under each column and in the weight shapes. A
    layer wider than ``max_units`` is drawn with ``max_units`` circles: the
    last one is its last unit and the one before stands ("⋮") for those not
    drawn, so a 64–32–10 network keeps a small picture.
    """
    sizes = positive_ints(sizes, "sizes", min_length=2, owner="draw_mlp")
    max_units = positive_int(max_units, "max_units", owner="draw_mlp")
    if max_units < 3:
        raise ValueError(f"draw_mlp: max_units must be at least 3, got {max_units}")
    drawn = [min(n, max_units) for n in sizes]
    n_layers = len(sizes)
    dx, dy = 3.0, 0.85
    height = max(drawn) * dy + 2.6
    width = (n_layers - 1) * dx + 2.4
    ax = sch.canvas(width, height, scale=0.75, ax=ax)
    last = n_layers - 1

    def unit(l: int, i: int) -> str:
        """The label of unit ``i`` (from 1) of layer ``l``."""
        if l == 0:
            return f"$x_{{{i}}}$"
        if l == last:
            return f"$\\hat y_{{{i}}}$"
        return f"$h^{{({l})}}_{{{i}}}$"

    labels = []
    for l, (n, shown) in enumerate(zip(sizes, drawn)):
        names = [unit(l, i + 1) for i in range(shown)]
        if shown < n:  # the middle circle stands for the units not drawn
            names[-2:] = ["⋮", unit(l, n)]
        labels.append(names)
    y_centre = height / 2 + 0.1
    centres = sch.network(ax, drawn, x0=1.2, dx=dx, y_centre=y_centre, dy=dy, radius=0.32, labels=labels)
    bottom = y_centre - (max(drawn) - 1) * dy / 2 - 0.75
    for l in range(n_layers):
        x = centres[l][0][0]
        role = "input" if l == 0 else ("output (logits)" if l == last else f"hidden layer {l}")
        ax.text(x, bottom, f"{role}\n{sizes[l]} units", ha="center", va="top", fontsize=8.5)
        if 0 < l < last:
            ax.text(x, y_centre + (max(drawn) - 1) * dy / 2 + 0.6, f"$f$ = {activation}", ha="center",
                    fontsize=9, color=sch.COLOURS["grad"])
    for l in range(n_layers - 1):
        x = (centres[l][0][0] + centres[l + 1][0][0]) / 2
        ax.text(x, y_centre + (max(drawn) - 1) * dy / 2 + 0.6,
                f"$W^{{({l + 1})}}$: {sizes[l]}×{sizes[l + 1]}\n$b^{{({l + 1})}}$: {sizes[l + 1]}",
                ha="center", fontsize=8.5, color=sch.COLOURS["edge"])
    return ax


__all__ = ["draw_mlp"]
