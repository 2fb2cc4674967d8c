"""Timing code on a shared machine: the median per-call time, and a ratio to a reference.

Single timings are noisy when other programs share the CPU. :func:`median_time`
times a function ``number`` times per trial and reports the median over
``trials`` trials. :func:`timing_ratio` times a function and a reference back to
back in every trial and takes the ratio within the trial, so a change in the
machine's load between trials moves both sides of a ratio together; the
median of those ratios is the figure to report. ``benchmarks/conv2d.py`` and
chapter 5 time convolutions with them.

A timed function may return its own elapsed time as a ``float`` (seconds):
that is what is counted instead of the whole call, so that set-up work (for
example, building the graph that a backward pass needs) stays out of the
measurement.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

from book.checks import non_negative_int, positive_int


def per_call(run: Callable[[], object], number: int = 1) -> float:
    """Mean seconds per call of ``run`` over ``number`` calls.

    If ``run`` returns a ``float``, that value (its own measurement) is counted
    instead of the time the whole call took.
    """
    if not callable(run):
        raise ValueError(f"per_call: run must be callable, got {run!r}")
    number = positive_int(number, "number", owner="per_call")
    total = 0.0
    for _ in range(number):
        start = time.perf_counter()
        inner = run()
        elapsed = time.perf_counter() - start
        total += inner if isinstance(inner, float) else elapsed
    return total / number


def median_time(run: Callable[[], object], number: int = 1, trials: int = 5, warmup: int = 1) -> float:
    """Median over ``trials`` of the mean seconds per call (each trial makes ``number`` calls).

    ``warmup`` untimed calls come first, so first-call costs (allocations,
    caches, lazy initialisation) are not part of the figure.
    """
    number = positive_int(number, "number", owner="median_time")
    trials = positive_int(trials, "trials", owner="median_time")
    warmup = non_negative_int(warmup, "warmup", owner="median_time")
    for _ in range(warmup):
        run()
    return statistics.median(per_call(run, number) for _ in range(trials))


@dataclass
class Ratio:
    """The result of :func:`timing_ratio`: median seconds per call of both, and the median ratio."""

    time: float
    reference_time: float
    ratio: float


def timing_ratio(
    run: Callable[[], object],
    reference: Callable[[], object],
    number: int = 1,
    reference_number: int | None = None,
    trials: int = 5,
    warmup: int = 1,
) -> Ratio:
    """How many times longer ``run`` takes than ``reference``, measured in interleaved trials.

    Every trial times ``reference`` (``reference_number`` calls, by default
    ``number``) and then ``run`` (``number`` calls) and divides the two
    per-call times; the result holds the medians over ``trials`` of both
    times and of the ratio. Each function gets ``warmup`` untimed calls first.
    """
    number = positive_int(number, "number", owner="timing_ratio")
    reference_number = number if reference_number is None else positive_int(
        reference_number, "reference_number", owner="timing_ratio")
    trials = positive_int(trials, "trials", owner="timing_ratio")
    warmup = non_negative_int(warmup, "warmup", owner="timing_ratio")
    for _ in range(warmup):
        reference()
        run()
    times, reference_times, ratios = [], [], []
    for _ in range(trials):
        theirs = per_call(reference, reference_number)
        ours = per_call(run, number)
        times.append(ours)
        reference_times.append(theirs)
        ratios.append(ours / theirs)
    return Ratio(statistics.median(times), statistics.median(reference_times), statistics.median(ratios))


__all__ = ["Ratio", "median_time", "per_call", "timing_ratio"]
