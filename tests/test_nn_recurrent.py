"""RNN, LSTM and GRU against torch (batch_first=True), finite differences and bad inputs."""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import numerical_gradient, rel_error
from book.nn.module import torch_state
from torch_reference import TOL, T, to_np

FD_TOL = 1e-6  # central differences (eps=1e-6) carry ~1e-10 absolute noise

LAYERS = {"rnn": (nn.RNN, torch.nn.RNN), "lstm": (nn.LSTM, torch.nn.LSTM), "gru": (nn.GRU, torch.nn.GRU)}
KEYS = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]


def make_pair(kind, input_size, hidden_size, seed=0):
    ours_cls, theirs_cls = LAYERS[kind]
    torch.manual_seed(seed)
    theirs = theirs_cls(input_size, hidden_size, batch_first=True, dtype=T)
    ours = ours_cls(input_size, hidden_size)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def run_ours(layer, kind, x, state, grads):
    """Forward and backward through book.nn; ``state`` is a list of initial states or None."""
    if kind == "lstm":
        out, (h, c) = layer(x, None if state is None else tuple(state))
        finals = [h, c]
    else:
        out, h = layer(x, None if state is None else state[0])
        finals = [h]
    dx, d_state = layer.backward(grads[0], *grads[1:])
    if d_state is not None and kind != "lstm":
        d_state = (d_state,)
    return [out, *finals], dx, d_state


def run_torch(layer, kind, x, state, grads):
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    st = None if state is None else [torch.tensor(s, dtype=T, requires_grad=True) for s in state]
    if kind == "lstm":
        out, (h, c) = layer(xt, None if st is None else tuple(st))
        outputs = [out, h, c]
    else:
        out, h = layer(xt, None if st is None else st[0])
        outputs = [out, h]
    loss = sum((o * torch.tensor(g, dtype=T)).sum() for o, g in zip(outputs, grads) if g is not None)
    loss.backward()
    d_state = None if st is None else [to_np(s.grad) for s in st]
    param_grads = {name: to_np(p.grad) for name, p in layer.named_parameters()}
    return [to_np(o) for o in outputs], to_np(xt.grad), d_state, param_grads


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(
    "n,steps,input_size,hidden,with_state,final_grads",
    [
        (3, 1, 4, 5, False, True),  # one step
        (1, 1, 1, 1, True, True),  # everything 1
        (2, 25, 3, 4, False, False),  # long sequence, loss on the outputs alone
        (1, 25, 2, 3, True, True),  # long sequence, batch 1, given initial state
        (4, 6, 5, 2, True, False),
        (2, 7, 3, 6, False, True),
    ],
)
def test_recurrent_matches_torch(kind, n, steps, input_size, hidden, with_state, final_grads):
    rng = np.random.default_rng(0)
    ours, theirs = make_pair(kind, input_size, hidden)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == KEYS
    assert {k: v.shape for k, v in ours.params.items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    x = rng.normal(size=(n, steps, input_size))
    n_states = 2 if kind == "lstm" else 1
    state = [rng.normal(size=(1, n, hidden)) for _ in range(n_states)] if with_state else None
    grads = [rng.normal(size=(n, steps, hidden))]
    grads += [rng.normal(size=(1, n, hidden)) if final_grads else None for _ in range(n_states)]
    outs, dx, d_state = run_ours(ours, kind, x, state, grads)
    t_outs, t_dx, t_d_state, t_grads = run_torch(theirs, kind, x, state, grads)
    errors = [rel_error(o, t) for o, t in zip(outs, t_outs)] + [rel_error(dx, t_dx)]
    errors += [rel_error(ours.grads[k], g) for k, g in t_grads.items()]
    if with_state:
        errors += [rel_error(d, t) for d, t in zip(d_state, t_d_state)]
    else:
        assert d_state is None
    assert all(o.dtype == np.float64 for o in outs) and dx.dtype == np.float64
    assert max(errors) < TOL, errors


def test_lstm_returns_the_gradient_of_the_state_pair():
    ours, _ = make_pair("lstm", 2, 3)
    x, h0, c0 = np.ones((2, 4, 2)), np.zeros((1, 2, 3)), np.zeros((1, 2, 3))
    ours(x, (h0, c0))
    dx, (dh0, dc0) = ours.backward(np.ones((2, 4, 3)), None, np.ones((1, 2, 3)))
    assert dx.shape == x.shape and dh0.shape == h0.shape and dc0.shape == c0.shape
    ours(x)
    dx, d_hx = ours.backward(None, np.ones((1, 2, 3)))  # a loss on h_n alone
    assert d_hx is None and np.any(dx != 0)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_gradients_match_finite_differences(kind):
    rng = np.random.default_rng(1)
    ours, _ = make_pair(kind, 2, 3, seed=1)
    x = rng.normal(size=(2, 4, 2))
    n_states = 2 if kind == "lstm" else 1
    state = [rng.normal(size=(1, 2, 3)) for _ in range(n_states)]
    grads = [rng.normal(size=(2, 4, 3))] + [rng.normal(size=(1, 2, 3)) for _ in range(n_states)]

    def loss(_):
        outs, _, _ = run_ours(ours, kind, x, state, grads)
        return sum(np.sum(o * g) for o, g in zip(outs, grads))

    _, dx, d_state = run_ours(ours, kind, x, state, grads)
    analytic = {name: g.copy() for name, g in ours.grads.items()}
    assert rel_error(dx, numerical_gradient(loss, x)) < FD_TOL
    for d, s in zip(d_state, state):
        assert rel_error(d, numerical_gradient(loss, s)) < FD_TOL
    for name, p in ours.params.items():
        assert rel_error(analytic[name], numerical_gradient(loss, p)) < FD_TOL, name


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_state_dict_round_trips_and_init_follows_torch(kind):
    ours_cls, theirs_cls = LAYERS[kind]
    ours = ours_cls(3, 4, rng=0)
    theirs = theirs_cls(3, 4, batch_first=True, dtype=T)
    theirs.load_state_dict(torch_state(ours.state_dict()))
    for name, value in theirs.state_dict().items():
        assert np.array_equal(to_np(value), ours.params[name])
    big = ours_cls(50, 100, rng=1)
    bound = 1 / np.sqrt(100)
    w = big.params["weight_hh_l0"]
    assert all(np.all(np.abs(p) <= bound) for p in big.params.values())
    # At least 10 000 draws of U(-b, b): variance b^2 / 3 to within a few standard errors.
    assert abs(w.var() / (bound**2 / 3) - 1) < 0.05
    assert np.array_equal(ours_cls(3, 4, rng=0).params["weight_ih_l0"], ours.params["weight_ih_l0"])


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_rejects_bad_inputs(kind):
    layer = LAYERS[kind][0](3, 4)
    name = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[kind]
    with pytest.raises(ValueError, match=rf"{name}\(3, 4\) expects input of shape \(N, T, 3\) with T >= 1, got \(2, 5, 2\)"):
        layer(np.ones((2, 5, 2)))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, T, 3\).*got \(5, 3\)"):
        layer(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"got \(2, 0, 3\)"):
        layer(np.ones((2, 0, 3)))
    bad_state = np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"expects h0 of shape \(1, 2, 4\), got \(2, 4\)"):
        layer(np.ones((2, 5, 3)), (bad_state, np.zeros((1, 2, 4))) if kind == "lstm" else bad_state)
    layer(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"backward grad_output expects shape \(2, 5, 4\), got \(2, 5, 3\)"):
        layer.backward(np.ones((2, 5, 3)))
    with pytest.raises(ValueError, match=r"backward grad_h_n expects shape \(1, 2, 4\), got \(2, 4\)"):
        layer.backward(np.ones((2, 5, 4)), np.ones((2, 4)))
    for bad in [0, 2.0, True]:
        with pytest.raises(ValueError, match="hidden_size must be a positive int"):
            LAYERS[kind][0](3, bad)


def test_lstm_rejects_a_bad_state_pair():
    layer = nn.LSTM(3, 4)
    x = np.ones((2, 5, 3))
    with pytest.raises(ValueError, match=r"expects hx to be None or a pair \(h0, c0\)"):
        layer(x, np.zeros((1, 2, 4)))
    with pytest.raises(ValueError, match=r"expects c0 of shape \(1, 2, 4\), got \(1, 2, 3\)"):
        layer(x, (np.zeros((1, 2, 4)), np.zeros((1, 2, 3))))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.LSTM(3, 4).backward(np.ones((2, 5, 4)))
