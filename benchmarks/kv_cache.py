"""Tokens per second of book.models.gpt's generation with and without the key-value cache.

Run with ``.venv/bin/python benchmarks/kv_cache.py [--threads 1] [--trials 5] [--new-tokens 256]``.

A small GPT (4 blocks, 4 heads, width 128, 96 tokens, block_size 512: about
0.87 million parameters, randomly initialised, since speed does not depend on
the weights) continues a 16-token prompt by ``--new-tokens`` tokens, batch 1,
greedy, on the CPU (``--device`` picks another). Without the cache every step
runs the whole sequence so far through the model, so a step's cost grows with
the length and the total grows with its square; with the cache each step runs
one token, attending to the cached keys and values. The two runs are first
checked to give the same tokens. Each trial times both back to back
(:func:`book.timing.timing_ratio`); medians over the trials are reported.
"""
from __future__ import annotations

import argparse

import torch

from book.checks import positive_int
from book.models.gpt import GPT, GPTConfig
from book.timing import timing_ratio

CONFIG = dict(vocab_size=96, block_size=512, n_layer=4, n_head=4, n_embd=128)
PROMPT = 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--trials", type=int, default=5, help="trials; the medians are reported")
    parser.add_argument("--new-tokens", type=int, default=256, help="tokens to generate (default 256)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    args = parser.parse_args()
    owner = "benchmarks/kv_cache.py"
    for name in ("threads", "trials", "new_tokens"):
        positive_int(getattr(args, name), f"--{name.replace('_', '-')}", owner=owner)
    if PROMPT + args.new_tokens > CONFIG["block_size"]:
        raise ValueError(f"{owner}: --new-tokens must be at most {CONFIG['block_size'] - PROMPT} "
                         "(past block_size the cache cannot help; see book/models/gpt.py)")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    torch.manual_seed(0)
    model = GPT(GPTConfig(**CONFIG)).to(device).eval()
    prompt = torch.randint(0, CONFIG["vocab_size"], (1, PROMPT), device=device)

    def run(use_cache: bool):
        def generate():
            out = model.generate(prompt, args.new_tokens, temperature=0, use_cache=use_cache)
            if device.type == "cuda":
                torch.cuda.synchronize()
            return out
        return generate

    cached, uncached = run(True), run(False)
    same = torch.equal(cached(), uncached())
    result = timing_ratio(uncached, cached, trials=args.trials, warmup=1)
    n = args.new_tokens
    print(f"GPT {CONFIG}: {model.num_parameters():,} parameters; prompt {PROMPT} tokens, "
          f"{n} new tokens, batch 1, greedy")
    print(f"device {device}, torch threads {torch.get_num_threads()}, medians over {args.trials} trials")
    print(f"identical tokens with and without the cache: {same}")
    print(f"with the cache:    {n / result.reference_time:8.0f} tokens/s")
    print(f"without the cache: {n / result.time:8.0f} tokens/s")
    print(f"speed-up: {result.ratio:.2f}× (timing ratio)")
    if not same:
        raise SystemExit("the cached and uncached generations differ")


if __name__ == "__main__":
    main()
