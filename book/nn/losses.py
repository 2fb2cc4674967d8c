"""Loss functions with mean reduction, as torch's defaults: MSE, cross-entropy, BCE with logits.

``forward(input, target)`` returns a Python float; ``backward()`` returns
dLoss/d(input). The formulas and their input checks live once, in
:mod:`book.nn.functional`; these modules add the cache that ``backward`` reads.
Cross-entropy and BCE work from logits through log-sum-exp and softplus, so
logits of ``±1e4`` give finite, exact losses and gradients.
"""
from __future__ import annotations

import numpy as np

from book.nn import functional as F
from book.nn.module import Module


class Loss(Module):
    """Base class for losses: ``forward(input, target) -> float``, ``backward(grad_output=1.0) -> dL/d(input)``.

    Subclasses name the functional pair in ``value`` and ``gradient``.
    ``grad_output`` is dFinal/dLoss, a scalar, for when this loss is one term
    of a larger objective; it defaults to 1.
    """

    value = None  # (input, target) -> float, set by each subclass
    gradient = None  # (input, target) -> dLoss/d(input)

    def forward(self, input, target) -> float:
        """The mean loss; the gradient is formed here too, while the inputs are at hand."""
        loss = self.value(input, target)
        self._cache = self.gradient(input, target)
        return loss

    def backward(self, grad_output=1.0):
        """Return dLoss/d(input) (times the scalar ``grad_output``) for the last ``forward`` call."""
        grad_input = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        if grad_output.size != 1:
            raise ValueError(f"{type(self).__name__}.backward expects a scalar grad_output, got shape {grad_output.shape}")
        return grad_input * grad_output.reshape(())


class MSELoss(Loss):
    """Mean squared error ``mean((input - target)^2)`` over all elements (:func:`book.nn.functional.mse_loss`)."""

    value = staticmethod(F.mse_loss)
    gradient = staticmethod(F.mse_loss_grad)


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits ``(N, C)`` and integer class targets ``(N,)``, averaged over N.

    ``loss_n = logsumexp(z_n) - z_n[y_n]`` and its gradient is
    ``(softmax(z_n) - onehot(y_n)) / N`` (:func:`book.nn.functional.cross_entropy`).
    """

    value = staticmethod(F.cross_entropy)
    gradient = staticmethod(F.cross_entropy_grad)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits: ``mean(softplus(z) - t z)``, targets ``t`` in [0, 1].

    ``softplus(z) - t z`` equals ``-t log sigmoid(z) - (1 - t) log(1 - sigmoid(z))``
    but never takes the log of a sigmoid that has rounded to 0 or 1
    (:func:`book.nn.functional.binary_cross_entropy_with_logits`).
    """

    value = staticmethod(F.binary_cross_entropy_with_logits)
    gradient = staticmethod(F.binary_cross_entropy_with_logits_grad)
