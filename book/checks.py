"""Argument checks shared by every helper of the book, so that all of them agree.

One rule for whole numbers: a Python ``int`` or a NumPy integer is accepted (and
returned as a plain ``int``); ``bool`` is refused, although Python counts it as
an ``int``, because ``Linear(True, 4)`` or ``epochs=True`` is always a mistake.
Real numbers accept ints, floats and NumPy scalars, refuse ``bool``, and must be
finite. Every failure is a ``ValueError`` whose message names the owner, the
argument, what was expected and what came.
"""
from __future__ import annotations

import math
import numbers
from typing import Iterable, Sequence

import numpy as np


def _prefix(owner: str | None) -> str:
    return f"{owner}: " if owner else ""


def is_integer(value) -> bool:
    """True for an ``int`` or a NumPy integer, false for ``bool`` and everything else."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(value, name: str, minimum: int | None = None, owner: str | None = None) -> int:
    """``value`` as an ``int``, if it is a whole number of at least ``minimum``."""
    if not is_integer(value) or (minimum is not None and value < minimum):
        if minimum == 1:
            expected = "a positive int"
        elif minimum == 0:
            expected = "a non-negative int"
        elif minimum is not None:
            expected = f"an int >= {minimum}"
        else:
            expected = "an int"
        raise ValueError(f"{_prefix(owner)}{name} must be {expected}, got {value!r}")
    return int(value)


def positive_int(value, name: str, owner: str | None = None) -> int:
    """A whole number >= 1 (sizes, counts, epochs)."""
    return integer(value, name, minimum=1, owner=owner)


def non_negative_int(value, name: str, owner: str | None = None) -> int:
    """A whole number >= 0 (paddings, step counts, seeds)."""
    return integer(value, name, minimum=0, owner=owner)


def positive_ints(values: Iterable, name: str, min_length: int = 1, owner: str | None = None) -> list[int]:
    """A sequence of whole numbers >= 1, at least ``min_length`` long (layer widths)."""
    try:
        values = list(values)
    except TypeError:
        raise ValueError(f"{_prefix(owner)}{name} must be a sequence of positive ints, got {values!r}") from None
    if len(values) < min_length or not all(is_integer(v) and v >= 1 for v in values):
        raise ValueError(
            f"{_prefix(owner)}{name} must be at least {min_length} positive ints, got {values!r}"
        )
    return [int(v) for v in values]


def real(
    value,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    owner: str | None = None,
) -> float:
    """``value`` as a finite ``float`` in the interval given by ``low`` and ``high``.

    ``low_open``/``high_open`` exclude the end points: ``real(p, "p", 0, 1,
    high_open=True)`` accepts ``[0, 1)``.
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    if ok:
        value = float(value)
        ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low == 0 and high is None:
            expected = "a positive number" if low_open else "a non-negative number"
        elif low is None and high is None:
            expected = "a finite number"
        else:
            left = ("(" if low_open else "[") + (f"{low:g}" if low is not None else "-inf")
            right = (f"{high:g}" if high is not None else "inf") + (")" if high_open or high is None else "]")
            expected = f"a number in {left}, {right}"
        raise ValueError(f"{_prefix(owner)}{name} must be {expected}, got {value!r}")
    return value


def positive(value, name: str, owner: str | None = None) -> float:
    """A finite number > 0 (learning rates, standard deviations)."""
    return real(value, name, low=0.0, low_open=True, owner=owner)


def non_negative(value, name: str, owner: str | None = None) -> float:
    """A finite number >= 0 (momentum, weight decay, noise levels)."""
    return real(value, name, low=0.0, owner=owner)


def one_of(value, choices: Sequence, name: str, owner: str | None = None):
    """``value`` itself, if it is one of ``choices``."""
    if isinstance(value, (str, int, float, type(None))) and value in choices:
        return value
    raise ValueError(f"{_prefix(owner)}{name} must be one of {tuple(choices)}, got {value!r}")


def same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    """Refuse to broadcast: ``(N, 1)`` against ``(N,)`` would silently make an ``(N, N)`` result."""
    if a.shape != b.shape:
        raise ValueError(f"{what} expects arrays of the same shape, got {a.shape} and {b.shape} (no broadcasting)")


__all__ = [
    "integer",
    "is_integer",
    "non_negative",
    "non_negative_int",
    "one_of",
    "positive",
    "positive_int",
    "positive_ints",
    "real",
    "same_shape",
]
