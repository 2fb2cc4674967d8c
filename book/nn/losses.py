"""Loss functions with mean reduction, as torch's defaults: MSE, cross-entropy, BCE with logits.

``forward(input, target)`` returns a Python float; ``backward()`` returns
dLoss/d(input). Cross-entropy and BCE work from logits through log-sum-exp
and softplus, so logits of ``±1e4`` give finite, exact losses and gradients.
"""
from __future__ import annotations

import numpy as np

from book.nn import functional as F
from book.nn.module import Module


class Loss(Module):
    """Base class for losses: ``forward(input, target) -> float``, ``backward(grad_output=1.0) -> dL/d(input)``.

    ``grad_output`` is dFinal/dLoss, a scalar, for when this loss is one term
    of a larger objective; it defaults to 1.
    """

    def _finish(self, loss: float, grad_input: np.ndarray) -> float:
        # The gradient is cheap to form here, where every intermediate is at hand.
        self._cache = grad_input
        return float(loss)

    def backward(self, grad_output=1.0):
        """Return dLoss/d(input) (times the scalar ``grad_output``) for the last ``forward`` call."""
        grad_input = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        if grad_output.size != 1:
            raise ValueError(f"{type(self).__name__}.backward expects a scalar grad_output, got shape {grad_output.shape}")
        return grad_input * grad_output.reshape(())


def _same_shape(name: str, input, target):
    input = np.asarray(input)
    target = np.asarray(target)
    if input.shape != target.shape:
        raise ValueError(f"{name} expects target of the same shape as input {input.shape}, got {target.shape}")
    if input.size == 0:
        raise ValueError(f"{name} needs a non-empty input, got shape {input.shape}")
    return input.astype(np.float64), target.astype(np.float64)


class MSELoss(Loss):
    """Mean squared error ``mean((input - target)^2)`` over all elements."""

    def forward(self, input, target) -> float:
        """Loss for ``input`` and ``target`` of the same shape."""
        input, target = _same_shape("MSELoss", input, target)
        diff = input - target
        return self._finish(np.mean(diff * diff), 2.0 * diff / diff.size)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits ``(N, C)`` and integer class targets ``(N,)``, averaged over N.

    ``loss_n = logsumexp(z_n) - z_n[y_n]`` and its gradient is
    ``(softmax(z_n) - onehot(y_n)) / N``.
    """

    def forward(self, input, target) -> float:
        """Loss for logits of shape ``(N, C)`` and class indices in ``[0, C)`` of shape ``(N,)``."""
        logits = np.asarray(input)
        target = np.asarray(target)
        if logits.ndim != 2 or logits.shape[0] == 0:
            raise ValueError(f"CrossEntropyLoss expects logits of shape (N, C) with N >= 1, got {logits.shape}")
        n, c = logits.shape
        if target.shape != (n,):
            raise ValueError(f"CrossEntropyLoss expects target of shape ({n},) for logits {logits.shape}, got {target.shape}")
        if not np.issubdtype(target.dtype, np.integer):
            raise ValueError(f"CrossEntropyLoss expects integer class indices of shape ({n},), got dtype {target.dtype}")
        if target.min() < 0 or target.max() >= c:
            raise ValueError(
                f"CrossEntropyLoss expects class indices in [0, {c}) for logits of shape (N, {c}), "
                f"got values from {target.min()} to {target.max()}"
            )
        logits = logits.astype(np.float64)
        rows = np.arange(n)
        losses = F.logsumexp(logits, axis=1) - logits[rows, target]
        grad = F.softmax(logits, axis=1)
        grad[rows, target] -= 1.0
        return self._finish(np.mean(losses), grad / n)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits: ``mean(softplus(z) - t z)``, targets ``t`` in [0, 1].

    ``softplus(z) - t z`` equals ``-t log sigmoid(z) - (1 - t) log(1 - sigmoid(z))``
    but never takes the log of a sigmoid that has rounded to 0 or 1.
    """

    def forward(self, input, target) -> float:
        """Loss for logits and float targets of the same shape."""
        logits, target = _same_shape("BCEWithLogitsLoss", input, target)
        losses = F.softplus(logits) - target * logits
        grad = (F.sigmoid(logits) - target) / logits.size
        return self._finish(np.mean(losses), grad)
