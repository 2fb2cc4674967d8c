"""Learning-rate schedules as multipliers of the base rate, for ``torch.optim.lr_scheduler.LambdaLR``.

A schedule here is a plain function of the step number that returns the factor
``s(t)`` by which the optimizer's base learning rate is multiplied, so the same
function can be plotted, tested and handed to PyTorch:
``LambdaLR(optimizer, lambda t: warmup_cosine(t, warmup, total))``.
"""
from __future__ import annotations

import math

from book.checks import integer, non_negative_int, positive_int


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 0 at step ``total``.

    ``s(t) = (t + 1) / warmup`` for ``t < warmup`` (so the first step already
    moves, at ``1 / warmup`` of the base rate); then
    ``s(t) = (1 + cos(pi (t - warmup) / (total - warmup))) / 2``, which is 1
    at the end of the warm-up and 0 at ``t = total``; 0 after ``total``.
    ``warmup = 0`` gives a pure cosine decay.
    """
    step = non_negative_int(step, "step", owner="warmup_cosine")
    warmup = non_negative_int(warmup, "warmup", owner="warmup_cosine")
    total = positive_int(total, "total", owner="warmup_cosine")
    integer(total, "total", minimum=warmup + 1, owner="warmup_cosine")
    if step < warmup:
        return (step + 1) / warmup
    if step >= total:
        return 0.0
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / (total - warmup)))


__all__ = ["warmup_cosine"]
