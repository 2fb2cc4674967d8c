"""book.nn layers against torch autograd, finite differences, and their error messages."""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import numerical_gradient, rel_error
from torch_reference import TOL, T, assert_matches_finite_differences, assert_matches_torch

# Central differences with eps=1e-6 carry ~1e-10 absolute rounding noise, which is
# ~1e-7 relative on gradient entries near 1e-3; torch comparisons use TOL.
FD_TOL = 1e-6


# --- Linear -------------------------------------------------------------------


@pytest.mark.parametrize("n,d_in,d_out,bias", [(1, 3, 4, True), (5, 3, 4, True), (7, 1, 1, True), (4, 6, 2, False)])
def test_linear_matches_torch(n, d_in, d_out, bias):
    rng = np.random.default_rng(0)
    theirs = torch.nn.Linear(d_in, d_out, bias=bias, dtype=T)
    ours = nn.Linear(d_in, d_out, bias=bias)
    ours.load_state_dict(theirs.state_dict())
    assert {k: v.shape for k, v in ours.params.items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert_matches_torch(ours, theirs, rng.normal(size=(n, d_in)), rng)


def test_linear_gradients_match_finite_differences():
    rng = np.random.default_rng(1)
    layer = nn.Linear(4, 3, rng=rng)
    x = rng.normal(size=(5, 4))
    w_out = rng.normal(size=(5, 3))  # loss = sum(w_out * y), so dL/dy = w_out

    assert_matches_finite_differences(layer, x, w_out)


def test_linear_init_follows_torch_distribution_and_seed():
    layer = nn.Linear(400, 300, rng=0)
    bound = 1 / np.sqrt(400)
    for p in layer.params.values():
        assert np.all(np.abs(p) <= bound)
    w = layer.params["weight"]
    # U(-b, b) has mean 0 and variance b^2 / 3; 120 000 samples pin both down.
    assert abs(w.mean()) < 0.01 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02
    assert np.array_equal(nn.Linear(3, 2, rng=5).params["weight"], nn.Linear(3, 2, rng=np.random.default_rng(5)).params["weight"])
    assert not np.array_equal(nn.Linear(3, 2, rng=5).params["weight"], nn.Linear(3, 2, rng=6).params["weight"])
    assert layer.params["weight"].dtype == np.float64


def test_backward_overwrites_gradients_instead_of_accumulating():
    rng = np.random.default_rng(2)
    layer = nn.Linear(3, 2, rng=rng)
    x, dout = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer(x)
    layer.backward(dout)
    first = layer.grads["weight"].copy()
    held = layer.grads["weight"]
    layer(x)
    layer.backward(dout)
    assert np.array_equal(layer.grads["weight"], first)
    assert layer.grads["weight"] is held  # written in place
    layer.zero_grad()
    assert np.all(held == 0)


# --- activations ----------------------------------------------------------------


@pytest.mark.parametrize(
    "ours,theirs", [(nn.ReLU, torch.nn.ReLU), (nn.Sigmoid, torch.nn.Sigmoid), (nn.Tanh, torch.nn.Tanh)], ids=["relu", "sigmoid", "tanh"]
)
@pytest.mark.parametrize("shape", [(1, 1), (5, 3), (2, 3, 4)])
def test_activations_match_torch(ours, theirs, shape):
    rng = np.random.default_rng(3)
    assert_matches_torch(ours(), theirs(), rng.normal(scale=3, size=shape), rng)


@pytest.mark.parametrize("layer_cls", [nn.ReLU, nn.Sigmoid, nn.Tanh])
def test_activations_match_finite_differences(layer_cls):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 5))
    x = np.where(np.abs(x) < 0.1, 0.5, x)  # ReLU has a kink at 0: keep away from it
    w_out = rng.normal(size=x.shape)
    layer = layer_cls()
    layer(x)
    dx = layer.backward(w_out)
    assert rel_error(dx, numerical_gradient(lambda _: np.sum(w_out * layer(x)), x)) < FD_TOL


@pytest.mark.filterwarnings("error")
def test_activations_at_huge_inputs_match_torch():
    x = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]])
    rng = np.random.default_rng(5)
    for ours, theirs in [(nn.Sigmoid(), torch.nn.Sigmoid()), (nn.Tanh(), torch.nn.Tanh()), (nn.ReLU(), torch.nn.ReLU())]:
        assert_matches_torch(ours, theirs, x, rng)


def test_relu_gradient_at_zero_is_zero_like_torch():
    relu = nn.ReLU()
    relu(np.array([[0.0, 1.0]]))
    assert np.array_equal(relu.backward(np.ones((1, 2))), [[0.0, 1.0]])


# --- Dropout --------------------------------------------------------------------


def test_dropout_mask_statistics_and_scaling():
    p = 0.3
    drop = nn.Dropout(p, rng=0)
    x = np.ones((200, 500))
    out = drop(x)
    kept = drop.mask
    assert kept.dtype == bool and kept.shape == x.shape
    # 100 000 Bernoulli(0.7) draws: the kept fraction is within 5 standard errors of 0.7.
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / x.size)
    assert np.allclose(out[kept], 1 / (1 - p)) and np.all(out[~kept] == 0)
    assert abs(out.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation


def test_dropout_backward_reuses_the_forward_mask():
    rng = np.random.default_rng(6)
    drop = nn.Dropout(0.5, rng=rng)
    x = rng.normal(size=(6, 7))
    drop(x)
    mask = drop.mask.copy()
    dout = rng.normal(size=x.shape)
    dx = drop.backward(dout)
    assert np.array_equal(dx, dout * mask * 2.0)
    drop(x)  # a new forward pass draws a new mask
    assert not np.array_equal(drop.mask, mask)


def test_dropout_eval_is_identity_and_p_zero_keeps_everything():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 4))
    drop = nn.Dropout(0.9, rng=0).eval()
    assert np.array_equal(drop(x), x) and drop.mask is None
    assert np.array_equal(drop.backward(x), x)
    drop0 = nn.Dropout(0.0, rng=0)
    assert np.array_equal(drop0(x), x)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_equals_torch_given_the_same_mask(p):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(5, 6))
    torch.manual_seed(0)
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    out_t = torch.nn.functional.dropout(xt, p=p, training=True)
    torch_mask = (out_t != 0).detach().cpu().numpy()  # x is never exactly 0, so zeros are dropped units
    dout = rng.normal(size=x.shape)
    out_t.backward(torch.tensor(dout, dtype=T))
    drop = nn.Dropout(p)
    out = drop(x, mask=torch_mask)
    assert rel_error(out, out_t.detach().cpu().numpy()) < TOL
    assert rel_error(drop.backward(dout), xt.grad.cpu().numpy()) < TOL


# --- Sequential -----------------------------------------------------------------


def make_pair(d_in=4, hidden=5, d_out=3, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(d_in, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, d_out)
    ).to(T)
    ours = nn.Sequential(nn.Linear(d_in, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, d_out))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def test_sequential_state_dict_keys_and_shapes_equal_torch():
    ours, theirs = make_pair()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, value in theirs.state_dict().items():
        assert ours.state_dict()[name].shape == tuple(value.shape)
        assert np.array_equal(ours.state_dict()[name], value.cpu().numpy())
    nested = nn.Sequential(nn.Sequential(nn.Linear(2, 2)), nn.ReLU(), nn.Linear(2, 1))
    assert list(nested.params) == list(torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(2, 2)), torch.nn.ReLU(), torch.nn.Linear(2, 1)).state_dict())


@pytest.mark.parametrize("n", [1, 8])
def test_sequential_matches_torch(n):
    ours, theirs = make_pair()
    rng = np.random.default_rng(9)
    assert_matches_torch(ours, theirs, rng.normal(size=(n, 4)), rng)


def test_sequential_shares_arrays_with_its_layers_and_state_dict_copies():
    ours, _ = make_pair()
    assert ours.params["2.weight"] is ours[2].params["weight"]
    snapshot = ours.state_dict()
    ours[0].params["weight"] += 1.0
    assert not np.array_equal(snapshot["0.weight"], ours.params["0.weight"])
    ours.load_state_dict(snapshot)
    assert np.array_equal(snapshot["0.weight"], ours[0].params["weight"])


def test_sequential_container_protocol_and_modes():
    seq = nn.Sequential(nn.Linear(2, 3), nn.Dropout(0.5), nn.ReLU())
    assert len(seq) == 3 and isinstance(seq[0], nn.Linear) and isinstance(seq[-1], nn.ReLU)
    assert [type(layer) for layer in seq] == [nn.Linear, nn.Dropout, nn.ReLU]
    assert len(seq[:2]) == 2 and seq.layers[1] is seq[1]
    assert seq.eval() is seq and not any(layer.training for layer in seq) and not seq.training
    seq.train()
    assert all(layer.training for layer in seq)
    with pytest.raises(TypeError, match="not a book.nn Module"):
        nn.Sequential(nn.Linear(2, 2), "relu")


def test_load_state_dict_accepts_numpy_and_rejects_bad_keys_and_shapes():
    layer = nn.Linear(3, 2)
    good = {"weight": np.ones((2, 3)), "bias": np.zeros(2)}
    layer.load_state_dict(good)
    assert np.array_equal(layer.params["weight"], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"missing keys \['bias'\]"):
        layer.load_state_dict({"weight": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"unexpected keys \['extra'\]"):
        layer.load_state_dict({**good, "extra": np.ones(1)})
    with pytest.raises(ValueError, match=r"'weight' expects shape \(2, 3\), got \(3, 2\)"):
        layer.load_state_dict({"weight": np.ones((3, 2)), "bias": np.zeros(2)})
    assert np.array_equal(layer.params["weight"], np.ones((2, 3)))  # nothing changed on failure


# --- error messages ---------------------------------------------------------------


def test_linear_rejects_bad_inputs_with_the_expected_shape():
    layer = nn.Linear(3, 4)
    with pytest.raises(ValueError, match=r"Linear\(3, 4\) expects input of shape \(N, 3\), got \(5, 2\)"):
        layer(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\), got \(3,\)"):
        layer(np.ones(3))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\), got \(2, 5, 3\)"):
        layer(np.ones((2, 5, 3)))
    for bad in [0, -1, 2.5, True]:
        with pytest.raises(ValueError, match="positive int"):
            nn.Linear(bad, 2)


def test_backward_before_forward_and_wrong_grad_output():
    for layer in [nn.Linear(3, 4), nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Dropout(0.2), nn.Sequential(nn.Linear(3, 4))]:
        with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
            layer.backward(np.ones((2, 4)))
    layer = nn.Linear(3, 4)
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"grad_output expects shape \(2, 4\), got \(2, 3\)"):
        layer.backward(np.ones((2, 3)))
    for act in [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Dropout(0.5)]:
        act(np.ones((2, 3)))
        with pytest.raises(ValueError, match=r"expects shape \(2, 3\), got \(3, 2\)"):
            act.backward(np.ones((3, 2)))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, "0.5", None])
def test_dropout_rejects_bad_probability(p):
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\)"):
        nn.Dropout(p)


def test_dropout_rejects_mask_of_wrong_shape():
    with pytest.raises(ValueError, match=r"Dropout mask expects shape \(2, 3\), got \(3, 2\)"):
        nn.Dropout(0.5)(np.ones((2, 3)), mask=np.ones((3, 2), dtype=bool))


def test_failed_forward_clears_the_cache():
    layer = nn.Linear(3, 4)
    layer(np.ones((2, 3)))
    with pytest.raises(ValueError):
        layer(np.ones((2, 5)))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((2, 4)))


def test_public_api_is_exported():
    from book.nn import functional, optim

    assert optim.SGD is nn.SGD and functional.softmax is nn.functional.softmax
    for name in nn.__all__:
        assert getattr(nn, name).__doc__, name
