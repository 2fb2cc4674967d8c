"""Layer normalisation and batch normalisation, as ``torch.nn.LayerNorm``, ``BatchNorm1d`` and ``BatchNorm2d``."""
from __future__ import annotations

import numpy as np

from book.checks import positive, positive_int, positive_ints, real
from book.nn.module import Module, check_shape, refuse_unsupported


class LayerNorm(Module):
    """Normalise each example over its last dimensions, then scale and shift them.

    ``normalized_shape`` (an int or a tuple) names the trailing dimensions
    normalised together. For each example, ``x_hat = (x - mean) / sqrt(var +
    eps)`` with the biased variance (divide by the count, as torch), and the
    output is ``x_hat * weight + bias``; ``weight`` starts at ones and ``bias``
    at zeros, both of shape ``normalized_shape``. Unlike batch normalisation,
    nothing depends on the other examples of the batch, so training and
    evaluation compute the same thing.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5):
        super().__init__()
        if isinstance(normalized_shape, (tuple, list)):
            shape = tuple(positive_ints(normalized_shape, "normalized_shape", owner="LayerNorm"))
        else:
            shape = (positive_int(normalized_shape, "normalized_shape", owner="LayerNorm"),)
        self.normalized_shape = shape
        self.eps = positive(eps, "eps", owner="LayerNorm")
        self._params["weight"] = np.ones(shape)
        self._params["bias"] = np.zeros(shape)
        self._grads = {name: np.zeros_like(p) for name, p in self._params.items()}

    def forward(self, x):
        """Normalise ``x`` of shape ``(*, *normalized_shape)`` over its trailing dimensions."""
        x = np.asarray(x)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            expected = ", ".join(["*", *map(str, self.normalized_shape)])
            raise ValueError(f"{self!r} expects input of shape ({expected}), got {x.shape}")
        x = x.astype(np.float64, copy=False)
        axes = tuple(range(x.ndim - k, x.ndim))
        centred = x - x.mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt((centred**2).mean(axis=axes, keepdims=True) + self.eps)
        x_hat = centred * inv_std
        self._cache = (x_hat, inv_std, axes)
        return x_hat * self._params["weight"] + self._params["bias"]

    def backward(self, grad_output):
        """Overwrite ``grads['weight']`` and ``grads['bias']``; return dLoss/dx.

        With ``g = grad_output * weight`` and means over the normalised
        entries, ``dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))``:
        the two means remove the parts of ``g`` that shifting or scaling the
        whole example would change, because normalisation undoes both.
        """
        x_hat, inv_std, axes = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, x_hat.shape, f"{self!r}.backward grad_output")
        batch_axes = tuple(range(x_hat.ndim - len(axes)))
        self._grads["weight"][...] = (grad_output * x_hat).sum(axis=batch_axes)
        self._grads["bias"][...] = grad_output.sum(axis=batch_axes)
        g = grad_output * self._params["weight"]
        return inv_std * (g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"


class _BatchNorm(Module):
    """Batch normalisation over every axis but the channel axis 1 (shared by ``BatchNorm1d`` and ``BatchNorm2d``).

    In training mode each channel is normalised with the mean and the biased
    variance of the batch (over the examples and, for ``(N, C, L)`` or ``(N, C,
    H, W)``, the positions), and the running statistics move towards the batch
    ones: ``running = (1 - momentum) * running + momentum * batch``, with the
    *unbiased* batch variance for ``running_var``, as torch. In evaluation
    mode the running statistics are used instead, so the layer is a fixed
    affine map. ``weight`` (ones) and ``bias`` (zeros) are the learned scale
    and shift (absent with ``affine=False``; no ``bias`` with the keyword
    ``bias=False``, as torch); ``running_mean``, ``running_var``
    and ``num_batches_tracked`` are :attr:`buffers` (absent with
    ``track_running_stats=False``, which normalises with batch statistics in
    both modes). ``momentum=None`` (torch's cumulative average) is refused.
    """

    _expected = ""  # the input shapes accepted, for error messages

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        owner = type(self).__name__
        refuse_unsupported(owner, device=(device, None), dtype=(dtype, None))
        self.num_features = positive_int(num_features, "num_features", owner=owner)
        self.eps = positive(eps, "eps", owner=owner)
        if momentum is None:
            raise ValueError(f"{owner}: momentum=None (a cumulative moving average) is not supported; "
                             "book.nn implements a momentum in [0, 1]")
        self.momentum = real(momentum, "momentum", 0.0, 1.0, owner=owner)
        self.affine = bool(affine)
        self.use_bias = self.affine and bool(bias)
        self.track_running_stats = bool(track_running_stats)
        c = self.num_features
        if self.affine:
            self._params["weight"] = np.ones(c)
        if self.use_bias:
            self._params["bias"] = np.zeros(c)
        self._grads = {name: np.zeros_like(p) for name, p in self._params.items()}
        if self.track_running_stats:
            self._buffers["running_mean"] = np.zeros(c)
            self._buffers["running_var"] = np.ones(c)
            self._buffers["num_batches_tracked"] = np.zeros((), dtype=np.int64)

    def _check_input(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def forward(self, x):
        """Normalise ``x`` per channel (axis 1); training mode also updates the running statistics."""
        x = np.asarray(x)
        self._check_input(x)
        x = x.astype(np.float64, copy=False)
        axes = (0, *range(2, x.ndim))  # every axis but the channels
        shape = (1, self.num_features) + (1,) * (x.ndim - 2)  # a per-channel vector, broadcastable
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(f"{self!r} expects more than 1 value per channel in training mode, got input of shape {x.shape}")
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)  # biased: divide by the count, for normalising
            if self.training and self.track_running_stats:
                m = self.momentum
                self._buffers["running_mean"][...] = (1 - m) * self._buffers["running_mean"] + m * mean
                # The running variance estimates the population's: unbiased, divide by count - 1.
                self._buffers["running_var"][...] = (1 - m) * self._buffers["running_var"] + m * var * count / (count - 1)
                self._buffers["num_batches_tracked"][...] += 1
        else:
            mean, var = self._buffers["running_mean"], self._buffers["running_var"]
        inv_std = (1.0 / np.sqrt(var + self.eps)).reshape(shape)
        x_hat = (x - mean.reshape(shape)) * inv_std
        self._cache = (x_hat, inv_std, axes, shape, use_batch)
        out = x_hat * self._params["weight"].reshape(shape) if self.affine else x_hat
        return out + self._params["bias"].reshape(shape) if self.use_bias else out

    def backward(self, grad_output):
        """Overwrite ``grads['weight']`` and ``grads['bias']`` (with ``affine``); return dLoss/dx.

        With ``g = grad_output * weight`` and means over each channel's
        entries, training mode gives ``dx = inv_std * (g - mean(g) - x_hat *
        mean(g * x_hat))``: the batch mean and variance depend on every input,
        and the two means remove the parts of ``g`` that shifting or scaling
        the channel would change. In evaluation mode the statistics are
        constants and ``dx = g * inv_std``.
        """
        x_hat, inv_std, axes, shape, use_batch = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, x_hat.shape, f"{self!r}.backward grad_output")
        g = grad_output
        if self.affine:
            self._grads["weight"][...] = (grad_output * x_hat).sum(axis=axes)
            g = grad_output * self._params["weight"].reshape(shape)
        if self.use_bias:
            self._grads["bias"][...] = grad_output.sum(axis=axes)
        if not use_batch:
            return g * inv_std
        return inv_std * (g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.use_bias}, track_running_stats={self.track_running_stats})")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs per channel ``C``, as ``torch.nn.BatchNorm1d``."""

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            c = self.num_features
            raise ValueError(f"{self!r} expects input of shape (N, {c}) or (N, {c}, L), got {x.shape}")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs per channel ``C``, as ``torch.nn.BatchNorm2d``."""

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expects input of shape (N, {self.num_features}, H, W), got {x.shape}")
