"""Chapter 4's schematic of dropout: the same network in training, with some
hidden units switched off, and in evaluation, with all of them.

Drawn with :mod:`book.plotting.schematic`, so it renders offline and uses the
book's palette: a dropped unit is grey and crossed out, and its edges are gone,
because a unit multiplied by zero neither sends nor receives a signal in that
step.
"""
from __future__ import annotations

from typing import Sequence

from book.checks import is_integer, positive_ints, real
from book.plotting import schematic as sch


def _check_dropped(sizes: list[int], dropped) -> list[list[int]]:
    rows = [list(layer) for layer in dropped]
    if len(rows) > len(sizes):
        raise ValueError(f"dropout_figure: dropped has {len(rows)} layers, the network {len(sizes)}")
    rows += [[] for _ in range(len(sizes) - len(rows))]
    if rows[0] or rows[-1]:
        raise ValueError("dropout_figure: dropout acts on hidden units; leave the input and output layers empty")
    for l, units in enumerate(rows):
        bad = [u for u in units if not (is_integer(u) and 0 <= u < sizes[l])]
        if bad or len(set(units)) != len(units):
            raise ValueError(f"dropout_figure: dropped[{l}] must be distinct unit indices below {sizes[l]}, got {units}")
    return rows


def dropout_figure(
    sizes: Sequence[int] = (4, 5, 5, 3),
    dropped: Sequence[Sequence[int]] = ((), (1, 3), (0, 2, 4), ()),
    p: float = 0.5,
    scale: float = 0.55,
):
    """Two panels side by side: one training step of dropout, and evaluation.

    ``sizes`` counts units per layer, input first; ``dropped[l]`` lists the
    hidden units of layer ``l`` switched off in the drawn training step (the
    input and output layers keep all theirs). ``p`` is the dropout probability
    written in the titles: in training each surviving unit is scaled by
    ``1 / (1 - p)`` (inverted dropout), in evaluation nothing is dropped or
    scaled. Returns the figure and its two axes.
    """
    import matplotlib.pyplot as plt

    sizes = positive_ints(sizes, "sizes", min_length=3, owner="dropout_figure")
    rows = _check_dropped(sizes, dropped)
    p = real(p, "p", 0.0, 1.0, low_open=True, high_open=True, owner="dropout_figure")
    dx, dy = 2.2, 0.9
    width = 1.6 + dx * (len(sizes) - 1)
    height = max(sizes) * dy + 1.4
    fig, axes = plt.subplots(1, 2, figsize=(2 * width * scale, height * scale))
    labels = [[f"$x_{i + 1}$" for i in range(sizes[0])]] + [[] for _ in sizes[1:-1]] + \
        [[rf"$\hat y_{i + 1}$" for i in range(sizes[-1])]]
    kept = sum(n - len(r) for n, r in zip(sizes[1:-1], rows[1:-1]))
    total = sum(sizes[1:-1])
    titles = [f"Training step: {total - kept} of {total} hidden units dropped\n"
              f"(each with probability p = {p:g}; survivors scaled by 1/(1-p) = {1 / (1 - p):g})",
              "Evaluation (model.eval()): every unit present,\nnothing dropped, nothing rescaled"]
    for ax, drop, title in zip(axes, (rows, []), titles):
        sch.canvas(width, height, ax=ax)
        sch.network(ax, sizes, x0=0.8, dx=dx, dy=dy, y_centre=(height - 0.6) / 2, labels=labels, dropped=drop)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig, axes


__all__ = ["dropout_figure"]
