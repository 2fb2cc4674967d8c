"""The plain NumPy training epoch of chapter 3, for :mod:`book.nn` models.

PyTorch's counterpart is :func:`book.training.fit`; both hand their epochs to
:func:`book.training.train_loop`.
"""
from __future__ import annotations

import numpy as np

from book.data.batches import minibatches


def numpy_train_epoch(model, loss_fn, optimizer, X, y, batch_size: int = 32, rng=None) -> float:
    """One epoch of mini-batch training of a :mod:`book.nn` model; returns the mean loss.

    Each step is the whole algorithm of the chapter: forward pass, loss,
    ``zero_grad``, backward pass (backpropagation fills ``model.grads``),
    then one optimizer step that uses those gradients.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
    model.train()
    total = 0.0
    for idx in minibatches(len(X), batch_size, rng):
        logits = model(X[idx])
        loss = loss_fn.forward(logits, y[idx])
        optimizer.zero_grad()
        model.backward(loss_fn.backward())
        optimizer.step()
        total += float(loss) * len(idx)
    return total / len(X)


def numpy_accuracy(model, X, y, batch_size: int = 512) -> float:
    """Fraction of rows of ``X`` whose arg-max output equals the integer label in ``y``.

    The model is switched to evaluation mode first (it matters for dropout).
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y) or len(X) == 0:
        raise ValueError(f"X and y must be non-empty and of the same length, got {len(X)} and {len(y)}")
    model.eval()
    correct = 0
    for idx in minibatches(len(X), batch_size):
        correct += int((np.argmax(model(X[idx]), axis=1) == y[idx]).sum())
    return correct / len(X)
