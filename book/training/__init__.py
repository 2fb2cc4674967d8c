"""Training: the epoch loop with its progress bar (:func:`train_loop`), its
callbacks (:class:`EarlyStopping`), the PyTorch loop (:func:`fit`,
:func:`evaluate`), the NumPy epoch of chapter 3, diagnostics of gradients and
weights (:mod:`book.training.diagnostics`), optimizers on a quadratic bowl
(:mod:`book.training.quadratic`) and learning-rate schedules
(:mod:`book.training.schedules`).

Importing this package does not import torch; :func:`fit` and the two
submodules named above do.
"""
from book.training.callbacks import EarlyStopping
from book.training.fit import evaluate, fit
from book.training.loop import train_loop
from book.training.numpy_loop import numpy_accuracy, numpy_train_epoch

__all__ = ["EarlyStopping", "evaluate", "fit", "numpy_accuracy", "numpy_train_epoch", "train_loop"]
