"""book.nn.BatchNorm1d and BatchNorm2d against torch (float64), finite differences, and their error messages."""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import rel_error
from book.nn.module import torch_state
from torch_reference import TOL, T, assert_matches_finite_differences, assert_matches_torch, to_np

BUFFERS = ("running_mean", "running_var", "num_batches_tracked")

# (book class, torch class, input shape): both BatchNorm1d layouts and BatchNorm2d.
CASES = [
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (6, 3)),
    (nn.BatchNorm1d, torch.nn.BatchNorm1d, (4, 3, 5)),
    (nn.BatchNorm2d, torch.nn.BatchNorm2d, (3, 2, 4, 5)),
]
IDS = ["1d-NC", "1d-NCL", "2d-NCHW"]


def make_pair(ours_cls, theirs_cls, c, seed=0, **kwargs):
    """The same layer in torch and book.nn, with weight, bias and running statistics away from their defaults."""
    theirs = theirs_cls(c, dtype=T, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, value in theirs.state_dict().items():
            if value.is_floating_point():
                value.copy_(torch.rand(value.shape, generator=gen, dtype=T) + 0.5)
    ours = ours_cls(c, **kwargs)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def step(ours, theirs, x, rng):
    """One forward and backward in both; torch's .grad accumulates, so it is cleared first."""
    theirs.zero_grad(set_to_none=True)
    assert_matches_torch(ours, theirs, x, rng)


def assert_buffers_match(ours, theirs):
    t_buffers = dict(theirs.named_buffers())
    assert set(ours.buffers) == set(t_buffers)
    for name, value in t_buffers.items():
        if name == "num_batches_tracked":
            assert int(ours.buffers[name]) == int(value) and ours.buffers[name].dtype == np.int64
        else:
            assert rel_error(ours.buffers[name], to_np(value)) < TOL, name


@pytest.mark.parametrize("ours_cls,theirs_cls,shape", CASES, ids=IDS)
def test_train_steps_then_eval_match_torch(ours_cls, theirs_cls, shape):
    rng = np.random.default_rng(0)
    ours, theirs = make_pair(ours_cls, theirs_cls, shape[1])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.params) == [name for name, _ in theirs.named_parameters()]
    for i in range(3):  # every training step moves the running statistics
        x = rng.normal(loc=i, scale=2.0, size=shape)
        step(ours, theirs, x, rng)
        assert_buffers_match(ours, theirs)
    assert int(ours.buffers["num_batches_tracked"]) == 3
    ours.eval(), theirs.eval()
    assert not ours.training
    before = ours.state_dict()
    step(ours, theirs, rng.normal(size=shape), rng)
    assert_buffers_match(ours, theirs)
    for name, value in ours.state_dict().items():  # evaluation leaves the statistics alone
        assert np.array_equal(value, before[name])


OPTIONS = [
    {"momentum": 0.3, "eps": 1e-3},
    {"momentum": 0.0},
    {"momentum": 1.0},
    {"affine": False},
    {"bias": False},
    {"track_running_stats": False},
    {"affine": False, "track_running_stats": False},
]


@pytest.mark.parametrize("kwargs", OPTIONS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
@pytest.mark.parametrize("ours_cls,theirs_cls,shape", [CASES[1], CASES[2]], ids=IDS[1:])
def test_options_match_torch_in_both_modes(ours_cls, theirs_cls, shape, kwargs):
    rng = np.random.default_rng(1)
    ours, theirs = make_pair(ours_cls, theirs_cls, shape[1], **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for _ in range(2):
        step(ours, theirs, rng.normal(scale=3.0, size=shape), rng)
        assert_buffers_match(ours, theirs)
    ours.eval(), theirs.eval()
    step(ours, theirs, rng.normal(size=shape), rng)
    assert_buffers_match(ours, theirs)


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("ours_cls,theirs_cls,shape", CASES, ids=IDS)
def test_gradients_match_finite_differences(ours_cls, theirs_cls, shape, training):
    rng = np.random.default_rng(2)
    layer, _ = make_pair(ours_cls, theirs_cls, shape[1], seed=3)
    layer.train(training)
    x = rng.normal(size=shape)
    w_out = rng.normal(size=shape)  # loss = sum(w_out * y), so dL/dy = w_out

    assert_matches_finite_differences(layer, x, w_out)


def test_train_mode_input_gradient_sums_to_zero_per_channel():
    # Shifting a whole channel changes nothing after normalising with batch statistics.
    rng = np.random.default_rng(4)
    layer = nn.BatchNorm2d(3)
    layer(rng.normal(size=(2, 3, 4, 4)))
    dx = layer.backward(rng.normal(size=(2, 3, 4, 4)))
    assert np.allclose(dx.sum(axis=(0, 2, 3)), 0.0, atol=1e-12)


def test_state_round_trips_through_torch():
    rng = np.random.default_rng(5)
    ours = nn.BatchNorm2d(2)
    for _ in range(4):
        ours(rng.normal(loc=1.0, size=(3, 2, 3, 3)))
    ours.params["weight"][...] = [0.5, 2.0]
    theirs = torch.nn.BatchNorm2d(2, dtype=T)
    theirs.load_state_dict(torch_state(ours.state_dict()))
    for name, value in theirs.state_dict().items():
        assert np.array_equal(to_np(value), ours.state_dict()[name]), name
    assert theirs.num_batches_tracked.dtype == torch.int64 and int(theirs.num_batches_tracked) == 4
    back = nn.BatchNorm2d(2)
    back.load_state_dict(theirs.state_dict())
    for name, value in ours.state_dict().items():
        assert np.array_equal(back.state_dict()[name], value) and back.state_dict()[name].dtype == value.dtype
    snapshot = ours.state_dict()
    ours(rng.normal(size=(3, 2, 3, 3)))  # the snapshot is a copy, not a view
    assert int(snapshot["num_batches_tracked"]) == 4 and not np.array_equal(snapshot["running_mean"], ours.buffers["running_mean"])
    with pytest.raises(ValueError, match="missing keys"):
        back.load_state_dict({"weight": np.ones(2), "bias": np.zeros(2)})


def test_sequential_with_batchnorm_matches_torch_and_optimizers_skip_buffers():
    rng = np.random.default_rng(6)
    torch.manual_seed(0)
    # No bias before batch norm, as usual: in training mode its gradient is exactly 0, which a relative error cannot check.
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3, bias=False), torch.nn.BatchNorm1d(3), torch.nn.ReLU(), torch.nn.Linear(3, 2)).to(T)
    ours = nn.Sequential(nn.Linear(4, 3, bias=False), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert list(ours.params) == [name for name, _ in theirs.named_parameters()]
    assert list(ours.buffers) == [name for name, _ in theirs.named_buffers()]
    for _ in range(2):
        step(ours, theirs, rng.normal(size=(5, 4)), rng)
    assert_buffers_match(ours[1], theirs[1])
    ours.eval(), theirs.eval()
    assert not ours[1].training
    step(ours, theirs, rng.normal(size=(5, 4)), rng)
    # An optimizer step changes parameters only, never the running statistics.
    ours.train()
    ours(rng.normal(size=(5, 4)))
    ours.backward(rng.normal(size=(5, 2)))
    buffers = {k: v.copy() for k, v in ours.buffers.items()}
    nn.SGD(ours, lr=0.1, weight_decay=0.5).step()
    for name, value in ours.buffers.items():
        assert np.array_equal(value, buffers[name])


@pytest.mark.parametrize("layer,shape,expected", [
    (nn.BatchNorm1d(3), (2, 4), r"\(N, 3\) or \(N, 3, L\)"),
    (nn.BatchNorm1d(3), (3,), r"\(N, 3\) or \(N, 3, L\)"),
    (nn.BatchNorm1d(3), (2, 3, 4, 5), r"\(N, 3\) or \(N, 3, L\)"),
    (nn.BatchNorm2d(3), (2, 3, 4), r"\(N, 3, H, W\)"),
    (nn.BatchNorm2d(3), (2, 4, 5, 5), r"\(N, 3, H, W\)"),
])
def test_bad_shapes_are_refused_by_name(layer, shape, expected):
    with pytest.raises(ValueError, match=rf"^{type(layer).__name__}\(3.*expects input of shape {expected}, got \({shape[0]}"):
        layer(np.ones(shape))


def test_one_value_per_channel_is_refused_in_training_only():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"^BatchNorm1d\(3.*more than 1 value per channel"):
        layer(np.ones((1, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        torch.nn.BatchNorm1d(3, dtype=T)(torch.ones(1, 3, dtype=T))
    assert int(layer.buffers["num_batches_tracked"]) == 0
    assert layer.eval()(np.ones((1, 3))).shape == (1, 3)
    assert nn.BatchNorm2d(2)(np.ones((1, 2, 1, 2))).shape == (1, 2, 1, 2)  # two positions are enough


def test_backward_checks_grad_output_and_needs_a_forward():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((2, 3)))
    layer(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match=r"grad_output expects shape \(2, 3\)"):
        layer.backward(np.ones((3, 2)))


REFUSED = [
    (lambda: nn.BatchNorm1d(3, 1e-5, None), "BatchNorm1d", "momentum"),
    (lambda: nn.BatchNorm2d(3, momentum=None), "BatchNorm2d", "momentum"),
    (lambda: nn.BatchNorm1d(3, 1e-5, 0.1, True, True, "cpu"), "BatchNorm1d", "device"),
    (lambda: nn.BatchNorm2d(3, dtype=torch.float32), "BatchNorm2d", "dtype"),
    (lambda: nn.BatchNorm1d(0), "BatchNorm1d", "num_features"),
    (lambda: nn.BatchNorm2d(2.5), "BatchNorm2d", "num_features"),
    (lambda: nn.BatchNorm1d(3, 0.0), "BatchNorm1d", "eps"),
    (lambda: nn.BatchNorm2d(3, momentum=1.5), "BatchNorm2d", "momentum"),
]


@pytest.mark.parametrize("make,owner,name", REFUSED, ids=[f"{o}-{n}-{i}" for i, (_, o, n) in enumerate(REFUSED)])
def test_unsupported_arguments_are_refused_by_name(make, owner, name):
    with pytest.raises(ValueError, match=rf"^{owner}: {name}"):
        make()


def test_torch_positional_order_defaults_and_repr():
    for ours_cls, theirs_cls in [(nn.BatchNorm1d, torch.nn.BatchNorm1d), (nn.BatchNorm2d, torch.nn.BatchNorm2d)]:
        args = (4, 1e-3, 0.2, True, False)
        ours, theirs = ours_cls(*args, None, None), theirs_cls(*args)
        assert (ours.eps, ours.momentum, ours.affine, ours.track_running_stats) == (1e-3, 0.2, True, False)
        assert repr(ours) == repr(theirs)
        assert repr(ours_cls(4)) == repr(theirs_cls(4))
        default = ours_cls(4)
        assert np.array_equal(default.params["weight"], np.ones(4)) and np.array_equal(default.params["bias"], np.zeros(4))
        assert np.array_equal(default.buffers["running_var"], np.ones(4))
    assert "BatchNorm1d" in nn.__all__ and "BatchNorm2d" in nn.__all__
    assert nn.BatchNorm1d.__doc__ and nn.BatchNorm2d.__doc__
