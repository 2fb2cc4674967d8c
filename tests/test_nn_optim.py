"""book.nn optimizers against torch.optim: several training steps, parameter by parameter."""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import rel_error

T = torch.float64
TOL = 1e-7
STEPS = 6


def make_models(seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)
    ).to(T)
    ours = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def train_both(ours, theirs, opt, opt_t, params_of_ours, steps=STEPS):
    """Run identical steps on fixed mini-batches; after each, compare every parameter."""
    rng = np.random.default_rng(1)
    loss, loss_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    for _ in range(steps):
        x, y = rng.normal(size=(8, 4)), rng.integers(0, 3, size=8)
        opt.zero_grad()
        value = loss(ours(x), y)
        ours.backward(loss.backward())
        opt.step()

        opt_t.zero_grad()
        value_t = loss_t(theirs(torch.tensor(x, dtype=T)), torch.tensor(y))
        value_t.backward()
        opt_t.step()

        assert rel_error(value, value_t.item()) < TOL
        state_t = theirs.state_dict()
        theirs_params = params_of_ours()
        assert list(theirs_params) == list(state_t)
        for name, p in theirs_params.items():
            assert rel_error(p, state_t[name].cpu().numpy()) < TOL, name


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, betas=(0.85, 0.995), weight_decay=0.1)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{'-'.join(map(str, k.values()))}" for n, k in CASES])
def test_optimizer_matches_torch_over_several_steps(name, kwargs):
    ours, theirs = make_models()
    opt = getattr(nn, name)(ours, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs.parameters(), **kwargs)
    train_both(ours, theirs, opt, opt_t, lambda: ours.params)


def test_optimizer_accepts_a_list_of_modules():
    ours, theirs = make_models(seed=3)
    # The same layers, handed over one by one instead of as a Sequential.
    opt = nn.Adam([ours[0], ours[2], ours[4]], lr=0.01, weight_decay=0.01)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=0.01, weight_decay=0.01)
    train_both(ours, theirs, opt, opt_t, lambda: ours.params)


def test_defaults_match_torch():
    ours, theirs = make_models()
    for name in ["Adam", "AdamW"]:
        opt, opt_t = getattr(nn, name)(ours), getattr(torch.optim, name)(theirs.parameters())
        group = opt_t.param_groups[0]
        assert (opt.lr, opt.betas, opt.eps, opt.weight_decay) == (group["lr"], group["betas"], group["eps"], group["weight_decay"])
    sgd = nn.SGD(ours, lr=0.1)
    assert (sgd.momentum, sgd.weight_decay) == (0.0, 0.0)


def test_step_updates_in_place_and_zero_grad_clears():
    layer = nn.Linear(2, 1, rng=0)
    weight = layer.params["weight"]
    before = weight.copy()
    layer(np.ones((3, 2)))
    layer.backward(np.ones((3, 1)))
    opt = nn.SGD(layer, lr=0.5)
    opt.step()
    assert layer.params["weight"] is weight
    assert np.allclose(weight, before - 0.5 * 3.0)
    opt.zero_grad()
    assert all(np.all(g == 0) for g in layer.grads.values())


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda m: nn.SGD(m, lr=-0.1), "lr must be a non-negative number"),
        (lambda m: nn.SGD(m, lr=0.1, momentum=-0.5), "momentum must be a non-negative number"),
        (lambda m: nn.Adam(m, weight_decay=-1.0), "weight_decay must be a non-negative number"),
        (lambda m: nn.Adam(m, betas=(0.9, 1.0)), r"betas must be two numbers in \[0, 1\)"),
        (lambda m: nn.AdamW(m, eps=-1e-8), "eps must be a non-negative number"),
    ],
)
def test_bad_hyper_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make(nn.Linear(2, 2))


def test_non_module_raises():
    with pytest.raises(TypeError, match="not a book.nn Module"):
        nn.SGD([np.ones(3)], lr=0.1)
