"""Callbacks for the training loop: early stopping.

:class:`EarlyStopping` watches a validation loss once per epoch;
:func:`book.training.fit` feeds it and :func:`book.training.train_loop` asks
it whether to stop.
"""
from __future__ import annotations

import copy
import math

from book.checks import non_negative, positive_int


class EarlyStopping:
    """Watch a validation loss; remember the best epoch and a copy of its weights.

    Call :meth:`step` once per epoch with the validation loss (and the model
    to snapshot). It returns ``True`` once the loss has not improved by more
    than ``min_delta`` for ``patience`` epochs in a row; from then on it is
    frozen, so a caller that keeps training (to draw the whole curve) still
    gets what stopping would have kept: ``best_epoch`` is the arg-min of the
    losses seen up to ``stopped_epoch``. :meth:`restore` loads the best
    weights back. Epochs are counted from 0.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0):
        self.patience = positive_int(patience, "patience", owner="EarlyStopping")
        self.min_delta = non_negative(min_delta, "min_delta", owner="EarlyStopping")
        self.best_value = math.inf
        self.best_epoch: int | None = None
        self.best_state: dict | None = None
        self.epochs_seen = 0
        self.stopped_epoch: int | None = None

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs have passed without improvement."""
        return self.best_epoch is not None and self.epochs_seen - 1 - self.best_epoch >= self.patience

    def step(self, value: float, model=None) -> bool:
        """Record one epoch's validation loss; return :attr:`should_stop`."""
        value = float(value)
        if math.isnan(value):
            raise ValueError("the validation loss is NaN")
        if self.stopped_epoch is not None:
            return True
        epoch = self.epochs_seen
        self.epochs_seen += 1
        if value < self.best_value - self.min_delta:
            self.best_value = value
            self.best_epoch = epoch
            if model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
        if self.should_stop:
            self.stopped_epoch = epoch
        return self.should_stop

    def restore(self, model) -> None:
        """Load the weights of the best epoch into ``model``."""
        if self.best_state is None:
            raise ValueError("no weights were saved: pass the model to step()")
        model.load_state_dict(self.best_state)
