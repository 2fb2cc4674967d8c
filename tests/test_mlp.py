"""Tests of book.models.mlp's NumPy/PyTorch twins, weight copying (book.nn.torch_state),
mini-batching and the NumPy training epoch of chapter 3, and the digits loaders."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import book.nn as bnn
from book.data import digits_loaders, load_digits_split, minibatches
from book.gradcheck import numerical_gradient, rel_error
from book.models.mlp import numpy_mlp, torch_mlp
from book.nn import torch_state
from book.training import numpy_accuracy, numpy_train_epoch


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
def test_twins_have_the_same_keys_shapes_and_outputs(activation):
    sizes = [5, 7, 4, 3]
    net = numpy_mlp(sizes, activation=activation, rng=0)
    twin = torch_mlp(sizes, activation=activation).double()
    assert list(net.params) == list(twin.state_dict())
    assert all(net.params[k].shape == tuple(v.shape) for k, v in twin.state_dict().items())
    assert len(net) == len(twin) == 5  # Linear, act, Linear, act, Linear
    twin.load_state_dict(torch_state(net.state_dict()))
    X = np.random.default_rng(1).normal(size=(6, 5))
    with torch.no_grad():
        out = twin(torch.tensor(X)).numpy()
    assert np.max(np.abs(out - net(X))) < 1e-12


def test_gradients_match_autograd_and_finite_differences():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
    net = numpy_mlp([4, 6, 3], activation="tanh", rng=3)
    loss_fn = bnn.CrossEntropyLoss()
    loss_fn.forward(net(X), y)
    net.backward(loss_fn.backward())
    twin = torch_mlp([4, 6, 3], activation="tanh").double()
    twin.load_state_dict(torch_state(net.state_dict()))
    F.cross_entropy(twin(torch.tensor(X)), torch.tensor(y)).backward()
    for k, p in twin.named_parameters():
        assert np.max(np.abs(p.grad.numpy() - net.grads[k])) < 1e-12
    analytic = {k: g.copy() for k, g in net.grads.items()}
    for k, p in net.params.items():
        num = numerical_gradient(lambda _: loss_fn.forward(net(X), y), p)
        assert rel_error(analytic[k], num) < 1e-6, k


def test_numpy_mlp_is_repeatable_with_a_seed():
    a, b = numpy_mlp([3, 4, 2], rng=5), numpy_mlp([3, 4, 2], rng=5)
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    c = numpy_mlp([3, 4, 2], rng=6)
    assert not np.array_equal(a.params["0.weight"], c.params["0.weight"])


@pytest.mark.parametrize("bad", [[3], [3, 0], [3, 2.5], [True, 2]])
def test_bad_sizes_are_rejected(bad):
    with pytest.raises(ValueError, match="sizes"):
        numpy_mlp(bad)
    with pytest.raises(ValueError, match="sizes"):
        torch_mlp(bad)


def test_bad_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        numpy_mlp([2, 2], activation="gelu")
    with pytest.raises(ValueError, match="activation"):
        torch_mlp([2, 2], activation="softmax")


def test_torch_state_copies_and_converts():
    state = {"w": np.ones((2, 3))}
    t = torch_state(state)
    assert t["w"].dtype == torch.float64 and t["w"].shape == (2, 3)
    state["w"][0, 0] = 5.0
    assert t["w"][0, 0].item() == 1.0  # a copy, not a view
    assert torch_state(state, dtype=torch.float32)["w"].dtype == torch.float32


def test_minibatches_cover_every_index_once():
    batches = list(minibatches(10, 4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert np.array_equal(np.concatenate(batches), np.arange(10))
    shuffled = np.concatenate(list(minibatches(10, 4, rng=0)))
    assert sorted(shuffled) == list(range(10)) and not np.array_equal(shuffled, np.arange(10))
    with pytest.raises(ValueError, match="batch_size"):
        list(minibatches(10, 0))


def test_numpy_training_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    net = numpy_mlp([2, 8, 2], rng=0)
    opt, loss_fn = bnn.SGD(net, lr=0.5), bnn.CrossEntropyLoss()
    losses = [numpy_train_epoch(net, loss_fn, opt, X, y, batch_size=20, rng=rng) for _ in range(20)]
    assert losses[-1] < 0.3 * losses[0]
    assert numpy_accuracy(net, X, y) > 0.95
    assert net.training is False  # numpy_accuracy leaves the model in eval mode
    with pytest.raises(ValueError, match="same length"):
        numpy_train_epoch(net, loss_fn, opt, X, y[:-1])
    with pytest.raises(ValueError, match="same length"):
        numpy_accuracy(net, X, y[:-1])


def test_digits_loaders_shapes_and_repeatable_order():
    split = load_digits_split(layout="nchw")
    train, val, test = digits_loaders(split, batch_size=16, seed=3)
    xb, yb = next(iter(train))
    assert xb.shape == (16, 1, 8, 8) and xb.dtype == torch.float32 and yb.dtype == torch.int64
    assert len(val.dataset) == len(split.X_val) and len(test.dataset) == len(split.X_test)
    again, _, _ = digits_loaders(split, batch_size=16, seed=3)
    assert torch.equal(next(iter(again))[1], yb)
    with pytest.raises(ValueError, match="batch_size"):
        digits_loaders(split, batch_size=0)
