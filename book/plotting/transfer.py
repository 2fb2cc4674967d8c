"""Chapter 10's figures: the three transfer arms (what is frozen, what trains) and LoRA's update."""
from __future__ import annotations

from book.checks import positive_int
from book.plotting.schematic import arrow, box, canvas

FROZEN, TRAINED, NEW = "#d5d8dc", "#f9e79f", "#d5f5e3"


def transfer_arms_figure():
    """Three rows, one per arm: scratch (all random, all trained), frozen backbone + new head,
    fine-tuning (backbone at a small learning rate, head at a large one). Returns the figure."""
    ax = canvas(11.6, 5.2, scale=0.75)
    rows = [("from scratch", [("conv 32", TRAINED, "random"), ("conv 64", TRAINED, "random"),
                              ("dense 64", TRAINED, "random"), ("head 10", NEW, "random")]),
            ("frozen backbone", [("conv 32", FROZEN, "frozen"), ("conv 64", FROZEN, "frozen"),
                                 ("dense 64", FROZEN, "frozen"), ("head 10", NEW, "lr 1e-2")]),
            ("fine-tuning", [("conv 32", TRAINED, "lr 1e-4"), ("conv 64", TRAINED, "lr 1e-4"),
                             ("dense 64", TRAINED, "lr 1e-4"), ("head 10", NEW, "lr 1e-2")])]
    for r, (name, blocks) in enumerate(rows):
        y = 4.6 - 1.6 * r
        ax.text(0.15, y, name, ha="left", va="center", fontsize=10, fontweight="bold")
        box(ax, (3.5, y), "image", width=1.0, height=0.6, colour="input", fontsize=9)
        x_prev = 3.5
        for i, (label, colour, note) in enumerate(blocks):
            x = 5.0 + 1.6 * i
            box(ax, (x, y), label, width=1.3, height=0.6, colour=colour, fontsize=9)
            ax.text(x, y - 0.52, note, ha="center", va="center", fontsize=8,
                    color="#7f8c8d" if note == "frozen" else "#34495e")
            arrow(ax, (x_prev, y), (x, y), gap=0.55 if i == 0 else 0.65, gap_end=0.65)
            x_prev = x
        ax.text(x_prev + 0.95, y, "logits", ha="left", va="center", fontsize=9)
        arrow(ax, (x_prev, y), (x_prev + 0.95, y), gap=0.65, gap_end=0.02)
    ax.text(5.8, 0.2, "grey: frozen (pretrained, no gradient)   yellow: trained   green: new head",
            ha="center", va="center", fontsize=8.5)
    return ax.figure


def lora_figure(d_in: int = 384, d_out: int = 384, rank: int = 8):
    """A frozen weight ``W`` (``d_out x d_in``) beside LoRA's trainable ``B`` (``d_out x rank``) and
    ``A`` (``rank x d_in``), drawn roughly to scale, with the parameter counts. Returns the figure."""
    d_in = positive_int(d_in, "d_in", owner="lora_figure")
    d_out = positive_int(d_out, "d_out", owner="lora_figure")
    rank = positive_int(rank, "rank", owner="lora_figure")
    if rank > min(d_in, d_out):
        raise ValueError(f"lora_figure: rank must be at most min(d_in, d_out) = {min(d_in, d_out)}, got {rank}")
    ax = canvas(11.0, 5.0, scale=0.75)
    unit = 3.0 / max(d_in, d_out)
    w, h = d_in * unit, d_out * unit
    r = max(rank * unit, 0.18)
    y = 2.4
    box(ax, (1.0 + w / 2, y), "", width=w, height=h, colour="#d5d8dc")
    ax.text(1.0 + w / 2, y, f"W\n{d_out}×{d_in}\nfrozen", ha="center", va="center", fontsize=10)
    ax.text(1.0 + w / 2, y - h / 2 - 0.35, f"{d_in * d_out:,} numbers, no gradient", ha="center", fontsize=8.5)
    ax.text(1.0 + w + 0.45, y, "+", ha="center", va="center", fontsize=18)
    ax.text(1.0 + w + 1.3, y, "α/r ·", ha="center", va="center", fontsize=12)
    xb = 1.0 + w + 2.1
    box(ax, (xb + r / 2, y), "", width=r, height=h, colour="#f9e79f")
    ax.text(xb + r / 2, y + h / 2 + 0.3, f"B\n{d_out}×{rank}", ha="center", va="bottom", fontsize=9)
    xa = xb + r + 0.35
    box(ax, (xa + w / 2, y + h / 2 - r / 2), "", width=w, height=r, colour="#f9e79f")
    ax.text(xa + w / 2, y + h / 2 + 0.3, f"A  {rank}×{d_in}", ha="center", va="bottom", fontsize=9)
    ax.text(xa + w / 2, y - 0.2, f"B starts at 0, A random\n{rank * (d_in + d_out):,} trainable numbers\n"
            f"= {rank * (d_in + d_out) / (d_in * d_out):.1%} of W", ha="center", va="center", fontsize=9)
    ax.text(5.5, 0.25, "merged after training: W' = W + (α/r) B A, one plain matrix, no extra cost",
            ha="center", va="center", fontsize=9)
    return ax.figure


__all__ = ["lora_figure", "transfer_arms_figure"]
