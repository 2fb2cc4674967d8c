"""Generated data sets with a known truth, so a fit can be checked against it.

Chapters add their own generators here; each takes a ``seed`` and returns
NumPy arrays with samples in rows.
"""
from __future__ import annotations

import numpy as np

from book.checks import integer, non_negative, positive, positive_int


def make_linear_data(n=200, weights=(3.0,), bias=2.0, noise_std=0.5, x_range=(0.0, 1.0), seed=0):
    """``y = X @ weights + bias + N(0, noise_std^2)`` with X uniform on ``x_range``.

    Returns ``X`` of shape (n, d) and ``y`` of shape (n, 1). The noise has mean
    zero, so least squares recovers ``bias`` (a uniform [0, 1) noise would
    shift it by 0.5).
    """
    n = positive_int(n, "n", owner="make_linear_data")
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    noise_std = non_negative(noise_std, "noise_std", owner="make_linear_data")
    rng = np.random.default_rng(seed)
    X = rng.uniform(x_range[0], x_range[1], size=(n, w.size))
    y = X @ w[:, None] + bias + rng.normal(0.0, noise_std, size=(n, 1))
    return X, y


def make_logistic_data(n=4000, weights=(2.0, -1.0), bias=0.5, x_std=1.5, seed=0):
    """Labels drawn from a true logistic model: ``y ~ Bernoulli(sigmoid(X @ w + b))``.

    Returns ``X`` (n, d) float64 with N(0, x_std^2) entries and ``y`` (n,) in {0, 1}.
    """
    n = positive_int(n, "n", owner="make_logistic_data")
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    x_std = positive(x_std, "x_std", owner="make_logistic_data")
    rng = np.random.default_rng(seed)
    X = rng.normal(0.0, x_std, size=(n, w.size))
    z = X @ w + bias
    p = 0.5 * (1.0 + np.tanh(0.5 * z))  # the sigmoid, written so it never overflows
    y = (rng.uniform(size=n) < p).astype(np.int64)
    return X, y


def make_softmax_data(n=600, n_classes=3, n_features=2, spread=1.0, seed=0):
    """Gaussian blobs around ``n_classes`` random centres; labels in ``range(n_classes)``."""
    n = positive_int(n, "n", owner="make_softmax_data")
    n_classes = integer(n_classes, "n_classes", minimum=2, owner="make_softmax_data")
    n_features = positive_int(n_features, "n_features", owner="make_softmax_data")
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(n_classes, n_features))
    y = rng.integers(0, n_classes, size=n)
    X = centres[y] + rng.normal(0.0, spread, size=(n, n_features))
    return X, y.astype(np.int64)
