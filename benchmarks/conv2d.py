"""Time book.nn's convolution (loop and vectorised) against torch's, forward and backward.

benchmarks/ holds timing scripts that are not tests: run one with
``.venv/bin/python benchmarks/conv2d.py [--threads 1] [--trials 7]``.

Shapes: N=32 images of 16 channels, 16x16 pixels, 32 filters of 3x3, padding 1,
all float64 (book.nn's dtype, and torch in the same dtype so both do the same
arithmetic). Timed: ``conv2d_loop``/``conv2d_loop_backward`` (the teaching
version), ``conv2d``/``conv2d_backward`` (im2col and one matrix product, what
``book.nn.Conv2d`` uses) and ``torch.nn.functional.conv2d`` with autograd's
backward (input, weight and bias gradients). NumPy's BLAS (through
threadpoolctl) and torch (``torch.set_num_threads``) get the same number of
threads. Each figure is the median over ``--trials`` trials of the mean time of
several calls, because the machine may be shared and single runs are noisy;
torch is timed next to each NumPy measurement and each ratio is taken there
(``book.timing.timing_ratio``).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from book.checks import positive_int
from book.nn.conv import conv2d, conv2d_backward, conv2d_loop, conv2d_loop_backward
from book.timing import timing_ratio

SHAPE = dict(n=32, channels=16, size=16, filters=32, kernel=3, padding=1)


def benchmarks(pad: int) -> dict:
    """(method, pass) -> a function to time, all on the same data, checked against torch first."""
    s = SHAPE
    rng = np.random.default_rng(0)
    x = rng.normal(size=(s["n"], s["channels"], s["size"], s["size"]))
    w = rng.normal(size=(s["filters"], s["channels"], s["kernel"], s["kernel"])) * 0.1
    b = rng.normal(size=s["filters"])
    out, cache = conv2d(x, w, b, padding=pad)
    g = rng.normal(size=out.shape)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    gt = torch.tensor(g)

    def torch_forward():
        return torch.nn.functional.conv2d(xt, wt, bt, padding=pad)

    def torch_backward() -> float:
        # Each backward needs a fresh graph; only the backward call itself is timed.
        out_t = torch_forward()
        start = time.perf_counter()
        out_t.backward(gt)
        elapsed = time.perf_counter() - start
        xt.grad = wt.grad = bt.grad = None
        return elapsed

    out_t = torch_forward()
    out_t.backward(gt)
    dx, dw, db = conv2d_backward(g, cache)
    for ours, theirs in [(out, out_t), (dx, xt.grad), (dw, wt.grad), (db, bt.grad)]:
        assert np.allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)
    xt.grad = wt.grad = bt.grad = None
    return {
        ("torch", "forward"): torch_forward,
        ("torch", "backward"): torch_backward,
        ("vectorised", "forward"): lambda: conv2d(x, w, b, padding=pad),
        ("vectorised", "backward"): lambda: conv2d_backward(g, cache),
        ("loop", "forward"): lambda: conv2d_loop(x, w, b, padding=pad),
        ("loop", "backward"): lambda: conv2d_loop_backward(g, x, w, padding=pad),
    }


def timings(trials: int, loop_trials: int) -> tuple[dict, dict]:
    """Median seconds per call and median ratio to torch, keyed by (method, pass).

    :func:`book.timing.timing_ratio` times torch and the NumPy version back to
    back in every trial and takes the ratio within the trial, so a change in
    the machine's load between trials moves both sides of a ratio together.
    Torch makes 20 calls per trial, the vectorised version 20, the loop one.
    """
    runs = benchmarks(SHAPE["padding"])
    median, median_ratio = {}, {}
    for method, count, number, warmup in (("vectorised", trials, 20, 1), ("loop", loop_trials, 1, 0)):
        for which in ("forward", "backward"):
            result = timing_ratio(runs[(method, which)], runs[("torch", which)], number=number,
                                  reference_number=20, trials=count, warmup=warmup)
            median[(method, which)] = result.time
            median_ratio[(method, which)] = result.ratio
            median.setdefault(("torch", which), result.reference_time)
    return median, median_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and for torch (default 1)")
    parser.add_argument("--trials", type=int, default=7, help="trials per figure; the median is reported")
    parser.add_argument("--loop-trials", type=int, default=3, help="trials for the (slow) loop version")
    args = parser.parse_args()
    for name in ("threads", "trials", "loop_trials"):
        positive_int(getattr(args, name), f"--{name.replace('_', '-')}", owner="benchmarks/conv2d.py")

    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        pools = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info())
        t, ratio = timings(args.trials, args.loop_trials)
    s = SHAPE
    print(
        f"conv2d float64: N={s['n']}, C={s['channels']}, {s['size']}x{s['size']}, {s['filters']} filters "
        f"{s['kernel']}x{s['kernel']}, padding {s['padding']}"
    )
    print(f"threads: torch {torch.get_num_threads()}; NumPy thread pools {pools}")
    print(f"medians over {args.trials} trials ({args.loop_trials} for the loop version); "
          "ratios are taken within each trial, then the median")
    print(f"{'':12}{'forward ms':>12}{'backward ms':>13}{'fwd / torch':>13}{'bwd / torch':>13}")
    for method in ("torch", "vectorised", "loop"):
        fwd, bwd = t[(method, "forward")], t[(method, "backward")]
        r_fwd, r_bwd = (ratio.get((method, which), 1.0) for which in ("forward", "backward"))
        print(f"{method:12}{fwd * 1e3:12.2f}{bwd * 1e3:13.2f}{r_fwd:13.2f}{r_bwd:13.2f}")


if __name__ == "__main__":
    main()
