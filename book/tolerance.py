"""Print a measured number the way it can be checked on any machine.

Another CPU, BLAS or kernel choice moves the last digits of a trained model's
accuracy or of a floating-point error, so the book prints such numbers with
the tolerance they are compared within (CONTRIBUTING.md, "The reproducibility
model"):

>>> approx(0.98046, 0.01)
'0.980 (tol ±0.01)'
>>> approx(1.9612, 2, relative=True, digits=2)
'1.96 (tol ±2%)'
>>> approx(0.1683, 0.03, spread=0.0151)
'0.168 ± 0.015 (tol ±0.03)'
>>> approx(7.83e-13, 10, relative=True, digits=1, scientific=True)
'7.8e-13 (tol ±10%)'
>>> below(3.6e-14, 1e-12)
'below 1e-12'

The test suite reads the ``(tol ±…)`` mark: a re-run passes when the new
number lies within it of the stored one.
"""
from __future__ import annotations

import math


def approx(value: float, tol: float, *, spread: float | None = None, relative: bool = False, digits: int = 3,
           scientific: bool = False) -> str:
    """``value`` with ``digits`` decimals and its tolerance: absolute, or ``relative`` in per cent.

    ``spread`` (a standard deviation over seeds) is printed after the value, ``0.168 ± 0.015 (tol ±0.03)``;
    the one tolerance covers both numbers. ``scientific`` writes ``7.8e-13 (tol ±10%)`` for a number
    that spans orders of magnitude (a vanishing gradient); pair it with a relative tolerance.
    """
    numbers = [float(value)] + ([] if spread is None else [float(spread)])
    if not all(math.isfinite(v) for v in numbers):
        raise ValueError(f"approx: expected finite numbers, got {numbers!r}")
    if not tol > 0:
        raise ValueError(f"approx: expected a positive tolerance, got {tol!r}")
    mark = f"{tol:g}%" if relative else f"{tol:g}"
    text = " ± ".join(f"{v:.{digits}{'e' if scientific else 'f'}}" for v in numbers)
    return f"{text} (tol ±{mark})"


def below(value: float, bound: float) -> str:
    """``'below <bound>'`` once ``value`` is checked to be below ``bound``; the digits of a rounding error are not shown."""
    value = float(value)
    if not value < bound:  # also refuses NaN
        raise AssertionError(f"{value!r} is not below {bound:g}")
    return f"below {bound:.0e}" if bound < 1e-3 else f"below {bound:g}"
