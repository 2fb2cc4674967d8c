"""Time book.nn.MultiheadAttention against torch.nn.MultiheadAttention, forward and backward.

Run with ``.venv/bin/python benchmarks/attention.py [--threads 1] [--trials 7]``.

Shapes: self-attention on N=16 sequences of T=64 positions, embed_dim=128, 4
heads, float64 for both (book.nn's dtype, so both do the same arithmetic), with
and without the causal mask. Timed: ``book.nn.MultiheadAttention`` forward
(which keeps its cache) and backward (input and all parameter gradients), and
torch's module called as ``mha(x, x, x, attn_mask=..., need_weights=False)``
with autograd recording, then autograd's backward alone (the graph is built
outside the timed part). NumPy's BLAS (through threadpoolctl) and torch
(``torch.set_num_threads``) get the same number of threads. Each figure is
the median over ``--trials`` trials; within a trial torch and book.nn are timed
back to back and the ratio is taken there (``book.timing.timing_ratio``), so a
change in the machine's load moves both sides of a ratio together.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from book.checks import positive_int
from book.nn.attention import MultiheadAttention
from book.nn.module import torch_state
from book.timing import timing_ratio

SHAPE = dict(n=16, steps=64, embed_dim=128, num_heads=4)


def benchmarks(causal: bool) -> dict:
    """(library, pass) -> a function to time, on the same data and weights, checked against torch first."""
    s = SHAPE
    rng = np.random.default_rng(0)
    ours = MultiheadAttention(s["embed_dim"], s["num_heads"], rng=0)
    theirs = torch.nn.MultiheadAttention(s["embed_dim"], s["num_heads"], batch_first=True, dtype=torch.float64)
    theirs.load_state_dict(torch_state(ours.state_dict()))
    x = rng.normal(size=(s["n"], s["steps"], s["embed_dim"]))
    dy = rng.normal(size=x.shape)
    xt, dyt = torch.tensor(x, requires_grad=True), torch.tensor(dy)
    # torch's module takes True as "may not attend": the strict upper triangle.
    mask = torch.triu(torch.ones(s["steps"], s["steps"], dtype=torch.bool), diagonal=1) if causal else None

    def torch_forward():
        return theirs(xt, xt, xt, attn_mask=mask, need_weights=False)[0]

    def torch_backward() -> float:
        out = torch_forward()
        start = time.perf_counter()
        out.backward(dyt)
        elapsed = time.perf_counter() - start
        xt.grad = None
        theirs.zero_grad(set_to_none=True)
        return elapsed

    out = ours(x, is_causal=causal)
    dx = ours.backward(dy)
    out_t = torch_forward()
    out_t.backward(dyt)
    pairs = [(out, out_t), (dx, xt.grad)] + [(ours.grads[name], p.grad) for name, p in theirs.named_parameters()]
    for a, b in pairs:
        assert np.allclose(a, b.detach().numpy(), rtol=1e-10, atol=1e-10)
    xt.grad = None
    theirs.zero_grad(set_to_none=True)
    return {
        ("torch", "forward"): torch_forward,
        ("torch", "backward"): torch_backward,
        ("book.nn", "forward"): lambda: ours(x, is_causal=causal),
        ("book.nn", "backward"): lambda: ours.backward(dy),  # backward reads the cache; calling it again is fine
    }


def timings(trials: int, number: int) -> dict:
    """(mask, pass) -> book.timing.Ratio of book.nn against torch."""
    results = {}
    for causal in (False, True):
        runs = benchmarks(causal)
        for which in ("forward", "backward"):
            results[("causal" if causal else "none", which)] = timing_ratio(
                runs[("book.nn", which)], runs[("torch", which)], number=number, trials=trials, warmup=2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for NumPy's BLAS and for torch (default 1)")
    parser.add_argument("--trials", type=int, default=7, help="trials per figure; the median is reported")
    parser.add_argument("--number", type=int, default=10, help="calls per trial")
    args = parser.parse_args()
    for name in ("threads", "trials", "number"):
        positive_int(getattr(args, name), f"--{name}", owner="benchmarks/attention.py")

    torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads):
        pools = ", ".join(f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info())
        results = timings(args.trials, args.number)
    s = SHAPE
    print(f"MultiheadAttention float64 self-attention: N={s['n']}, T={s['steps']}, "
          f"embed_dim={s['embed_dim']}, {s['num_heads']} heads")
    print(f"threads: torch {torch.get_num_threads()}; NumPy thread pools {pools}")
    print(f"medians over {args.trials} trials of {args.number} calls; ratios are taken within each trial, then the median")
    print(f"{'mask':8}{'pass':10}{'torch ms':>10}{'book.nn ms':>12}{'book.nn / torch':>17}")
    for (mask, which), r in results.items():
        print(f"{mask:8}{which:10}{r.reference_time * 1e3:10.2f}{r.time * 1e3:12.2f}{r.ratio:17.2f}")
    worst = max(r.ratio for r in results.values())
    print(f"largest ratio {worst:.2f} (the bar: at most 3)")


if __name__ == "__main__":
    main()
