"""Layer normalisation, as ``torch.nn.LayerNorm``."""
from __future__ import annotations

import numpy as np

from book.checks import positive, positive_int, positive_ints
from book.nn.module import Module, check_shape


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
