"""Layers that only rearrange their input: ``Flatten``, as ``torch.nn.Flatten``."""
from __future__ import annotations

import numpy as np

from book.checks import integer
from book.nn.module import Module, check_shape


class Flatten(Module):
    """Merge dimensions ``start_dim`` to ``end_dim`` into one, by default all but the batch dimension.

    ``(N, C, H, W)`` becomes ``(N, C * H * W)``: the bridge from convolution
    layers to ``Linear``. The gradient is reshaped back; nothing is computed.
    Negative dimensions count from the end, as in torch.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = integer(start_dim, "start_dim", owner="Flatten")
        self.end_dim = integer(end_dim, "end_dim", owner="Flatten")

    def _merged_shape(self, shape) -> tuple:
        ndim = len(shape)
        start = self.start_dim + ndim if self.start_dim < 0 else self.start_dim
        end = self.end_dim + ndim if self.end_dim < 0 else self.end_dim
        if not 0 <= start <= end < ndim:
            needed = max(d + 1 if d >= 0 else -d for d in (self.start_dim, self.end_dim))
            raise ValueError(
                f"{self!r} expects input of shape (N, *) with at least {max(needed, 2)} dimensions "
                f"(start_dim before end_dim), got {tuple(shape)}"
            )
        return (*shape[:start], int(np.prod(shape[start:end + 1])), *shape[end + 1:])

    def forward(self, x):
        """``x`` with dimensions ``start_dim..end_dim`` merged."""
        x = np.asarray(x, dtype=np.float64)
        merged = self._merged_shape(x.shape)
        self._cache = x.shape
        return x.reshape(merged)

    def backward(self, grad_output):
        """dLoss/dx: ``grad_output`` reshaped to the input's shape."""
        x_shape = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, self._merged_shape(x_shape), "Flatten.backward grad_output")
        return grad_output.reshape(x_shape)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"
