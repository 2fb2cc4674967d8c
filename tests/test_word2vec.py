"""Skip-gram with negative sampling: the hand-written gradient against torch
autograd and finite differences, the noise sampler, the pairs, the clustered
corpus, and training that recovers the known clusters."""
import numpy as np
import pytest
import torch

from book.data.clustered_corpus import make_clustered_corpus
from book.gradcheck import numerical_gradient, rel_error
from book.models.word2vec import (NegativeSampler, cluster_similarity, cosine_similarities, sgns_loss,
                                  skipgram_pairs, train_skipgram)

TOL = 1e-7


def batch(seed=0, vocab=6, dim=4, size=5, k=4):
    """A small batch on a small vocabulary, so ids repeat across centres, contexts and negatives."""
    rng = np.random.default_rng(seed)
    w_in = rng.normal(scale=0.7, size=(vocab, dim))
    w_out = rng.normal(scale=0.7, size=(vocab, dim))
    centers = rng.integers(0, vocab, size=size)
    contexts = rng.integers(0, vocab, size=size)
    negatives = rng.integers(0, vocab, size=(size, k))
    return w_in, w_out, centers, contexts, negatives


def torch_sgns(w_in, w_out, centers, contexts, negatives):
    """The same loss written with torch ops, for autograd."""
    F = torch.nn.functional
    w_in = torch.tensor(w_in, dtype=torch.float64, requires_grad=True)
    w_out = torch.tensor(w_out, dtype=torch.float64, requires_grad=True)
    c, o, n = (torch.tensor(a) for a in (centers, contexts, negatives))
    v = w_in[c]
    s_pos = (v * w_out[o]).sum(-1)
    s_neg = torch.einsum("bd,bkd->bk", v, w_out[n])
    loss = -(F.logsigmoid(s_pos) + F.logsigmoid(-s_neg).sum(-1)).mean()
    loss.backward()
    return loss.item(), w_in.grad.numpy(), w_out.grad.numpy()


@pytest.mark.parametrize("seed", range(3))
def test_sgns_matches_torch_autograd(seed):
    args = batch(seed)
    loss, d_in, d_out = sgns_loss(*args)
    t_loss, t_in, t_out = torch_sgns(*args)
    assert rel_error(loss, t_loss) < TOL
    assert rel_error(d_in, t_in) < TOL
    assert rel_error(d_out, t_out) < TOL


@pytest.mark.parametrize("seed", range(3))
def test_sgns_matches_finite_differences(seed):
    w_in, w_out, c, o, n = batch(seed)
    _, d_in, d_out = sgns_loss(w_in, w_out, c, o, n)
    num_in = numerical_gradient(lambda w: sgns_loss(w, w_out, c, o, n)[0], w_in)
    num_out = numerical_gradient(lambda w: sgns_loss(w_in, w, c, o, n)[0], w_out)
    # Relative to the gradient's size (rows never looked up are exactly zero in both).
    for ours, num in ((d_in, num_in), (d_out, num_out)):
        assert np.linalg.norm(ours - num) / np.linalg.norm(ours) < TOL
        assert np.array_equal(ours == 0, np.abs(num) < 1e-12)


def test_sgns_at_zero_weights_is_one_plus_k_log_two():
    # All scores are 0, sigmoid(0) = 1/2, so each pair costs (1 + K) log 2.
    _, _, c, o, n = batch(k=3)
    loss, d_in, d_out = sgns_loss(np.zeros((6, 4)), np.zeros((6, 4)), c, o, n)
    assert abs(loss - 4 * np.log(2)) < 1e-15
    assert not d_in.any() and not d_out.any()


def test_sgns_touches_only_the_rows_looked_up():
    w_in, w_out, _, _, _ = batch(vocab=10)
    c, o, n = np.array([1, 1]), np.array([2, 3]), np.array([[4, 4], [2, 5]])
    _, d_in, d_out = sgns_loss(w_in, w_out, c, o, n)
    assert set(np.flatnonzero(np.abs(d_in).sum(1))) == {1}
    assert set(np.flatnonzero(np.abs(d_out).sum(1))) == {2, 3, 4, 5}


def test_sgns_is_stable_for_large_scores():
    w_in, w_out, c, o, n = batch()
    loss, d_in, d_out = sgns_loss(300 * w_in, 300 * w_out, c, o, n)
    assert np.isfinite(loss) and np.isfinite(d_in).all() and np.isfinite(d_out).all()


@pytest.mark.parametrize("call, match", [
    (lambda a: sgns_loss(a[0], a[1][:, :3], *a[2:]), r"shape \(vocab_size, dim\)"),
    (lambda a: sgns_loss(a[0], a[1], a[2], a[3][:4], a[4]), r"centers \(B,\), contexts \(B,\) and negatives \(B, K\)"),
    (lambda a: sgns_loss(a[0], a[1], a[2], a[3], a[4][:, 0]), r"negatives \(B, K\)"),
    (lambda a: sgns_loss(a[0], a[1], a[2] * 1.0, a[3], a[4]), "centers must be an integer array"),
    (lambda a: sgns_loss(a[0], a[1], a[2], a[3] + 6, a[4]), r"contexts must hold word ids in \[0, 6\)"),
    (lambda a: sgns_loss(a[0], a[1], a[2][:0], a[3][:0], a[4][:0]), "empty"),
])
def test_sgns_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(batch())


def test_negative_sampler_draws_unigram_to_the_three_quarters():
    counts = np.array([100, 10, 0, 1, 50])
    sampler = NegativeSampler(counts, seed=0)
    expected = np.array([100, 10, 0, 1, 50]) ** 0.75 * (counts > 0)
    assert np.allclose(sampler.probs, expected / expected.sum(), rtol=1e-12)
    draws = sampler.sample((200_000,))
    freq = np.bincount(draws, minlength=5) / draws.size
    assert freq[2] == 0  # a word never seen is never a negative
    assert np.abs(freq - sampler.probs).max() < 0.005  # 3 standard errors is below 0.004
    assert sampler.sample((3, 4)).shape == (3, 4)
    assert np.allclose(NegativeSampler(counts, power=0).probs, (counts > 0) / 4)


@pytest.mark.parametrize("counts", [[], [0, 0], [1, -1], [[1, 2]], [1, np.nan]])
def test_negative_sampler_refuses_bad_counts(counts):
    with pytest.raises(ValueError, match="counts"):
        NegativeSampler(counts)


def test_skipgram_pairs_stay_inside_sentences():
    c, o = skipgram_pairs([np.array([0, 1, 2]), np.array([3, 4]), np.array([5])], window=2)
    assert sorted(zip(c.tolist(), o.tolist())) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (3, 4), (4, 3)]
    c1, o1 = skipgram_pairs(np.array([[0, 1, 2], [3, 4, 5]]), window=1)
    assert sorted(zip(c1.tolist(), o1.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3), (4, 5), (5, 4)]
    with pytest.raises(ValueError, match="window must be a positive int"):
        skipgram_pairs([np.array([0, 1])], window=0)
    with pytest.raises(ValueError, match="1-D int array"):
        skipgram_pairs([np.array([0.5, 1.0])])


def test_clustered_corpus_follows_its_generative_model():
    corpus = make_clustered_corpus(n_clusters=4, words_per_cluster=8, n_sentences=3000, length=8, noise=0.2, seed=1)
    assert corpus.sentences.shape == (3000, 8) and corpus.vocab_size == 32
    assert corpus.clusters.tolist() == [c for c in range(4) for _ in range(8)]
    assert corpus.words[:2] == ["cat", "dog"] and corpus.topics[1] == "colours"
    # A word shares its sentence's majority cluster with probability (1 - noise) + noise / n_clusters.
    clusters = corpus.clusters[corpus.sentences]
    majority = np.array([np.bincount(row, minlength=4).argmax() for row in clusters])
    on_topic = (clusters == majority[:, None]).mean()
    assert abs(on_topic - 0.85) < 0.02
    counts = corpus.counts()
    assert counts.sum() == 3000 * 8 and counts[0] > 2 * counts[7]  # Zipf: rank 0 beats rank 7
    again = make_clustered_corpus(n_clusters=4, words_per_cluster=8, n_sentences=3000, length=8, noise=0.2, seed=1)
    assert np.array_equal(again.sentences, corpus.sentences)
    assert make_clustered_corpus(n_clusters=7, n_sentences=2).words[-1] == "c6w7"
    assert corpus.text(0).count(" ") == 7


@pytest.mark.parametrize("kwargs", [{"n_clusters": 0}, {"noise": 1.5}, {"zipf": -1}, {"length": True}])
def test_clustered_corpus_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        make_clustered_corpus(**kwargs)


# Calibration (default corpus: 4 clusters of 8 words, 1,000 sentences of 8 words, noise 0.1;
# dim 16, window 2, 5 negatives, 2 epochs, lr 2): within - between over seeds 0..4 was
# 0.566, 0.612, 0.593, 0.583, 0.601 (within ~0.99, between ~0.40); untrained vectors give ~0.
GAP = 0.2


@pytest.mark.parametrize("seed", range(5))
def test_training_recovers_the_clusters(seed):
    corpus = make_clustered_corpus(seed=seed)
    before = cluster_similarity(np.random.default_rng(seed).uniform(-1, 1, (32, 16)), corpus.clusters)
    model = train_skipgram(corpus.sentences, corpus.vocab_size, epochs=2, seed=seed)
    within, between = cluster_similarity(model.w_in, corpus.clusters)
    assert abs(before[0] - before[1]) < 0.1
    assert within - between >= GAP, (within, between)
    assert model.losses[-1] < model.losses[0] < 6 * np.log(2)  # 6 log 2: the loss at w_out = 0
    # Nearest neighbours of the most frequent word of each cluster are its own cluster's words.
    for c in range(4):
        neighbours = [w for w, _ in model.most_similar(8 * c, k=5)]
        assert (corpus.clusters[neighbours] == c).all(), (c, neighbours)


def test_cosine_and_cluster_similarity():
    v = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0], [0.0, 0.0]])
    assert np.allclose(cosine_similarities(v), [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    assert cluster_similarity(v[:3], [0, 0, 1]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="one cluster per row"):
        cluster_similarity(v, [0, 1])


@pytest.mark.parametrize("kwargs, match", [
    ({"dim": 0}, "dim"), ({"lr": 0.0}, "lr"), ({"negatives": True}, "negatives"),
    ({"vocab_size": 3}, r"sentences must hold word ids in \[0, 3\)"),
])
def test_train_skipgram_bad_arguments(kwargs, match):
    args = {"sentences": np.array([[0, 1, 2, 3]]), "vocab_size": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        train_skipgram(**args)
