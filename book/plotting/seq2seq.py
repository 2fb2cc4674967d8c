"""Chapter 7's encoder–decoder figures.

* :func:`seq2seq_figure`: the GRU encoder reads the source left to right; its
  last state starts the decoder; at one highlighted output step the decoder
  state scores every encoder state, and the weights (drawn as line widths)
  average them into the context vector that, with the state, predicts the
  next token.
* :func:`plot_attention_map`: an attention map, one row per output step and one
  column per source position, as a heat map with the tokens on its axes.

Drawn with :mod:`book.plotting.schematic`, in its palette: inputs blue, hidden
states orange, outputs green, operations grey.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from book.checks import non_negative_int
from book.plotting import schematic as sch


def _tokens(values, name: str, owner: str, minimum: int = 1) -> list[str]:
    values = list(values)
    if len(values) < minimum or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"{owner}: {name} must be at least {minimum} non-empty strings, got {values!r}")
    return values


def seq2seq_figure(source: Sequence[str] = ("3", "1", "4", "1", "5"), target: Sequence[str] | None = None,
                   step: int = 1, weights=None):
    """The encoder–decoder with dot-product attention, attention drawn at output step ``step``.

    ``target`` defaults to the reversed ``source``; the decoder reads ``<s>``
    then the target (teacher forcing) and writes the target then ``</s>``.
    ``weights`` (one per source token, summing to 1) set the widths of the
    attention lines at ``step``; by default most weight sits on the source
    token that reversal copies at that step. Returns ``(fig, ax)``.
    """
    owner = "seq2seq_figure"
    source = _tokens(source, "source", owner, 2)
    target = list(reversed(source)) if target is None else _tokens(target, "target", owner)
    if len(source) > 6 or len(target) > 6:
        raise ValueError(f"{owner}: at most 6 source and 6 target tokens fit the page, got {len(source)} and {len(target)}")
    outputs = target + ["</s>"]
    inputs = ["<s>"] + target
    step = non_negative_int(step, "step", owner=owner)
    if step >= len(outputs):
        raise ValueError(f"{owner}: step must be an output step in [0, {len(outputs)}), got {step}")
    n_src = len(source)
    if weights is None:
        peak = n_src - 1 - step if step < n_src else n_src - 1
        weights = np.full(n_src, 0.1 / max(n_src - 1, 1))
        weights[peak] = 0.9
    weights = np.asarray(weights, dtype=float).reshape(-1)
    if weights.shape != (n_src,) or np.any(weights < 0) or abs(weights.sum() - 1) > 1e-6:
        raise ValueError(f"{owner}: weights must be {n_src} non-negative numbers summing to 1, got {weights!r}")

    dx = 1.45
    x_enc = [1.3 + j * dx for j in range(n_src)]
    x_dec = [x_enc[-1] + 2.3 + t * dx for t in range(len(outputs))]
    width = x_dec[-1] + 1.3
    y_in, y_state, y_attn, y_out = 1.3, 3.0, 4.9, 6.6
    ax = sch.canvas(width, 8.2, scale=0.62)

    # Encoder (states h) and decoder (states s): tokens up into states, states left to right;
    # the encoder's last state starts the decoder.
    for xs, tokens, state in ((x_enc, source, "h"), (x_dec, inputs, "s")):
        for j, (x, token) in enumerate(zip(xs, tokens)):
            sch.box(ax, (x, y_in), token, width=0.9, height=0.6, colour="input")
            sch.box(ax, (x, y_state), f"${state}_{j + 1}$", width=0.9, height=0.65, colour="hidden", fontsize=11)
            sch.arrow(ax, (x, y_in + 0.3), (x, y_state - 0.33))
            if j:
                sch.arrow(ax, (xs[j - 1] + 0.45, y_state), (x - 0.45, y_state))
    sch.arrow(ax, (x_enc[-1] + 0.45, y_state), (x_dec[0] - 0.45, y_state), label="initial\nstate",
              label_offset=-0.45, fontsize=8)
    # Every decoder step: attention, then the prediction.
    for t, (x, token) in enumerate(zip(x_dec, outputs)):
        colour = "param" if t == step else "op"
        sch.box(ax, (x, y_attn), "attend", width=1.05, height=0.55, colour=colour, fontsize=8)
        sch.box(ax, (x, y_out), token, width=0.9, height=0.6, colour="output")
        sch.arrow(ax, (x, y_state + 0.33), (x, y_attn - 0.28))
        sch.arrow(ax, (x, y_attn + 0.28), (x, y_out - 0.3))
    # The highlighted step reads every encoder state, each line as wide as its weight.
    target_xy = np.array([x_dec[step], y_attn])
    for j, (x, w) in enumerate(zip(x_enc, weights)):
        start = np.array([x, y_state + 0.33])
        ax.plot(*zip(start, target_xy - [0.0, 0.28]), color=sch.COLOURS["grad"], linewidth=0.5 + 5 * w,
                alpha=0.35 + 0.6 * w, zorder=1)
        label_xy = start + 0.4 / (target_xy[1] - 0.28 - start[1]) * (target_xy - start)  # all 0.4 above the states
        ax.text(*label_xy, f"{w:.2f}", ha="center", va="center", fontsize=7, color=sch.COLOURS["grad"],
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    mid_enc, mid_dec = (x_enc[0] + x_enc[-1]) / 2, (x_dec[0] + x_dec[-1]) / 2
    ax.text(mid_enc, 0.75, "encoder (GRU)\nreads the source", ha="center", va="top", fontsize=8.5)
    ax.text(mid_dec, 0.75, "decoder (GRU) reads $y_{t-1}$: the true token in training (teacher forcing),\n"
            "its own previous prediction in greedy decoding", ha="center", va="top", fontsize=8)
    ax.text(width / 2, 7.85,
            rf"step {step + 1}: $\alpha_{{{step + 1},j}} = \mathrm{{softmax}}_j(s_{{{step + 1}}} \cdot h_j)$, "
            rf"$c_{{{step + 1}}} = \sum_j \alpha_{{{step + 1},j}} h_j$, "
            rf"$\hat y_{{{step + 1}}} = \mathrm{{softmax}}(W_o \tanh(W_c [c_{{{step + 1}}}; s_{{{step + 1}}}]))$",
            ha="center", va="center", fontsize=8.5)
    return ax.figure, ax


def plot_attention_map(weights, source_tokens: Sequence[str], output_tokens: Sequence[str], ax=None,
                       title: str | None = None):
    """Heat map of attention ``weights`` ``(T, S)``: row ``t`` is output step ``t``, column ``j`` source token ``j``.

    Colours run from 0 (white) to 1 (dark), the same scale for every map.
    Returns the axes.
    """
    import matplotlib.pyplot as plt

    owner = "plot_attention_map"
    weights = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float)
    source_tokens = _tokens(source_tokens, "source_tokens", owner)
    output_tokens = _tokens(output_tokens, "output_tokens", owner)
    if weights.shape != (len(output_tokens), len(source_tokens)):
        raise ValueError(f"{owner}: weights must have shape (T, S) = ({len(output_tokens)}, {len(source_tokens)}), "
                         f"got {weights.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * len(source_tokens) + 1.8, 0.45 * len(output_tokens) + 1.2))
    image = ax.imshow(weights, cmap="Greens", vmin=0.0, vmax=1.0, aspect="equal")
    ax.set_xticks(range(len(source_tokens)), source_tokens, fontsize=8)
    ax.set_yticks(range(len(output_tokens)), output_tokens, fontsize=8)
    ax.set_xlabel("source token (encoder)", fontsize=9)
    ax.set_ylabel("output step (decoder)", fontsize=9)
    if title:
        ax.set_title(title, fontsize=9.5)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return ax


__all__ = ["plot_attention_map", "seq2seq_figure"]
