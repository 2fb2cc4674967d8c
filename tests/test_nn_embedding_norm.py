"""Embedding and LayerNorm against torch, finite differences and bad inputs."""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import numerical_gradient, rel_error
from book.nn.module import torch_state
from torch_reference import TOL, T, to_np

FD_TOL = 1e-6  # central differences (eps=1e-6) carry ~1e-10 absolute noise


# --- Embedding --------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2), (1, 1), ()])
def test_embedding_matches_torch(shape):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(7, 3, dtype=T)
    ours = nn.Embedding(7, 3)
    ours.load_state_dict(theirs.state_dict())
    indices = rng.integers(0, 7, size=shape)  # small vocabulary: indices repeat
    out = ours(indices)
    dout = rng.normal(size=out.shape)
    assert ours.backward(dout) is None  # integer indices have no gradient
    t_out = theirs(torch.tensor(indices, dtype=torch.long))
    t_out.backward(torch.tensor(dout, dtype=T))
    assert out.shape == (*shape, 3) and out.dtype == np.float64
    assert rel_error(out, to_np(t_out)) < TOL
    assert rel_error(ours.grads["weight"], to_np(theirs.weight.grad)) < TOL


def test_embedding_accumulates_repeated_indices_and_overwrites_between_calls():
    emb = nn.Embedding(4, 2, rng=1)
    emb(np.array([[1, 1], [3, 1]]))
    emb.backward(np.ones((2, 2, 2)))
    assert np.array_equal(emb.grads["weight"], [[0, 0], [3, 3], [0, 0], [1, 1]])
    emb(np.array([0]))
    emb.backward(np.ones((1, 2)))
    assert np.array_equal(emb.grads["weight"], [[1, 1], [0, 0], [0, 0], [0, 0]])


def test_embedding_gradient_matches_finite_differences():
    rng = np.random.default_rng(2)
    emb = nn.Embedding(5, 3, rng=rng)
    indices = np.array([[0, 4, 4], [2, 0, 4]])
    w_out = rng.normal(size=(2, 3, 3))
    emb(indices)
    emb.backward(w_out)
    analytic = emb.grads["weight"].copy()
    numeric = numerical_gradient(lambda _: np.sum(w_out * emb(indices)), emb.params["weight"])
    assert rel_error(analytic, numeric) < FD_TOL


def test_embedding_init_is_standard_normal_like_torch():
    w = nn.Embedding(1000, 100, rng=0).params["weight"]
    assert w.shape == tuple(torch.nn.Embedding(1000, 100).weight.shape)
    # 100 000 N(0, 1) draws: mean within 5/sqrt(n) of 0, variance within 2 %.
    assert abs(w.mean()) < 5 / np.sqrt(w.size) and abs(w.var() - 1) < 0.02
    assert np.array_equal(nn.Embedding(3, 2, rng=4).params["weight"], nn.Embedding(3, 2, rng=4).params["weight"])


def test_embedding_rejects_bad_indices_and_arguments():
    emb = nn.Embedding(5, 3)
    with pytest.raises(ValueError, match=r"expects indices in \[0, 5\), got values from 0 to 5"):
        emb(np.array([0, 5]))
    with pytest.raises(ValueError, match=r"got values from -1 to 2"):
        emb(np.array([-1, 2]))
    with pytest.raises(ValueError, match="expects integer indices, got dtype float64"):
        emb(np.array([0.0, 1.0]))
    emb(np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"grad_output expects shape \(1, 2, 3\), got \(2, 3\)"):
        emb.backward(np.ones((2, 3)))
    with pytest.raises(ValueError, match="num_embeddings must be a positive int"):
        nn.Embedding(0, 3)


# --- LayerNorm --------------------------------------------------------------------


@pytest.mark.parametrize(
    "normalized_shape,x_shape", [(4, (3, 4)), (5, (2, 3, 5)), ((3, 4), (2, 3, 4)), (6, (1, 6)), ((2, 3), (2, 3))]
)
def test_layer_norm_matches_torch(normalized_shape, x_shape):
    rng = np.random.default_rng(3)
    theirs = torch.nn.LayerNorm(normalized_shape, dtype=T)
    ours = nn.LayerNorm(normalized_shape)
    assert {k: v.shape for k, v in ours.params.items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    for name, value in theirs.state_dict().items():
        assert np.array_equal(ours.params[name], to_np(value))  # ones and zeros, as torch starts
    # Train-like parameters, so the test sees weight and bias at work.
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape)), dtype=T))
    ours.load_state_dict(theirs.state_dict())
    x = rng.normal(loc=2.0, scale=3.0, size=x_shape)
    out = ours(x)
    dout = rng.normal(size=out.shape)
    dx = ours.backward(dout)
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    t_out = theirs(xt)
    t_out.backward(torch.tensor(dout, dtype=T))
    assert rel_error(out, to_np(t_out)) < TOL
    assert rel_error(dx, to_np(xt.grad)) < TOL
    for name, p in theirs.named_parameters():
        assert rel_error(ours.grads[name], to_np(p.grad)) < TOL, name
    theirs.load_state_dict(torch_state(ours.state_dict()))


def test_layer_norm_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    ln = nn.LayerNorm((2, 3), eps=1e-3)
    ln.load_state_dict({"weight": rng.normal(size=(2, 3)), "bias": rng.normal(size=(2, 3))})
    x = rng.normal(size=(4, 2, 3))
    w_out = rng.normal(size=x.shape)

    def loss(_):
        return np.sum(w_out * ln(x))

    ln(x)
    dx = ln.backward(w_out)
    analytic = {name: g.copy() for name, g in ln.grads.items()}
    assert rel_error(dx, numerical_gradient(loss, x)) < FD_TOL
    for name, p in ln.params.items():
        assert rel_error(analytic[name], numerical_gradient(loss, p)) < FD_TOL, name


def test_layer_norm_eps_and_constant_rows_match_torch():
    x = np.array([[1.0, 1.0, 1.0], [0.0, 1e-3, -1e-3]])  # zero and tiny variance: eps dominates
    theirs = torch.nn.LayerNorm(3, eps=0.1, dtype=T)
    ours = nn.LayerNorm(3, eps=0.1)
    assert rel_error(ours(x), to_np(theirs(torch.tensor(x, dtype=T)))) < TOL
    # One normalised entry: x_hat is 0 whatever x is, so the output is the bias and dx is exactly 0
    # (torch's dx there is rounding noise of order 1e-14, which a relative error cannot compare).
    single = nn.LayerNorm(1)
    single.load_state_dict({"weight": np.array([2.0]), "bias": np.array([0.5])})
    assert np.array_equal(single(np.array([[3.0], [-1.0]])), [[0.5], [0.5]])
    assert np.array_equal(single.backward(np.ones((2, 1))), np.zeros((2, 1)))


def test_layer_norm_rejects_bad_inputs_and_arguments():
    ln = nn.LayerNorm((3, 4))
    with pytest.raises(ValueError, match=r"expects input of shape \(\*, 3, 4\), got \(2, 4, 3\)"):
        ln(np.ones((2, 4, 3)))
    with pytest.raises(ValueError, match=r"expects input of shape \(\*, 3, 4\), got \(4,\)"):
        ln(np.ones(4))
    with pytest.raises(ValueError, match=r"expects input of shape \(\*, 5\), got \(2, 4\)"):
        nn.LayerNorm(5)(np.ones((2, 4)))
    for bad in [0, (3, 0), (), 2.5]:
        with pytest.raises(ValueError, match="normalized_shape must be"):
            nn.LayerNorm(bad)
    with pytest.raises(ValueError, match="eps must be a positive number"):
        nn.LayerNorm(3, eps=0)
    ln(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match=r"grad_output expects shape \(2, 3, 4\)"):
        ln.backward(np.ones((3, 4)))


def test_new_layers_are_exported_with_docstrings():
    for name in ["Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "Embedding", "LayerNorm", "RNN", "LSTM", "GRU"]:
        assert name in nn.__all__ and getattr(nn, name).__doc__
