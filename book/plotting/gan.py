"""Chapter 8's figures: the two players of a GAN with their losses (:func:`gan_figure`), and a
grid of image samples (:func:`sample_grid`).

The schematic is drawn with :mod:`book.plotting.schematic`: data and noise in the input colour,
the two networks as hidden blocks, the discriminator's logits as output, the losses in the loss
colour, and the gradients that each loss sends back as red dashed arrows.
"""
from __future__ import annotations

import numpy as np

from book.checks import non_negative_int, positive, positive_int, real
from book.plotting import schematic as sch


def gan_figure(scale: float = 0.75):
    """The GAN game as a diagram: noise -> G -> fake; fake and real -> D -> logits -> two losses.

    L_D (binary cross-entropy with label 1 on real, 0 on fake) updates D only; the
    non-saturating L_G (label 1 on fake) flows back through D, unchanged, into G.
    Returns the figure and its axes.
    """
    scale = positive(scale, "scale", owner="gan_figure")
    ax = sch.canvas(14.6, 6.4, scale=scale)
    z = sch.box(ax, (1.1, 4.2), "noise\n$z \\sim \\mathcal{N}(0, I)$", width=1.8, height=1.0, colour="input")
    g = sch.box(ax, (3.4, 4.2), "generator $G$\n(tanh output)", width=2.0, height=1.0, colour="hidden")
    fake = sch.box(ax, (5.7, 4.2), "fake $G(z)$", width=1.6, height=0.8, colour="op")
    real_x = sch.box(ax, (5.7, 2.0), "real $x \\sim p_\\mathrm{data}$", width=1.9, height=0.8, colour="input")
    d = sch.box(ax, (8.0, 3.1), "discriminator $D$\n(a logit, no sigmoid)", width=2.3, height=1.0, colour="hidden")
    logits = sch.box(ax, (10.3, 3.1), "logits\n$s(x)$, $s(G(z))$", width=1.7, height=0.9, colour="output")
    loss_g = sch.box(ax, (12.9, 4.8), "$L_G$ = BCE(1, $s(G(z))$)\nnon-saturating;\nG minimises it",
                     width=2.8, height=1.2, colour="loss", fontsize=9)
    loss_d = sch.box(ax, (12.9, 1.4), "$L_D$ = BCE(1, $s(x)$)\n+ BCE(0, $s(G(z))$) $= -V$;\nD minimises it",
                     width=2.8, height=1.3, colour="loss", fontsize=9)
    sch.arrow(ax, (z[0] + 0.9, z[1]), (g[0] - 1.0, g[1]))
    sch.arrow(ax, (g[0] + 1.0, g[1]), (fake[0] - 0.8, fake[1]))
    sch.arrow(ax, (fake[0] + 0.8, fake[1] - 0.2), (d[0] - 0.7, d[1] + 0.5))
    sch.arrow(ax, (real_x[0] + 0.95, real_x[1] + 0.2), (d[0] - 0.7, d[1] - 0.5))
    sch.arrow(ax, (d[0] + 1.15, d[1]), (logits[0] - 0.85, logits[1]))
    sch.arrow(ax, (logits[0] + 0.85, logits[1] + 0.2), (loss_g[0] - 1.4, loss_g[1] - 0.3))
    sch.arrow(ax, (logits[0] + 0.85, logits[1] - 0.2), (loss_d[0] - 1.4, loss_d[1] + 0.3))
    sch.arrow(ax, (loss_g[0] - 0.8, loss_g[1] + 0.6), (g[0], g[1] + 0.5), colour="grad", linestyle="--",
              curve=0.15, label="$\\nabla L_G$ flows back through D (not updated) into G",
              label_offset=-0.25, fontsize=9)
    sch.arrow(ax, (loss_d[0] - 0.8, loss_d[1] - 0.65), (d[0], d[1] - 0.5), colour="grad", linestyle="--",
              curve=-0.3, label="$\\nabla L_D$ updates D only", label_offset=0.3, fontsize=9)
    ax.set_title("One GAN step: both forward passes, two losses, two updates", fontsize=11, y=0.97)
    fig = ax.figure
    fig.tight_layout()
    return fig, ax


def _mosaic(images: np.ndarray, rows: int, cols: int, pad: int, fill: float) -> np.ndarray:
    n, h, w = images.shape
    out = np.full((rows * h + (rows - 1) * pad, cols * w + (cols - 1) * pad), fill, dtype=float)
    for k in range(min(n, rows * cols)):
        r, c = divmod(k, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = images[k]
    return out


def sample_grid(images, cols: int = 10, rows: int | None = None, ax=None, title: str | None = None,
                value_range: tuple[float, float] = (-1.0, 1.0), pad: int = 1):
    """Show the first ``rows * cols`` images ``(N, H, W)`` or ``(N, H, W, 1)`` as one grey mosaic.

    ``value_range`` maps to white and black (the generators here output [-1, 1], ink = 1); ``rows``
    defaults to as many as ``images`` fill. Returns the axes.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images, dtype=float)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"sample_grid expects images of shape (N, H, W) or (N, H, W, 1), got {images.shape}")
    cols = positive_int(cols, "cols", owner="sample_grid")
    rows = -(-images.shape[0] // cols) if rows is None else positive_int(rows, "rows", owner="sample_grid")
    pad = non_negative_int(pad, "pad", owner="sample_grid")
    low = real(value_range[0], "value_range[0]", owner="sample_grid")
    high = real(value_range[1], "value_range[1]", owner="sample_grid")
    if not low < high:
        raise ValueError(f"sample_grid: value_range must be (low, high) with low < high, got {value_range}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.5 * cols, 0.5 * rows))
    # dark ink on a white ground; the gaps between images are mid-grey
    ax.imshow(_mosaic(images, rows, cols, pad, (low + high) / 2), cmap="gray_r", vmin=low, vmax=high,
              interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
    return ax


__all__ = ["gan_figure", "sample_grid"]
