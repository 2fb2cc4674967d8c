"""Counts written for people: 175 B, 1.4 T, 25.6 M."""
from __future__ import annotations

from book.checks import non_negative

_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def human_count(x: float) -> str:
    """A count with three significant digits and a suffix: 175 B, 1.4 T, 25.6 M, 60 k."""
    x = non_negative(x, "x", owner="human_count")
    for scale, suffix in _SUFFIXES:
        if x >= 0.9995 * scale:  # so that 999,999 reads "1 M", not "1e+03 k"
            return f"{x / scale:.3g} {suffix}"
    return f"{x:.3g}"
