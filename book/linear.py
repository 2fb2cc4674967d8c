"""Linear models in NumPy: their losses, the gradients of those losses, and batch gradient descent.

Chapter 2 derives every formula here by hand and checks it against finite
differences, TensorFlow's ``GradientTape`` and torch autograd. Conventions:

* samples are rows: ``X`` has shape ``(N, d)``;
* a linear model computes ``Z = X @ W + b``. For one output ``W`` has shape
  ``(d,)`` or ``(d, 1)``; for ``K`` classes it has shape ``(d, K)``;
* every loss is a **mean** over the samples, so its size does not grow with ``N``;
* a ``*_grad`` function returns dLoss/dZ, the gradient with respect to the
  model's output; :func:`linear_grads` turns it into dLoss/dW and dLoss/db.

The numerically stable primitives (sigmoid, softplus, logsumexp, softmax) come
from :mod:`book.nn.functional`; this module does not redefine them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from threadpoolctl import threadpool_limits

from book.nn.functional import logsumexp, sigmoid, softmax, softplus


# --------------------------------------------------------------------------- checks
def _float_array(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.size == 0:
        raise ValueError(f"{name} must not be empty")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    # Refuse to broadcast: (N, 1) against (N,) would silently make an (N, N) matrix.
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes must be equal, got {a.shape} and {b.shape} (no broadcasting)")


def _class_labels(y, n_rows: int, n_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise ValueError(f"labels must have shape ({n_rows},), got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}), got values from {y.min()} to {y.max()}")
    return y


# --------------------------------------------------------------------------- losses
def mse_loss(y_pred, y) -> float:
    """Mean squared error ``mean((y_pred - y)**2)`` over every entry."""
    y_pred, y = _float_array(y_pred, "y_pred"), _float_array(y, "y")
    _same_shape(y_pred, y, "mse_loss")
    return float(np.mean((y_pred - y) ** 2))


def mse_grad(y_pred, y) -> np.ndarray:
    """Gradient of :func:`mse_loss` with respect to ``y_pred``: ``2 (y_pred - y) / y_pred.size``.

    For a column of ``N`` predictions this is the familiar ``(2/N)(y_hat - y)``.
    """
    y_pred, y = _float_array(y_pred, "y_pred"), _float_array(y, "y")
    _same_shape(y_pred, y, "mse_grad")
    return 2.0 * (y_pred - y) / y_pred.size


def _binary_targets(z, y, what: str):
    z, y = _float_array(z, "z (logits)"), _float_array(y, "y")
    _same_shape(z, y, what)
    if y.min() < 0 or y.max() > 1:
        raise ValueError(f"{what}: targets must lie in [0, 1], got values from {y.min()} to {y.max()}")
    return z, y


def binary_cross_entropy_with_logits(z, y) -> float:
    """Mean binary cross-entropy computed from **logits** ``z`` (not probabilities).

    Per sample, ``-[y log p + (1-y) log(1-p)]`` with ``p = sigmoid(z)`` simplifies
    to ``softplus(z) - y z``, which never takes the log of a probability that
    has rounded to 0 or 1.
    """
    z, y = _binary_targets(z, y, "binary_cross_entropy_with_logits")
    return float(np.mean(softplus(z) - y * z))


def binary_cross_entropy_with_logits_grad(z, y) -> np.ndarray:
    """Gradient of :func:`binary_cross_entropy_with_logits` with respect to ``z``: ``(sigmoid(z) - y) / N``."""
    z, y = _binary_targets(z, y, "binary_cross_entropy_with_logits_grad")
    return (sigmoid(z) - y) / z.size


def one_hot(y, n_classes: int) -> np.ndarray:
    """Rows of the ``n_classes`` identity matrix picked by the integer labels ``y``: shape ``(N, n_classes)``."""
    if not isinstance(n_classes, (int, np.integer)) or isinstance(n_classes, bool) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {y.shape}")
    return np.eye(int(n_classes))[_class_labels(y, y.shape[0], int(n_classes))]


def _logits_matrix(Z, y, what: str):
    Z = _float_array(Z, "Z (logits)")
    if Z.ndim != 2 or Z.shape[1] < 2:
        raise ValueError(f"{what}: logits must have shape (N, K) with K >= 2, got {Z.shape}")
    return Z, _class_labels(y, Z.shape[0], Z.shape[1])


def softmax_cross_entropy(Z, y) -> float:
    """Mean softmax cross-entropy of logits ``Z`` ``(N, K)`` and integer labels ``y`` ``(N,)``.

    ``-log softmax(z)_y = logsumexp(z) - z_y``: the log-sum-exp form never
    exponentiates a positive number, so logits of 1000 are fine.
    """
    Z, y = _logits_matrix(Z, y, "softmax_cross_entropy")
    return float(np.mean(logsumexp(Z, axis=1) - Z[np.arange(Z.shape[0]), y]))


def softmax_cross_entropy_grad(Z, y) -> np.ndarray:
    """Gradient of :func:`softmax_cross_entropy` with respect to ``Z``: ``(softmax(Z) - onehot(y)) / N``."""
    Z, y = _logits_matrix(Z, y, "softmax_cross_entropy_grad")
    return (softmax(Z, axis=1) - np.eye(Z.shape[1])[y]) / Z.shape[0]


# --------------------------------------------------------------------------- the linear layer
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


# --------------------------------------------------------------------------- gradient descent
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
    BLAS spends more time coordinating threads than multiplying (several times
    more on a busy two-core machine), so the loop runs BLAS on one thread.
    """
    X = _design(X)
    if not (isinstance(lr, (int, float, np.floating)) and np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    W = _float_array(W0, "W0").copy()
    b = _float_array(b0, "b0").copy()
    if W.shape[0] != X.shape[1]:
        raise ValueError(f"W0 must have {X.shape[1]} rows (one per feature), got shape {W.shape}")
    history = np.empty(int(steps) + 1)
    with threadpool_limits(limits=1, user_api="blas"):
        for t in range(int(steps) + 1):
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
    return gradient_descent(X, y, mse_loss, mse_grad, W0, b0, lr, steps)


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
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}")
    _class_labels(y, X.shape[0], int(n_classes))
    K = int(n_classes)
    return gradient_descent(
        X, y, softmax_cross_entropy, softmax_cross_entropy_grad, np.zeros((X.shape[1], K)), np.zeros(K), lr, steps
    )


__all__ = [
    "FitResult",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "fit_linear_regression",
    "fit_logistic_regression",
    "fit_softmax_regression",
    "gradient_descent",
    "linear_grads",
    "mse_grad",
    "mse_loss",
    "normal_equations",
    "one_hot",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
]
