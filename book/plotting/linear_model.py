"""Chapter 2's schematic: a linear model drawn as a network with one layer.

:func:`draw_linear_model` places the inputs ``x_1 ... x_d`` and a constant 1 in
a column, joins every input to every output unit with an edge that carries its
weight (the bias rides on the edge from the constant 1), and ends in the output
the model reads: the score itself (linear regression), a sigmoid (logistic
regression) or a softmax over ``K`` scores (softmax regression). The edge from
input ``i`` to output ``k`` carries ``W_ik``, the entry of the ``d_in x d_out``
matrix of the book's notation ``Z = XW + 1 b^T``.
"""
from __future__ import annotations

from book.checks import one_of, positive_int
from book.plotting import schematic as sch

HEADS = ("identity", "sigmoid", "softmax")
FAINT = "#b3bcc4"   # edges into the other outputs
BIAS = "#7d6608"    # the bias edge, dashed: a weight on a constant input
LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 0.6, "alpha": 0.85}   # keeps labels legible over edges


def _weight_label(i: int, k: int, n_outputs: int) -> str:
    # One output: the weight vector w has one index; several outputs: the matrix W has two.
    return f"$w_{{{i}}}$" if n_outputs == 1 else f"$W_{{{i}{k}}}$"


def draw_linear_model(ax=None, n_inputs: int = 3, n_outputs: int = 1, head: str = "identity",
                      label_all_edges: bool | None = None, title: str | None = None) -> dict:
    """Draw a linear model as a one-layer network; returns the centres of its parts.

    ``head`` is ``"identity"`` (the score is the prediction), ``"sigmoid"``
    (one output read as a probability) or ``"softmax"`` (``n_outputs`` scores
    turned into ``K`` probabilities; needs at least two outputs). Edges into
    the first output are labelled with their weights; ``label_all_edges``
    (default: only when there is one output) labels every edge. Returns a dict
    with the centres of ``"inputs"``, ``"bias"``, ``"scores"`` and
    ``"outputs"``, the weighted edges as ``(start, end)`` pairs under
    ``"edges"`` (one per parameter: ``(d + 1) K``), and the edge-label texts
    under ``"edge_labels"``.
    """
    n_inputs = positive_int(n_inputs, "n_inputs", owner="draw_linear_model")
    n_outputs = positive_int(n_outputs, "n_outputs", owner="draw_linear_model")
    head = one_of(head, HEADS, "head", owner="draw_linear_model")
    if head == "sigmoid" and n_outputs != 1:
        raise ValueError(f"draw_linear_model: a sigmoid head has one output, got n_outputs={n_outputs}")
    if head == "softmax" and n_outputs < 2:
        raise ValueError(f"draw_linear_model: a softmax head needs n_outputs >= 2, got {n_outputs}")
    if label_all_edges is None:
        label_all_edges = n_outputs == 1

    rows = max(n_inputs + 1, n_outputs)
    dy = 1.0
    height = rows * dy * (1.0 if n_outputs == 1 else 1.1) + 1.2
    width = 8.6
    ax = sch.canvas(width, height, ax=ax)
    top = height - 1.0

    # The inputs, then the constant 1 whose weight is the bias.
    inputs = [(1.0, top - i * dy) for i in range(n_inputs)]
    bias = (1.0, top - n_inputs * dy)
    for i, xy in enumerate(inputs, start=1):
        sch.circle(ax, xy, f"$x_{{{i}}}$", radius=0.3, colour="input", fontsize=11)
    sch.circle(ax, bias, "1", radius=0.3, colour="param", fontsize=11)

    # Scores z_k, centred against the input column; edges into the first score are drawn dark and
    # labelled, the others light, so that one column of W can be read off the picture.
    mid = (inputs[0][1] + bias[1]) / 2
    spacing = dy if n_outputs == 1 else dy * 1.25
    scores = [(4.6, mid + ((n_outputs - 1) / 2 - k) * spacing) for k in range(n_outputs)]
    edge_labels, edges = [], []
    for k, s in reversed(list(enumerate(scores, start=1))):
        labelled = label_all_edges or k == 1
        colour = "edge" if labelled else FAINT
        for i, xy in enumerate(inputs, start=1):
            text = _weight_label(i, k, n_outputs) if labelled else None
            edges.append((xy, s))
            t = sch.arrow(ax, xy, s, label=text, colour=colour, gap=0.32, label_pos=0.45, label_offset=0.2,
                          fontsize=10, bbox=LABEL_BOX)
            if t is not None:
                edge_labels.append(t)
        edges.append((bias, s))
        b_text = ("$b$" if n_outputs == 1 else f"$b_{{{k}}}$") if labelled else None
        t = sch.arrow(ax, bias, s, label=b_text, colour=BIAS if labelled else FAINT, gap=0.32, label_pos=0.45,
                      label_offset=-0.22, fontsize=10, linestyle="--", bbox=LABEL_BOX)
        if t is not None:
            edge_labels.append(t)
        sch.circle(ax, s, "$\\Sigma$", radius=0.36, colour="hidden", fontsize=12)

    # What the model reads from its scores; the arrow leaving each score carries its name.
    outputs = []
    if head == "identity":
        out = (7.5, scores[0][1])
        sch.box(ax, out, "$\\hat y = z$", width=1.5, height=0.7, colour="output", fontsize=11)
        sch.arrow(ax, scores[0], out, label="$z$", gap=0.38, gap_end=0.76, fontsize=10)
        outputs.append(out)
    elif head == "sigmoid":
        sig = (6.2, scores[0][1])
        sch.box(ax, sig, "$\\sigma$", width=0.8, height=0.7, colour="op", fontsize=12)
        sch.arrow(ax, scores[0], sig, label="$z$", gap=0.38, gap_end=0.41, fontsize=10)
        out = (7.7, scores[0][1])
        sch.circle(ax, out, "$p$", radius=0.34, colour="output", fontsize=11)
        sch.arrow(ax, sig, out, gap=0.41, gap_end=0.36)
        outputs.append(out)
    else:
        span = scores[0][1] - scores[-1][1] + 0.9
        sm = (6.3, (scores[0][1] + scores[-1][1]) / 2)
        sch.box(ax, sm, "softmax", width=0.8, height=span, colour="op", fontsize=10, rotation=90)
        for k, s in enumerate(scores, start=1):
            sch.arrow(ax, s, (5.9, s[1]), label=f"$z_{{{k}}}$", gap=0.38, gap_end=0.0, fontsize=10)
            out = (7.8, s[1])
            sch.arrow(ax, (6.7, s[1]), out, gap=0.0, gap_end=0.36)
            sch.circle(ax, out, f"$p_{{{k}}}$", radius=0.34, colour="output", fontsize=10)
            outputs.append(out)
    if title:
        ax.set_title(title, fontsize=11)
    return {"inputs": inputs, "bias": bias, "scores": scores, "outputs": outputs, "edges": edges,
            "edge_labels": edge_labels}


__all__ = ["HEADS", "draw_linear_model"]
