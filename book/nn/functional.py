"""Numerically stable activation and normalisation functions in NumPy (float64).

Every function here is exact and finite for inputs as large as ``±1e4`` and
raises no overflow warnings: each one only ever exponentiates a non-positive
number, which is the whole trick behind the "stable" versions.

The layers in :mod:`book.nn` and the chapters call these, mirroring
``torch.nn.functional``. The losses at the end come each with its gradient.
"""
from __future__ import annotations

import numpy as np

from book.checks import integer, same_shape


def _as_float(z) -> np.ndarray:
    return np.asarray(z, dtype=np.float64)


def sigmoid(z):
    """Logistic function ``1 / (1 + exp(-z))``, elementwise.

    For ``z >= 0`` we use ``1 / (1 + e)`` and for ``z < 0`` the equal form
    ``e / (1 + e)``, with ``e = exp(-|z|)`` in both, so ``exp`` never sees a
    positive argument and cannot overflow.
    """
    z = _as_float(z)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def softplus(z):
    """``log(1 + exp(z))``, elementwise, computed as ``max(z, 0) + log1p(exp(-|z|))``.

    ``log1p`` keeps full precision when ``exp(-|z|)`` is tiny, where
    ``log(1 + tiny)`` would round to 0.
    """
    z = _as_float(z)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def log_sigmoid(z):
    """``log(sigmoid(z))`` without ever forming ``sigmoid(z)``.

    ``log(sigmoid(z)) = -softplus(-z)``; taking the log of a sigmoid that has
    underflowed to 0 would give ``-inf`` for ``z = -1e4`` instead of ``-1e4``.
    """
    z = _as_float(z)
    return np.minimum(z, 0.0) - np.log1p(np.exp(-np.abs(z)))


def _reduction_input(name: str, z, axis):
    """``z`` as float64 and ``axis`` checked as torch checks ``dim``.

    A 0-d input counts as one entry along its only allowed axis (``0`` or
    ``-1``), as torch treats it; an integer axis out of range is refused by
    name. ``axis=None`` or a tuple is left to NumPy.
    """
    z = _as_float(z)
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        ndim = max(z.ndim, 1)
        if not -ndim <= axis < ndim:
            raise ValueError(f"{name}: axis {axis} is out of range for an input with {z.ndim} dimensions "
                             f"(expected an axis in [{-ndim}, {ndim - 1}])")
    return z


def logsumexp(z, axis=-1, keepdims: bool = False):
    """``log(sum(exp(z)))`` along ``axis``, shifted by the maximum so that ``exp`` cannot overflow.

    ``logsumexp(z) = m + log(sum(exp(z - m)))`` for any ``m``; with ``m = max(z)``
    every exponent is ``<= 0`` and the largest term is exactly 1, so the sum is
    in ``[1, n]`` and its log is well conditioned. A slice that is entirely
    ``-inf`` gives ``-inf``, as in ``torch.logsumexp``, and so does an empty
    slice (the log of an empty sum, 0). A 0-d input is its own logsumexp.
    """
    z = _reduction_input("logsumexp", z, axis)
    if z.ndim == 0:
        return logsumexp(z.reshape(1), axis=0)
    m = np.max(z, axis=axis, keepdims=True, initial=-np.inf)
    # An all -inf (or empty) slice would make z - m = nan; shifting by 0 there is harmless.
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out


def softmax(z, axis=-1):
    """``exp(z) / sum(exp(z))`` along ``axis``, with the maximum subtracted first.

    Softmax is unchanged by adding a constant to every input, so subtracting
    the maximum costs nothing and keeps every exponent ``<= 0``. As in torch,
    an empty input gives an empty output of the same shape, and a 0-d input
    gives ``1.0``.
    """
    z = _reduction_input("softmax", z, axis)
    if z.ndim == 0:
        return softmax(z.reshape(1), axis=0)[0]
    if z.size == 0:
        return np.empty_like(z)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    """``z - logsumexp(z)`` along ``axis``: the log of :func:`softmax` without taking a log of 0.

    An empty input gives an empty output of the same shape, a 0-d input ``0.0``.
    """
    z = _reduction_input("log_softmax", z, axis)
    if z.ndim == 0:
        return log_softmax(z.reshape(1), axis=0)[0]
    if z.size == 0:
        return np.empty_like(z)
    return z - logsumexp(z, axis=axis, keepdims=True)


def relu(z):
    """Rectified linear unit ``max(z, 0)``, elementwise."""
    return np.maximum(_as_float(z), 0.0)


def tanh(z):
    """Hyperbolic tangent, elementwise (``np.tanh`` saturates to ±1 without overflow)."""
    return np.tanh(_as_float(z))


# --------------------------------------------------------------------------- losses
# Each loss is a mean over its entries (torch's default reduction), written once
# with its gradient: the chapter-2 functions and the loss modules of book.nn
# (``MSELoss``, ``CrossEntropyLoss``, ``BCEWithLogitsLoss``) both call these.


def _pair(name: str, input, target):
    input, target = np.asarray(input), np.asarray(target)
    same_shape(input, target, name)
    if input.size == 0:
        raise ValueError(f"{name} needs a non-empty input, got shape {input.shape}")
    return _as_float(input), _as_float(target)


def mse_loss(input, target) -> float:
    """Mean squared error ``mean((input - target)^2)`` over every entry; shapes must be equal."""
    input, target = _pair("mse_loss", input, target)
    return float(np.mean((input - target) ** 2))


def mse_loss_grad(input, target) -> np.ndarray:
    """Gradient of :func:`mse_loss` with respect to ``input``: ``2 (input - target) / input.size``.

    For a column of ``N`` predictions this is the familiar ``(2/N)(y_hat - y)``.
    """
    input, target = _pair("mse_loss_grad", input, target)
    return 2.0 * (input - target) / input.size


def _binary(name: str, logits, target):
    z, t = _pair(name, logits, target)
    if np.nanmin(t) < 0 or np.nanmax(t) > 1:
        raise ValueError(f"{name} expects targets in [0, 1], got values from {np.nanmin(t)} to {np.nanmax(t)}")
    return z, t


def binary_cross_entropy_with_logits(logits, target) -> float:
    """Mean binary cross-entropy from **logits** ``z`` (not probabilities), targets in [0, 1].

    Per entry, ``-[t log p + (1-t) log(1-p)]`` with ``p = sigmoid(z)`` simplifies
    to ``softplus(z) - t z``, which never takes the log of a probability that
    has rounded to 0 or 1.
    """
    z, t = _binary("binary_cross_entropy_with_logits", logits, target)
    return float(np.mean(softplus(z) - t * z))


def binary_cross_entropy_with_logits_grad(logits, target) -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy_with_logits` with respect to ``z``: ``(sigmoid(z) - t) / z.size``."""
    z, t = _binary("binary_cross_entropy_with_logits_grad", logits, target)
    return (sigmoid(z) - t) / z.size


def class_indices(target, n_rows: int, n_classes: int, what: str) -> np.ndarray:
    """Integer labels of shape ``(n_rows,)`` with values in ``[0, n_classes)``, else ``ValueError``."""
    target = np.asarray(target)
    if target.shape != (n_rows,):
        raise ValueError(f"{what} expects class labels of shape ({n_rows},), got {target.shape}")
    if not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"{what} expects integer class labels of shape ({n_rows},), got dtype {target.dtype}")
    if target.min() < 0 or target.max() >= n_classes:
        raise ValueError(
            f"{what} expects class labels in [0, {n_classes}), got values from {target.min()} to {target.max()}"
        )
    return target


def _logits_and_labels(name: str, logits, target):
    logits = np.asarray(logits)
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"{name} expects logits of shape (N, C) with N, C >= 1, got {logits.shape}")
    return _as_float(logits), class_indices(target, logits.shape[0], logits.shape[1], name)


def cross_entropy(logits, target) -> float:
    """Mean softmax cross-entropy of logits ``(N, C)`` and integer labels ``(N,)``.

    ``-log softmax(z)_y = logsumexp(z) - z_y``: the log-sum-exp form never
    exponentiates a positive number, so logits of 1000 are fine.
    """
    z, y = _logits_and_labels("cross_entropy", logits, target)
    return float(np.mean(logsumexp(z, axis=1) - z[np.arange(z.shape[0]), y]))


def cross_entropy_grad(logits, target) -> np.ndarray:
    """Gradient of :func:`cross_entropy` with respect to the logits: ``(softmax(z) - onehot(y)) / N``."""
    z, y = _logits_and_labels("cross_entropy_grad", logits, target)
    grad = softmax(z, axis=1)
    grad[np.arange(z.shape[0]), y] -= 1.0
    return grad / z.shape[0]


def one_hot(labels, num_classes: int) -> np.ndarray:
    """Rows of the ``num_classes`` identity matrix picked by integer ``labels``: shape ``(N, num_classes)``."""
    num_classes = integer(num_classes, "num_classes", minimum=2, owner="one_hot")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"one_hot expects labels of shape (N,), got {labels.shape}")
    return np.eye(num_classes)[class_indices(labels, labels.shape[0], num_classes, "one_hot")]


__all__ = [
    "sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax", "relu", "tanh",
    "mse_loss", "mse_loss_grad", "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "cross_entropy", "cross_entropy_grad", "class_indices", "one_hot",
]
