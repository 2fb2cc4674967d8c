"""book.training.lm: a short language-model training run and its validation loss."""
import pytest
import torch

from book.models.gpt import GPT, GPTConfig
from book.training.lm import train_lm, validation_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture
def data(char_windows):
    return char_windows(30_000, 16)


def test_training_lowers_the_validation_loss_and_is_seeded(data):
    vocab, x, y, xv, yv = data
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


def test_validation_loss_is_the_mean_over_all_windows(data):
    vocab, x, y, xv, yv = data
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    with torch.no_grad():
        full = float(model.eval()(xv, yv).loss)
    assert validation_loss(model, xv, yv, batch_size=7) == pytest.approx(full, rel=1e-5)


def test_bad_arguments(data):
    vocab, x, y, xv, yv = data
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(ValueError, match="same shape"):
        train_lm(model, x, y[:, :5], steps=2)
    with pytest.raises(ValueError, match="warmup"):
        train_lm(model, x, y, steps=2, warmup=2)


def test_lstm_path_clip_floor_and_threads(data):
    from book.models.rnn import CharLSTM, mean_nats

    vocab, x, y, xv, yv = data
    threads = torch.get_num_threads()
    runs = []
    for _ in range(2):
        model = CharLSTM(vocab.size, embed_dim=8, hidden_size=32, seed=0)
        before = mean_nats(model, xv, yv)
        runs.append(train_lm(model, x, y, steps=40, batch_size=8, lr=2e-2, warmup=4, seed=1, clip=1.0,
                             final_lr_fraction=0.1, threads=1))
    assert runs[0] == runs[1] and len(runs[0]) == 40
    assert torch.get_num_threads() == threads
    assert mean_nats(model, xv, yv) < before - 0.5


def test_max_seconds_stops_early(data):
    vocab, x, y, xv, yv = data
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    losses = train_lm(model, x, y, steps=10_000, batch_size=4, warmup=0, max_seconds=0.2)
    assert 1 <= len(losses) < 10_000


def test_bad_new_arguments(data):
    vocab, x, y, xv, yv = data
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=16, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(ValueError, match="final_lr_fraction"):
        train_lm(model, x, y, steps=2, warmup=0, final_lr_fraction=1.5)
    with pytest.raises(ValueError, match="clip"):
        train_lm(model, x, y, steps=2, warmup=0, clip=0)


def test_scaled_error():
    import numpy as np

    from book.gradcheck import rel_error, scaled_error

    ref = np.array([1.0, 0.0, -2.0])
    ours = ref + np.array([0.0, 1e-17, 2e-16])
    assert scaled_error(ours, ref) == pytest.approx(1e-16)
    assert rel_error(ours, ref) > 1e6 * scaled_error(ours, ref)   # the zero entry: round-off against the floor
    with pytest.raises(ValueError, match="equal shapes"):
        scaled_error(ref, ref[:2])


def test_lstm_path_loss_is_next_token_loss(data):
    """The first recorded loss of a model without ``targets`` is next_token_loss of its first batch."""
    from book.models.rnn import CharLSTM, next_token_loss

    vocab, x, y, xv, yv = data
    model = CharLSTM(vocab.size, embed_dim=8, hidden_size=16, seed=0)
    rows = torch.randint(len(x), (8,), generator=torch.Generator().manual_seed(5))   # train_lm's first draw
    with torch.no_grad():
        expected = float(next_token_loss(model.train()(x[rows])[0], y[rows]))
    losses = train_lm(model, x, y, steps=2, batch_size=8, warmup=0, seed=5)
    assert losses[0] == pytest.approx(expected, rel=1e-6)
