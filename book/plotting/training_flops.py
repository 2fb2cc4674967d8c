"""Chapter 1's schematic of where the FLOPs of one training step go: the
forward product Z = X W, and the two backward products, the gradient for the
layer below (Delta W^T) and the gradient for the weights (X^T Delta), in the
book's notation (samples are rows, W is d_in x d_out).

Drawn with :mod:`book.plotting.schematic`. The counts written on the figure
are arguments, so a chapter can pass the ones it measured.
"""
from __future__ import annotations

from book.checks import positive
from book.plotting import schematic as sch

# The three products of one linear layer in a training step: (label, formula, colour).
PRODUCTS = (
    ("forward", "Z = X W", "input"),
    ("backward, to the layer below", "∂L/∂X = Δ Wᵀ", "loss"),
    ("backward, to the weights", "∂L/∂W = Xᵀ Δ", "param"),
)


def plot_training_flops(per_parameter=(2, 2, 2), ax=None):
    """Draw one layer's training step and the FLOPs per parameter per token of
    each of its three matrix products (``per_parameter``: forward, input
    gradient, weight gradient; 2, 2, 2 in theory). Returns the axes.
    """
    counts = [positive(c, f"per_parameter[{i}]", owner="plot_training_flops") for i, c in enumerate(per_parameter)]
    if len(counts) != len(PRODUCTS):
        raise ValueError(f"plot_training_flops: per_parameter needs {len(PRODUCTS)} numbers, got {len(counts)}")
    ax = sch.canvas(11.0, 5.6, ax=ax)

    # The computation: input, layer, loss; forward along the top, backward along the bottom.
    x, layer, loss = (1.4, 4.3), (5.5, 4.3), (9.6, 4.3)
    sch.box(ax, x, "input X", width=1.8, colour="input")
    sch.box(ax, layer, "layer Z = X W\nW holds N numbers", width=2.6, height=1.0, colour="hidden")
    sch.box(ax, loss, "loss L", width=1.6, colour="loss")
    up, down = 0.22, -0.22
    sch.arrow(ax, (x[0] + 0.9, x[1] + up), (layer[0] - 1.3, layer[1] + up), label="X", label_offset=0.22)
    sch.arrow(ax, (layer[0] + 1.3, layer[1] + up), (loss[0] - 0.8, loss[1] + up), label="Z", label_offset=0.22)
    sch.arrow(ax, (loss[0] - 0.8, loss[1] + down), (layer[0] + 1.3, layer[1] + down), label="Δ = ∂L/∂Z",
              colour="grad", label_offset=0.25)
    sch.arrow(ax, (layer[0] - 1.3, layer[1] + down), (x[0] + 0.9, x[1] + down), label="Δ Wᵀ", colour="grad",
              label_offset=0.25)
    grad_w = (layer[0], 2.75)
    sch.box(ax, grad_w, "∂L/∂W = Xᵀ Δ\n(for the optimizer)", width=2.6, height=0.8, colour="param")
    sch.arrow(ax, (layer[0], layer[1] - 0.5), (grad_w[0], grad_w[1] + 0.4), colour="grad")

    # The bill: three products of the same size, one box each.
    for i, ((label, formula, colour), count) in enumerate(zip(PRODUCTS, counts)):
        sch.box(ax, (1.9 + 3.6 * i, 1.25), f"{label}\n{formula}\n{count:g} N FLOPs per token", width=3.4,
                height=1.15, colour=colour, fontsize=9)
    total = sum(counts)
    ax.text(5.5, 0.25, f"one training step: {' + '.join(f'{c:g}N' for c in counts)} = {total:g}N FLOPs per token;"
            f"  T tokens: C ≈ {total:g}NT", ha="center", va="center", fontsize=10)
    return ax


__all__ = ["PRODUCTS", "plot_training_flops"]
