"""Supervised fine-tuning (SFT, 监督微调) data for a causal language model: learn the response only.

An instruction example is a prompt followed by the wanted response and an
end-of-sequence token, ``full = prompt + response + [eos]``. A causal model
such as :class:`book.models.gpt.GPT` predicts token ``t + 1`` from tokens
``0 .. t``, so it reads ``input_ids = full[:-1]`` against ``labels =
full[1:]``: ``labels[t]`` is the token that follows ``input_ids[t]``. The
model should learn to *answer*, not to write prompts, so every label that is
a prompt token is replaced by ``-100``, the index that
``torch.nn.functional.cross_entropy`` (and so ``GPT.forward``) ignores: the
**loss mask** (损失掩码). With a prompt of ``P`` tokens and a response of
``R``, the first ``P - 1`` labels are ``-100`` and the last ``R + 1`` are the
response and ``eos``; ``GPT(input_ids, labels).loss`` is then the mean
cross-entropy over response tokens only, and the prompt still conditions
every prediction through attention.

:func:`collate_sft` pads a batch on the right: padding comes after every real
token, so causal attention keeps it out of the real positions' predictions,
and its labels are ``-100`` too.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import torch

from book.checks import non_negative_int, positive_int
from book.data.mlm import IGNORE_INDEX


class SFTExample(NamedTuple):
    """One example: ``input_ids`` and ``labels``, two int64 tensors of the same length."""

    input_ids: torch.Tensor
    labels: torch.Tensor


class SFTBatch(NamedTuple):
    """A padded batch: ``input_ids`` and ``labels``, both ``(B, L)`` int64."""

    input_ids: torch.Tensor
    labels: torch.Tensor


def _ids(values, name: str, owner: str, minimum: int) -> list[int]:
    """``values`` (a list, tuple, NumPy array or 1-D tensor of token ids) as a list of ints."""
    if isinstance(values, torch.Tensor) and (values.ndim != 1 or values.is_floating_point()):
        raise ValueError(f"{owner}: {name} must be a 1-D sequence of token ids, got a tensor of shape "
                         f"{tuple(values.shape)}, dtype {values.dtype}")
    if hasattr(values, "tolist"):
        values = values.tolist()
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{owner}: {name} must be a sequence of token ids, got {type(values).__name__}")
    values = [non_negative_int(v, name + " entries", owner=owner) for v in values]
    if len(values) < minimum:
        raise ValueError(f"{owner}: {name} must hold at least {minimum} token id(s), got {len(values)}")
    return values


def sft_example(prompt_ids: Sequence[int], response_ids: Sequence[int], eos_id: int,
                mask_prompt: bool = True) -> SFTExample:
    """``input_ids = (prompt + response + [eos])[:-1]`` and ``labels = (prompt + response + [eos])[1:]``
    with the labels that fall in the prompt set to ``-100`` (unless ``mask_prompt=False``: the
    unmasked control, which learns the prompts too).

    ``prompt_ids`` (at least one token) and ``response_ids`` (may be empty)
    are sequences of token ids (lists, NumPy arrays or 1-D tensors). Both
    results have ``len(prompt) + len(response)`` entries; ``labels`` holds
    ``len(prompt) - 1`` values ``-100``, then the response and ``eos_id``.
    """
    owner = "sft_example"
    prompt = _ids(prompt_ids, "prompt_ids", owner, 1)
    response = _ids(response_ids, "response_ids", owner, 0)
    eos_id = non_negative_int(eos_id, "eos_id", owner=owner)
    full = prompt + response + [eos_id]
    labels = ([IGNORE_INDEX] * (len(prompt) - 1) + full[len(prompt):]) if mask_prompt else full[1:]
    return SFTExample(torch.tensor(full[:-1], dtype=torch.long), torch.tensor(labels, dtype=torch.long))


def collate_sft(examples: Sequence[SFTExample], pad_id: int, block_size: int | None = None) -> SFTBatch:
    """Stack examples into a batch, padding each on the right to the longest.

    Padded inputs are ``pad_id``, padded labels ``-100``. With
    ``block_size``, an example longer than that raises ``ValueError`` (a GPT
    cannot read it). Pass this as a ``DataLoader``'s ``collate_fn`` with
    ``functools.partial(collate_sft, pad_id=...)``.
    """
    owner = "collate_sft"
    pad_id = non_negative_int(pad_id, "pad_id", owner=owner)
    examples = list(examples)
    if not examples:
        raise ValueError(f"{owner}: examples must hold at least one (input_ids, labels) pair")
    for i, ex in enumerate(examples):
        if (not isinstance(ex, tuple) or len(ex) != 2 or not all(isinstance(t, torch.Tensor) and t.ndim == 1
                                                                  for t in ex) or ex[0].shape != ex[1].shape):
            raise ValueError(f"{owner}: example {i} must be an (input_ids, labels) pair of 1-D tensors of "
                             f"equal length, as sft_example returns")
    longest = max(len(ex[0]) for ex in examples)
    if block_size is not None and longest > positive_int(block_size, "block_size", owner=owner):
        raise ValueError(f"{owner}: an example has {longest} tokens, more than block_size={block_size}")
    input_ids = torch.full((len(examples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), longest), IGNORE_INDEX, dtype=torch.long)
    for i, (x, y) in enumerate(examples):
        input_ids[i, :len(x)] = x
        labels[i, :len(y)] = y
    return SFTBatch(input_ids, labels)


@torch.no_grad()
def greedy_response(model, prompt_ids: Sequence[int], eos_id: int, max_new_tokens: int) -> list[int]:
    """The tokens a :class:`~book.models.gpt.GPT` writes after ``prompt_ids`` by greedy decoding,
    up to (not including) ``eos_id``, at most ``max_new_tokens`` of them."""
    owner = "greedy_response"
    prompt = _ids(prompt_ids, "prompt_ids", owner, 1)
    eos_id = non_negative_int(eos_id, "eos_id", owner=owner)
    max_new_tokens = positive_int(max_new_tokens, "max_new_tokens", owner=owner)
    out = model.generate(torch.tensor(prompt, dtype=torch.long), max_new_tokens, temperature=0.0)
    new = out[len(prompt):].tolist()
    return new[:new.index(eos_id)] if eos_id in new else new



@torch.no_grad()
def prompt_response_losses(model, pairs: Sequence[tuple], eos_id: int, pad_id: int,
                           block_size: int | None = None) -> tuple[float, float]:
    """The mean cross-entropy of a causal model (``model(input_ids).logits``) on the response tokens
    (with ``eos``) and on the prompt tokens of ``pairs``, a sequence of ``(prompt_ids, response_ids)``.

    Both are measured on the same forward pass, in eval mode: the response loss is what
    ``GPT(input_ids, labels).loss`` reports on the masked batch; the prompt loss, the labels the mask
    removes (every prompt token after the first).
    """
    owner = "prompt_response_losses"
    pairs = list(pairs)
    if not pairs or not all(isinstance(p, (tuple, list)) and len(p) == 2 for p in pairs):
        raise ValueError(f"{owner}: pairs must be a non-empty sequence of (prompt_ids, response_ids) pairs")
    masked = collate_sft([sft_example(p, r, eos_id) for p, r in pairs], pad_id, block_size)
    full = collate_sft([sft_example(p, r, eos_id, mask_prompt=False) for p, r in pairs], pad_id, block_size)
    model.eval()
    logits = model(full.input_ids).logits
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), full.labels, ignore_index=IGNORE_INDEX,
                                            reduction="none")
    response = masked.labels != IGNORE_INDEX
    prompt = (full.labels != IGNORE_INDEX) & ~response
    return nll[response].mean().item(), nll[prompt].mean().item()


__all__ = ["IGNORE_INDEX", "SFTBatch", "SFTExample", "collate_sft", "greedy_response", "prompt_response_losses",
           "sft_example"]
