"""Tests of book.models.sampling: greedy decoding, temperature, top-k, top-p and repeatable draws."""
import math

import numpy as np
import pytest
import torch
from scipy.stats import chi2

from book.models.sampling import filter_logits, sample_next

# A hand-made distribution, its tokens shuffled so that the order of the vocabulary is not the order of probability.
PROBS = torch.tensor([0.15, 0.05, 0.5, 0.1, 0.2], dtype=torch.float64)
LOGITS = PROBS.log()


def kept(logits, **filters) -> set[int]:
    return set(torch.isfinite(filter_logits(logits, **filters)).nonzero().flatten().tolist())


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_greedy_is_argmax_for_one_row_and_many():
    logits = torch.randn(7, 11, generator=gen(0))
    assert torch.equal(sample_next(logits, temperature=0), logits.argmax(-1))
    assert torch.equal(sample_next(logits[3], temperature=0.0, top_p=0.3), logits[3].argmax())
    # Greedy draws nothing: the generator is left where it was.
    g = gen(1)
    state = g.get_state()
    sample_next(logits, temperature=0, generator=g)
    assert torch.equal(g.get_state(), state)


def test_top_k_one_is_greedy_even_with_ties():
    logits = torch.randn(200, 9, generator=gen(2))
    logits[:50, 4] = logits[:50, 2] = logits[:50].amax(-1) + 1.0  # two equal maxima in the first 50 rows
    for temperature in (0.5, 1.0, 3.0):
        tokens = sample_next(logits, temperature=temperature, top_k=1, generator=gen(3))
        assert torch.equal(tokens, logits.argmax(-1))
    assert (logits.argmax(-1)[:50] == 2).all()  # argmax breaks the tie towards the lower index, and so does top_k


def test_filtered_sets_on_a_hand_made_distribution():
    # Probabilities by token: 2 -> 0.5, 4 -> 0.2, 0 -> 0.15, 3 -> 0.1, 1 -> 0.05.
    assert kept(LOGITS) == {0, 1, 2, 3, 4}
    assert kept(LOGITS, top_k=2) == {2, 4}
    assert kept(LOGITS, top_k=99) == {0, 1, 2, 3, 4}
    assert kept(LOGITS, top_p=0.45) == {2}  # the most likely token alone already reaches p
    assert kept(LOGITS, top_p=0.55) == {2, 4}  # 0.5 < 0.55, 0.5 + 0.2 reaches it
    assert kept(LOGITS, top_p=0.9) == {0, 2, 3, 4}  # 0.95 with the 4th token; 0.85 without
    assert kept(LOGITS, top_p=1.0) == {0, 1, 2, 3, 4}
    assert kept(LOGITS, top_p=1e-9) == {2}  # never empty
    # k first, then p on the renormalised survivors: 0.5 / 0.85 + 0.2 / 0.85 = 0.82 reaches 0.8,
    # whereas p alone needs the third token (0.5 + 0.2 = 0.7 < 0.8).
    assert kept(LOGITS, top_p=0.8) == {0, 2, 4}
    assert kept(LOGITS, top_k=3, top_p=0.8) == {2, 4}


def test_filter_keeps_values_and_works_row_by_row():
    logits = torch.stack([LOGITS, LOGITS.flip(0), torch.zeros(5, dtype=torch.float64)])
    out = filter_logits(logits, top_k=2)
    finite = torch.isfinite(out)
    assert torch.equal(out[finite], logits[finite])
    assert (out[~finite] == -math.inf).all()
    assert [set(r.nonzero().flatten().tolist()) for r in finite] == [{2, 4}, {0, 2}, {0, 1}]
    assert filter_logits(LOGITS) is not LOGITS and torch.equal(filter_logits(LOGITS), LOGITS)
    assert torch.equal(filter_logits(logits.reshape(3, 1, 5), top_p=0.55).reshape(3, 5), filter_logits(logits, top_p=0.55))


@pytest.mark.parametrize("temperature, top_k, top_p", [(1.0, None, None), (0.7, 6, 0.9), (1.5, None, 0.8), (1.0, 3, None)])
def test_frequencies_match_the_renormalised_kept_distribution(temperature, top_k, top_p):
    logits = torch.randn(8, generator=gen(4)) * 1.5
    expected = torch.softmax(filter_logits(logits / temperature, top_k=top_k, top_p=top_p), -1).double().numpy()
    n = 40_000
    tokens = sample_next(logits.expand(n, 8), temperature=temperature, top_k=top_k, top_p=top_p, generator=gen(5))
    counts = np.bincount(tokens.numpy(), minlength=8)
    assert counts[expected == 0].sum() == 0  # nothing removed is ever drawn
    on = expected > 0
    statistic = (((counts[on] - n * expected[on]) ** 2) / (n * expected[on])).sum()
    assert statistic < chi2.ppf(0.999, df=on.sum() - 1)


def test_same_seed_same_draws():
    logits = torch.randn(64, 20, generator=gen(6))
    a = sample_next(logits, temperature=1.2, top_k=10, top_p=0.9, generator=gen(7))
    b = sample_next(logits, temperature=1.2, top_k=10, top_p=0.9, generator=gen(7))
    c = sample_next(logits, temperature=1.2, top_k=10, top_p=0.9, generator=gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_shapes_and_dtype():
    g = gen(9)
    for shape in [(5,), (4, 5), (2, 3, 5)]:
        logits = torch.randn(shape, generator=g)
        for temperature in (0.0, 1.0):
            tokens = sample_next(logits, temperature=temperature, generator=g)
            assert tokens.shape == shape[:-1] and tokens.dtype == torch.long
            assert ((tokens >= 0) & (tokens < 5)).all()
    # Half precision and a tiny temperature do not overflow into NaN: it behaves as greedy decoding.
    logits = torch.tensor([0.0, 60000.0, -60000.0], dtype=torch.float16)
    assert sample_next(logits, temperature=1e-30, generator=g).item() == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=-0.1), "temperature must be a non-negative number"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(top_k=0), "top_k must be a positive int"),
        (dict(top_k=2.0), "top_k must be a positive int"),
        (dict(top_k=True), "top_k must be a positive int"),
        (dict(top_p=0.0), r"top_p must be a number in \(0, 1\]"),
        (dict(top_p=1.5), r"top_p must be a number in \(0, 1\]"),
        (dict(generator=0), "generator must be a torch.Generator"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_next(torch.zeros(4), **kwargs)


def test_bad_logits():
    for bad in (np.zeros(4), torch.tensor(1.0), torch.zeros(3, 0)):
        with pytest.raises(ValueError, match=r"logits must be a torch tensor of shape \(\.\.\., vocab_size\)"):
            sample_next(bad)
    with pytest.raises(ValueError, match="floating point"):
        filter_logits(torch.arange(4), top_k=2)
    with pytest.raises(ValueError, match="top_p"):
        filter_logits(torch.zeros(4), top_p=-1)
