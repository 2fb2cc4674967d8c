"""A lookup table of learned vectors, as ``torch.nn.Embedding``."""
from __future__ import annotations

import numpy as np

from book.checks import positive_int
from book.nn.module import Module, check_shape, refuse_unsupported


class Embedding(Module):
    """Row ``i`` of ``weight`` ``(num_embeddings, embedding_dim)`` is the vector of token ``i``.

    Initialised like torch: every entry standard normal. ``forward`` takes
    integer indices of any shape and returns their rows, shape
    ``indices.shape + (embedding_dim,)``. Looking a row up is the same as
    multiplying a one-hot vector by ``weight``, so the gradient of a row is the
    sum of the output gradients of every position that looked it up.

    torch's other arguments are accepted only at their defaults; the book's
    ``rng`` is keyword-only, so torch's positional ``padding_idx`` cannot land in it.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None,
                 *, rng=None):
        super().__init__()
        refuse_unsupported("Embedding", padding_idx=(padding_idx, None), max_norm=(max_norm, None),
                           norm_type=(norm_type, 2.0), scale_grad_by_freq=(scale_grad_by_freq, False),
                           sparse=(sparse, False), _weight=(_weight, None), _freeze=(_freeze, False),
                           device=(device, None), dtype=(dtype, None))
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", owner="Embedding")
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", owner="Embedding")
        rng = np.random.default_rng(rng)
        self._params["weight"] = rng.standard_normal((self.num_embeddings, self.embedding_dim))
        self._grads = {"weight": np.zeros_like(self._params["weight"])}

    def forward(self, indices):
        """The rows of ``weight`` named by ``indices`` (integers in ``[0, num_embeddings)``)."""
        indices = np.asarray(indices)
        if not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"{self!r} expects integer indices, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= self.num_embeddings):
            raise ValueError(
                f"{self!r} expects indices in [0, {self.num_embeddings}), "
                f"got values from {indices.min()} to {indices.max()}"
            )
        self._cache = indices.copy()
        return self._params["weight"][indices]

    def backward(self, grad_output):
        """Overwrite ``grads['weight']``; return ``None``, since integer indices have no gradient."""
        indices = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, (*indices.shape, self.embedding_dim), f"{self!r}.backward grad_output")
        grad = self._grads["weight"]
        grad.fill(0.0)
        # np.add.at accumulates repeated indices; grad[indices] += ... would keep only one of them.
        np.add.at(grad, indices.reshape(-1), grad_output.reshape(-1, self.embedding_dim))
        return None

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"
