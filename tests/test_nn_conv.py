"""Conv2d (loop and vectorised), MaxPool2d, AvgPool2d and Flatten against torch, finite differences and bad inputs."""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import numerical_gradient, rel_error
from book.nn.conv import conv2d, conv2d_backward, conv2d_loop, conv2d_loop_backward
from book.nn.module import torch_state
from torch_reference import TOL, T, assert_matches_torch, to_np, torch_run

FD_TOL = 1e-6
# Convolution and pooling are linear in each argument (max pooling piecewise, with
# gaps of 0.1 between inputs below), so central differences have no truncation
# error and a larger step than the default 1e-6 only shrinks the rounding noise.
FD_EPS = 1e-4


# (N, C, H, W, out_channels, kernel_size, stride, padding, bias)
CONV_CASES = [
    (2, 3, 7, 7, 4, 3, 1, 0, True),
    (2, 3, 7, 7, 4, 3, 1, 1, True),
    (3, 2, 8, 6, 5, (3, 2), (2, 1), (1, 2), True),  # non-square everything
    (1, 4, 5, 9, 3, 1, 1, 0, True),  # 1x1 kernel, batch 1
    (2, 2, 9, 7, 2, (2, 4), 3, 0, False),  # stride leaves rows and columns unused; no bias
    (1, 3, 6, 6, 2, 5, 2, 2, True),  # kernel nearly as large as the padded image
    (2, 2, 4, 5, 3, (4, 5), 1, 0, True),  # one output pixel
    (2, 3, 10, 8, 4, 3, (2, 3), (0, 1), True),
    (1, 1, 1, 1, 1, 1, 1, 0, True),  # everything 1
]


def make_conv_pair(c, f, k, s, p, bias, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.Conv2d(c, f, k, stride=s, padding=p, bias=bias, dtype=T)
    ours = nn.Conv2d(c, f, k, stride=s, padding=p, bias=bias)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("n,c,h,w,f,k,s,p,bias", CONV_CASES)
def test_conv2d_layer_matches_torch(n, c, h, w, f, k, s, p, bias):
    rng = np.random.default_rng(0)
    ours, theirs = make_conv_pair(c, f, k, s, p, bias)
    assert {k_: v.shape for k_, v in ours.params.items()} == {k_: tuple(v.shape) for k_, v in theirs.state_dict().items()}
    assert_matches_torch(ours, theirs, rng.normal(size=(n, c, h, w)), rng)


@pytest.mark.parametrize("n,c,h,w,f,k,s,p,bias", CONV_CASES[:4] + CONV_CASES[5:8])
def test_conv2d_loop_functions_match_torch(n, c, h, w, f, k, s, p, bias):
    rng = np.random.default_rng(1)
    _, theirs = make_conv_pair(c, f, k, s, p, bias, seed=1)
    weight = to_np(theirs.weight)
    b = to_np(theirs.bias) if bias else None
    x = rng.normal(size=(n, c, h, w))
    out = conv2d_loop(x, weight, b, s, p)
    dout = rng.normal(size=out.shape)
    t_out, t_dx, t_grads = torch_run(theirs, x, dout)
    dx, dweight, dbias = conv2d_loop_backward(dout, x, weight, s, p)
    assert rel_error(out, t_out) < TOL
    assert rel_error(dx, t_dx) < TOL
    assert rel_error(dweight, t_grads["weight"]) < TOL
    if bias:
        assert rel_error(dbias, t_grads["bias"]) < TOL


def test_conv2d_vectorised_equals_loop():
    rng = np.random.default_rng(2)
    x, weight, bias = rng.normal(size=(2, 3, 7, 6)), rng.normal(size=(4, 3, 3, 2)), rng.normal(size=4)
    out, cache = conv2d(x, weight, bias, stride=(2, 1), padding=(1, 2))
    assert rel_error(out, conv2d_loop(x, weight, bias, stride=(2, 1), padding=(1, 2))) < 1e-12
    dout = rng.normal(size=out.shape)
    for ours, loop in zip(conv2d_backward(dout, cache), conv2d_loop_backward(dout, x, weight, (2, 1), (1, 2))):
        assert rel_error(ours, loop) < 1e-12


def test_conv2d_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    layer = nn.Conv2d(2, 3, (2, 3), stride=2, padding=1, rng=rng)
    x = rng.normal(size=(2, 2, 4, 5))
    w_out = rng.normal(size=layer(x).shape)

    def loss(_):
        return np.sum(w_out * layer(x))

    layer(x)
    dx = layer.backward(w_out)
    analytic = {name: g.copy() for name, g in layer.grads.items()}
    assert rel_error(dx, numerical_gradient(loss, x, FD_EPS)) < FD_TOL
    for name, p in layer.params.items():
        assert rel_error(analytic[name], numerical_gradient(loss, p, FD_EPS)) < FD_TOL, name


def test_conv2d_state_dict_round_trips_with_torch():
    ours = nn.Conv2d(3, 5, (3, 2), stride=2, padding=1, rng=4)
    theirs = torch.nn.Conv2d(3, 5, (3, 2), stride=2, padding=1, dtype=T)
    theirs.load_state_dict(torch_state(ours.state_dict()))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert_matches_torch(ours, theirs, np.random.default_rng(4).normal(size=(2, 3, 6, 5)), np.random.default_rng(5))


def test_conv2d_init_follows_torch_distribution_and_seed():
    layer = nn.Conv2d(64, 64, 5, rng=0)
    bound = 1 / np.sqrt(64 * 5 * 5)  # torch's kaiming_uniform_(a=sqrt(5)) bound
    torch.manual_seed(0)
    theirs = torch.nn.Conv2d(64, 64, 5, dtype=T)
    assert abs(to_np(theirs.weight).max() / bound - 1) < 0.01  # the same bound as torch
    for p in layer.params.values():
        assert np.all(np.abs(p) <= bound) and p.dtype == np.float64
    w = layer.params["weight"]
    # 102 400 draws of U(-b, b): mean 0 and variance b^2 / 3, to well within 5 standard errors.
    assert abs(w.mean()) < 0.01 * bound
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.02
    assert np.array_equal(nn.Conv2d(2, 3, 3, rng=7).params["weight"], nn.Conv2d(2, 3, 3, rng=np.random.default_rng(7)).params["weight"])


def test_conv2d_rejects_bad_inputs_and_arguments():
    layer = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, H, W\), got \(2, 2, 5, 5\)"):
        layer(np.ones((2, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, H, W\), got \(3, 5, 5\)"):
        layer(np.ones((3, 5, 5)))
    with pytest.raises(ValueError, match=r"kernel \(3, 3\) is larger than the padded input \(2, 5\)"):
        layer(np.ones((1, 3, 2, 5)))
    layer(np.ones((2, 3, 5, 5)))
    with pytest.raises(ValueError, match=r"grad_output expects shape \(2, 4, 3, 3\), got \(2, 4, 5, 5\)"):
        layer.backward(np.ones((2, 4, 5, 5)))
    for bad in [0, (3,), (3, 0), 2.5, True, "3"]:
        with pytest.raises(ValueError, match="kernel_size must be"):
            nn.Conv2d(3, 4, bad)
    with pytest.raises(ValueError, match="stride must be a positive int"):
        nn.Conv2d(3, 4, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be a non-negative int"):
        nn.Conv2d(3, 4, 3, padding=(1, -1))
    with pytest.raises(ValueError, match="in_channels must be a positive int"):
        nn.Conv2d(0, 4, 3)
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Conv2d(3, 4, 3).backward(np.ones((1, 4, 1, 1)))
    weight = np.ones((4, 3, 2, 2))
    for function in (conv2d, conv2d_loop):
        with pytest.raises(ValueError, match=rf"{function.__name__} expects input of shape \(N, 3, H, W\), got \(1, 2, 4, 4\)"):
            function(np.ones((1, 2, 4, 4)), weight)
        with pytest.raises(ValueError, match="stride must be"):
            function(np.ones((1, 3, 4, 4)), weight, stride=(1, 1, 1))


# --- pooling --------------------------------------------------------------------

# (N, C, H, W, kernel_size, stride)
POOL_CASES = [
    (2, 3, 6, 6, 2, None),
    (1, 2, 7, 5, (3, 2), (2, 1)),  # overlapping rows, non-square
    (2, 2, 5, 5, 3, 1),  # heavily overlapping
    (1, 1, 4, 4, 4, None),  # one window
    (2, 3, 7, 9, 2, 3),  # stride larger than the kernel: some inputs unused
]


@pytest.mark.parametrize("ours_cls,theirs_cls", [(nn.MaxPool2d, torch.nn.MaxPool2d), (nn.AvgPool2d, torch.nn.AvgPool2d)], ids=["max", "avg"])
@pytest.mark.parametrize("n,c,h,w,k,s", POOL_CASES)
def test_pooling_matches_torch(ours_cls, theirs_cls, n, c, h, w, k, s):
    rng = np.random.default_rng(6)
    assert_matches_torch(ours_cls(k, s), theirs_cls(k, s), rng.normal(size=(n, c, h, w)), rng)


def test_max_pool_ties_go_to_the_first_maximum_like_torch():
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2, size=(2, 2, 6, 6)).astype(float)  # many windows hold their max twice
    for k, s in [(2, None), (3, 1), ((2, 3), (1, 2))]:
        assert_matches_torch(nn.MaxPool2d(k, s), torch.nn.MaxPool2d(k, s), x, rng)


@pytest.mark.parametrize("layer_cls", [nn.MaxPool2d, nn.AvgPool2d])
def test_pooling_matches_finite_differences(layer_cls):
    rng = np.random.default_rng(8)
    x = rng.permutation(60).reshape(1, 3, 4, 5) / 10.0  # distinct values: no ties for max
    layer = layer_cls((2, 3), (1, 2))
    w_out = rng.normal(size=layer(x).shape)
    dx = layer.backward(w_out)
    assert rel_error(dx, numerical_gradient(lambda _: np.sum(w_out * layer(x)), x, FD_EPS)) < FD_TOL


def test_pooling_rejects_bad_inputs_and_arguments():
    with pytest.raises(ValueError, match=r"MaxPool2d expects input of shape \(N, C, H, W\), got \(3, 4, 4\)"):
        nn.MaxPool2d(2)(np.ones((3, 4, 4)))
    with pytest.raises(ValueError, match=r"AvgPool2d: kernel \(3, 3\) is larger than the input \(2, 4\)"):
        nn.AvgPool2d(3)(np.ones((1, 1, 2, 4)))
    with pytest.raises(ValueError, match="MaxPool2d: kernel_size must be a positive int"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="AvgPool2d: stride must be"):
        nn.AvgPool2d(2, stride=(1, 2, 3))
    pool = nn.MaxPool2d(2)
    pool(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"grad_output expects shape \(1, 1, 2, 2\)"):
        pool.backward(np.ones((1, 1, 4, 4)))


# --- Flatten and a small CNN --------------------------------------------------------


@pytest.mark.parametrize("shape,start,end", [((2, 3, 4, 5), 1, -1), ((1, 6), 1, -1), ((2, 3, 4, 5), 1, 2), ((2, 3, 4), 0, -1)])
def test_flatten_matches_torch(shape, start, end):
    rng = np.random.default_rng(9)
    assert_matches_torch(nn.Flatten(start, end), torch.nn.Flatten(start, end), rng.normal(size=shape), rng)


def test_flatten_rejects_too_few_dimensions():
    with pytest.raises(ValueError, match=r"expects input of shape \(N, \*\) with at least 2 dimensions"):
        nn.Flatten()(np.ones(3))
    with pytest.raises(ValueError, match="start_dim must be an int"):
        nn.Flatten(1.0)


def test_small_cnn_matches_torch():
    torch.manual_seed(10)
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, (2, 3), stride=(1, 2)), torch.nn.Tanh(), torch.nn.AvgPool2d(2, 1),
        torch.nn.Flatten(), torch.nn.Linear(6 * 2 * 1, 3),
    ).to(T)
    ours = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, (2, 3), stride=(1, 2)), nn.Tanh(), nn.AvgPool2d(2, 1),
        nn.Flatten(), nn.Linear(6 * 2 * 1, 3),
    )
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(10)
    assert_matches_torch(ours, theirs, rng.normal(size=(3, 1, 8, 10)), rng)
