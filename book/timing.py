"""Timing code on a shared machine: the median per-call time, and a ratio to a reference.

Single timings are noisy when other programs share the CPU. :func:`median_time`
times a function ``number`` times per trial and reports the median over
``trials`` trials. :func:`timing_ratio` times a function and a reference back to
back in every trial and takes the ratio within the trial, so a change in the
machine's load between trials moves both sides of a ratio together; the
median of those ratios is the figure to report.

:func:`conv2d_benchmark` and :func:`conv2d_timings` are the convolution timing
table itself, written once: ``benchmarks/conv2d.py`` and chapter 5 both call
them (``book.nn.conv``'s loop and vectorised versions against
``torch.nn.functional.conv2d``, float64, on the CPU).

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


def timed_backward(forward: Callable[[], object], grad_output, leaves=()) -> Callable[[], float]:
    """A function to time torch's backward pass alone: it returns the seconds ``backward`` took.

    Each call runs ``forward()`` (untimed: every backward needs a fresh graph),
    then times ``out.backward(grad_output)``, and clears the ``.grad`` of the
    tensors in ``leaves`` so that the next call starts from nothing.
    :func:`per_call` counts the returned float instead of the whole call.
    """
    if not callable(forward):
        raise ValueError(f"timed_backward: forward must be callable, got {forward!r}")
    leaves = tuple(leaves)

    def run() -> float:
        out = forward()
        start = time.perf_counter()
        out.backward(grad_output)
        elapsed = time.perf_counter() - start
        for leaf in leaves:
            leaf.grad = None
        return elapsed

    return run


def conv2d_benchmark(n: int = 32, channels: int = 16, size: int = 16, filters: int = 32, kernel: int = 3,
                     padding: int = 1, seed: int = 0) -> tuple[dict, float]:
    """The functions that the convolution timing table times, and how well ours agree with torch.

    Random float64 data: ``n`` images of ``channels`` x ``size`` x ``size``,
    ``filters`` filters of ``kernel`` x ``kernel``, stride 1, ``padding``.
    Returns ``(runs, error)``. ``runs`` maps ``(method, pass)`` to a function
    of no arguments, for ``method`` in ``"torch"``, ``"vectorised"``
    (:func:`book.nn.conv.conv2d`) and ``"loop"`` (:func:`book.nn.conv.conv2d_loop`)
    and ``pass`` in ``"forward"``, ``"backward"``; a backward returns
    ``dx, dw, db`` (torch's through autograd, timed by :func:`timed_backward`).
    ``error`` is the largest relative error of the vectorised output and
    gradients against torch's, measured once before any timing. Torch runs
    on the CPU, on the threads ``torch.set_num_threads`` allows.
    """
    import numpy as np
    import torch

    from book.gradcheck import rel_error
    from book.nn.conv import conv2d, conv2d_backward, conv2d_loop, conv2d_loop_backward

    owner = "conv2d_benchmark"
    n, channels, size, filters, kernel = (positive_int(v, name, owner=owner) for v, name in [
        (n, "n"), (channels, "channels"), (size, "size"), (filters, "filters"), (kernel, "kernel")])
    padding = non_negative_int(padding, "padding", owner=owner)
    if size + 2 * padding < kernel:
        raise ValueError(f"{owner}: a {kernel}x{kernel} kernel does not fit {size}x{size} images with padding {padding}")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, channels, size, size))
    w = rng.normal(size=(filters, channels, kernel, kernel)) * 0.1
    b = rng.normal(size=filters)
    out, cache = conv2d(x, w, b, padding=padding)
    g = rng.normal(size=out.shape)
    xt, wt, bt = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    gt = torch.tensor(g, dtype=torch.float64)

    def torch_forward():
        return torch.nn.functional.conv2d(xt, wt, bt, padding=padding)

    out_t = torch_forward()
    out_t.backward(gt)
    ours = [out, *conv2d_backward(g, cache)]
    theirs = [out_t.detach(), xt.grad, wt.grad, bt.grad]
    error = max(rel_error(a, t.numpy()) for a, t in zip(ours, theirs))
    xt.grad = wt.grad = bt.grad = None
    runs = {
        ("torch", "forward"): torch_forward,
        ("torch", "backward"): timed_backward(torch_forward, gt, (xt, wt, bt)),
        ("vectorised", "forward"): lambda: conv2d(x, w, b, padding=padding),
        ("vectorised", "backward"): lambda: conv2d_backward(g, cache),
        ("loop", "forward"): lambda: conv2d_loop(x, w, b, padding=padding),
        ("loop", "backward"): lambda: conv2d_loop_backward(g, x, w, padding=padding),
    }
    return runs, error


def conv2d_timings(runs: dict, number: int = 10, trials: int = 5, loop_trials: int = 1) -> dict:
    """:func:`timing_ratio` of each NumPy version against torch: ``(method, pass) -> Ratio``.

    ``runs`` comes from :func:`conv2d_benchmark`. The vectorised version
    makes ``number`` calls per trial over ``trials`` trials after one warm-up
    call; the loop version, far slower, one call per trial over
    ``loop_trials`` trials. Torch makes ``number`` calls in every trial.
    """
    number = positive_int(number, "number", owner="conv2d_timings")
    trials = positive_int(trials, "trials", owner="conv2d_timings")
    loop_trials = positive_int(loop_trials, "loop_trials", owner="conv2d_timings")
    missing = {(m, p) for m in ("torch", "vectorised", "loop") for p in ("forward", "backward")} - set(runs)
    if missing:
        raise ValueError(f"conv2d_timings: runs lacks {sorted(missing)}; build it with conv2d_benchmark")
    result = {}
    for method, calls, count, warmup in (("vectorised", number, trials, 1), ("loop", 1, loop_trials, 0)):
        for which in ("forward", "backward"):
            result[method, which] = timing_ratio(runs[method, which], runs["torch", which], number=calls,
                                                 reference_number=number, trials=count, warmup=warmup)
    return result


__all__ = ["Ratio", "conv2d_benchmark", "conv2d_timings", "median_time", "per_call", "timed_backward",
           "timing_ratio"]
