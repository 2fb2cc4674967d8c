"""book.training.lm: a short language-model training run and its validation loss."""
import pytest
import torch

from book.data.text import CharVocab, load_corpus, next_token_windows, split_text
from book.models.gpt import GPT, GPTConfig
from book.training.lm import train_lm, validation_loss

torch.set_num_threads(1)


def _data():
    text = load_corpus()[:30_000]
    vocab = CharVocab(text)
    train, val = split_text(vocab.encode(text), 0.1)
    x, y = (torch.from_numpy(a) for a in next_token_windows(train, 16))
    xv, yv = (torch.from_numpy(a) for a in next_token_windows(val, 16))
    return vocab, x, y, xv, yv


def test_training_lowers_the_validation_loss_and_is_seeded():
    vocab, x, y, xv, yv = _data()
    losses, vals = [], []
    for _ in range(2):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=16))
        before = validation_loss(model, xv, yv)
        losses.append(train_lm(model, x, y, steps=40, batch_size=8, lr=1e-2, warmup=5, seed=3))
        vals.append(validation_loss(model, xv, yv))
    assert losses[0] == losses[1] and vals[0] == vals[1]
    assert len(losses[0]) == 40 and not model.training
    assert vals[0] < before - 0.5


def test_validation_loss_is_the_mean_over_all_windows():
    vocab, x, y, xv, yv = _data()
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    with torch.no_grad():
        full = float(model.eval()(xv, yv).loss)
    assert validation_loss(model, xv, yv, batch_size=7) == pytest.approx(full, rel=1e-5)


def test_bad_arguments():
    vocab, x, y, xv, yv = _data()
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(ValueError, match="same shape"):
        train_lm(model, x, y[:, :5], steps=2)
    with pytest.raises(ValueError, match="warmup"):
        train_lm(model, x, y, steps=2, warmup=2)
