"""Judging a binary classifier beyond accuracy: sensitivity, specificity, a decision threshold, calibration.

In a screening task the two errors cost differently: missing a disease (a false
negative) is usually worse than a false alarm. :func:`sensitivity_specificity`
reports both rates; :func:`threshold_for_sensitivity` picks, on validation data,
the highest threshold that still catches a target share of the positives;
:func:`expected_calibration_error` measures how far predicted probabilities are
from observed frequencies.
"""
from __future__ import annotations

import numpy as np

from book.checks import positive_int, real


def _binary(y, name: str, owner: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or not np.isin(y, (0, 1)).all():
        raise ValueError(f"{owner}: {name} must be a non-empty 1-D array of 0s and 1s, got shape {y.shape}")
    return y.astype(np.int64)


def _scores(p, n: int, owner: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (n,) or not np.isfinite(p).all():
        raise ValueError(f"{owner}: scores must be a finite 1-D array with one entry per label ({n}), got {p.shape}")
    return p


def sensitivity_specificity(y_true, y_pred) -> tuple[float, float]:
    """``(TP / (TP + FN), TN / (TN + FP))`` of 0/1 predictions; 1 is the positive class (e.g. disease)."""
    owner = "sensitivity_specificity"
    y, p = _binary(y_true, "y_true", owner), _binary(y_pred, "y_pred", owner)
    if y.shape != p.shape:
        raise ValueError(f"{owner}: y_true and y_pred must have one shape, got {y.shape} and {p.shape}")
    if y.min() == y.max():
        raise ValueError(f"{owner}: y_true needs both classes to define both rates")
    return float(np.mean(p[y == 1] == 1)), float(np.mean(p[y == 0] == 0))


def threshold_for_sensitivity(scores, y_true, target: float) -> float:
    """The largest threshold ``t`` such that predicting ``scores >= t`` catches at least ``target`` of the positives.

    Choose it on validation data, then apply it unchanged to the test set.
    """
    owner = "threshold_for_sensitivity"
    y = _binary(y_true, "y_true", owner)
    s = _scores(scores, len(y), owner)
    target = real(target, "target", 0.0, 1.0, low_open=True, owner=owner)
    positives = np.sort(s[y == 1])[::-1]
    if positives.size == 0:
        raise ValueError(f"{owner}: y_true has no positives")
    needed = int(np.ceil(target * positives.size))
    return float(positives[needed - 1])


def expected_calibration_error(probabilities, y_true, n_bins: int = 10) -> float:
    """The share-weighted mean gap |mean predicted probability - observed frequency| over equal-width bins."""
    owner = "expected_calibration_error"
    y = _binary(y_true, "y_true", owner)
    p = _scores(probabilities, len(y), owner)
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"{owner}: probabilities must lie in [0, 1]")
    n_bins = positive_int(n_bins, "n_bins", owner=owner)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    gap = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            gap += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return float(gap)


__all__ = ["expected_calibration_error", "sensitivity_specificity", "threshold_for_sensitivity"]
