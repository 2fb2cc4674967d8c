"""One call that makes a notebook repeatable."""
from __future__ import annotations

import importlib.util
import os
import random

import numpy as np

from book.checks import non_negative_int


def seed(n: int = 0, *, tensorflow: bool | None = None) -> None:
    """Seed Python, NumPy, torch and TensorFlow with ``n``.

    ``tensorflow=None`` seeds TensorFlow when it is installed (a reader may
    run the PyTorch chapters without it); ``True`` requires it; ``False``
    leaves it alone.

    TensorFlow also gets op determinism, which makes its kernels pick
    deterministic algorithms; torch gets the equivalent switch, warning only,
    so that an operation without a deterministic kernel still runs.
    """
    import torch

    n = non_negative_int(n, "n", owner="seed")
    os.environ["PYTHONHASHSEED"] = str(n)
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if tensorflow is None:
        tensorflow = importlib.util.find_spec("tensorflow") is not None
    if tensorflow:
        import tensorflow as tf
        import keras

        keras.utils.set_random_seed(n)  # seeds Python, NumPy and TF together
        tf.config.experimental.enable_op_determinism()
