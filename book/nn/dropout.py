"""Inverted dropout, as ``torch.nn.Dropout``."""
from __future__ import annotations

import numpy as np

from book.checks import real
from book.nn.module import Module, check_shape, refuse_unsupported


class Dropout(Module):
    """Zero each input with probability ``p`` in training and scale survivors by ``1/(1-p)``.

    The scaling keeps every unit's expected value unchanged, so evaluation mode
    is simply the identity (no rescaling at test time). ``self.mask`` holds the
    boolean keep-mask of the last training forward pass (``None`` after an
    evaluation pass); backward reuses exactly that mask. torch's ``inplace``
    is accepted only as ``False``; ``rng`` is keyword-only.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, *, rng=None):
        super().__init__()
        refuse_unsupported("Dropout", inplace=(inplace, False))
        self.p = real(p, "p", 0.0, 1.0, high_open=True, owner="Dropout")
        self.rng = np.random.default_rng(rng)
        self.mask = None

    def forward(self, x, mask=None):
        """Apply dropout; ``mask`` (boolean keep-mask, same shape as ``x``) overrides the random draw.

        Passing a mask lets a test reproduce torch's output exactly from the
        mask torch used.
        """
        x = np.asarray(x, dtype=np.float64)
        if not self.training:
            self.mask = None
            self._cache = ("identity", x.shape)
            return x.copy()
        if mask is None:
            # P(u >= p) = 1 - p: each unit survives with probability 1 - p.
            mask = self.rng.random(x.shape) >= self.p
        else:
            mask = np.asarray(mask)
            check_shape(mask.shape, x.shape, "Dropout mask")
            mask = mask.astype(bool)
        self.mask = mask
        # Same order of operations as torch: input * (mask / (1 - p)).
        scale = mask * (1.0 / (1.0 - self.p))
        self._cache = (scale, x.shape)
        return x * scale

    def backward(self, grad_output):
        """dLoss/dx = grad_output * mask / (1 - p) with the forward pass's mask (identity in eval)."""
        scale, shape = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, shape, "Dropout.backward grad_output")
        if isinstance(scale, str):
            return grad_output.copy()
        return grad_output * scale

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
