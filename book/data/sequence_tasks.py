"""Synthetic sequence tasks with a known answer: reverse a sequence of digits; tell whether the first
token equals the last.

The vocabulary is small and fixed: three special tokens, then the ten digits.

====== ==  ===========================================================
``PAD`` 0  fills the end of a source shorter than the longest in a batch
``BOS`` 1  the decoder's first input ("begin of sequence")
``EOS`` 2  the decoder's last target ("end of sequence"): stop here
digits  3… digit ``d`` is token ``d + 3``
====== ==  ===========================================================

:func:`reversal_task` returns NumPy arrays; a model trains on the decoder
inputs ``BOS y_1 … y_T`` with targets ``y_1 … y_T EOS`` (teacher forcing).

:func:`first_last_task` is a sequence classification task with a vocabulary of
its own: label 1 when a sequence ends with its first token. Both classes hold
the same tokens, so only their order separates them (chapter 7's encoder
classifier against a bag of embeddings).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from book.checks import non_negative_int, positive_int

PAD, BOS, EOS = 0, 1, 2
DIGIT0 = 3
VOCAB_SIZE = DIGIT0 + 10
SPECIAL_TOKENS = {PAD: "<pad>", BOS: "<s>", EOS: "</s>"}


class SequencePairs(NamedTuple):
    """Sources and targets of a sequence-to-sequence task, all ``int64`` arrays.

    ``source`` ``(N, S)``: the input, right-padded with ``PAD``; ``lengths``
    ``(N,)``: its true lengths; ``decoder_input`` ``(N, S + 1)``: ``BOS``
    then the answer; ``target`` ``(N, S + 1)``: the answer then ``EOS``
    (padded after ``EOS`` with ``PAD``).
    """

    source: np.ndarray
    lengths: np.ndarray
    decoder_input: np.ndarray
    target: np.ndarray


def reversal_task(n: int, length: int = 8, min_length: int | None = None, seed: int = 0) -> SequencePairs:
    """``n`` random digit sequences and their reversals, drawn with ``seed``.

    Every sequence has ``length`` digits, or, with ``min_length``, a length
    drawn uniformly from ``min_length .. length`` (then shorter sources are
    padded at the end with ``PAD``, and so are their targets after ``EOS``).
    """
    owner = "reversal_task"
    n = positive_int(n, "n", owner=owner)
    length = positive_int(length, "length", owner=owner)
    min_length = length if min_length is None else positive_int(min_length, "min_length", owner=owner)
    if min_length > length:
        raise ValueError(f"{owner}: min_length must be at most length={length}, got {min_length}")
    rng = np.random.default_rng(non_negative_int(seed, "seed", owner=owner))
    digits = rng.integers(0, 10, size=(n, length)) + DIGIT0
    lengths = rng.integers(min_length, length + 1, size=n)
    source = np.full((n, length), PAD, dtype=np.int64)
    decoder_input = np.full((n, length + 1), PAD, dtype=np.int64)
    target = np.full((n, length + 1), PAD, dtype=np.int64)
    decoder_input[:, 0] = BOS
    for i, (row, k) in enumerate(zip(digits, lengths)):
        source[i, :k] = row[:k]
        reversed_row = row[:k][::-1]
        decoder_input[i, 1:k + 1] = reversed_row
        target[i, :k] = reversed_row
        target[i, k] = EOS
    return SequencePairs(source, lengths.astype(np.int64), decoder_input, target)


def decode_tokens(ids) -> list[str]:
    """Token ids as strings: digits as ``"0"``–``"9"``, the special tokens by name."""
    out = []
    for i in np.asarray(ids).reshape(-1).tolist():
        if i in SPECIAL_TOKENS:
            out.append(SPECIAL_TOKENS[i])
        elif DIGIT0 <= i < VOCAB_SIZE:
            out.append(str(i - DIGIT0))
        else:
            raise ValueError(f"decode_tokens: ids must be in [0, {VOCAB_SIZE}), got {i}")
    return out


def first_last_task(n: int, length: int = 16, vocab_size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sequences labelled 1 when the first token equals the last, 0 otherwise, drawn with ``seed``.

    Tokens are ``0 .. vocab_size - 1`` (a vocabulary of its own, not the
    digits above). Each row starts with ``length - 1`` distinct tokens; the
    last token repeats the first (label 1, half the rows on average) or one of
    the tokens in between (label 0). Either way the row holds the same
    multiset of tokens in distribution (``length - 1`` distinct ones, one of
    them twice), so a model that ignores order cannot beat chance: only the
    positions of the pair tell the labels apart. Returns ``tokens``
    ``(n, length)`` and ``labels`` ``(n,)``, both ``int64``.
    """
    owner = "first_last_task"
    n = positive_int(n, "n", owner=owner)
    length = positive_int(length, "length", owner=owner)
    vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
    if length < 3:
        raise ValueError(f"{owner}: length must be at least 3 (a first, a last and a token between), got {length}")
    if vocab_size < length - 1:
        raise ValueError(f"{owner}: vocab_size must be at least length - 1 = {length - 1} "
                         f"(the first length - 1 tokens are distinct), got {vocab_size}")
    rng = np.random.default_rng(non_negative_int(seed, "seed", owner=owner))
    tokens = np.empty((n, length), dtype=np.int64)
    tokens[:, :-1] = np.argsort(rng.random((n, vocab_size)), axis=1)[:, :length - 1]   # distinct, uniform
    labels = rng.integers(0, 2, size=n).astype(np.int64)
    copied = np.where(labels == 1, 0, rng.integers(1, length - 1, size=n))             # which position repeats
    tokens[:, -1] = tokens[np.arange(n), copied]
    return tokens, labels


__all__ = ["BOS", "DIGIT0", "EOS", "PAD", "SPECIAL_TOKENS", "SequencePairs", "VOCAB_SIZE", "decode_tokens",
           "first_last_task", "reversal_task"]
