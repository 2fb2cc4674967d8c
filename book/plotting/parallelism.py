"""Chapter 11's schematics of the three ways to spread training over several devices.

* :func:`data_parallel_figure`: every device holds the whole model and a shard
  of the global batch; an all-reduce averages the gradients, so every copy
  takes the same step (what :mod:`book.training.distributed` runs).
* :func:`tensor_parallel_figure`: one weight matrix split across devices, by
  columns (each device computes some output features; the pieces are
  concatenated) and by rows (each device computes a partial sum over some
  input features; an all-reduce adds them).
* :func:`pipeline_parallel_figure`: consecutive layers on consecutive
  devices, the batch cut into micro-batches, and the timeline of a GPipe-style
  schedule with its idle "bubble"; :func:`pipeline_schedule` computes that
  timeline and :func:`bubble_fraction` the idle share, ``(p - 1) / (m + p - 1)``.

Each device has its own colour, the same in every figure, from :data:`DEVICE_COLOURS`.
"""
from __future__ import annotations

import numpy as np

from book.checks import positive_int
from book.plotting import schematic as sch

DEVICE_COLOURS = ["#aed6f1", "#f5cba7", "#abebc6", "#f9e79f", "#d7bde2", "#f5b7b1"]


def _devices(n, owner: str, minimum: int = 2) -> int:
    n = positive_int(n, "n_devices", owner=owner)
    if not minimum <= n <= len(DEVICE_COLOURS):
        raise ValueError(f"{owner}: n_devices must be between {minimum} and {len(DEVICE_COLOURS)}, got {n}")
    return n


def data_parallel_figure(n_devices: int = 2, ax=None):
    """Data parallelism on ``n_devices`` (2 to 6): replicas, batch shards, one all-reduce. Returns the axes."""
    owner = "data_parallel_figure"
    n = _devices(n_devices, owner)
    dx = 3.6
    width, height = n * dx + 0.8, 8.6
    ax = sch.canvas(width, height, scale=0.62, ax=ax)
    xs = [0.4 + dx * (r + 0.5) for r in range(n)]
    ax.text(width / 2, 8.05, f"global batch of B samples, cut into {n} shards", ha="center", fontsize=10)
    bottom_bar = 1.5
    for r, x in enumerate(xs):
        colour = DEVICE_COLOURS[r]
        sch.box(ax, (x, 7.2), f"shard {r}\nB/{n} samples", width=3.0, height=0.8, colour=colour, fontsize=9)
        sch.arrow(ax, (x, 6.8), (x, 6.15))
        sch.box(ax, (x, 5.3), f"device {r}\nfull copy of the model\n(all weights W)", width=3.0, height=1.6,
                colour=colour, fontsize=8.5)
        sch.arrow(ax, (x, 4.5), (x, 3.95), label="backward" if r == 0 else None, label_offset=-0.75, fontsize=8)
        sch.box(ax, (x, 3.5), f"$g_{r}$: gradient of the\nmean loss on shard {r}", width=3.0, height=0.8,
                colour="op", fontsize=8)
        sch.arrow(ax, (x - 0.5, 3.1), (x - 0.5, bottom_bar + 0.45), colour="edge")
        sch.arrow(ax, (x + 0.5, bottom_bar + 0.45), (x + 0.5, 3.1), colour="grad",
                  label=r"$\bar g$" if r == 0 else None, label_offset=-0.25)
    terms = " + ".join(f"g_{r}" for r in range(n)) if n <= 3 else rf"g_0 + \dots + g_{{{n - 1}}}"
    sch.box(ax, (width / 2, bottom_bar), "all-reduce (mean): every device receives\n"
            rf"$\bar g = \frac{{1}}{{{n}}}\,({terms})$, the global batch's gradient",
            width=width - 0.5, height=0.9, colour="loss", fontsize=9)
    ax.text(width / 2, 0.4, "each device then takes the same step\n"
            r"$W \leftarrow W - \eta\,\bar g$: the copies stay identical", ha="center", fontsize=9,
            color=sch.COLOURS["grad"])
    return ax


def _matrix(ax, x, y, w, h, parts: int, split: str | None, label: str):
    """A matrix drawn as a rectangle with lower-left corner (x, y), cut into ``parts`` device colours.

    ``split`` is ``"columns"``, ``"rows"`` or ``None`` (one piece, present on every device).
    """
    from matplotlib.patches import Rectangle

    edge = sch.COLOURS["edge"]
    if split is None:
        ax.add_patch(Rectangle((x, y), w, h, facecolor=sch.COLOURS["op"], edgecolor=edge, linewidth=1.2))
    for r in range(parts if split else 0):
        if split == "columns":
            piece = (x + r * w / parts, y), w / parts, h
        else:  # rows, the first on top
            piece = (x, y + h - (r + 1) * h / parts), w, h / parts
        ax.add_patch(Rectangle(*piece, facecolor=DEVICE_COLOURS[r], edgecolor=edge, linewidth=1.2))
        cx, cy = piece[0][0] + piece[1] / 2, piece[0][1] + piece[2] / 2
        ax.text(cx, cy, f"{label[0]}$_{r}$", ha="center", va="center", fontsize=9)
    if split is None:
        ax.text(x + w / 2, y + h / 2, label[0], ha="center", va="center", fontsize=10)
    ax.text(x + w / 2, y - 0.2, label[1], ha="center", va="top", fontsize=8)


def tensor_parallel_figure(n_devices: int = 2, ax=None):
    """One layer ``Z = XW`` split over ``n_devices`` (2 to 6): by columns of W (left), by rows (right).

    ``X`` is ``N × d_in`` (rows are samples), ``W`` is ``d_in × d_out``.
    Returns the axes.
    """
    owner = "tensor_parallel_figure"
    n = _devices(n_devices, owner)
    width, height = 16.4, 5.6
    ax = sch.canvas(width, height, scale=0.62, ax=ax)
    y0 = 1.9
    panels = [
        (0.3, "split by columns: device r holds\n$W_r$ and computes $Z_r = X W_r$",
         ("X", "X: N × d_in\n(on every device)"), None,
         ("W", f"$W_r$: d_in × d_out/{n}"), "columns",
         ("Z", f"$Z_r$: N × d_out/{n}"), "columns",
         "no communication to compute; the pieces $Z_r$ are\nside by side (all-gather them, "
         "or feed a row-split layer)"),
        (8.3, "split by rows: device r holds\n$W_r$ and the matching columns $X_r$ of X",
         ("X", f"$X_r$: N × d_in/{n}"), "columns",
         ("W", f"$W_r$: d_in/{n} × d_out"), "rows",
         ("Z", r"$Z = \sum_r X_r W_r$: N × d_out"), None,
         "each device has a partial sum $X_r W_r$ of the whole $Z$;\nan all-reduce adds them"),
    ]
    for x0, title, x_label, x_split, w_label, w_split, z_label, z_split, note in panels:
        ax.text(x0 + 3.85, 5.0, title, ha="center", va="center", fontsize=9.5)
        _matrix(ax, x0 + 0.2, y0, 1.3, 2.2, n, x_split, x_label)
        ax.text(x0 + 1.9, y0 + 1.1, "×", ha="center", va="center", fontsize=14)
        _matrix(ax, x0 + 2.3, y0 + 0.5, 2.2, 1.3, n, w_split, w_label)
        ax.text(x0 + 4.9, y0 + 1.1, "=", ha="center", va="center", fontsize=14)
        _matrix(ax, x0 + 5.3, y0, 2.2, 2.2, n, z_split, z_label)
        ax.text(x0 + 3.8, 0.75, note, ha="center", va="center", fontsize=8.5, color=sch.COLOURS["grad"])
    ax.plot([8.1, 8.1], [0.3, 5.1], color=sch.COLOURS["edge"], linewidth=0.8, linestyle=":")
    return ax


def pipeline_schedule(n_stages: int, n_micro: int) -> np.ndarray:
    """The GPipe-style timeline: an array of shape ``(n_stages, 2 (n_micro + n_stages - 1))`` of labels.

    Entry ``[s, t]`` is ``"F3"`` when stage ``s`` runs the forward pass of
    micro-batch 3 (numbered from 1) in time slot ``t``, ``"B3"`` for its
    backward pass, ``""`` when the stage waits (the bubble). All forwards run
    first, micro-batch ``j`` reaching stage ``s`` in slot ``s + j``; the
    backwards then run from the last stage to the first. A backward pass is
    drawn as long as a forward one (in practice it takes about twice as long;
    the bubble's share is the same).
    """
    p = positive_int(n_stages, "n_stages", owner="pipeline_schedule")
    m = positive_int(n_micro, "n_micro", owner="pipeline_schedule")
    forward = m + p - 1
    grid = np.full((p, 2 * forward), "", dtype=object)
    for s in range(p):
        for j in range(m):
            grid[s, s + j] = f"F{j + 1}"
            grid[s, forward + (p - 1 - s) + j] = f"B{j + 1}"
    return grid


def bubble_fraction(n_stages: int, n_micro: int) -> float:
    """The idle share of :func:`pipeline_schedule`: ``(p - 1) / (m + p - 1)``, by counting its empty slots."""
    grid = pipeline_schedule(n_stages, n_micro)
    return float(np.mean(grid == ""))


def pipeline_parallel_figure(n_stages: int = 4, n_micro: int = 4, n_layers: int = 8, ax=None):
    """Layers over ``n_stages`` devices (2 to 6) and the timeline of ``n_micro`` micro-batches. Returns the axes.

    Top: the ``n_layers`` layers cut into consecutive groups, one per device,
    activations passed forward and their gradients backward. Bottom:
    :func:`pipeline_schedule`, one row per device, the bubble hatched.
    """
    owner = "pipeline_parallel_figure"
    p = _devices(n_stages, owner)
    m = positive_int(n_micro, "n_micro", owner=owner)
    n_layers = positive_int(n_layers, "n_layers", owner=owner)
    if n_layers < p:
        raise ValueError(f"{owner}: n_layers ({n_layers}) must be at least n_stages ({p}), one layer per device")
    from matplotlib.patches import Rectangle

    grid = pipeline_schedule(p, m)
    slots = grid.shape[1]
    cell, row = 0.62, 0.62
    left = 1.9
    width = max(left + slots * cell + 0.9, 2.6 * p + 0.6)
    top = 2.3  # the stage boxes above the timeline
    height = p * row + top + 2.0
    ax = sch.canvas(width, height, scale=0.62, ax=ax)
    groups = np.array_split(np.arange(1, n_layers + 1), p)
    sx = (width - 0.4) / p
    y_stage = height - 1.0
    for s, layers in enumerate(groups):
        x = 0.2 + sx * (s + 0.5)
        names = f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}–{layers[-1]}"
        sch.box(ax, (x, y_stage), f"device {s}\n{names}", width=min(1.8, sx - 0.9), height=0.9,
                colour=DEVICE_COLOURS[s], fontsize=9)
        if s < p - 1:
            half = min(0.9, (sx - 0.9) / 2)
            sch.arrow(ax, (x + half, y_stage + 0.2), (x + sx - half, y_stage + 0.2))
            sch.arrow(ax, (x + sx - half, y_stage - 0.2), (x + half, y_stage - 0.2), colour="grad")
    ax.text(width / 2 - 0.2, y_stage - 0.8, "→ activations, forward", ha="right", va="center", fontsize=8.5,
            color=sch.COLOURS["edge"])
    ax.text(width / 2 + 0.2, y_stage - 0.8, "← their gradients, backward", ha="left", va="center", fontsize=8.5,
            color=sch.COLOURS["grad"])
    ax.text(width / 2, height - 0.25, f"{n_layers} layers on {p} devices; the batch cut into {m} micro-batches",
            ha="center", fontsize=10)
    y_top = height - top
    for s in range(p):
        y = y_top - (s + 1) * row
        ax.text(left - 0.15, y + row / 2, f"device {s}", ha="right", va="center", fontsize=8.5)
        for t in range(slots):
            label = grid[s, t]
            colour = sch.COLOURS["input"] if label.startswith("F") else (
                sch.COLOURS["hidden"] if label.startswith("B") else "white")
            ax.add_patch(Rectangle((left + t * cell, y), cell, row, facecolor=colour, edgecolor=sch.COLOURS["edge"],
                                   linewidth=0.6, hatch="" if label else "///"))
            if label:
                ax.text(left + (t + 0.5) * cell, y + row / 2, label, ha="center", va="center", fontsize=7.5)
    y_axis = y_top - p * row - 0.25
    sch.arrow(ax, (left, y_axis), (left + slots * cell, y_axis))
    ax.text(left + slots * cell + 0.1, y_axis, "time", ha="left", va="center", fontsize=8)
    ax.text(width / 2, y_axis - 0.9, f"F: forward, B: backward of a micro-batch; hatched: idle (the bubble),\n"
            f"(p − 1)/(m + p − 1) = {p - 1}/{m + p - 1} = {bubble_fraction(p, m):.0%} of the time",
            ha="center", fontsize=8.5, color=sch.COLOURS["grad"])
    return ax


__all__ = ["DEVICE_COLOURS", "bubble_fraction", "data_parallel_figure", "pipeline_parallel_figure",
           "pipeline_schedule", "tensor_parallel_figure"]
