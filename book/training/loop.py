"""The epoch loop with a progress bar that every training run of the book goes through.

The progress bar writes to standard error: the notebook tests do not compare
it, and the rendered book leaves it out, since its timings change every run.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from typing import Callable, Mapping

from tqdm.std import tqdm

from book.checks import positive_int


def train_loop(
    step: Callable[[int], Mapping[str, float]],
    epochs: int,
    desc: str = "training",
    progress: bool = True,
    stop: Callable[[], bool] | None = None,
) -> dict[str, list[float]]:
    """Call ``step(epoch)`` for each epoch and collect the metrics it returns.

    ``step`` runs one epoch and returns a dict such as ``{"loss": 0.3}``.
    The result maps each metric name to its list of per-epoch values.
    ``stop``, if given, is asked after every epoch and ends training early
    when it returns true (early stopping, :class:`book.training.EarlyStopping`).
    """
    epochs = positive_int(epochs, "epochs", owner="train_loop")
    history: dict[str, list[float]] = defaultdict(list)
    bar = tqdm(range(epochs), desc=desc, file=sys.stderr, disable=not progress, leave=True)
    for epoch in bar:
        metrics = step(epoch)
        for name, value in metrics.items():
            history[name].append(float(value))
        bar.set_postfix({k: f"{float(v):.4f}" for k, v in metrics.items()})
        if stop is not None and stop():
            break
    bar.close()
    return dict(history)
