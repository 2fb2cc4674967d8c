"""Skip-gram with negative sampling (word2vec), in NumPy with a hand-written gradient.

Each word ``w`` has two vectors: ``w_in[w]`` when it is the centre word and
``w_out[w]`` when it is a context word. For a centre ``c``, a true context
``o`` and ``K`` negative words ``n_1..n_K`` drawn from the noise distribution,
the loss is

    l = -log sigmoid(u_o . v_c) - sum_k log sigmoid(-u_{n_k} . v_c)

with ``v = w_in`` and ``u = w_out``; a batch's loss is the mean of ``l`` over
its pairs. The noise distribution is the unigram distribution raised to the
power 0.75, which gives rare words more weight than their frequency.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

from book.checks import non_negative_int, positive, positive_int, real


def _indices(values, name: str, vocab_size: int, owner: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{owner}: {name} must be an integer array, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"{owner}: {name} must hold word ids in [0, {vocab_size}), got values in [{arr.min()}, {arr.max()}]")
    return arr


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 1 / (1 + exp(-x)) without overflow for large negative x.
    return np.exp(-np.logaddexp(0.0, -x))


def sgns_loss(w_in: np.ndarray, w_out: np.ndarray, centers, contexts, negatives):
    """Mean skip-gram negative-sampling loss of a batch, and its gradient.

    ``w_in``, ``w_out``: (vocab_size, dim) float arrays; ``centers`` and
    ``contexts``: (B,) word ids; ``negatives``: (B, K) word ids.
    Returns ``(loss, d_w_in, d_w_out)``; the gradients have the shapes of the
    weights and are zero except in the rows the batch looked up (a word that
    appears several times gets the sum of its contributions).
    """
    owner = "sgns_loss"
    w_in, w_out = np.asarray(w_in), np.asarray(w_out)
    if w_in.ndim != 2 or w_in.shape != w_out.shape:
        raise ValueError(f"{owner}: w_in and w_out must both have shape (vocab_size, dim), got {w_in.shape} and {w_out.shape}")
    vocab_size = w_in.shape[0]
    centers = _indices(centers, "centers", vocab_size, owner)
    contexts = _indices(contexts, "contexts", vocab_size, owner)
    negatives = _indices(negatives, "negatives", vocab_size, owner)
    if centers.ndim != 1 or contexts.shape != centers.shape or negatives.ndim != 2 or negatives.shape[0] != centers.size:
        raise ValueError(
            f"{owner}: expects centers (B,), contexts (B,) and negatives (B, K), "
            f"got {centers.shape}, {contexts.shape} and {negatives.shape}"
        )
    batch = centers.size
    if batch == 0:
        raise ValueError(f"{owner}: the batch is empty")

    v = w_in[centers]                              # (B, d)
    u_pos = w_out[contexts]                        # (B, d)
    u_neg = w_out[negatives]                       # (B, K, d)
    s_pos = np.einsum("bd,bd->b", v, u_pos)        # (B,)
    s_neg = np.einsum("bd,bkd->bk", v, u_neg)      # (B, K)
    # -log sigmoid(s) = log(1 + exp(-s)), computed stably by logaddexp.
    loss = (np.logaddexp(0.0, -s_pos).sum() + np.logaddexp(0.0, s_neg).sum()) / batch

    # d loss / d s: sigmoid(s) - 1 for the true pair, sigmoid(s) for a negative.
    g_pos = (_sigmoid(s_pos) - 1.0) / batch        # (B,)
    g_neg = _sigmoid(s_neg) / batch                # (B, K)
    dv = g_pos[:, None] * u_pos + np.einsum("bk,bkd->bd", g_neg, u_neg)
    d_w_in = np.zeros_like(w_in, dtype=np.float64)
    d_w_out = np.zeros_like(w_out, dtype=np.float64)
    np.add.at(d_w_in, centers, dv)
    np.add.at(d_w_out, contexts, g_pos[:, None] * v)
    np.add.at(d_w_out, negatives, g_neg[:, :, None] * v[:, None, :])
    return float(loss), d_w_in, d_w_out


class NegativeSampler:
    """Draws negative words from the unigram distribution to the power ``power``.

    ``counts``: how often each word occurs (length vocab_size). ``probs`` is
    ``counts ** power / sum(counts ** power)``; a word that never occurs is
    never drawn.
    """

    def __init__(self, counts, power: float = 0.75, seed=None):
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or counts.size == 0 or not np.all(np.isfinite(counts)) or counts.min() < 0 or counts.sum() <= 0:
            raise ValueError(f"NegativeSampler: counts must be a non-empty 1-D array of non-negative numbers, not all zero, got {counts!r}")
        power = real(power, "power", 0.0, 1.0, owner="NegativeSampler")
        weights = np.where(counts > 0, counts ** power, 0.0)
        self.probs = weights / weights.sum()
        self._cdf = np.cumsum(self.probs)
        self._cdf[-1] = 1.0
        self.rng = np.random.default_rng(seed)

    def sample(self, shape) -> np.ndarray:
        """An int array of word ids of the given shape, drawn independently from ``probs``."""
        u = self.rng.random(shape)
        # The first word whose cumulative probability exceeds u (words with zero probability are skipped).
        return np.searchsorted(self._cdf, u, side="right").astype(np.int64)


def skipgram_pairs(sentences: Iterable, window: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, context) pairs at distance 1..``window`` inside each sentence.

    ``sentences``: a 2-D int array (one sentence per row) or an iterable of
    1-D int arrays of any lengths. Pairs never cross from one sentence to the next.
    """
    window = positive_int(window, "window", owner="skipgram_pairs")
    centers, contexts = [], []
    for s in sentences:
        s = np.asarray(s)
        if s.ndim != 1 or (s.size and s.dtype.kind not in "iu"):
            raise ValueError(f"skipgram_pairs: each sentence must be a 1-D int array, got shape {s.shape} and dtype {s.dtype}")
        for o in range(1, min(window, s.size - 1) + 1):
            centers += [s[:-o], s[o:]]
            contexts += [s[o:], s[:-o]]
    if not centers:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(centers).astype(np.int64), np.concatenate(contexts).astype(np.int64)


@dataclass
class SkipGram:
    """Trained skip-gram vectors: ``w_in`` (the word embeddings) and ``w_out``,
    with the mean training loss of each epoch in ``losses``."""

    w_in: np.ndarray
    w_out: np.ndarray
    losses: list[float] = field(default_factory=list)

    def most_similar(self, word: int, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` words whose ``w_in`` vectors have the largest cosine similarity with ``word``'s."""
        word = non_negative_int(word, "word", owner="SkipGram.most_similar")
        k = positive_int(k, "k", owner="SkipGram.most_similar")
        if word >= len(self.w_in):
            raise ValueError(f"SkipGram.most_similar: word must be below {len(self.w_in)}, got {word}")
        sims = cosine_similarities(self.w_in)[word]
        order = [i for i in np.argsort(-sims, kind="stable") if i != word][:k]
        return [(int(i), float(sims[i])) for i in order]


def train_skipgram(
    sentences,
    vocab_size: int,
    dim: int = 16,
    window: int = 2,
    negatives: int = 5,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 2.0,
    seed=0,
) -> SkipGram:
    """Train skip-gram with negative sampling by mini-batch SGD on :func:`sgns_loss`.

    ``w_in`` starts uniform in ``(-0.5/dim, 0.5/dim)`` and ``w_out`` at zero, as in
    the original word2vec code. Negatives come from :class:`NegativeSampler`
    on the corpus's word counts. ``lr`` multiplies the gradient of the batch's
    *mean* loss, so a pair's own step is ``lr / batch_size``.
    """
    owner = "train_skipgram"
    vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
    dim = positive_int(dim, "dim", owner=owner)
    k = positive_int(negatives, "negatives", owner=owner)
    epochs = non_negative_int(epochs, "epochs", owner=owner)
    batch_size = positive_int(batch_size, "batch_size", owner=owner)
    lr = positive(lr, "lr", owner=owner)
    sentences = list(sentences)
    centers, contexts = skipgram_pairs(sentences, window)
    if centers.size == 0:
        raise ValueError(f"{owner}: the sentences hold no pair of words within the window")
    _indices(centers, "sentences", vocab_size, owner)
    counts = np.bincount(np.concatenate([np.asarray(s).ravel() for s in sentences]).astype(np.int64), minlength=vocab_size)

    rng = np.random.default_rng(seed)
    sampler = NegativeSampler(counts, seed=rng.integers(2**63))
    w_in = rng.uniform(-0.5 / dim, 0.5 / dim, size=(vocab_size, dim))
    w_out = np.zeros((vocab_size, dim))
    model = SkipGram(w_in, w_out)
    for _ in range(epochs):
        order = rng.permutation(centers.size)
        total = 0.0
        for start in range(0, order.size, batch_size):
            idx = order[start:start + batch_size]
            neg = sampler.sample((idx.size, k))
            loss, d_in, d_out = sgns_loss(w_in, w_out, centers[idx], contexts[idx], neg)
            w_in -= lr * d_in
            w_out -= lr * d_out
            total += loss * idx.size
        model.losses.append(total / centers.size)
    return model


def cosine_similarities(vectors: np.ndarray) -> np.ndarray:
    """The (n, n) matrix of cosine similarities between the rows of ``vectors`` (a zero row gives 0)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"cosine_similarities expects an (n, dim) array, got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    return unit @ unit.T


def cluster_similarity(vectors: np.ndarray, clusters) -> tuple[float, float]:
    """Mean cosine similarity over pairs of distinct words in the same cluster,
    and over pairs in different clusters: ``(within, between)``."""
    clusters = np.asarray(clusters)
    sims = cosine_similarities(vectors)
    if clusters.shape != (sims.shape[0],):
        raise ValueError(f"cluster_similarity expects one cluster per row, shape ({sims.shape[0]},), got {clusters.shape}")
    same = clusters[:, None] == clusters[None, :]
    off_diagonal = ~np.eye(len(clusters), dtype=bool)
    within, between = same & off_diagonal, ~same
    if not within.any() or not between.any():
        raise ValueError("cluster_similarity needs at least two clusters and a cluster with two words")
    return float(sims[within].mean()), float(sims[between].mean())


__all__ = [
    "NegativeSampler",
    "SkipGram",
    "cluster_similarity",
    "cosine_similarities",
    "sgns_loss",
    "skipgram_pairs",
    "train_skipgram",
]
