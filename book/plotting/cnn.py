"""Chapter 5's figures: one convolution step, a network's chain of feature maps,
learned filters and the activation maps they produce.

The schematics are drawn with :mod:`book.plotting.schematic` (its palette and
boxes and arrows), the filters and maps with ``imshow``. Every function returns
the figure, so a test can look inside it.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from book.checks import is_integer, non_negative_int, positive_int
from book.plotting import schematic as sch


def _grid(ax, origin, values, colours, fontsize=9, cell=1.0):
    """A table of square cells with its top-left corner at ``origin``; returns the cells' centres."""
    from matplotlib.patches import Rectangle

    x0, y0 = origin
    rows, cols = values.shape
    centres = {}
    for r in range(rows):
        for c in range(cols):
            x, y = x0 + c * cell, y0 - (r + 1) * cell
            ax.add_patch(Rectangle((x, y), cell, cell, facecolor=sch.COLOURS.get(colours[r][c], colours[r][c]),
                                   edgecolor=sch.COLOURS["edge"], linewidth=0.8))
            ax.text(x + cell / 2, y + cell / 2, f"{values[r, c]:g}", ha="center", va="center", fontsize=fontsize)
            centres[r, c] = (x + cell / 2, y + cell / 2)
    return centres


def _outline(ax, origin, top_left, size, colour="grad", cell=1.0):
    """A thick rectangle around ``size`` = (rows, cols) cells starting at cell ``top_left`` of a grid."""
    from matplotlib.patches import Rectangle

    (x0, y0), (r, c), (h, w) = origin, top_left, size
    ax.add_patch(Rectangle((x0 + c * cell, y0 - (r + h) * cell), w * cell, h * cell, fill=False,
                           edgecolor=sch.COLOURS.get(colour, colour), linewidth=2.6, zorder=5))


def convolution_figure(x, weight, padding: int = 1, stride: int = 1, position=(0, 0), scale: float = 0.42):
    """One output number of a convolution, and where it comes from.

    ``x`` is a small 2-D image and ``weight`` a 2-D kernel (one channel, one
    filter). Left: the input with its ``padding`` ring of zeros (grey), the
    receptive field of output ``position`` = (row, column) outlined; middle:
    the kernel; right: the whole output (computed with
    :func:`book.nn.conv.conv2d_loop`), the chosen number outlined. The title
    writes that number out as its sum of products. Returns the figure.
    """
    import matplotlib.pyplot as plt

    from book.nn.conv import conv2d_loop

    x, weight = np.asarray(x, dtype=float), np.asarray(weight, dtype=float)
    if x.ndim != 2 or weight.ndim != 2:
        raise ValueError(f"convolution_figure expects a 2-D image and a 2-D kernel, got shapes {x.shape} and {weight.shape}")
    padding = non_negative_int(padding, "padding", owner="convolution_figure")
    stride = positive_int(stride, "stride", owner="convolution_figure")
    if x.shape[0] + 2 * padding < weight.shape[0] or x.shape[1] + 2 * padding < weight.shape[1]:
        raise ValueError(f"convolution_figure: kernel {weight.shape} is larger than the padded image")
    out = conv2d_loop(x[None, None], weight[None, None], stride=stride, padding=padding)[0, 0]
    if len(position) != 2 or not all(is_integer(p) for p in position) or \
            not (0 <= position[0] < out.shape[0] and 0 <= position[1] < out.shape[1]):
        raise ValueError(f"convolution_figure: position must be a (row, column) of the {out.shape} output, got {position!r}")
    i, j = int(position[0]), int(position[1])
    kh, kw = weight.shape
    xp = np.pad(x, padding)
    hp, wp = xp.shape
    gap = 2.0
    width = wp + gap + kw + gap + out.shape[1] + 1.0
    height = max(hp, out.shape[0]) + 2.6
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    sch.canvas(width, height, ax=ax)
    top = height - 1.6
    in_origin = (0.5, top)
    colours = [["dropped" if not (padding <= r < hp - padding and padding <= c < wp - padding) else "input"
                for c in range(wp)] for r in range(hp)]
    _grid(ax, in_origin, xp, colours)
    _outline(ax, in_origin, (i * stride, j * stride), (kh, kw))
    k_origin = (in_origin[0] + wp + gap, top - (hp - kh) / 2)
    _grid(ax, k_origin, weight, [["param"] * kw for _ in range(kh)])
    o_origin = (k_origin[0] + kw + gap, top - (hp - out.shape[0]) / 2)
    centres = _grid(ax, o_origin, out, [["output"] * out.shape[1] for _ in range(out.shape[0])])
    _outline(ax, o_origin, (i, j), (1, 1))
    field_centre = (in_origin[0] + j * stride + kw / 2, in_origin[1] - i * stride - kh / 2)
    ax.text(in_origin[0] + wp / 2, top + 0.5, f"input {x.shape[0]}×{x.shape[1]}, padding {padding}", ha="center", fontsize=10)
    ax.text(k_origin[0] + kw / 2, k_origin[1] + 0.5, f"kernel {kh}×{kw}", ha="center", fontsize=10)
    ax.text(o_origin[0] + out.shape[1] / 2, o_origin[1] + 0.5, f"output {out.shape[0]}×{out.shape[1]}, stride {stride}",
            ha="center", fontsize=10)
    # arrows run between the grids, from the window's rows to the kernel and on to the chosen output's row
    sch.arrow(ax, (in_origin[0] + wp + 0.1, field_centre[1]), (k_origin[0] - 0.1, k_origin[1] - kh / 2), colour="grad")
    sch.arrow(ax, (k_origin[0] + kw + 0.1, k_origin[1] - kh / 2), (o_origin[0] - 0.1, centres[i, j][1]), colour="grad")
    window = xp[i * stride:i * stride + kh, j * stride:j * stride + kw]
    terms = " + ".join(f"{a:g}·({b:g})" if b < 0 else f"{a:g}·{b:g}" for a, b in zip(window.ravel(), weight.ravel()) if a != 0 and b != 0)
    ax.set_title(f"out[{i}, {j}] = Σ window ⊙ kernel = {terms or '0'} = {out[i, j]:g}", fontsize=10)
    return fig


def _short(name: str) -> str:
    """A shape-chain layer name on two lines: ``"conv 3x3, 32"`` -> ``"conv 3×3\\n32"``."""
    return re.sub(r"(\d)x(\d)", r"\1×\2", name).replace(", ", "\n").replace("max-pool ", "max-pool\n")


def shape_chain_figure(chain: Sequence, skip: Sequence[str] = ("ReLU",), scale: float = 0.5, title: str = ""):
    """The feature maps of a network as boxes, joined by arrows named after the layers between them.

    ``chain`` is what :func:`book.models.cnn.shape_chain` returns: ``(name,
    shape)`` pairs, input first, shapes ``(channels, height, width)`` or
    ``(features,)``. A map's box grows with its side length (height) and
    with the logarithm of its channel count (width); a vector is a thin bar.
    Layers named in ``skip`` (by default ReLU, which keeps the shape) are
    folded into the arrow before them. Returns the figure.
    """
    import matplotlib.pyplot as plt

    chain = [(str(name), tuple(int(s) for s in shape)) for name, shape in chain]
    if len(chain) < 2 or any(len(shape) not in (1, 3) for _, shape in chain):
        raise ValueError("shape_chain_figure expects at least two (name, shape) pairs with shapes (C, H, W) or (features,)")
    nodes = [chain[0]]
    arrows: list[str] = []
    for name, shape in chain[1:]:
        if name in skip:
            arrows[-1] += f"\n+ {name}" if arrows else ""
            continue
        arrows.append(_short(name))
        nodes.append((name, shape))
    sides = [shape[1] if len(shape) == 3 else 0 for _, shape in nodes]
    biggest = max(max(sides), 1)
    step = 3.0
    width = step * len(nodes) - 0.4
    height = 5.6
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    sch.canvas(width, height, ax=ax)
    y = 2.4
    centres = []
    for k, (_, shape) in enumerate(nodes):
        x = 1.3 + k * step
        if len(shape) == 3:
            box_h = 0.6 + 2.6 * shape[1] / biggest
            box_w = 0.35 + 0.22 * np.log2(shape[0] + 1)
            colour = "input" if k == 0 else "hidden"
            text = f"{shape[0]}×{shape[1]}×{shape[2]}"
        else:
            box_h, box_w = 0.6 + 2.6 * min(1.0, shape[0] / 1024), 0.3
            colour = "output" if k == len(nodes) - 1 else "hidden"
            text = f"{shape[0]}"
        sch.box(ax, (x, y), width=box_w, height=box_h, colour=colour)
        ax.text(x, y - box_h / 2 - 0.3, text, ha="center", va="top", fontsize=9)
        centres.append((x, box_w))
    for k, label in enumerate(arrows):
        (x_a, w_a), (x_b, w_b) = centres[k], centres[k + 1]
        sch.arrow(ax, (x_a + w_a / 2 + 0.08, y), (x_b - w_b / 2 - 0.08, y))
        ax.text((x_a + x_b) / 2, y + 1.8, label, ha="center", va="bottom", fontsize=8)
    if title:
        ax.set_title(title, fontsize=11)
    return fig


def filters_figure(weight, channel: int = 0, ncols: int = 8, scale: float = 1.1, title: str = ""):
    """Each filter of a convolution's ``weight`` ``(filters, channels, kh, kw)`` as a small image.

    Shows input channel ``channel`` of every filter, all on one colour scale
    centred at zero (red positive, blue negative), so filters can be compared.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    weight = np.asarray(weight, dtype=float)
    if weight.ndim != 4:
        raise ValueError(f"filters_figure expects weight of shape (filters, channels, kh, kw), got {weight.shape}")
    channel = non_negative_int(channel, "channel", owner="filters_figure")
    if channel >= weight.shape[1]:
        raise ValueError(f"filters_figure: channel {channel} is out of range for {weight.shape[1]} channels")
    ncols = positive_int(ncols, "ncols", owner="filters_figure")
    n = weight.shape[0]
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    limit = float(np.abs(weight[:, channel]).max()) or 1.0
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * (scale + 0.3) + 0.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < n:
            ax.imshow(weight[k, channel], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"filter {k}", fontsize=8)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def activation_maps_figure(image, maps, ncols: int = 8, scale: float = 1.1, title: str = ""):
    """An input ``image`` ``(H, W)`` and the feature ``maps`` ``(channels, h, w)`` a layer made from it.

    The image comes first, in grey; each map follows in its own panel,
    bright where the filter responded strongly. Returns the figure.
    """
    import matplotlib.pyplot as plt

    image, maps = np.asarray(image, dtype=float), np.asarray(maps, dtype=float)
    if image.ndim != 2 or maps.ndim != 3:
        raise ValueError(f"activation_maps_figure expects image (H, W) and maps (channels, h, w), got {image.shape} and {maps.shape}")
    ncols = positive_int(ncols, "ncols", owner="activation_maps_figure")
    n = maps.shape[0] + 1
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * (scale + 0.3) + 0.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k == 0:
            ax.imshow(image, cmap="gray_r")
            ax.set_title("input", fontsize=8)
        elif k < n:
            ax.imshow(maps[k - 1], cmap="viridis")
            ax.set_title(f"map {k - 1}", fontsize=8)
        else:
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


__all__ = ["activation_maps_figure", "convolution_figure", "filters_figure", "shape_chain_figure"]
