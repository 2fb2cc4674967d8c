"""Text that needs no download, and the pieces a language model is trained with.

* :func:`load_corpus` returns about 465,000 characters of English prose that
  ship with every Python: the topics of the language reference's help pages
  (``pydoc_data.topics.topics``), joined in sorted order of their keys. The
  exact text depends on the Python release, so a chapter prints its length.
* :class:`CharVocab` numbers the distinct characters of a text and turns
  strings into integer ids and back.
* :func:`split_text` cuts a text (or an id array) into a contiguous training
  part and a validation part at its end, so no sentence straddles the two.
* :func:`next_token_windows` cuts an id array into input windows and the same
  windows shifted by one: the targets of next-token prediction.
* :func:`unigram_nats` is the baseline every language model must beat: the
  cross-entropy of the validation ids under the training set's token
  frequencies, with add-one (Laplace) smoothing so an unseen token costs a
  finite number of nats.
* :func:`make_polarity_sequences` generates labelled token sequences for a
  many-to-one classifier (chapter 6's corrected L07).

Everything works on integer ids, so a word-piece (BPE) vocabulary can reuse it.
Importing the module needs NumPy only.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from book.checks import integer, positive_int, real


def load_corpus() -> str:
    """The English text of ``pydoc_data.topics.topics``, joined with newlines in sorted-key order."""
    from pydoc_data.topics import topics

    return "\n".join(topics[key] for key in sorted(topics))


class CharVocab:
    """A character vocabulary: id ``i`` is the ``i``-th distinct character in sorted order.

    ``CharVocab(text)`` collects the characters of ``text``. :meth:`encode`
    turns a string into an int64 array of ids and raises ``ValueError`` for a
    character it does not know; :meth:`decode` turns ids back into a string.
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharVocab expects a non-empty str, got {type(text).__name__}")
        self.chars = sorted(set(text))
        self.index = {ch: i for i, ch in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def size(self) -> int:
        """How many characters the vocabulary holds (the model's output width)."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text``, an int64 array of length ``len(text)``."""
        if not isinstance(text, str):
            raise ValueError(f"CharVocab.encode expects a str, got {type(text).__name__}")
        try:
            return np.fromiter((self.index[ch] for ch in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(f"CharVocab.encode: character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids) -> str:
        """The string whose characters have the ids ``ids`` (any integer sequence or tensor)."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        ids = list(ids)
        bad = [i for i in ids if not (isinstance(i, (int, np.integer)) and 0 <= i < len(self.chars))]
        if bad:
            raise ValueError(f"CharVocab.decode expects ids in [0, {len(self.chars)}), got {bad[:5]}")
        return "".join(self.chars[i] for i in ids)

    def __repr__(self) -> str:
        return f"CharVocab({len(self.chars)} characters)"


def split_text(data, val_fraction: float = 0.1):
    """``(train, val)``: the first ``1 - val_fraction`` of ``data`` and the rest, in order.

    ``data`` is a string or a 1-D array; a contiguous split keeps the
    validation text unseen as a whole, where a random split of windows would
    leak neighbouring characters into training.
    """
    val_fraction = real(val_fraction, "val_fraction", 0.0, 1.0, low_open=True, high_open=True, owner="split_text")
    if len(data) < 2:
        raise ValueError(f"split_text needs at least 2 items, got {len(data)}")
    cut = min(max(int(round(len(data) * (1.0 - val_fraction))), 1), len(data) - 1)
    return data[:cut], data[cut:]


def next_token_windows(ids, seq_len: int, stride: int | None = None):
    """Inputs ``x`` and targets ``y``, each ``(N, seq_len)``, with ``y[n, t] = ids[start_n + t + 1]``.

    Window ``n`` starts at ``n * stride`` (``stride`` defaults to ``seq_len``:
    windows that do not overlap); windows that would run past the end are
    dropped. Returns int64 arrays.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"next_token_windows expects a 1-D integer array, got shape {ids.shape} of {ids.dtype}")
    seq_len = positive_int(seq_len, "seq_len", owner="next_token_windows")
    stride = seq_len if stride is None else positive_int(stride, "stride", owner="next_token_windows")
    if len(ids) < seq_len + 1:
        raise ValueError(f"next_token_windows needs at least seq_len + 1 = {seq_len + 1} ids, got {len(ids)}")
    starts = np.arange(0, len(ids) - seq_len, stride)
    offsets = np.arange(seq_len)
    x = ids[starts[:, None] + offsets]
    y = ids[starts[:, None] + offsets + 1]
    return x.astype(np.int64), y.astype(np.int64)


def unigram_nats(train_ids, val_ids, vocab_size: int) -> float:
    """Cross-entropy, in nats per token, of ``val_ids`` under the smoothed token frequencies of ``train_ids``.

    ``p(v) = (count_train(v) + 1) / (len(train_ids) + vocab_size)``: add-one
    (Laplace) smoothing. The result is ``-mean(log p(val_ids))``, what a model
    that ignores context scores; a language model that reads the context must
    come out below it.
    """
    vocab_size = positive_int(vocab_size, "vocab_size", owner="unigram_nats")
    train_ids, val_ids = np.asarray(train_ids), np.asarray(val_ids)
    for name, ids in (("train_ids", train_ids), ("val_ids", val_ids)):
        if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"unigram_nats: {name} must be a non-empty 1-D integer array, got shape {ids.shape}")
        if ids.min() < 0 or ids.max() >= vocab_size:
            raise ValueError(f"unigram_nats: {name} must hold ids in [0, {vocab_size})")
    counts = np.bincount(train_ids, minlength=vocab_size) + 1.0
    log_p = np.log(counts) - np.log(counts.sum())
    return float(-log_p[val_ids].mean())


def make_polarity_sequences(n: int = 4000, length: int = 100, vocab_size: int = 10000,
                            polarity_ids: Sequence[int] = (2, 22), majority: int = 3, minority: int = 1,
                            seed: int = 0):
    """Token sequences labelled by which of two planted kinds of token is in the majority.

    Ids in ``polarity_ids = (lo, hi)`` are the marked tokens: the first half
    of that range is "positive", the second half "negative". Every other
    position holds a background token drawn uniformly from ``[hi,
    vocab_size)`` (ids below ``lo`` stay unused, as padding would be). Each
    sequence gets ``majority`` tokens of its label's polarity and
    ``minority`` of the other at random positions, so its label (1 =
    positive) depends on counting tokens anywhere in the sequence, not on
    one position. Returns ``x`` ``(n, length)`` int64 and ``y`` ``(n,)`` int64
    in {0, 1}, balanced at random.
    """
    owner = "make_polarity_sequences"
    n = positive_int(n, "n", owner=owner)
    length = positive_int(length, "length", owner=owner)
    vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
    majority = positive_int(majority, "majority", owner=owner)
    minority = integer(minority, "minority", minimum=0, owner=owner)
    lo, hi = (integer(v, "polarity_ids", minimum=0, owner=owner) for v in polarity_ids)
    if hi - lo < 2 or (hi - lo) % 2 or hi >= vocab_size:
        raise ValueError(f"{owner}: polarity_ids must be (lo, hi) with an even hi - lo >= 2 and hi < vocab_size, "
                         f"got {tuple(polarity_ids)}")
    if minority >= majority or majority + minority > length:
        raise ValueError(f"{owner}: need minority < majority and majority + minority <= length, "
                         f"got {majority}, {minority}, {length}")
    rng = np.random.default_rng(seed)
    half = (hi - lo) // 2
    positive, negative = np.arange(lo, lo + half), np.arange(lo + half, hi)
    x = rng.integers(hi, vocab_size, size=(n, length))
    y = rng.integers(0, 2, size=n)
    for row in range(n):
        same, other = (positive, negative) if y[row] == 1 else (negative, positive)
        places = rng.choice(length, size=majority + minority, replace=False)
        x[row, places[:majority]] = rng.choice(same, size=majority)
        x[row, places[majority:]] = rng.choice(other, size=minority)
    return x.astype(np.int64), y.astype(np.int64)


__all__ = ["CharVocab", "load_corpus", "make_polarity_sequences", "next_token_windows", "split_text", "unigram_nats"]
