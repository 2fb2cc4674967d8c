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
torch is timed next to each NumPy measurement and each ratio is taken there.
The data, the agreement check and the timing loop are ``book.timing``'s
:func:`~book.timing.conv2d_benchmark` and :func:`~book.timing.conv2d_timings`,
which chapter 5 calls too.
"""
from __future__ import annotations

import argparse

import torch
from threadpoolctl import threadpool_info, threadpool_limits

from book.checks import positive_int
from book.timing import conv2d_benchmark, conv2d_timings

SHAPE = dict(n=32, channels=16, size=16, filters=32, kernel=3, padding=1)
NUMBER = 20  # calls per trial for torch and the vectorised version; the loop version makes one


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
        runs, error = conv2d_benchmark(**SHAPE)
        if error > 1e-10:
            raise SystemExit(f"conv2d disagrees with torch: relative error {error:.1e}")
        result = conv2d_timings(runs, number=NUMBER, trials=args.trials, loop_trials=args.loop_trials)
    s = SHAPE
    print(
        f"conv2d float64: N={s['n']}, C={s['channels']}, {s['size']}x{s['size']}, {s['filters']} filters "
        f"{s['kernel']}x{s['kernel']}, padding {s['padding']}"
    )
    print(f"threads: torch {torch.get_num_threads()}; NumPy thread pools {pools}")
    print(f"vectorised output and gradients equal torch's: largest relative error {error:.1e}")
    print(f"medians over {args.trials} trials ({args.loop_trials} for the loop version); "
          "ratios are taken within each trial, then the median")
    print(f"{'':12}{'forward ms':>12}{'backward ms':>13}{'fwd / torch':>13}{'bwd / torch':>13}")
    fwd, bwd = (result["vectorised", which].reference_time for which in ("forward", "backward"))
    print(f"{'torch':12}{fwd * 1e3:12.2f}{bwd * 1e3:13.2f}{1.0:13.2f}{1.0:13.2f}")
    for method in ("vectorised", "loop"):
        f, b = result[method, "forward"], result[method, "backward"]
        print(f"{method:12}{f.time * 1e3:12.2f}{b.time * 1e3:13.2f}{f.ratio:13.2f}{b.ratio:13.2f}")


if __name__ == "__main__":
    main()
