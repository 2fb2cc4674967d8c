"""Finite-difference gradient checking.

Every hand-derived gradient in the book is compared with
:func:`numerical_gradient` (and with torch autograd in ``tests/``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from book.checks import positive


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of the gradient of scalar ``f`` at ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored, so ``f``
    may close over ``x`` (as a layer closes over its weights). The error of the
    central difference is O(eps**2).
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"numerical_gradient needs a floating-point array, got dtype {x.dtype}")
    eps = positive(eps, "eps", owner="numerical_gradient")
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for _ in it:
        i = it.multi_index
        original = x[i].copy()
        x[i] = original + eps
        f_plus = float(f(x))
        x[i] = original - eps
        f_minus = float(f(x))
        x[i] = original
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def rel_error(a, b, floor: float = 1e-12) -> float:
    """Largest elementwise relative error ``|a-b| / (|a|+|b|+floor)``.

    The floor keeps entries where both values are zero from dividing by zero.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / (np.abs(a) + np.abs(b) + floor)))


def scaled_error(a, b) -> float:
    """Largest ``|a - b|`` relative to the largest ``|b|`` (``b`` is the reference).

    For gradients with entries that are zero in exact arithmetic: there both
    sides are round-off, and :func:`rel_error` would compare two round-offs.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"scaled_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = float(np.abs(b).max())
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a).max())
