"""Choosing the next token from a language model's logits: greedy, temperature, top-k and top-p.

A language model gives, for each position, one logit per token of the
vocabulary. :func:`sample_next` turns the last axis of such a tensor into token
indices; :func:`filter_logits` shows which tokens the filters keep. The steps,
in order:

1. **temperature** ``T`` divides the logits: ``T < 1`` sharpens the
   distribution, ``T > 1`` flattens it, ``T = 0`` means greedy decoding (the
   arg max, no randomness at all);
2. **top-k** keeps the ``k`` largest logits;
3. **top-p** (nucleus sampling) keeps, of what is left, the smallest set of
   most likely tokens whose probabilities add up to at least ``p``. The most
   likely token is always kept, so the set is never empty;
4. the kept logits go through a softmax (the removed ones are ``-inf``, so
   they get probability zero and the rest is renormalised) and one token is
   drawn.

The nucleus is taken of the distribution *after* the temperature, as the
Hugging Face ``generate`` does. Ties are broken towards the lower index (a
stable sort), the way ``argmax`` breaks them, so ``top_k=1`` is greedy decoding
even when two logits are equal.
"""
from __future__ import annotations

import torch

from book.checks import non_negative, positive_int, real


def _check_logits(logits, owner: str) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or logits.ndim < 1 or logits.shape[-1] < 1:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{owner}: logits must be a torch tensor of shape (..., vocab_size), got {got}")
    if not logits.is_floating_point():
        raise ValueError(f"{owner}: logits must be floating point, got {logits.dtype}")
    return logits


def _check_filters(top_k, top_p, owner: str):
    if top_k is not None:
        top_k = positive_int(top_k, "top_k", owner=owner)
    if top_p is not None:
        top_p = real(top_p, "top_p", 0.0, 1.0, low_open=True, owner=owner)
    return top_k, top_p


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """``logits`` (shape ``(..., V)``) with the tokens that top-k, then top-p, remove set to ``-inf``.

    The kept entries keep their values, so ``torch.softmax(filter_logits(z, ...), -1)``
    is the renormalised distribution that :func:`sample_next` draws from (at
    temperature 1). ``top_k`` is a positive int (a value of ``V`` or more keeps
    everything); ``top_p`` is in ``(0, 1]`` (1 keeps everything). ``None``
    switches a filter off.
    """
    owner = "filter_logits"
    logits = _check_logits(logits, owner)
    top_k, top_p = _check_filters(top_k, top_p, owner)
    vocab = logits.shape[-1]
    if (top_k is None or top_k >= vocab) and (top_p is None or top_p == 1.0):
        return logits.clone()
    # One stable sort serves both filters: position r holds the r-th largest logit.
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True, stable=True)
    remove = torch.zeros_like(sorted_logits, dtype=torch.bool)
    if top_k is not None and top_k < vocab:
        remove[..., top_k:] = True
    if top_p is not None and top_p < 1.0:
        probs = torch.softmax(sorted_logits.float().masked_fill(remove, float("-inf")), dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # probability of the more likely tokens
        remove |= before >= top_p  # the first token has before == 0 < top_p: always kept
    remove = remove.scatter(-1, order, remove)  # back from sorted order to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def sample_next(
    logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token index per row of ``logits``: shape ``(..., V)`` gives a ``LongTensor`` of shape ``(...,)``.

    ``temperature`` is a number >= 0; 0 returns ``logits.argmax(-1)`` (greedy
    decoding; the filters cannot change the arg max, and nothing is drawn).
    ``top_k`` and ``top_p`` are as in :func:`filter_logits`, applied after the
    temperature. ``generator`` (a ``torch.Generator``) makes the draws
    repeatable: the same seed gives the same tokens. The draw happens on the
    generator's device (a CPU generator works for logits on a GPU; the result
    comes back on the logits' device).
    """
    owner = "sample_next"
    logits = _check_logits(logits, owner)
    temperature = non_negative(temperature, "temperature", owner=owner)
    top_k, top_p = _check_filters(top_k, top_p, owner)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise ValueError(f"{owner}: generator must be a torch.Generator or None, got {type(generator).__name__}")
    if temperature == 0.0:
        return logits.argmax(dim=-1)
    # Shifting by the maximum first changes no probability and keeps a tiny temperature from overflowing.
    shifted = logits.float() - logits.float().amax(dim=-1, keepdim=True)
    kept = filter_logits(shifted / temperature, top_k=top_k, top_p=top_p)
    probs = torch.softmax(kept, dim=-1).reshape(-1, logits.shape[-1])
    if generator is not None:
        probs = probs.to(generator.device)
    tokens = torch.multinomial(probs, 1, generator=generator)
    return tokens.reshape(logits.shape[:-1]).to(logits.device)


__all__ = ["filter_logits", "sample_next"]
