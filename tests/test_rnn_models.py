"""Chapter 6's models: the character LSTM language model, the two GRU conventions, the corrected L07 classifier."""
import math

import numpy as np
import pytest
import torch

from book.models.rnn import CharLSTM, gru_forward, keras_sequence_classifier, mean_nats, next_token_loss


def test_char_lstm_shapes_and_initial_loss():
    model = CharLSTM(11, embed_dim=4, hidden_size=8, seed=0)
    x = torch.randint(0, 11, (3, 5), generator=torch.Generator().manual_seed(0))
    logits, (h, c) = model(x)
    assert logits.shape == (3, 5, 11) and h.shape == c.shape == (1, 3, 8)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    # equal logits: a uniform guess over 11 characters costs ln 11
    assert next_token_loss(model(x)[0], x).item() == pytest.approx(math.log(11), rel=1e-6)
    assert mean_nats(model, x, x, batch_size=2) == pytest.approx(math.log(11), rel=1e-6)
    with pytest.raises(ValueError, match="integer ids of shape"):
        model(x.float())
    with pytest.raises(ValueError, match=r"logits \(N, T, V\)"):
        next_token_loss(logits, x[:, :4])


def test_char_lstm_learns_a_pattern_and_generates_it():
    ids = torch.tensor([[0, 1, 2, 3] * 4])
    x, y = ids[:, :-1], ids[:, 1:]
    model = CharLSTM(4, embed_dim=4, hidden_size=16, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: extra threads only wait for each other on a busy machine
    try:
        for _ in range(30):
            optimizer.zero_grad()
            loss = next_token_loss(model(x)[0], y)
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    assert loss.item() < 0.05
    assert model.generate([0, 1], 6, temperature=0) == [2, 3, 0, 1, 2, 3]
    assert model.training  # generate restores the mode


def test_generate_is_repeatable_and_checks_its_prompt():
    model = CharLSTM(7, hidden_size=8, seed=1)
    a = model.generate([1, 2], 20, temperature=1.5, generator=torch.Generator().manual_seed(3))
    b = model.generate([1, 2], 20, temperature=1.5, generator=torch.Generator().manual_seed(3))
    assert a == b and len(a) == 20 and all(0 <= i < 7 for i in a)
    for bad in ([], [7], [-1]):
        with pytest.raises(ValueError, match="prompt"):
            model.generate(bad, 3)


def _gru_params(seed=0, d=3, h=4):
    torch.manual_seed(seed)
    layer = torch.nn.GRU(d, h, batch_first=True, dtype=torch.float64)
    return layer, {k: v.detach().numpy() for k, v in layer.state_dict().items()}


def test_gru_reset_after_matches_torch_and_reset_before_differs():
    layer, params = _gru_params()
    x = np.random.default_rng(0).normal(size=(2, 6, 3))
    with torch.no_grad():
        expected = layer(torch.tensor(x))[0].numpy()
    after = gru_forward(x, params, reset_after=True)
    before = gru_forward(x, params, reset_after=False)
    assert np.abs(after - expected).max() < 1e-12
    assert np.abs(before - expected).max() > 1e-3


def test_gru_reset_before_matches_keras_reset_after_false():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    gru = keras.layers.GRU(4, return_sequences=True, reset_after=False, dtype="float64",
                           bias_initializer="random_normal")
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    expected = np.asarray(gru(x))
    kernel, recurrent, bias = gru.get_weights()           # gates z, r, h; one bias (3H,)

    def rzn(m):
        z, r, h = np.split(m, 3, axis=-1)
        return np.concatenate([r, z, h], axis=-1)

    params = {"weight_ih_l0": rzn(kernel).T, "weight_hh_l0": rzn(recurrent).T,
              "bias_ih_l0": rzn(bias), "bias_hh_l0": np.zeros(12)}
    assert np.abs(gru_forward(x, params, reset_after=False) - expected).max() < 1e-12


def test_gru_forward_checks_shapes():
    _, params = _gru_params()
    with pytest.raises(ValueError, match="gru_forward expects"):
        gru_forward(np.zeros((2, 6, 5)), params)


def test_keras_classifier_has_the_sources_size_and_a_probability_output():
    pytest.importorskip("keras")
    big = keras_sequence_classifier(units=256)
    assert big.count_params() == 2_225_353     # the source's configuration
    small = keras_sequence_classifier(vocab_size=50, seq_len=8, embed_dim=4, units=3, dense_units=5)
    p = np.asarray(small(np.random.default_rng(0).integers(0, 50, size=(6, 8))))
    assert p.shape == (6, 1) and np.all((p > 0) & (p < 1)) and p.std() > 0
    with pytest.raises(ValueError, match="units"):
        keras_sequence_classifier(units=0)
