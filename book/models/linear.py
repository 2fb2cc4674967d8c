"""Linear models in NumPy: the chain rule through ``Z = X @ W + b``, least squares, and batch gradient descent.

Chapter 2 derives every formula here by hand and checks it against finite
differences, TensorFlow's ``GradientTape`` and torch autograd. Conventions:

* samples are rows: ``X`` has shape ``(N, d)``;
* a linear model computes ``Z = X @ W + b``, the book's ``Z = XW + 1bᵀ``
  with ``W`` stored as in the math, ``(d_in, d_out)`` (``torch.nn.Linear``
  stores its transpose). For one output ``W`` has shape ``(d,)`` or
  ``(d, 1)``; for ``K`` classes it has shape ``(d, K)``;
* every loss is a **mean** over the samples, so its size does not grow with ``N``.

The losses and their gradients with respect to ``Z`` (``mse_loss`` and
``mse_loss_grad``, ``binary_cross_entropy_with_logits`` and its ``_grad``,
``cross_entropy`` and its ``_grad``) live in :mod:`book.nn.functional`, where
the loss modules of :mod:`book.nn` use the same code; :func:`linear_grads`
turns dLoss/dZ into dLoss/dW and dLoss/db.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from book.checks import integer, non_negative_int, positive
from book.nn.functional import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    class_indices,
    cross_entropy,
    cross_entropy_grad,
    mse_loss,
    mse_loss_grad,
)


def _float_array(a, name: str) -> np.ndarray:
    """Data for a fit: numeric, non-empty and finite, as float64."""
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _design(X) -> np.ndarray:
    X = _float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, d) with samples in rows, got {X.shape}")
    return X


def linear_grads(X, dZ):
    """Chain rule through ``Z = X @ W + b``: returns ``(X.T @ dZ, dZ.sum(axis=0))``.

    ``dZ`` is dLoss/dZ, shape ``(N,)`` or ``(N, K)``; the results have the
    shapes of ``W`` and ``b``.
    """
    X, dZ = _design(X), _float_array(dZ, "dZ")
    if dZ.ndim not in (1, 2) or dZ.shape[0] != X.shape[0]:
        raise ValueError(f"dZ must have {X.shape[0]} rows like X, got shape {dZ.shape}")
    return X.T @ dZ, dZ.sum(axis=0)


def normal_equations(X, y):
    """Least-squares ``(W, b)`` in closed form: the solution of ``AᵀA θ = Aᵀy`` with ``A = [X, 1]``.

    Solved with ``np.linalg.lstsq`` (an SVD), which is more accurate than
    inverting ``AᵀA`` and also works when it is singular.
    """
    X, y = _design(X), _float_array(y, "y")
    if y.shape[0] != X.shape[0] or y.ndim not in (1, 2):
        raise ValueError(f"y must have {X.shape[0]} rows like X, got shape {y.shape}")
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    theta = np.linalg.lstsq(A, y, rcond=None)[0]
    return theta[:-1], theta[-1]


@dataclass
class FitResult:
    """Parameters after gradient descent and the loss before each step (``history[-1]`` is the final loss)."""

    W: np.ndarray
    b: np.ndarray
    history: np.ndarray


def gradient_descent(
    X,
    y,
    loss: Callable,
    loss_grad: Callable,
    W0,
    b0,
    lr: float,
    steps: int,
) -> FitResult:
    """Full-batch gradient descent ``θ ← θ - lr ∇L(θ)`` for a linear model ``Z = X @ W + b``.

    ``loss(Z, y)`` returns the mean loss and ``loss_grad(Z, y)`` its gradient
    dL/dZ. ``history`` has ``steps + 1`` entries: the loss at the start and
    after every step.

    The matrices of a linear model are small, and for them a multi-threaded
    BLAS can spend more time coordinating threads than multiplying, so the
    loop runs BLAS on one thread.
    """
    X = _design(X)
    lr = positive(lr, "lr", owner="gradient_descent")
    steps = non_negative_int(steps, "steps", owner="gradient_descent")
    W = _float_array(W0, "W0").copy()
    b = _float_array(b0, "b0").copy()
    if W.shape[0] != X.shape[1]:
        raise ValueError(f"W0 must have {X.shape[1]} rows (one per feature), got shape {W.shape}")
    history = np.empty(steps + 1)
    with threadpool_limits(limits=1, user_api="blas"):
        for t in range(steps + 1):
            Z = X @ W + b
            history[t] = loss(Z, y)
            if t == steps:
                break
            dW, db = linear_grads(X, loss_grad(Z, y))
            W -= lr * dW
            b -= lr * db
    return FitResult(W, b, history)


def fit_linear_regression(X, y, lr: float = 0.1, steps: int = 2500) -> FitResult:
    """Least squares by gradient descent on the MSE; ``y`` has shape ``(N,)`` or ``(N, 1)``.

    Starts from zero. ``W`` has shape ``(d,)`` or ``(d, 1)`` to match ``y``.
    """
    X, y = _design(X), _float_array(y, "y")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0] or (y.ndim == 2 and y.shape[1] != 1):
        raise ValueError(f"y must have shape ({X.shape[0]},) or ({X.shape[0]}, 1), got {y.shape}")
    W0 = np.zeros((X.shape[1],) + y.shape[1:])
    b0 = np.zeros(y.shape[1:])
    return gradient_descent(X, y, mse_loss, mse_loss_grad, W0, b0, lr, steps)


def fit_logistic_regression(X, y, lr: float = 1.0, steps: int = 500) -> FitResult:
    """Binary logistic regression (labels in {0, 1}) by gradient descent on the mean cross-entropy.

    Starts from zero; ``W`` has shape ``(d,)`` and ``b`` is a 0-d array.
    """
    X, y = _design(X), _float_array(y, "y")
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), got {y.shape}")
    return gradient_descent(
        X, y, binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_grad,
        np.zeros(X.shape[1]), np.zeros(()), lr, steps,
    )


def fit_softmax_regression(X, y, n_classes: int | None = None, lr: float = 2.0, steps: int = 500) -> FitResult:
    """Softmax (multinomial logistic) regression by gradient descent on the mean cross-entropy.

    ``y`` holds integer labels; ``n_classes`` defaults to ``max(y) + 1``.
    Starts from zero; ``W`` has shape ``(d, K)`` and ``b`` shape ``(K,)``.
    """
    X = _design(X)
    y = np.asarray(y)
    if n_classes is None:
        if y.size == 0 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError("y must be a non-empty array of integer class labels")
        n_classes = int(y.max()) + 1
    K = integer(n_classes, "n_classes", minimum=2, owner="fit_softmax_regression")
    class_indices(y, X.shape[0], K, "fit_softmax_regression")
    return gradient_descent(
        X, y, cross_entropy, cross_entropy_grad, np.zeros((X.shape[1], K)), np.zeros(K), lr, steps
    )


__all__ = [
    "FitResult",
    "fit_linear_regression",
    "fit_logistic_regression",
    "fit_softmax_regression",
    "gradient_descent",
    "linear_grads",
    "normal_equations",
]
