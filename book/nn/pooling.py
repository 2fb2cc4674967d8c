"""Max and average pooling over 2-D windows (NCHW), as ``torch.nn.MaxPool2d`` and ``AvgPool2d``.

Both slide a ``kernel_size`` window with step ``stride`` (by default the
kernel size, so windows tile the image without overlap) over every channel
separately; rows and columns that do not fill a whole window are dropped, as
torch's default ``ceil_mode=False`` does. No padding.
"""
from __future__ import annotations

import numpy as np

from book.nn.conv import add_windows, pair, windows
from book.nn.module import Module, check_shape


class _Pool2d(Module):
    """Shared argument checks, input checks and window bookkeeping."""

    def __init__(self, kernel_size, stride=None):
        super().__init__()
        owner = type(self).__name__
        self.kernel_size = pair(kernel_size, "kernel_size", 1, owner)
        self.stride = self.kernel_size if stride is None else pair(stride, "stride", 1, owner)

    def _windows(self, x):
        """``x`` checked, and its windows as a view of shape ``(N, C, H_out, W_out, kh, kw)``."""
        name = type(self).__name__
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"{name} expects input of shape (N, C, H, W), got {x.shape}")
        kh, kw = self.kernel_size
        if x.shape[2] < kh or x.shape[3] < kw:
            raise ValueError(f"{name}: kernel {self.kernel_size} is larger than the input {x.shape[2:]}")
        return windows(x.astype(np.float64, copy=False), self.kernel_size, self.stride)

    def _grad_output(self, grad_output, out_shape):
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, out_shape, f"{type(self).__name__}.backward grad_output")
        return grad_output

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2d(_Pool2d):
    """The largest value of each window; the gradient goes to that one input alone.

    When a window holds its maximum more than once, the first one in row-major
    order gets the gradient, as in torch's CPU kernel.
    """

    def forward(self, x):
        """Max over each window of ``x`` ``(N, C, H, W)``; returns ``(N, C, H_out, W_out)``."""
        windows = self._windows(x)
        flat = windows.reshape(*windows.shape[:4], -1)
        winner = flat.argmax(axis=-1)  # argmax returns the first maximum: torch's tie rule
        out = np.take_along_axis(flat, winner[..., None], axis=-1)[..., 0]
        self._cache = (winner, np.shape(x), out.shape)
        return out

    def backward(self, grad_output):
        """dLoss/dx: each window's gradient lands on the position of its maximum."""
        winner, x_shape, out_shape = self._require_cache()
        grad_output = self._grad_output(grad_output, out_shape)
        kh, kw = self.kernel_size
        one_hot = winner[..., None] == np.arange(kh * kw)
        grad_windows = (one_hot * grad_output[..., None]).reshape(*out_shape, kh, kw)
        return add_windows(grad_windows, x_shape, self.stride)


class AvgPool2d(_Pool2d):
    """The mean of each window; every input of a window gets ``1 / (kh * kw)`` of its gradient."""

    def forward(self, x):
        """Mean over each window of ``x`` ``(N, C, H, W)``; returns ``(N, C, H_out, W_out)``."""
        windows = self._windows(x)
        out = windows.mean(axis=(4, 5))
        self._cache = (np.shape(x), out.shape)
        return out

    def backward(self, grad_output):
        """dLoss/dx: each window's gradient spread evenly over the window."""
        x_shape, out_shape = self._require_cache()
        grad_output = self._grad_output(grad_output, out_shape)
        kh, kw = self.kernel_size
        share = grad_output / (kh * kw)
        grad_windows = np.broadcast_to(share[..., None, None], (*out_shape, kh, kw))
        return add_windows(grad_windows, x_shape, self.stride)
