"""Multilayer perceptrons for chapter 3, built the same way in NumPy and PyTorch.

:func:`numpy_mlp` (a :class:`book.nn.Sequential`) and :func:`torch_mlp` (a
``torch.nn.Sequential``) put their layers at the same positions, so their
``state_dict`` keys agree (``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...)
and :func:`torch_state` copies one network's weights into the other exactly.
The NumPy training helpers (:func:`minibatches`, :func:`numpy_train_epoch`,
:func:`numpy_accuracy`) are the plain loop the chapter explains; PyTorch's
counterpart is :func:`book.training.fit_torch`.
"""
from __future__ import annotations

from typing import Iterator, Mapping, Sequence

import numpy as np

ACTIVATIONS = ("relu", "sigmoid", "tanh")


def _check_sizes(sizes: Sequence[int]) -> list[int]:
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes!r}")
    for s in sizes:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1:
            raise ValueError(f"every width in sizes must be a positive int, got {sizes!r}")
    return [int(s) for s in sizes]


def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    return activation


def numpy_mlp(sizes: Sequence[int], activation: str = "relu", rng=None):
    """A :class:`book.nn.Sequential` MLP: ``Linear`` layers of widths ``sizes``
    with ``activation`` between them and none after the last (it outputs logits).

    ``numpy_mlp([64, 32, 10])`` is ``Linear(64, 32), ReLU(), Linear(32, 10)``.
    ``rng`` (a ``numpy.random.Generator`` or an int seed) makes the
    initialisation repeatable.
    """
    from book import nn

    sizes = _check_sizes(sizes)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[_check_activation(activation)]
    rng = np.random.default_rng(rng)
    layers = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i > 0:
            layers.append(act())
        layers.append(nn.Linear(d_in, d_out, rng=rng))
    return nn.Sequential(*layers)


def torch_mlp(sizes: Sequence[int], activation: str = "relu"):
    """The ``torch.nn.Sequential`` twin of :func:`numpy_mlp` (same layer positions)."""
    from torch import nn

    sizes = _check_sizes(sizes)
    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[_check_activation(activation)]
    layers = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if i > 0:
            layers.append(act())
        layers.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*layers)


def torch_state(state: Mapping, dtype=None) -> dict:
    """A NumPy ``state_dict`` as torch tensors, ready for ``model.load_state_dict``.

    ``dtype`` defaults to float64, the dtype of :mod:`book.nn`, so that the
    copy is exact. The arrays are copied, so the two models do not share memory.
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
    return {k: torch.tensor(np.array(v), dtype=dtype) for k, v in state.items()}


def minibatches(n: int, batch_size: int, rng=None) -> Iterator[np.ndarray]:
    """Index arrays that cover ``range(n)`` once in batches of ``batch_size``.

    With a ``rng`` (a ``numpy.random.Generator`` or an int seed) the order is
    shuffled, as for training; without one it is ``0, 1, ..., n-1``. The last
    batch holds what is left and may be smaller.
    """
    for name, v in (("n", n), ("batch_size", batch_size)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    order = np.arange(n) if rng is None else np.random.default_rng(rng).permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


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


def digits_loaders(split, batch_size: int = 32, seed: int = 0):
    """PyTorch ``DataLoader``s (train, validation, test) over a :class:`book.data.Split`.

    Images become float32 tensors in whatever layout the split has (for
    example ``(N, 1, 28, 28)`` for ``layout="nchw"``), labels int64. Only the
    training loader shuffles, with a generator seeded by ``seed``, so the
    batch order is the same on every run.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")

    def dataset(X, y):
        return TensorDataset(torch.as_tensor(np.asarray(X), dtype=torch.float32), torch.as_tensor(np.asarray(y), dtype=torch.int64))

    generator = torch.Generator().manual_seed(int(seed))
    train = DataLoader(dataset(split.X_train, split.y_train), batch_size=batch_size, shuffle=True, generator=generator)
    val = DataLoader(dataset(split.X_val, split.y_val), batch_size=256)
    test = DataLoader(dataset(split.X_test, split.y_test), batch_size=256)
    return train, val, test
