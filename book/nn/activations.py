"""Elementwise activation layers: ReLU, Sigmoid, Tanh and Identity (any input shape)."""
from __future__ import annotations

import numpy as np

from book.nn import functional as F
from book.nn.module import Module, check_shape


class _Elementwise(Module):
    """Shared checks for parameter-free elementwise layers."""

    def _grad_in(self, grad_output, shape):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, shape, f"{type(self).__name__}.backward grad_output")
        return grad_output


class ReLU(_Elementwise):
    """``max(x, 0)``, as torch: NaN stays NaN, ``inf`` stays ``inf``, ``-inf`` becomes 0.

    The gradient passes where the input is not ``<= 0`` (torch's ``threshold_backward``):
    where it was positive, and also where it was NaN; it is 0 elsewhere, also at 0.
    """

    def forward(self, x):
        """Apply ReLU (``np.maximum`` keeps NaN) and cache where the gradient passes."""
        x = np.asarray(x, dtype=np.float64)
        self._cache = ~(x <= 0)
        return F.relu(x)

    def backward(self, grad_output):
        """dLoss/dx = grad_output where not x <= 0, else 0 (even where grad_output is NaN or inf)."""
        passes = self._require_cache()
        return np.where(passes, self._grad_in(grad_output, passes.shape), 0.0)


class Sigmoid(_Elementwise):
    """Logistic function; caches its output ``s`` because ``ds/dx = s (1 - s)``."""

    def forward(self, x):
        """Apply the stable sigmoid and cache the output."""
        self._cache = F.sigmoid(x)
        return self._cache

    def backward(self, grad_output):
        """dLoss/dx = grad_output * s * (1 - s)."""
        s = self._require_cache()
        return self._grad_in(grad_output, s.shape) * s * (1.0 - s)


class Tanh(_Elementwise):
    """Hyperbolic tangent; caches its output ``t`` because ``dt/dx = 1 - t^2``."""

    def forward(self, x):
        """Apply tanh and cache the output."""
        self._cache = F.tanh(x)
        return self._cache

    def backward(self, grad_output):
        """dLoss/dx = grad_output * (1 - t^2)."""
        t = self._require_cache()
        return self._grad_in(grad_output, t.shape) * (1.0 - t * t)


class Identity(_Elementwise):
    """``x`` unchanged; the gradient passes through unchanged (``torch.nn.Identity``)."""

    def forward(self, x):
        """Return a float64 copy of ``x``."""
        x = np.asarray(x, dtype=np.float64)
        self._cache = x.shape
        return x.copy()

    def backward(self, grad_output):
        """dLoss/dx = grad_output."""
        shape = self._require_cache()
        return self._grad_in(grad_output, shape).copy()
