"""A training loop with a progress bar, and the PyTorch fit/evaluate pair built on it.

The progress bar writes to standard error: the notebook tests do not compare
it, and the rendered book leaves it out, since its timings change every run.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from typing import Callable, Mapping

import numpy as np
from tqdm.std import tqdm


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
    when it returns true (early stopping).
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    history: dict[str, list[float]] = defaultdict(list)
    bar = tqdm(range(int(epochs)), desc=desc, file=sys.stderr, disable=not progress, leave=True)
    for epoch in bar:
        metrics = step(epoch)
        for name, value in metrics.items():
            history[name].append(float(value))
        bar.set_postfix({k: f"{float(v):.4f}" for k, v in metrics.items()})
        if stop is not None and stop():
            break
    bar.close()
    return dict(history)


def evaluate_torch(model, loader, loss_fn, device) -> dict[str, float]:
    """Mean loss and accuracy of a classifier over ``loader``, in eval mode, without gradients."""
    import torch

    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            total_loss += float(loss_fn(logits, yb)) * len(yb)
            correct += int((logits.argmax(dim=1) == yb).sum())
            count += len(yb)
    return {"loss": total_loss / count, "acc": correct / count}


def fit_torch(model, train_loader, loss_fn, optimizer, epochs, device, val_loader=None, progress=True, desc="training"):
    """Train a torch classifier; returns per-epoch ``loss`` (and ``val_loss``/``val_acc``)."""
    model.to(device)

    def step(_epoch):
        model.train()
        total, count = 0.0, 0
        for xb, yb in train_loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            count += len(yb)
        metrics = {"loss": total / count}
        if val_loader is not None:
            val = evaluate_torch(model, val_loader, loss_fn, device)
            metrics.update(val_loss=val["loss"], val_acc=val["acc"])
        return metrics

    return train_loop(step, epochs, desc=desc, progress=progress)
