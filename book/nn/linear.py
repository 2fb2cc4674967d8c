"""The fully connected (affine) layer ``y = x W^T + b``, as ``torch.nn.Linear``."""
from __future__ import annotations

import numpy as np

from book.checks import positive_int
from book.nn.module import Module, check_shape, refuse_unsupported


class Linear(Module):
    """Affine layer with ``weight`` of shape ``(out_features, in_features)`` and ``bias`` ``(out_features,)``.

    Initialised like torch: every entry uniform in ``(-1/sqrt(in_features),
    1/sqrt(in_features))``. ``rng`` is ``None``, an int seed or a
    ``np.random.Generator``; it is keyword-only, so torch's positional
    ``device`` cannot land in it (``device`` and ``dtype`` are accepted only as
    ``None``). Input must be 2-D, ``(N, in_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None, *, rng=None):
        super().__init__()
        refuse_unsupported("Linear", device=(device, None), dtype=(dtype, None))
        self.in_features = positive_int(in_features, "in_features", owner="Linear")
        self.out_features = positive_int(out_features, "out_features", owner="Linear")
        self.use_bias = bool(bias)
        shapes = {"weight": (self.out_features, self.in_features)}
        if self.use_bias:
            shapes["bias"] = (self.out_features,)
        self._init_uniform(rng, self.in_features, shapes)

    def _name(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"

    def forward(self, x):
        """``x @ weight.T + bias`` for ``x`` of shape ``(N, in_features)``; caches ``x``."""
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"{self._name()} expects input of shape (N, {self.in_features}), got {x.shape}")
        x = x.astype(np.float64, copy=False)
        self._cache = x
        out = x @ self._params["weight"].T
        if self.use_bias:
            out = out + self._params["bias"]
        return out

    def backward(self, grad_output):
        """Overwrite ``grads['weight']`` (and ``grads['bias']``); return dLoss/dx of shape ``(N, in_features)``."""
        x = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, (x.shape[0], self.out_features), f"{self._name()}.backward grad_output")
        # dL/dW[o, i] = sum_n dL/dy[n, o] * x[n, i]: every example contributes.
        self._grads["weight"][...] = grad_output.T @ x
        if self.use_bias:
            self._grads["bias"][...] = grad_output.sum(axis=0)
        return grad_output @ self._params["weight"]

    def __repr__(self) -> str:
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.use_bias})"
