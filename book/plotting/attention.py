"""Chapter 7's schematics of attention and the Transformer.

* :func:`attention_figure`: scaled dot-product attention on a small example,
  laid out as matrix products (each product sits below its right factor and
  beside its left one): queries ``Q`` and keys ``Kᵀ`` make the score matrix,
  softmax turns each row into weights, and the weights average the values
  ``V``. Every number is computed by :func:`book.nn.attention.scaled_dot_product_attention`,
  none is typed in; with ``causal=True`` the masked scores read ``-inf`` and
  their weights exactly 0.
* :func:`transformer_block_figure`: one pre-LayerNorm block, ``x + attention(LN(x))``
  then ``x + MLP(LN(x))``, with its two residual paths.
* :func:`decoder_figure`: the decoder-only language model (tokens, embeddings,
  a stack of causal blocks, the head and the next-token targets) beside its
  causal mask, a lower-triangular grid.

All three are drawn with :mod:`book.plotting.schematic`, in its palette.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from book.checks import positive_int
from book.plotting import schematic as sch

MASKED = "dropped"  # the palette's grey: a masked score or weight


def _fmt(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    if float(text) == 0:
        text = f"{0:.{digits}f}"
    return text.replace("-", "−")


def _grid(ax, left: float, top: float, texts, colours, cell: float, cell_width: float | None = None,
          fontsize: float = 7.5):
    """A table of cells ``cell_width`` by ``cell`` (square by default), row 0 at the top; returns the patches."""
    from matplotlib.patches import Rectangle

    cell_width = cell if cell_width is None else cell_width
    patches = []
    for i, (row_texts, row_colours) in enumerate(zip(texts, colours)):
        for j, (text, colour) in enumerate(zip(row_texts, row_colours)):
            x, y = left + j * cell_width, top - (i + 1) * cell
            patch = Rectangle((x, y), cell_width, cell, facecolor=sch.COLOURS.get(colour, colour),
                              edgecolor=sch.COLOURS["edge"], linewidth=0.8)
            ax.add_patch(patch)
            patches.append(patch)
            if text:
                ax.text(x + cell_width / 2, y + cell / 2, text, ha="center", va="center", fontsize=fontsize)
    return patches


def _check_tokens(tokens, owner: str, minimum: int) -> list[str]:
    tokens = list(tokens)
    if len(tokens) < minimum or not all(isinstance(t, str) and t for t in tokens):
        raise ValueError(f"{owner}: tokens must be at least {minimum} non-empty strings, got {tokens!r}")
    return tokens


def attention_figure(tokens: Sequence[str] = ("the", "cat", "sat", "down"), dim: int = 2,
                     causal: bool = False, seed: int = 0, ax=None):
    """Scaled dot-product self-attention of ``len(tokens)`` positions with ``dim``-wide queries and keys.

    ``Q``, ``K`` and ``V`` (values as wide as the keys) are drawn from a
    normal distribution with ``seed`` and rounded to one decimal, so the
    numbers shown are the numbers used. Returns the axes.
    """
    from book.nn.attention import scaled_dot_product_attention

    tokens = _check_tokens(tokens, "attention_figure", 2)
    dim = positive_int(dim, "dim", owner="attention_figure")
    if dim > 4:
        raise ValueError(f"attention_figure: dim must be at most 4 to fit the page, got {dim}")
    n = len(tokens)
    rng = np.random.default_rng(seed)
    q, k, v = (np.round(rng.normal(size=(n, dim)), 1) for _ in range(3))
    out, cache = scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
    scores = q @ k.T / np.sqrt(dim)
    allowed = np.tril(np.ones((n, n), dtype=bool)) if causal else np.ones((n, n), dtype=bool)

    cell, gap = 0.62, 1.5
    wide = 0.85  # the output's and the values' cells: room for a sign and two decimals
    x_q = 1.4
    x_s = x_q + dim * cell + gap
    x_w = x_s + n * cell + gap + 0.6
    x_o = x_w + n * cell + gap
    top = n * cell + 1.6  # top of the bottom row of matrices
    width = x_o + dim * wide + 1.6
    height = top + max(n, dim) * cell + 1.4
    ax = sch.canvas(width, height, scale=0.62, ax=ax)

    def weight_colour(w: float) -> tuple:
        # White for 0, a green that deepens with the weight (light enough for the text at 1).
        from matplotlib.colors import to_rgb

        green = np.array(to_rgb("#27ae60"))
        return tuple(1 - 0.75 * w * (1 - green))

    _grid(ax, x_q, top, [[_fmt(a, 1) for a in row] for row in q], [["input"] * dim] * n, cell)
    _grid(ax, x_s, top + 0.3 + dim * cell, [[_fmt(a, 1) for a in row] for row in k.T], [["hidden"] * n] * dim, cell)
    _grid(ax, x_s, top, [[_fmt(s, 1) if ok else "−∞" for s, ok in zip(row, oks)] for row, oks in zip(scores, allowed)],
          [["op" if ok else MASKED for ok in oks] for oks in allowed], cell)
    _grid(ax, x_w, top, [[_fmt(w, 2) if ok else "0" for w, ok in zip(row, oks)]
                         for row, oks in zip(cache.weights, allowed)],
          [[weight_colour(w) if ok else MASKED for w, ok in zip(row, oks)] for row, oks in zip(cache.weights, allowed)],
          cell)
    _grid(ax, x_o, top + 0.3 + n * cell, [[_fmt(a, 1) for a in row] for row in v], [["output"] * dim] * n, cell,
          cell_width=wide)
    _grid(ax, x_o, top, [[_fmt(a, 2) for a in row] for row in out], [["param"] * dim] * n, cell, cell_width=wide)

    for i, token in enumerate(tokens):  # rows: one query per token; columns of Kᵀ: one key per token
        ax.text(x_q - 0.15, top - (i + 0.5) * cell, token, ha="right", va="center", fontsize=8)
        ax.text(x_s + (i + 0.5) * cell, top + 0.3 + dim * cell + 0.12, token, ha="center", va="bottom",
                fontsize=8, rotation=90)
        ax.text(x_o - 0.15, top + 0.3 + n * cell - (i + 0.5) * cell, token, ha="right", va="center", fontsize=8)
    below = top - n * cell - 0.25
    captions = [
        (x_q + dim * cell / 2, f"queries $Q$\n{n}×{dim}"),
        (x_s + n * cell / 2, "scores\n" + r"$S = QK^\top/\sqrt{d_k}$"),
        (x_w + n * cell / 2, "weights\n$A$ = softmax of each row"),
        (x_o + dim * wide / 2, "output\n$AV$"),
    ]
    for x, text in captions:
        ax.text(x, below, text, ha="center", va="top", fontsize=8.5)
    ax.text(x_s - 0.15, top + 0.3 + dim * cell / 2, f"keys $K^\\top$\n{dim}×{n}", ha="right", va="center",
            fontsize=8.5)
    ax.text(x_o + dim * wide + 0.15, top + 0.3 + n * cell / 2, f"values $V$\n{n}×{dim}", ha="left", va="center",
            fontsize=8.5)
    mid = top - n * cell / 2
    sch.arrow(ax, (x_s + n * cell + 0.1, mid), (x_w - 0.1, mid), label="softmax\nper row", label_offset=0.45,
              fontsize=8)
    sch.arrow(ax, (x_w + n * cell + 0.1, mid), (x_o - 0.1, mid), label="× $V$", label_offset=0.3, fontsize=8)
    title = "Scaled dot-product attention" + (" with the causal mask" if causal else "")
    ax.text(width / 2, height - 0.3, title, ha="center", va="top", fontsize=10)
    return ax


def _plus(ax, xy, radius: float = 0.28):
    """The circle of a residual addition."""
    return sch.circle(ax, xy, "+", radius=radius, colour="op", fontsize=12)


def transformer_block_figure(causal: bool = True, mlp_ratio: int = 4, ax=None):
    """One pre-LayerNorm Transformer block, read from the bottom up; returns the axes.

    ``h = x + MHA(LayerNorm(x))`` then ``y = h + MLP(LayerNorm(h))``, with the
    MLP ``Linear(E, mlp_ratio·E)``, GELU, ``Linear(mlp_ratio·E, E)``. Every
    arrow carries a tensor of shape ``(N, T, E)``: the block keeps the shape,
    which is what lets blocks stack. ``causal`` names the attention masked.
    """
    mlp_ratio = positive_int(mlp_ratio, "mlp_ratio", owner="transformer_block_figure")
    width, height = 8.6, 10.6
    ax = sch.canvas(width, height, scale=0.6, ax=ax)
    x, x_skip = 4.0, 1.4
    box_w = 3.6
    attention = ("masked " if causal else "") + "multi-head\nself-attention"
    ax.text(x, 0.35, "$x$  (N, T, E)", ha="center", va="center", fontsize=9)
    stages = [  # (y, text, colour, kind)
        (1.9, "LayerNorm", "op", "box"),
        (3.3, attention, "hidden", "box"),
        (4.6, "", "", "plus"),
        (5.9, "LayerNorm", "op", "box"),
        (7.3, f"MLP: Linear E→{mlp_ratio}E,\nGELU, Linear {mlp_ratio}E→E", "hidden", "box"),
        (8.6, "", "", "plus"),
    ]
    previous = (x, 0.6)
    previous_gap = 0.0
    for y, text, colour, kind in stages:
        gap = 0.28 if kind == "plus" else 0.45
        sch.arrow(ax, previous, (x, y), gap=previous_gap, gap_end=gap)
        if kind == "plus":
            _plus(ax, (x, y))
        else:
            sch.box(ax, (x, y), text, width=box_w, height=0.9, colour=colour, fontsize=9)
        previous, previous_gap = (x, y), gap
    sch.arrow(ax, previous, (x, 9.9), gap=previous_gap, gap_end=0.1)
    ax.text(x, 10.2, "$y$  (N, T, E)", ha="center", va="center", fontsize=9)
    # The residual paths: from below each LayerNorm around the sub-layer into its "+".
    for start_y, plus_y in ((1.05, 4.6), (5.05, 8.6)):
        ax.plot([x, x_skip, x_skip], [start_y, start_y, plus_y], color=sch.COLOURS["edge"], linewidth=1.2, zorder=1)
        sch.arrow(ax, (x_skip, plus_y), (x, plus_y), gap_end=0.28)
    ax.text(x_skip - 0.15, 2.9, "residual", rotation=90, ha="right", va="center", fontsize=8.5)
    ax.text(x_skip - 0.15, 6.8, "residual", rotation=90, ha="right", va="center", fontsize=8.5)
    ax.text(x + 0.45, 4.6, r"$h = x + \mathrm{MHA}(\mathrm{LN}(x))$", ha="left", va="center", fontsize=8.5)
    ax.text(x + 0.45, 8.6, r"$y = h + \mathrm{MLP}(\mathrm{LN}(h))$", ha="left", va="center", fontsize=8.5)
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((0.7, 0.85), 7.6, 8.2, boxstyle="round,pad=0.05,rounding_size=0.2",
                                facecolor="none", edgecolor=sch.COLOURS["edge"], linestyle="--", linewidth=1.0))
    ax.text(8.15, 1.0, "pre-LN block", ha="right", va="bottom", fontsize=8.5, color=sch.COLOURS["edge"])
    return ax


def decoder_figure(tokens: Sequence[str] = ("the", "cat", "sat", "on", "the", "mat"), n_layers: str = "L",
                   scale: float = 0.55):
    """The decoder-only language model and its causal mask, side by side; returns the figure and its two axes.

    Left: the inputs ``tokens[:-1]`` go through the token and position
    embeddings, ``n_layers`` causal Transformer blocks, a final LayerNorm and
    the linear head; at each position the softmax of its logits is trained to
    predict the next token, ``tokens[1:]``. Right: the mask of the blocks'
    attention, one row per query position and one column per key position:
    position ``t`` attends to positions ``0 .. t`` (coloured), never to later
    ones (grey, a score of ``-inf``).
    """
    import matplotlib.pyplot as plt

    tokens = _check_tokens(tokens, "decoder_figure", 3)
    if len(tokens) > 9:
        raise ValueError(f"decoder_figure: at most 9 tokens fit the page, got {len(tokens)}")
    if not isinstance(n_layers, (str, int)) or isinstance(n_layers, bool):
        raise ValueError(f"decoder_figure: n_layers must be a label (str or int), got {n_layers!r}")
    inputs, targets = tokens[:-1], tokens[1:]
    n = len(inputs)
    col = 1.25
    width_model = n * col + 3.4
    height = 11.0
    cell = min(0.9, 6.0 / n)  # the grid is at most 6 units wide
    width_mask = n * cell + 2.6
    fig, (ax, ax_mask) = plt.subplots(1, 2, figsize=((width_model + width_mask) * scale, height * scale),
                                      gridspec_kw={"width_ratios": [width_model, width_mask]})
    sch.canvas(width_model, height, ax=ax)
    sch.canvas(width_mask, height, ax=ax_mask)

    # Left panel: one column per position, the whole stack drawn once across them.
    xs = [1.2 + (t + 0.5) * col for t in range(n)]
    left, right = xs[0] - col / 2 + 0.05, xs[-1] + col / 2 - 0.05
    mid = (left + right) / 2
    span = right - left
    for t, x in enumerate(xs):
        sch.box(ax, (x, 0.6), inputs[t], width=col - 0.15, height=0.6, colour="input", fontsize=8.5)
        sch.box(ax, (x, 10.3), targets[t], width=col - 0.15, height=0.6, colour="output", fontsize=8.5)
        sch.arrow(ax, (x, 0.9), (x, 1.55))
        sch.arrow(ax, (x, 9.05), (x, 10.0))
    layers = [  # (y, text, colour, height)
        (2.0, "token embedding + position embedding", "param", 0.8),
        (4.35, f"Transformer block (masked self-attention, MLP)  × {n_layers}", "hidden", 1.3),
        (6.6, "final LayerNorm", "op", 0.7),
        (7.8, "linear head → logits over the vocabulary", "param", 0.8),
    ]
    for (y, text, colour, h), (y_next, _, _, h_next) in zip(layers, layers[1:] + [(8.85, "", "", 0.0)]):
        if colour == "hidden":  # a stack: two shadows behind the block
            for shift in (0.16, 0.08):
                sch.box(ax, (mid + shift, y + shift), "", width=span, height=h, colour=colour)
        sch.box(ax, (mid, y), text, width=span, height=h, colour=colour, fontsize=8.5)
        for x in xs:  # one vector per position travels up
            sch.arrow(ax, (x, y + h / 2 + (0.16 if colour == "hidden" else 0)), (x, y_next - h_next / 2))
    ax.text(mid, 8.85, "softmax at each position: P(next token)", ha="center", va="bottom", fontsize=8.5,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5})
    ax.text(0.35, 0.6, "input", ha="left", va="center", fontsize=8, rotation=90)
    ax.text(0.35, 10.3, "target", ha="left", va="center", fontsize=8, rotation=90)
    ax.set_title("Decoder-only language model: each position predicts the next token", fontsize=9.5)

    # Right panel: the causal mask.
    top = min(height / 2 + n * cell / 2 + 0.8, height - 2.6)  # the grid mid-panel, room for its labels above
    x0 = 1.9
    allowed = np.tril(np.ones((n, n), dtype=bool))
    _grid(ax_mask, x0, top, [["" if ok else "−∞" for ok in row] for row in allowed],
          [["input" if ok else MASKED for ok in row] for row in allowed], cell, fontsize=8)
    for t, token in enumerate(inputs):
        ax_mask.text(x0 - 0.12, top - (t + 0.5) * cell, f"{t} {token}", ha="right", va="center", fontsize=8)
        ax_mask.text(x0 + (t + 0.5) * cell, top + 0.12, f"{t} {token}", ha="center", va="bottom", fontsize=8,
                     rotation=90)
    ax_mask.text(x0 + n * cell / 2, top + 1.55, "key position (attended to)", ha="center", va="bottom", fontsize=8.5)
    ax_mask.text(0.15, top - n * cell / 2, "query position (attending)", ha="left", va="center", fontsize=8.5,
                 rotation=90)
    ax_mask.text(x0 + n * cell / 2, top - n * cell - 0.3,
                 "row $t$ sees keys $0..t$;\nlater keys get score $-\\infty$,\nso weight exactly 0",
                 ha="center", va="top", fontsize=8.5)
    ax_mask.set_title("Causal mask (lower triangle)", fontsize=9.5)
    fig.tight_layout()
    return fig, (ax, ax_mask)


__all__ = ["attention_figure", "decoder_figure", "transformer_block_figure"]
