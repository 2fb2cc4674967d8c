"""One call that makes a notebook repeatable."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed(n: int = 0, *, tensorflow: bool = True) -> None:
    """Seed Python, NumPy, torch and (by default) TensorFlow with ``n``.

    TensorFlow also gets op determinism, which makes its kernels pick
    deterministic algorithms; torch gets the equivalent switch, warning only,
    so that an operation without a deterministic kernel still runs.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"seed expects a non-negative int, got {n!r}")
    n = int(n)
    os.environ["PYTHONHASHSEED"] = str(n)
    random.seed(n)
    np.random.seed(n)
    torch.manual_seed(n)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if tensorflow:
        import tensorflow as tf
        import keras

        keras.utils.set_random_seed(n)  # seeds Python, NumPy and TF together
        tf.config.experimental.enable_op_determinism()
