"""Keras LSTM/GRU weights mapped onto torch's layout give the same outputs (float64 and float32)."""
import numpy as np
import pytest
import torch

from book.models.weight_mapping import keras_gru_to_torch, keras_lstm_to_torch
from book.nn.module import torch_state

keras = pytest.importorskip("keras")

N, T, D, H = 3, 7, 4, 5


def _keras_layer(kind, dtype, **kw):
    cls = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
    # non-zero biases, so a bias put in the wrong block would show
    layer = cls(H, return_sequences=True, return_state=True, dtype=dtype, bias_initializer="random_normal",
                seed=0, **kw)
    layer.build((None, T, D))
    return layer


@pytest.mark.parametrize("kind,dtype,tol", [("lstm", "float64", 1e-12), ("gru", "float64", 1e-12),
                                            ("lstm", "float32", 1e-6), ("gru", "float32", 1e-6)])
def test_keras_and_torch_agree_after_mapping(kind, dtype, tol):
    keras.utils.set_random_seed(0)
    layer = _keras_layer(kind, dtype)
    x = np.random.default_rng(1).normal(size=(N, T, D)).astype(dtype)
    out_k, h_k, *rest = (np.asarray(a) for a in layer(x))
    mapping = keras_lstm_to_torch if kind == "lstm" else keras_gru_to_torch
    torch_dtype = torch.float64 if dtype == "float64" else torch.float32
    theirs = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(D, H, batch_first=True, dtype=torch_dtype)
    theirs.load_state_dict(torch_state(mapping(layer), dtype=torch_dtype))
    with torch.no_grad():
        out_t, state = theirs(torch.tensor(x))
    h_t = state[0] if kind == "lstm" else state
    assert np.abs(out_k - out_t.numpy()).max() < tol
    assert np.abs(h_k - h_t[0].numpy()).max() < tol
    if kind == "lstm":
        assert np.abs(rest[0] - state[1][0].numpy()).max() < tol  # the cell state too


def test_gru_reset_before_is_refused_and_shapes_are_checked():
    layer = _keras_layer("gru", "float64", reset_after=False)
    with pytest.raises(ValueError, match="reset_after=False"):
        keras_gru_to_torch(layer)
    kernel, recurrent, bias = _keras_layer("lstm", "float64").get_weights()
    with pytest.raises(ValueError, match="recurrent_kernel"):
        keras_lstm_to_torch([kernel, recurrent[:, :-4], bias])
    with pytest.raises(ValueError, match="kernel, recurrent_kernel, bias"):
        keras_lstm_to_torch([kernel, recurrent])
