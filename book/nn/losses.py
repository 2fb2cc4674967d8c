"""Loss functions as ``torch.nn``'s: MSE, cross-entropy, BCE with logits, each with torch's ``reduction``.

``forward(input, target)`` returns a Python float (``reduction='mean'``, the
default, or ``'sum'``) or the array of per-entry losses (``'none'``);
``backward()`` returns dLoss/d(input). Each loss computes its per-entry losses
and their gradients from the stable pieces of :mod:`book.nn.functional`, whose
input checks it shares; for ``'mean'`` the arithmetic is that of the chapter-2
functions (``functional.mse_loss`` and the rest), so both give the same numbers.
Cross-entropy and BCE work from logits through log-sum-exp and softplus, so
logits of ``±1e4`` give finite, exact losses and gradients.
"""
from __future__ import annotations

import numpy as np

from book.checks import integer, one_of, real
from book.nn import functional as F
from book.nn.module import Module, refuse_unsupported


class Loss(Module):
    """Base class: ``forward(input, target)``, ``backward(grad_output=1.0) -> dL/d(input)``.

    Subclasses give ``_per_entry(input, target) -> (losses, grads, count)``:
    the unreduced losses, the gradient of each with respect to ``input`` (laid
    out like ``input``) and the number a mean divides by. ``grad_output`` is
    dFinal/dLoss: a scalar for ``'mean'`` and ``'sum'`` (1 by default), an
    array shaped like the losses for ``'none'``.
    """

    def __init__(self, reduction: str = "mean", **unsupported):
        super().__init__()
        owner = type(self).__name__
        # torch's arguments the book leaves out, accepted only as None: class weights, and
        # size_average and reduce, the deprecated spellings of reduction.
        refuse_unsupported(owner, **{name: (value, None) for name, value in unsupported.items()})
        self.reduction = one_of(reduction, ("mean", "sum", "none"), "reduction", owner=owner)

    def _per_entry(self, input, target):
        raise NotImplementedError

    def forward(self, input, target):
        """The reduced loss (a float), or every entry's loss for ``reduction='none'``."""
        losses, grads, count = self._per_entry(input, target)
        if self.reduction == "none":
            self._cache = (grads, losses.shape)
            return losses
        loss = losses.sum()
        if self.reduction == "mean":
            # No entry counted (every target ignored): torch gives a NaN loss and zero gradients.
            loss = loss / count if count else np.nan
            grads = grads / max(count, 1)
        self._cache = (grads, ())
        return float(loss)

    def backward(self, grad_output=1.0):
        """Return dLoss/d(input), each entry's gradient times its ``grad_output``, for the last ``forward`` call."""
        grads, shape = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        name = type(self).__name__
        if not shape:
            if grad_output.size != 1:
                raise ValueError(f"{name}.backward expects a scalar grad_output, got shape {grad_output.shape}")
            return grads * grad_output.reshape(())
        if grad_output.shape != shape:
            raise ValueError(f"{name}.backward expects grad_output of shape {shape} (reduction='none'), "
                             f"got {grad_output.shape}")
        # Cross-entropy has one loss per row of logits: its grad_output scales the whole row.
        return grads * grad_output.reshape(shape + (1,) * (grads.ndim - len(shape)))


class MSELoss(Loss):
    """Squared error ``(input - target)^2`` per entry, averaged by default (:func:`book.nn.functional.mse_loss`)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(reduction, size_average=size_average, reduce=reduce)

    def _per_entry(self, input, target):
        input, target = F._pair("mse_loss", input, target)
        return (input - target) ** 2, 2.0 * (input - target), input.size


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy from logits ``(N, C)`` and integer class targets ``(N,)``.

    ``loss_n = logsumexp(z_n) - z_n[y_n]`` with gradient ``softmax(z_n) -
    onehot(y_n)`` (:func:`book.nn.functional.cross_entropy`). As torch: a
    target equal to ``ignore_index`` adds nothing and is left out of the mean;
    ``label_smoothing`` ``e`` replaces the one-hot target by ``(1 - e) onehot +
    e / C``, which adds ``e (logsumexp(z_n) - mean(z_n))`` to the loss. Class
    ``weight`` is not implemented and is refused.
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(reduction, weight=weight, size_average=size_average, reduce=reduce)
        self.ignore_index = integer(ignore_index, "ignore_index", owner="CrossEntropyLoss")
        self.label_smoothing = real(label_smoothing, "label_smoothing", 0.0, 1.0, owner="CrossEntropyLoss")

    def _per_entry(self, logits, target):
        z = np.asarray(logits)
        if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
            raise ValueError(f"cross_entropy expects logits of shape (N, C) with N, C >= 1, got {z.shape}")
        z, (n, c) = F._as_float(z), z.shape
        target = np.asarray(target)
        keep = target != self.ignore_index
        # Only the labels that count are checked: an ignored row reads class 0, then is zeroed.
        y = F.class_indices(np.where(keep, target, np.zeros_like(target)), n, c, "cross_entropy")
        rows = np.arange(n)
        lse = F.logsumexp(z, axis=1)
        losses = lse - z[rows, y]
        grads = F.softmax(z, axis=1)
        grads[rows, y] -= 1.0 - self.label_smoothing
        if self.label_smoothing:
            losses = (1.0 - self.label_smoothing) * losses + self.label_smoothing * (lse - z.mean(axis=1))
            grads -= self.label_smoothing / c
        return np.where(keep, losses, 0.0), np.where(keep[:, None], grads, 0.0), int(keep.sum())


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy from logits: ``softplus(z) - t z`` per entry, targets ``t`` in [0, 1].

    ``softplus(z) - t z`` equals ``-t log sigmoid(z) - (1 - t) log(1 - sigmoid(z))``
    but never takes the log of a sigmoid that has rounded to 0 or 1
    (:func:`book.nn.functional.binary_cross_entropy_with_logits`). Its gradient
    is ``sigmoid(z) - t``. ``weight`` and ``pos_weight`` are refused.
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction, weight=weight, size_average=size_average, reduce=reduce, pos_weight=pos_weight)

    def _per_entry(self, logits, target):
        z, t = F._binary("binary_cross_entropy_with_logits", logits, target)
        return F.softplus(z) - t * z, F.sigmoid(z) - t, z.size
