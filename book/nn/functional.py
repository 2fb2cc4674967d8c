"""Numerically stable activation and normalisation functions in NumPy (float64).

Every function here is exact and finite for inputs as large as ``±1e4`` and
raises no overflow warnings: each one only ever exponentiates a non-positive
number, which is the whole trick behind the "stable" versions.

The layers in :mod:`book.nn` and the chapters call these, mirroring
``torch.nn.functional``.
"""
from __future__ import annotations

import numpy as np


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


def logsumexp(z, axis=-1, keepdims: bool = False):
    """``log(sum(exp(z)))`` along ``axis``, shifted by the maximum so that ``exp`` cannot overflow.

    ``logsumexp(z) = m + log(sum(exp(z - m)))`` for any ``m``; with ``m = max(z)``
    every exponent is ``<= 0`` and the largest term is exactly 1, so the sum is
    in ``[1, n]`` and its log is well conditioned. A slice that is entirely
    ``-inf`` gives ``-inf``, as in ``torch.logsumexp``.
    """
    z = _as_float(z)
    m = np.max(z, axis=axis, keepdims=True)
    # An all -inf slice would make z - m = nan; shifting by 0 there is harmless.
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = m + np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out


def softmax(z, axis=-1):
    """``exp(z) / sum(exp(z))`` along ``axis``, with the maximum subtracted first.

    Softmax is unchanged by adding a constant to every input, so subtracting
    the maximum costs nothing and keeps every exponent ``<= 0``.
    """
    z = _as_float(z)
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis=-1):
    """``z - logsumexp(z)`` along ``axis``: the log of :func:`softmax` without taking a log of 0."""
    z = _as_float(z)
    return z - logsumexp(z, axis=axis, keepdims=True)


def relu(z):
    """Rectified linear unit ``max(z, 0)``, elementwise."""
    return np.maximum(_as_float(z), 0.0)


def tanh(z):
    """Hyperbolic tangent, elementwise (``np.tanh`` saturates to ±1 without overflow)."""
    return np.tanh(_as_float(z))


__all__ = ["sigmoid", "log_sigmoid", "softplus", "logsumexp", "softmax", "log_softmax", "relu", "tanh"]
