"""Drawing blocks for the book's schematic figures: boxes, circles, arrows with
labels, and layered networks.

Every architecture and algorithm in the book has a picture drawn by code, with
matplotlib and nothing else, so that it renders offline and changes with the
code. A figure starts from :func:`canvas` (axes in plain units, no ticks), then
places :func:`box` and :func:`circle` nodes, joins them with :func:`arrow`,
and may draw a whole fully connected stack with :func:`network`. Each function
returns what a caller needs to attach more: a node returns its centre, an
arrow its label's text artist, a network the centres of its units.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from book.checks import positive, positive_ints

Point = tuple[float, float]

# One palette for every schematic, so a colour means the same thing in every chapter.
COLOURS = {
    "input": "#dce8f5",
    "hidden": "#fdebd0",
    "output": "#d5f5e3",
    "op": "#f2f3f4",
    "param": "#f9e79f",
    "loss": "#f5b7b1",
    "dropped": "#d5d8dc",
    "edge": "#34495e",
    "grad": "#c0392b",
}


def canvas(width: float = 10.0, height: float = 5.0, scale: float = 0.8, ax=None):
    """Axes ``width`` by ``height`` units with equal aspect and no frame.

    ``scale`` is inches per unit for a new figure. Returns the axes.
    """
    import matplotlib.pyplot as plt

    width, height = positive(width, "width", owner="canvas"), positive(height, "height", owner="canvas")
    if ax is None:
        _, ax = plt.subplots(figsize=(width * scale, height * scale))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def box(ax, xy: Point, text: str = "", width: float = 1.6, height: float = 0.8, colour: str = "op",
        fontsize: float = 10, **text_kw) -> Point:
    """A rounded box centred at ``xy`` with ``text`` inside; returns ``xy``.

    ``colour`` is a key of :data:`COLOURS` or any matplotlib colour.
    """
    from matplotlib.patches import FancyBboxPatch

    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.02,rounding_size=0.12",
                                facecolor=COLOURS.get(colour, colour), edgecolor=COLOURS["edge"], linewidth=1.2))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, **text_kw)
    return xy


def circle(ax, xy: Point, text: str = "", radius: float = 0.3, colour: str = "hidden",
           fontsize: float = 9, crossed: bool = False, **text_kw) -> Point:
    """A circle (a unit, a variable) centred at ``xy``; ``crossed`` draws an X over it (a dropped unit)."""
    from matplotlib.patches import Circle

    x, y = xy
    ax.add_patch(Circle(xy, radius, facecolor=COLOURS.get(colour, colour), edgecolor=COLOURS["edge"],
                        linewidth=1.2, zorder=3))
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, zorder=4, **text_kw)
    if crossed:
        d = radius * 0.75
        for sign in (1, -1):
            ax.plot([x - d, x + d], [y - sign * d, y + sign * d], color=COLOURS["grad"], linewidth=1.6, zorder=5)
    return xy


def _shorten(start: np.ndarray, end: np.ndarray, gap_start: float, gap_end: float):
    direction = end - start
    length = float(np.hypot(*direction))
    if length == 0:
        raise ValueError(f"arrow needs two different points, got {tuple(start)} twice")
    unit = direction / length
    return start + unit * gap_start, end - unit * gap_end


def arrow(ax, start: Point, end: Point, label: str | None = None, colour: str = "edge", gap: float = 0.0,
          gap_end: float | None = None, curve: float = 0.0, label_pos: float = 0.5, label_offset: float = 0.18,
          fontsize: float = 9, linestyle: str = "-", **text_kw):
    """An arrow from ``start`` to ``end``, stopping ``gap`` short of each end (of the end: ``gap_end``).

    ``curve`` bends it (matplotlib's arc radius); ``label`` is written at
    ``label_pos`` along the arrow, ``label_offset`` units to its left, in the
    arrow's colour. Returns the label's text artist, or ``None``.
    """
    from matplotlib.patches import FancyArrowPatch

    s, e = _shorten(np.asarray(start, float), np.asarray(end, float), gap, gap if gap_end is None else gap_end)
    c = COLOURS.get(colour, colour)
    ax.add_patch(FancyArrowPatch(tuple(s), tuple(e), arrowstyle="-|>", mutation_scale=12, color=c, linewidth=1.2,
                                 linestyle=linestyle, connectionstyle=f"arc3,rad={curve}", zorder=2))
    if label is None:
        return None
    direction = e - s
    normal = np.array([-direction[1], direction[0]]) / np.hypot(*direction)
    # A curved arrow bulges to its right for positive rad; put the label on the bulge.
    where = s + label_pos * direction + normal * (label_offset - curve * np.hypot(*direction) * 0.5)
    return ax.text(*where, label, ha="center", va="center", fontsize=fontsize, color=c, **text_kw)


def network(ax, sizes: Sequence[int], x0: float = 1.0, dx: float = 2.5, y_centre: float | None = None,
            dy: float = 0.9, radius: float = 0.28, labels: Sequence[Sequence[str]] | None = None,
            colours: Sequence[str] | None = None, dropped: Sequence[Sequence[int]] = (), edge_alpha: float = 0.5):
    """A fully connected stack: one column of circles per layer, every unit joined to every unit of the next.

    ``sizes`` counts the units per layer (input first). ``labels[l][i]`` writes
    inside unit ``i`` of layer ``l``; ``colours`` names each layer's colour
    (default: input, hidden..., output); ``dropped[l]`` lists the units of
    layer ``l`` to cross out, and their edges are left out, as dropout does.
    Returns a list of layers, each a list of unit centres.
    """
    sizes = positive_ints(sizes, "sizes", min_length=1, owner="network")
    if colours is None:
        colours = ["input"] + ["hidden"] * (len(sizes) - 2) + ["output"] if len(sizes) > 1 else ["input"]
    if y_centre is None:
        y_centre = (max(sizes) - 1) * dy / 2 + 0.6
    dropped_sets = [set(dropped[l]) if l < len(dropped) else set() for l in range(len(sizes))]
    centres = []
    for l, n in enumerate(sizes):
        ys = y_centre + (np.arange(n) - (n - 1) / 2) * dy
        centres.append([(x0 + l * dx, float(y)) for y in ys[::-1]])
    for l in range(len(sizes) - 1):
        for i, a in enumerate(centres[l]):
            for j, b in enumerate(centres[l + 1]):
                if i in dropped_sets[l] or j in dropped_sets[l + 1]:
                    continue
                s, e = _shorten(np.asarray(a), np.asarray(b), radius, radius)
                ax.plot([s[0], e[0]], [s[1], e[1]], color=COLOURS["edge"], linewidth=0.8, alpha=edge_alpha, zorder=1)
    for l, layer in enumerate(centres):
        for i, xy in enumerate(layer):
            text = labels[l][i] if labels is not None and l < len(labels) and i < len(labels[l]) else ""
            circle(ax, xy, text, radius=radius, colour="dropped" if i in dropped_sets[l] else colours[l],
                   crossed=i in dropped_sets[l])
    return centres


__all__ = ["COLOURS", "arrow", "box", "canvas", "circle", "network"]
