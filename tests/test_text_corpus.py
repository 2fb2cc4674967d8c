"""The offline corpus, the character vocabulary, the splits and the unigram baseline."""
import math

import numpy as np
import pytest

from book.data.text import (CharVocab, load_corpus, make_polarity_sequences, next_token_windows, split_text,
                            unigram_nats)


def test_corpus_is_long_english_text_in_sorted_key_order():
    from pydoc_data.topics import topics

    text = load_corpus()
    assert len(text) > 300_000
    first = sorted(topics)[0]
    assert text.startswith(topics[first])
    assert text.count(" the ") > 1000


def test_vocab_round_trip_and_errors():
    vocab = CharVocab("hello world")
    assert vocab.size == len(vocab) == 8 and vocab.chars[0] == " "
    ids = vocab.encode("low hole")
    assert ids.dtype == np.int64 and vocab.decode(ids) == "low hole"
    with pytest.raises(ValueError, match="'z' is not in the vocabulary"):
        vocab.encode("zoo")
    with pytest.raises(ValueError, match="ids in"):
        vocab.decode([0, 8])
    with pytest.raises(ValueError, match="non-empty str"):
        CharVocab("")


def test_split_is_contiguous():
    train, val = split_text("abcdefghij", val_fraction=0.2)
    assert (train, val) == ("abcdefgh", "ij")
    ids_train, ids_val = split_text(np.arange(10), 0.3)
    assert ids_train.tolist() == list(range(7)) and ids_val.tolist() == [7, 8, 9]
    for bad in (0.0, 1.0, True):
        with pytest.raises(ValueError, match="val_fraction"):
            split_text("abc", bad)


def test_windows_are_shifted_by_one():
    x, y = next_token_windows(np.arange(11), seq_len=3)
    assert x.tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert y.tolist() == [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    x, _ = next_token_windows(np.arange(6), seq_len=3, stride=1)
    assert x.shape == (3, 3)
    with pytest.raises(ValueError, match="at least seq_len"):
        next_token_windows(np.arange(3), seq_len=3)
    with pytest.raises(ValueError, match="1-D integer"):
        next_token_windows(np.zeros(10), seq_len=3)


def test_unigram_baseline_by_hand():
    # train counts (2, 1, 0) + 1 = (3, 2, 1) over 6; val = [0, 2]
    expected = -(math.log(3 / 6) + math.log(1 / 6)) / 2
    assert unigram_nats(np.array([0, 0, 1]), np.array([0, 2]), 3) == pytest.approx(expected, rel=1e-12)
    # a uniform guess over V tokens costs ln V when the training counts are equal
    assert unigram_nats(np.arange(4), np.arange(4), 4) == pytest.approx(math.log(4), rel=1e-12)
    with pytest.raises(ValueError, match="ids in"):
        unigram_nats(np.array([0, 5]), np.array([0]), 3)


def test_polarity_sequences_plant_the_label():
    x, y = make_polarity_sequences(n=200, length=30, vocab_size=100, seed=1)
    assert x.shape == (200, 30) and set(np.unique(y)) == {0, 1}
    positive = ((x >= 2) & (x < 12)).sum(axis=1)
    negative = ((x >= 12) & (x < 22)).sum(axis=1)
    assert np.all(positive + negative == 4) and np.all(x >= 2)
    assert np.array_equal(y, (positive > negative).astype(int))
    with pytest.raises(ValueError, match="minority < majority"):
        make_polarity_sequences(n=5, majority=2, minority=2)
