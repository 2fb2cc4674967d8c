"""Mini-batches: index batches for NumPy training, tensor batches for PyTorch.

:func:`minibatches` drives the NumPy loop of chapter 3.
:class:`TensorBatches` serves ``(x, y)`` tensor pairs to
:func:`book.training.fit` the way a ``DataLoader`` would, without one: it
holds the whole set on the model's device and draws a fresh order each epoch
from its own generator, so runs repeat exactly.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from book.checks import positive_int


def minibatches(n: int, batch_size: int, rng=None) -> Iterator[np.ndarray]:
    """Index arrays that cover ``range(n)`` once in batches of ``batch_size``.

    With a ``rng`` (a ``numpy.random.Generator`` or an int seed) the order is
    shuffled, as for training; without one it is ``0, 1, ..., n-1``. The last
    batch holds what is left and may be smaller.
    """
    n = positive_int(n, "n", owner="minibatches")
    batch_size = positive_int(batch_size, "batch_size", owner="minibatches")
    order = np.arange(n) if rng is None else np.random.default_rng(rng).permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


class TensorBatches:
    """``(x, y)`` batches of two arrays as torch tensors, re-iterable once per epoch.

    ``X`` becomes float32 and ``y`` int64 (class labels) unless ``y_dtype``
    says otherwise, both on ``device``. ``batch_size=None`` gives the whole set
    as one batch (for evaluation). With ``seed`` the order is shuffled every
    epoch by ``torch.randperm`` with a generator seeded once, here.
    """

    def __init__(self, X, y, batch_size: int | None = None, seed: int | None = None, device=None, y_dtype=None):
        import torch

        self.X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X, dtype=torch.float32, device=device)
        self.y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y,
                                 dtype=torch.long if y_dtype is None else y_dtype, device=device)
        if len(self.X) != len(self.y) or len(self.y) == 0:
            raise ValueError(f"TensorBatches expects X and y of the same non-zero length, got {len(self.X)} and {len(self.y)}")
        self.batch_size = len(self.y) if batch_size is None else positive_int(batch_size, "batch_size", owner="TensorBatches")
        self.generator = None if seed is None else torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def __iter__(self):
        import torch

        if self.generator is None:
            if self.batch_size == len(self.y):  # one batch: the tensors themselves, no copy
                yield self.X, self.y
                return
            order = torch.arange(len(self.y), device=self.X.device)
        else:
            order = torch.randperm(len(self.y), generator=self.generator).to(self.X.device)
        for start in range(0, len(self.y), self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.X[idx], self.y[idx]
