"""A synthetic corpus whose words fall into known clusters (topics).

The generative model: each sentence picks one topic at random; each of its
words is, with probability ``1 - noise``, a word of that topic (drawn with
Zipf-like frequencies, so some words are common and others rare), and
otherwise any word of the vocabulary, uniformly. Words of one topic therefore
share their contexts and words of different topics do not, which is exactly
what skip-gram embeddings should discover: the known clusters are the truth
the embeddings are judged against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from book.checks import non_negative, positive_int, real

THEMES = {
    "animals": ["cat", "dog", "horse", "cow", "sheep", "goat", "mouse", "lion"],
    "colours": ["red", "green", "blue", "yellow", "black", "white", "purple", "orange"],
    "numbers": ["one", "two", "three", "four", "five", "six", "seven", "eight"],
    "fruit": ["apple", "pear", "plum", "cherry", "grape", "lemon", "mango", "peach"],
    "motion": ["run", "jump", "swim", "walk", "climb", "throw", "catch", "kick"],
    "places": ["city", "river", "mountain", "forest", "desert", "island", "village", "beach"],
}


@dataclass
class ClusteredCorpus:
    """Sentences of word ids with the true cluster of every word.

    ``sentences``: int array (n_sentences, length); ``clusters``: int array
    (vocab_size,), the topic of each word id; ``words``: a name per word id;
    ``topics``: a name per cluster.
    """

    sentences: np.ndarray
    clusters: np.ndarray
    words: list[str]
    topics: list[str]

    @property
    def vocab_size(self) -> int:
        return len(self.words)

    def counts(self) -> np.ndarray:
        """How often each word id occurs in the corpus (length ``vocab_size``)."""
        return np.bincount(self.sentences.ravel(), minlength=self.vocab_size)

    def text(self, i: int) -> str:
        """Sentence ``i`` written out in words."""
        return " ".join(self.words[w] for w in self.sentences[i])


def make_clustered_corpus(
    n_clusters: int = 4,
    words_per_cluster: int = 8,
    n_sentences: int = 1000,
    length: int = 8,
    noise: float = 0.1,
    zipf: float = 1.0,
    seed=0,
) -> ClusteredCorpus:
    """Generate a :class:`ClusteredCorpus` (word ``c * words_per_cluster + r`` is
    the ``r``-th most frequent word of cluster ``c``).

    ``noise`` in [0, 1] is the chance that a word ignores its sentence's topic;
    within a topic, word ``r`` has probability proportional to ``1 / (r + 1) **
    zipf``. Words get readable names (``cat``, ``red``, ...) when there are at
    most 6 clusters of at most 8 words, and ``c{cluster}w{rank}`` otherwise.
    """
    owner = "make_clustered_corpus"
    n_clusters = positive_int(n_clusters, "n_clusters", owner=owner)
    words_per_cluster = positive_int(words_per_cluster, "words_per_cluster", owner=owner)
    n_sentences = positive_int(n_sentences, "n_sentences", owner=owner)
    length = positive_int(length, "length", owner=owner)
    noise = real(noise, "noise", 0.0, 1.0, owner=owner)
    zipf = non_negative(zipf, "zipf", owner=owner)
    rng = np.random.default_rng(seed)

    vocab_size = n_clusters * words_per_cluster
    within = 1.0 / np.arange(1, words_per_cluster + 1) ** zipf
    within /= within.sum()
    topic = rng.integers(0, n_clusters, size=(n_sentences, 1))
    rank = rng.choice(words_per_cluster, size=(n_sentences, length), p=within)
    on_topic = topic * words_per_cluster + rank
    off_topic = rng.integers(0, vocab_size, size=(n_sentences, length))
    sentences = np.where(rng.random((n_sentences, length)) < noise, off_topic, on_topic)

    themes = list(THEMES)
    if n_clusters <= len(themes) and words_per_cluster <= 8:
        topics = themes[:n_clusters]
        words = [THEMES[t][r] for t in topics for r in range(words_per_cluster)]
    else:
        topics = [f"topic{c}" for c in range(n_clusters)]
        words = [f"c{c}w{r}" for c in range(n_clusters) for r in range(words_per_cluster)]
    clusters = np.repeat(np.arange(n_clusters), words_per_cluster)
    return ClusteredCorpus(sentences=sentences.astype(np.int64), clusters=clusters, words=words, topics=topics)


__all__ = ["THEMES", "ClusteredCorpus", "make_clustered_corpus"]
