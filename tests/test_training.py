"""Tests of book.training (the PyTorch fit loop, early stopping, gradient diagnostics)
and of the PyTorch MLP builders of book.models.mlp that chapter 4 uses."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from book.data import TensorBatches
from book.models.mlp import init_std, residual_mlp, torch_mlp
from book.training import EarlyStopping, fit
from book.training import diagnostics as dg


def _fit(model, X, y, optimizer, epochs, X_val=None, y_val=None, batch_size=32, seed=0, **kwargs):
    """fit() as chapter 4 calls it: shuffled training batches, whole-set evaluation."""
    val = None if X_val is None else TensorBatches(X_val, y_val)
    return fit(model, TensorBatches(X, y, batch_size, seed=seed), optimizer, epochs, val=val,
               train_eval=TensorBatches(X, y), **kwargs)


def test_torch_mlp_layout_and_widths():
    model = torch_mlp([5, 7, 7, 3], activation="tanh", dropout=0.2, seed=0)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert [(l.in_features, l.out_features) for l in dg.linear_layers(model)] == [(5, 7), (7, 7), (7, 3)]


def test_torch_mlp_seed_repeats_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = torch_mlp([4, 8, 2], init="he", seed=5)
    after = torch.rand(1)
    b = torch_mlp([4, 8, 2], init="he", seed=5)
    assert torch.equal(after, expected)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("init,fan_in,fan_out,expected", [("he", 400, 400, math.sqrt(2 / 400)), ("xavier", 300, 500, math.sqrt(2 / 800))])
def test_init_std_matches_the_empirical_spread(init, fan_in, fan_out, expected):
    assert init_std(init, fan_in, fan_out) == pytest.approx(expected)
    model = torch_mlp([fan_in, fan_out, 1], init=init, seed=0)
    w = dg.linear_layers(model)[0].weight.detach()
    assert float(w.std()) == pytest.approx(expected, rel=0.02)
    assert float(dg.linear_layers(model)[0].bias.detach().abs().max()) == 0.0


def test_init_gain_scales_the_weights():
    a = torch_mlp([50, 50, 1], init="he", seed=1)
    b = torch_mlp([50, 50, 1], init="he", gain=3.0, seed=1)
    assert torch.allclose(3.0 * dg.linear_layers(a)[0].weight, dg.linear_layers(b)[0].weight)


def test_torch_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        torch_mlp([2, 2], activation="gelu")
    with pytest.raises(ValueError, match="init"):
        torch_mlp([2, 2], init="orthogonal")
    with pytest.raises(ValueError, match="sizes"):
        torch_mlp([2])
    with pytest.raises(ValueError, match="dropout"):
        torch_mlp([2, 2], dropout=1.0)
    with pytest.raises(ValueError, match="gain"):
        torch_mlp([2, 2], gain=2.0)
    with pytest.raises(ValueError):
        init_std("default", 2, 2)


def test_residual_mlp_layout_and_forward():
    model = residual_mlp([5, 8, 8, 8, 3], activation="sigmoid", init="xavier", seed=0)
    layers = dg.linear_layers(model)
    assert [(l.in_features, l.out_features) for l in layers] == [(5, 8), (8, 8), (8, 8), (8, 3)]
    x = torch.randn(4, 5)
    h = layers[0](x)
    for block in layers[1:3]:
        h = h + torch.sigmoid(block(h))
    torch.testing.assert_close(model(x), layers[3](h))
    again = residual_mlp([5, 8, 8, 8, 3], activation="sigmoid", init="xavier", seed=0)
    for p, q in zip(model.parameters(), again.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="equal hidden widths"):
        residual_mlp([5, 8, 9, 3])
    with pytest.raises(ValueError, match="equal hidden widths"):
        residual_mlp([5, 3])


def test_skip_connections_stop_the_sigmoid_gradient_from_vanishing():
    sizes = [16] + [16] * 11 + [4]
    x, y = torch.randn(64, 16), torch.randint(0, 4, (64,))
    plain = dg.layer_gradient_norms(torch_mlp(sizes, "sigmoid", "xavier", seed=0), x, y, nn.functional.cross_entropy)
    res = dg.layer_gradient_norms(residual_mlp(sizes, "sigmoid", "xavier", seed=0), x, y, nn.functional.cross_entropy)
    assert plain[0] / plain[-1] < 1e-4 < res[0] / res[-1]


def test_layer_gradient_norms_match_autograd_by_hand():
    model = torch_mlp([3, 4, 2], activation="sigmoid", init="xavier", seed=0)
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 1, 0, 1, 0])
    norms = dg.layer_gradient_norms(model, x, y, nn.functional.cross_entropy)
    model.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    by_hand = [float(l.weight.grad.norm()) for l in dg.linear_layers(model)]
    np.testing.assert_allclose(norms, by_hand, rtol=1e-6)
    assert norms.shape == (2,)


def test_weight_grad_norms_needs_backward():
    with pytest.raises(ValueError, match="backward"):
        dg.weight_grad_norms(torch_mlp([2, 2], seed=0))


def test_total_grad_norm_is_what_clipping_measures():
    model = torch_mlp([4, 8, 3], seed=0)
    nn.functional.cross_entropy(model(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1])).backward()
    ours = dg.total_grad_norm(model.parameters())
    reported = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1e-3))
    assert ours == pytest.approx(reported, rel=1e-6)
    assert dg.total_grad_norm(model.parameters()) == pytest.approx(1e-3, rel=1e-4)
    assert dg.total_grad_norm([torch.zeros(2, requires_grad=True)]) == 0.0


def test_relative_weight_change():
    model = torch_mlp([3, 3, 3], seed=0)
    before = dg.weight_snapshot(model)
    np.testing.assert_array_equal(dg.relative_weight_change(before, model), [0.0, 0.0])
    with torch.no_grad():
        dg.linear_layers(model)[1].weight.mul_(1.5)
    np.testing.assert_allclose(dg.relative_weight_change(before, model), [0.0, 0.5], rtol=1e-6)
    with pytest.raises(ValueError, match="layers"):
        dg.relative_weight_change(before[:1], model)


def test_early_stopping_tracks_the_argmin_and_restores():
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    losses = [1.0, 0.8, 0.9, 0.7, 0.75, 0.76, 0.5]
    flags = []
    for i, v in enumerate(losses):
        with torch.no_grad():
            model.weight.fill_(float(i))
        flags.append(stopper.step(v, model))
    assert flags == [False, False, False, False, False, True, True]
    assert stopper.stopped_epoch == 5
    # frozen after stopping: the later, lower loss does not count
    assert stopper.best_epoch == 3 == int(np.argmin(losses[: stopper.stopped_epoch + 1]))
    assert stopper.best_value == 0.7
    stopper.restore(model)
    assert float(model.weight.detach()) == 3.0


def test_early_stopping_min_delta_and_errors():
    stopper = EarlyStopping(patience=1, min_delta=0.1)
    stopper.step(1.0)
    assert stopper.step(0.95)  # not better by more than min_delta
    with pytest.raises(ValueError, match="no weights"):
        stopper.restore(nn.Linear(1, 1))
    with pytest.raises(ValueError, match="NaN"):
        stopper.step(float("nan"))
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)


def _blobs(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 4)).astype(np.float32) * 0.3
    X[np.arange(n), y] += 2.0
    return X, y


def test_fit_learns_and_records_everything():
    X, y = _blobs()
    model = torch_mlp([4, 16, 3], seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    stopper = EarlyStopping(patience=3)
    hist = _fit(model, X[:80], y[:80], opt, epochs=15, X_val=X[80:], y_val=y[80:],
                             early_stopping=stopper, progress=False)
    assert set(hist) == {"loss", "train_loss", "train_acc", "val_loss", "val_acc"}
    assert all(len(v) == 15 for v in hist.values())
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] > 0.9
    last = stopper.stopped_epoch if stopper.stopped_epoch is not None else 14
    assert stopper.best_epoch == int(np.argmin(hist["val_loss"][: last + 1]))


def test_fit_is_repeatable_and_clips():
    X, y = _blobs()
    runs = []
    for _ in range(2):
        model = torch_mlp([4, 16, 3], seed=0)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        runs.append(_fit(model, X, y, opt, epochs=3, seed=4, max_grad_norm=0.01, progress=False))
    assert runs[0] == runs[1]
    assert "val_loss" not in runs[0]
    # the recorded norm is measured before clipping, so it exceeds the clip level here
    assert len(runs[0]["grad_norm"]) == 3 and min(runs[0]["grad_norm"]) > 0.01


def test_fit_records_the_unclipped_gradient_norm_on_request():
    X, y = _blobs()
    model = torch_mlp([4, 16, 3], seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: every batch sees the same weights
    hist = _fit(model, X, y, opt, epochs=1, batch_size=len(y), record_grad_norm=True, progress=False)
    model.zero_grad()
    nn.functional.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y)).backward()
    assert hist["grad_norm"][0] == pytest.approx(dg.total_grad_norm(model.parameters()), rel=1e-5)


def test_fit_stops_early_when_asked():
    X, y = _blobs()
    model = torch_mlp([4, 32, 3], seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    stopper = EarlyStopping(patience=1, min_delta=10.0)  # nothing counts as an improvement after epoch 0
    hist = _fit(model, X[:80], y[:80], opt, epochs=20, X_val=X[80:], y_val=y[80:],
                             early_stopping=stopper, stop_early=True, progress=False)
    assert len(hist["train_loss"]) == 2 and stopper.stopped_epoch == 1


def test_fit_argument_checks():
    X, y = _blobs(10)
    model = torch_mlp([4, 3], seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        _fit(model, X, y, opt, epochs=0, progress=False)
    with pytest.raises(ValueError, match="validation"):
        _fit(model, X, y, opt, epochs=1, early_stopping=EarlyStopping(), progress=False)


def test_layer_input_spread_matches_a_hand_computed_forward_pass():
    model = torch_mlp([5, 4, 3, 2], activation="tanh", init="xavier", seed=0).double()
    x = torch.randn(16, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    model.train()
    spread = dg.layer_input_spread(model, x)
    l1, l2 = model[0], model[2]
    with torch.no_grad():
        a1 = torch.tanh(l1(x))
        a2 = torch.tanh(l2(a1))
    expected = [x.std(dim=0).mean(), a1.std(dim=0).mean(), a2.std(dim=0).mean()]
    assert np.allclose(spread, [float(e) for e in expected], rtol=1e-12, atol=0)
    assert model.training  # the mode is left alone
    with pytest.raises(ValueError, match="at least 2 examples"):
        dg.layer_input_spread(model, x[:1])


def test_layer_input_spread_sees_the_sigmoid_collapse():
    x = torch.randn(128, 32, generator=torch.Generator().manual_seed(0))
    deep = dg.layer_input_spread(torch_mlp([32] + [32] * 15 + [4], activation="sigmoid", init="xavier", seed=0), x)
    he = dg.layer_input_spread(torch_mlp([32] + [32] * 15 + [4], activation="relu", init="he", seed=0), x)
    assert deep[-1] < 1e-5 * deep[1]
    assert he.max() / he.min() < 100


def test_first_nonfinite_layer_finds_where_the_overflow_starts():
    model = torch_mlp([3, 4, 4, 4, 1], activation="relu", init="he", seed=0)
    x = torch.ones(2, 3)
    assert dg.first_nonfinite_layer(model, x) is None
    with torch.no_grad():
        model[2].weight.fill_(1e30)   # layer 2 multiplies by 1e30 ...
        model[4].weight.fill_(1e30)   # ... and layer 3 again: float32 overflows there
    assert dg.first_nonfinite_layer(model, x) == 3
    with pytest.raises(ValueError, match="no nn.Linear"):
        dg.first_nonfinite_layer(nn.ReLU(), x)


def test_fit_steps_the_scheduler_once_per_optimizer_step_and_records_the_rate():
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    model = torch_mlp([3, 8, 2], init="he", seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    history = fit(model, TensorBatches(X, y, batch_size=10, seed=0), optimizer, 3, scheduler=scheduler, progress=False)
    # 4 steps per epoch: the last step of epoch e is step 4e + 3, run at lr 0.1 / (4e + 4)
    assert np.allclose(history["lr"], [0.1 / 4, 0.1 / 8, 0.1 / 12], rtol=1e-12)
    assert scheduler.last_epoch == 12
    assert "lr" not in fit(model, TensorBatches(X, y), optimizer, 1, progress=False)
