"""The memory budget of one training step as stacked bars (chapter 11).

:func:`memory_budgets` computes, with
:func:`book.counting.training_memory.training_step_memory`, the bytes of one
training step of a GPT in four settings: fp32 and mixed precision (bf16
weights and gradients, fp32 master weights and optimizer states), each with
and without activation checkpointing. :func:`training_memory_figure` draws
them as stacked bars: weights (with the master copy), gradients, optimizer
states, activations (with the one block recomputed at the peak under
checkpointing).
"""
from __future__ import annotations

from book.checks import positive_int

SETTINGS = (("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True))
"""The four settings, as ``(precision, checkpoint)``, in the order of the bars."""

PARTS = ("weights", "gradients", "optimizer", "activations")
"""The stacked parts of a bar, bottom to top."""

COLOURS = {"weights": "#5dade2", "gradients": "#f5b041", "optimizer": "#58d68d", "activations": "#af7ac5"}


def _label(precision: str, checkpoint: bool) -> str:
    name = "fp32" if precision == "fp32" else f"mixed ({precision})"
    return name + ("\n+ checkpointing" if checkpoint else "")


def memory_budgets(config, batch_size: int, seq_len: int | None = None, optimizer: str = "adamw",
                   n_params: int | None = None) -> dict[str, dict[str, int]]:
    """Bytes of :data:`PARTS` and their ``total`` for each of :data:`SETTINGS`, keyed by the bar's label.

    ``weights`` includes the fp32 master copy in mixed precision;
    ``activations`` includes, under checkpointing, the block recomputed during
    the backward pass. Arguments as for :func:`training_step_memory`.
    """
    from book.counting.training_memory import training_step_memory

    batch_size = positive_int(batch_size, "batch_size", owner="memory_budgets")
    out = {}
    for precision, checkpoint in SETTINGS:
        m = training_step_memory(config, batch_size, seq_len, optimizer, precision, checkpoint, n_params)
        parts = {"weights": m["weights"] + m["master_weights"], "gradients": m["gradients"],
                 "optimizer": m["optimizer"], "activations": m["activations"] + m["activations_peak_extra"]}
        parts["total"] = sum(parts.values())
        assert parts["total"] == m["total"]
        out[_label(precision, checkpoint)] = parts
    return out


def training_memory_figure(config, batch_size: int, seq_len: int | None = None, optimizer: str = "adamw",
                           n_params: int | None = None, unit: float = 2.0 ** 30, unit_name: str = "GiB",
                           title: str | None = None, ax=None):
    """Stacked bars of :func:`memory_budgets`, in ``unit_name`` (``unit`` bytes). Returns ``(ax, budgets)``."""
    import matplotlib.pyplot as plt

    if not isinstance(unit, (int, float)) or unit <= 0:
        raise ValueError(f"training_memory_figure: unit must be a positive number of bytes, got {unit!r}")
    budgets = memory_budgets(config, batch_size, seq_len, optimizer, n_params)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.2))
    labels = list(budgets)
    bottoms = [0.0] * len(labels)
    for part in PARTS:
        heights = [budgets[k][part] / unit for k in labels]
        ax.bar(labels, heights, bottom=bottoms, color=COLOURS[part], edgecolor="white", label=part, width=0.6)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    for i, top in enumerate(bottoms):
        ax.text(i, top, f"{top:.1f}", ha="center", va="bottom", fontsize=9)
    ax.set_ylabel(f"memory of one training step ({unit_name})")
    ax.set_ylim(0, max(bottoms) * 1.12)
    ax.legend(loc="upper right", fontsize=9)
    if title:
        ax.set_title(title, fontsize=10)
    return ax, budgets


__all__ = ["COLOURS", "PARTS", "SETTINGS", "memory_budgets", "training_memory_figure"]
