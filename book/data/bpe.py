"""A byte-level byte-pair-encoding (BPE) tokenizer, written from scratch.

The text is first turned into UTF-8 bytes, so the 256 byte values are the
starting vocabulary and every string can be encoded, even one in a script the
tokenizer never saw. Training then repeats one step: find the most frequent
pair of adjacent tokens and give it a new id (a *merge*). Encoding replays the
merges in the order they were learned; decoding joins the bytes of the tokens.

Before counting, the text is cut into chunks by :data:`SPLIT_PATTERN`, a
regular expression in the spirit of GPT-2's: a run of letters, a run of digits
or a run of other symbols, each with at most one leading space; English
contractions (``'s``, ``'ll``, ...) on their own; and runs of whitespace.
Merges never cross a chunk boundary, so ``" the"`` can become one token but
``"e. T"`` cannot. Python's ``re`` has no ``\\p{L}``: a letter is written
``[^\\W\\d_]`` (a word character that is neither a digit nor ``_``).

Training counts each distinct chunk once, with its frequency, and keeps the
pair counts up to date after each merge (touching only the chunks that hold
the merged pair), so a thousand merges on half a million characters take
seconds. Encoding caches the tokens of each distinct chunk.
"""
from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from typing import Iterable, Sequence

from book.checks import integer, is_integer

# Contractions | letters | digits | other symbols (each with one optional leading
# space) | whitespace not followed by a non-space (so " word" keeps its space) | whitespace.
SPLIT_PATTERN = re.compile(
    r"""'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)


def split_chunks(text: str) -> list[str]:
    """Cut ``text`` into the chunks that merges may not cross.

    The chunks, joined, give back ``text`` exactly: every character belongs to
    one of the pattern's classes.
    """
    if not isinstance(text, str):
        raise ValueError(f"split_chunks: text must be a str, got {type(text).__name__}")
    return SPLIT_PATTERN.findall(text)


def _merge(ids: Sequence[int], pair: tuple[int, int], new: int) -> list[int]:
    """Replace each occurrence of ``pair`` in ``ids``, left to right, by ``new``."""
    out, i, n = [], 0, len(ids)
    a, b = pair
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class ByteBPE:
    """A byte-level BPE tokenizer given by its list of merges.

    Token ``i < 256`` is the byte ``i``; token ``256 + r`` is the ``r``-th
    merge ``merges[r] = (a, b)``, whose bytes are those of ``a`` then ``b``.
    Build one with :meth:`train`, or from merges saved earlier.

    Attributes: ``merges`` (list of pairs, in learned order), ``vocab`` (the
    bytes of each token), ``vocab_size`` (``256 + len(merges)``).
    """

    def __init__(self, merges: Iterable[tuple[int, int]] = ()):
        self.merges: list[tuple[int, int]] = []
        self.vocab: list[bytes] = [bytes([i]) for i in range(256)]
        for r, pair in enumerate(merges):
            if (not isinstance(pair, (tuple, list)) or len(pair) != 2
                    or not all(is_integer(t) and 0 <= t < 256 + r for t in pair)):
                raise ValueError(f"ByteBPE: merge {r} must be a pair of token ids below {256 + r}, got {pair!r}")
            a, b = int(pair[0]), int(pair[1])
            self.merges.append((a, b))
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self.ranks = {pair: r for r, pair in enumerate(self.merges)}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int) -> "ByteBPE":
        """Learn ``vocab_size - 256`` merges from ``text``.

        At each step the most frequent adjacent pair (summed over all chunks,
        overlapping occurrences counted) is merged; a tie goes to the pair
        with the smaller ids, so training is deterministic. Raises
        ``ValueError`` if the text runs out of pairs before ``vocab_size``.
        """
        if not isinstance(text, str):
            raise ValueError(f"ByteBPE.train: text must be a str, got {type(text).__name__}")
        vocab_size = integer(vocab_size, "vocab_size", minimum=256, owner="ByteBPE.train")
        chunk_counts = Counter(split_chunks(text))
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        freqs = list(chunk_counts.values())

        counts: dict[tuple[int, int], int] = defaultdict(int)  # pair -> occurrences
        where: dict[tuple[int, int], set[int]] = defaultdict(set)  # pair -> chunks that may hold it
        for w, (ids, f) in enumerate(zip(words, freqs)):
            for pair in zip(ids, ids[1:]):
                counts[pair] += f
                where[pair].add(w)
        # Max-heap by (count, then smaller pair); stale entries are skipped when popped.
        heap = [(-c, pair) for pair, c in counts.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        while 256 + len(merges) < vocab_size:
            while heap and (-heap[0][0] != counts.get(heap[0][1], 0) or heap[0][0] == 0):
                heapq.heappop(heap)
            if not heap:
                raise ValueError(
                    f"ByteBPE.train: the text yields only {len(merges)} merges, "
                    f"so vocab_size must be at most {256 + len(merges)}, got {vocab_size}"
                )
            _, pair = heapq.heappop(heap)
            new = 256 + len(merges)
            merges.append(pair)
            changed = set()
            for w in where.pop(pair):
                ids, f = words[w], freqs[w]
                merged = _merge(ids, pair, new)
                if len(merged) == len(ids):
                    continue  # a stale entry: this chunk no longer holds the pair
                for p in zip(ids, ids[1:]):
                    counts[p] -= f
                    changed.add(p)
                for p in zip(merged, merged[1:]):
                    counts[p] += f
                    where[p].add(w)
                    changed.add(p)
                words[w] = merged
            counts.pop(pair, None)
            for p in changed:
                c = counts.get(p, 0)
                if c > 0:
                    heapq.heappush(heap, (-c, p))
                else:
                    counts.pop(p, None)
        return cls(merges)

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = list(chunk.encode("utf-8"))
        ranks = self.ranks
        while len(ids) > 1:
            # The pair that was learned first is applied first, as in training.
            best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, len(ranks)))
            if best not in ranks:
                break
            ids = _merge(ids, best, 256 + ranks[best])
        return ids

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text`` (any ``str``; the empty string gives ``[]``)."""
        if not isinstance(text, str):
            raise ValueError(f"ByteBPE.encode: text must be a str, got {type(text).__name__}")
        out: list[int] = []
        cache = self._cache
        for chunk in split_chunks(text):
            ids = cache.get(chunk)
            if ids is None:
                ids = cache[chunk] = self._encode_chunk(chunk)
            out.extend(ids)
        return out

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of the tokens ``ids``, joined."""
        try:
            ids = list(ids)
        except TypeError:
            raise ValueError(f"ByteBPE.decode: ids must be a sequence of token ids, got {ids!r}") from None
        n = self.vocab_size
        for i in ids:
            if not (is_integer(i) and 0 <= i < n):
                raise ValueError(f"ByteBPE.decode: token ids must be ints in [0, {n}), got {i!r}")
        return b"".join(self.vocab[i] for i in ids)

    def decode(self, ids: Iterable[int], errors: str = "replace") -> str:
        """The text of the tokens ``ids``.

        Ids that came from :meth:`encode` give back the text exactly. Other id
        sequences may cut a character's UTF-8 bytes apart: ``errors`` says what
        to do then, as in ``bytes.decode`` (``"replace"`` puts in U+FFFD).
        """
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    def token_text(self, i: int) -> str:
        """A readable form of token ``i``: its text, with a space shown as ``␣``,
        control characters escaped, and bytes that are not whole UTF-8 characters
        written as ``\\xNN``."""
        if not (is_integer(i) and 0 <= i < self.vocab_size):
            raise ValueError(f"ByteBPE.token_text: i must be an int in [0, {self.vocab_size}), got {i!r}")
        text = self.vocab[i].decode("utf-8", errors="backslashreplace")
        return "".join(
            "␣" if ch == " " else ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
            for ch in text
        )

    def tokens(self, text: str) -> list[str]:
        """``text`` as the readable forms of its tokens (see :meth:`token_text`)."""
        return [self.token_text(i) for i in self.encode(text)]

    def __repr__(self) -> str:
        return f"ByteBPE(vocab_size={self.vocab_size})"


__all__ = ["ByteBPE", "SPLIT_PATTERN", "split_chunks"]
