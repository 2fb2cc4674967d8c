"""Chapter 9's schematics: a rating matrix factorised into user and item
factors, and the two-tower retrieval model.

Drawn with :mod:`book.plotting.schematic`, so they render offline and use the
book's palette: observed ratings are blue, missing entries grey with a
question mark, parameters (factors, biases) yellow.
"""
from __future__ import annotations

import numpy as np

from book.checks import positive_int, real
from book.plotting import schematic as sch


def _grid(ax, x0: float, y0: float, values, cell: float, colours, fmt: str = "{:.0f}", fontsize: float = 8):
    """A matrix of square cells with its top-left corner at (x0, y0); NaN entries show '?'."""
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            v = values[r, c]
            text = "?" if np.isnan(v) else fmt.format(v)
            sch.box(ax, (x0 + (c + 0.5) * cell, y0 - (r + 0.5) * cell), text, width=cell * 0.94,
                    height=cell * 0.94, colour=colours if not np.isnan(v) else "dropped", fontsize=fontsize)


def factorisation_figure(n_users: int = 6, n_items: int = 8, rank: int = 2, density: float = 0.4,
                         seed: int = 0, scale: float = 0.6):
    """The rating matrix R (users x items, most entries missing) as ``mu + b_u + b_i + P Q^T``.

    ``rank`` is the number of columns of P (and of Q). The ratings shown are
    made up (rounded to 1..5); about ``density`` of them are observed. Returns
    the figure and its axes.
    """
    import matplotlib.pyplot as plt

    owner = "factorisation_figure"
    n_users = positive_int(n_users, "n_users", owner)
    n_items = positive_int(n_items, "n_items", owner)
    rank = positive_int(rank, "rank", owner)
    density = real(density, "density", 0.0, 1.0, low_open=True, owner=owner)
    if rank >= min(n_users, n_items):
        raise ValueError(f"{owner}: rank must be below min(n_users, n_items) = {min(n_users, n_items)}, got {rank}")
    rng = np.random.default_rng(seed)
    R = np.clip(np.round(3 + rng.normal(0, 1.2, (n_users, n_items))), 1, 5)
    R[rng.random(R.shape) >= density] = np.nan
    cell = 0.6
    top = n_users * cell + 1.2
    width = (n_items + rank + n_items) * cell + 6.2
    fig, ax = plt.subplots(figsize=(width * scale, (top + 1.0) * scale))
    sch.canvas(width, top + 1.0, ax=ax)
    x = 0.8
    _grid(ax, x, top, R, cell, "input")
    ax.text(x + n_items * cell / 2, top + 0.35, f"ratings R: {n_users} users x {n_items} items", ha="center", fontsize=9)
    x += n_items * cell + 0.8
    ax.text(x, top - n_users * cell / 2, r"$\approx$", ha="center", va="center", fontsize=18)
    x += 0.5
    ax.text(x + 1.1, top - n_users * cell / 2, r"$\mu + b_u + b_i\;+$", ha="center", va="center", fontsize=11)
    x += 2.5
    _grid(ax, x, top, np.full((n_users, rank), 0.0), cell, "param", fmt="")
    ax.text(x + rank * cell / 2, top + 0.35, f"P: {n_users} x {rank}", ha="center", fontsize=9)
    for r in range(n_users):
        ax.text(x - 0.15, top - (r + 0.5) * cell, rf"$p_{{{r + 1}}}$", ha="right", va="center", fontsize=8)
    x += rank * cell + 0.5
    ax.text(x, top - n_users * cell / 2, r"$\times$", ha="center", va="center", fontsize=14)
    x += 0.4
    _grid(ax, x, top, np.full((rank, n_items), 0.0), cell, "param", fmt="")
    ax.text(x + n_items * cell / 2, top + 0.35, rf"$Q^\top$: {rank} x {n_items}", ha="center", fontsize=9)
    for c in range(n_items):
        ax.text(x + (c + 0.5) * cell, top - rank * cell - 0.25, rf"$q_{{{c + 1}}}$", ha="center", va="center",
                fontsize=8)
    ax.text(width / 2, 0.35, r"predicted rating $\hat r_{ui} = \mu + b_u + b_i + p_u^\top q_i$; "
            "grey '?' entries are missing, and predicting them is the task", ha="center", fontsize=9)
    fig.tight_layout()
    return fig, ax


def two_tower_figure(scale: float = 0.62):
    """The two-tower model: a user tower and an item tower meet in a dot product.

    Returns the figure and its axes.
    """
    import matplotlib.pyplot as plt

    scale = real(scale, "scale", 0.0, low_open=True, owner="two_tower_figure")
    width, height = 13.0, 6.4
    fig, ax = plt.subplots(figsize=(width * scale, height * scale))
    sch.canvas(width, height, ax=ax)
    w, h = 2.4, 0.8
    user = [(2.2, 5.4, "user id $u$", "input"), (2.2, 4.1, "embedding\n(lookup table)", "param"),
            (2.2, 2.8, "MLP", "hidden"), (2.2, 1.5, "user vector $\\mathbf{u}$", "output")]
    item = [(8.8, 5.4, "item id $i$", "input"), (11.4, 5.4, "item features $f_i$", "input"),
            (8.8, 4.1, "embedding", "param"), (11.4, 4.1, "linear", "param"),
            (10.1, 2.8, "sum, then MLP", "hidden"), (10.1, 1.5, "item vector $\\mathbf{v}$", "output")]
    for x, y, text, colour in user + item:
        sch.box(ax, (x, y), text, width=w, height=h, colour=colour, fontsize=9)
    for a, b in zip(user, user[1:]):
        sch.arrow(ax, a[:2], b[:2], gap=h / 2)
    for a, b in [(0, 2), (1, 3), (2, 4), (3, 4), (4, 5)]:
        sch.arrow(ax, item[a][:2], item[b][:2], gap=h / 2)
    score = (6.15, 1.5)
    sch.box(ax, score, r"score $\mathbf{u}^\top\mathbf{v}$", width=2.0, height=h, colour="op", fontsize=9)
    sch.arrow(ax, user[-1][:2], score, gap=w / 2, gap_end=1.0)
    sch.arrow(ax, item[-1][:2], score, gap=w / 2, gap_end=1.0)
    loss = (6.15, 0.4)
    sch.box(ax, loss, "softmax over the batch's items (in-batch negatives)", width=6.4, height=0.6,
            colour="loss", fontsize=9)
    sch.arrow(ax, score, loss, gap=h / 2, gap_end=0.3)
    ax.text(2.2, 6.15, "user tower", ha="center", fontsize=11, weight="bold")
    ax.text(10.1, 6.15, "item tower", ha="center", fontsize=11, weight="bold")
    ax.text(5.6, 3.05, "the towers never see each other:\nitem vectors are computed once,\n"
            "and retrieval is a nearest-neighbour\nsearch by dot product", ha="center", va="center", fontsize=9,
            style="italic")
    fig.tight_layout()
    return fig, ax


__all__ = ["factorisation_figure", "two_tower_figure"]
