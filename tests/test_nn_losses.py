"""book.nn losses against torch, finite differences and huge logits; their error messages."""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import numerical_gradient, rel_error

T = torch.float64
TOL = 1e-7
FD_TOL = 1e-6  # central-difference rounding noise, see tests/test_nn_layers.py


def torch_loss(loss_t, x, target):
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    value = loss_t(xt, target)
    value.backward()
    return value.item(), xt.grad.cpu().numpy()


def assert_loss_matches_torch(ours, theirs, x, target, target_t):
    value = ours(x, target)
    grad = ours.backward()
    t_value, t_grad = torch_loss(theirs, x, target_t)
    assert isinstance(value, float) and np.isfinite(value) and np.all(np.isfinite(grad))
    assert rel_error(value, t_value) < TOL
    assert rel_error(grad, t_grad) < TOL


@pytest.mark.parametrize("shape", [(1,), (1, 1), (6, 3), (2, 3, 4)])
def test_mse_matches_torch(shape):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    assert_loss_matches_torch(nn.MSELoss(), torch.nn.MSELoss(), x, y, torch.tensor(y, dtype=T))


@pytest.mark.parametrize("n,c", [(1, 2), (1, 10), (8, 3), (16, 10)])
def test_cross_entropy_matches_torch(n, c):
    rng = np.random.default_rng(1)
    x, y = rng.normal(scale=3, size=(n, c)), rng.integers(0, c, size=n)
    assert_loss_matches_torch(nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), x, y, torch.tensor(y))


@pytest.mark.parametrize("shape", [(1,), (1, 1), (8, 1), (5, 3)])
def test_bce_with_logits_matches_torch(shape):
    rng = np.random.default_rng(2)
    x = rng.normal(scale=3, size=shape)
    for y in [rng.integers(0, 2, size=shape).astype(float), rng.uniform(size=shape)]:
        assert_loss_matches_torch(nn.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss(), x, y, torch.tensor(y, dtype=T))


@pytest.mark.filterwarnings("error")
def test_cross_entropy_at_huge_logits_is_finite_and_exact():
    x = np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    y = np.array([0, 1, 2, 2])
    ce = nn.CrossEntropyLoss()
    assert_loss_matches_torch(ce, torch.nn.CrossEntropyLoss(), x, y, torch.tensor(y))
    # Row losses: 0, 2e4, log 3, 2e4 + log 2; a naive softmax-then-log gives inf.
    assert ce(x, y) == pytest.approx((2e4 + np.log(3) + 2e4 + np.log(2)) / 4, rel=1e-15)


@pytest.mark.filterwarnings("error")
def test_bce_with_logits_at_huge_logits_is_finite_and_exact():
    x = np.array([1e4, -1e4, 1e4, -1e4, 0.0])
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    bce = nn.BCEWithLogitsLoss()
    assert_loss_matches_torch(bce, torch.nn.BCEWithLogitsLoss(), x, y, torch.tensor(y, dtype=T))
    assert bce(x, y) == pytest.approx((0 + 0 + 1e4 + 1e4 + np.log(2)) / 5, rel=1e-15)
    assert np.array_equal(bce.backward(), np.array([0.0, 0.0, 1.0, -1.0, 0.0]) / 5)


@pytest.mark.parametrize(
    "loss,make_target",
    [
        (nn.MSELoss(), lambda rng, x: rng.normal(size=x.shape)),
        (nn.CrossEntropyLoss(), lambda rng, x: rng.integers(0, x.shape[1], size=x.shape[0])),
        (nn.BCEWithLogitsLoss(), lambda rng, x: rng.uniform(size=x.shape)),
    ],
    ids=["mse", "cross_entropy", "bce"],
)
def test_loss_gradients_match_finite_differences(loss, make_target):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 4))  # moderate logits: no softmax entry so small that rounding noise dominates
    y = make_target(rng, x)
    loss(x, y)
    grad = loss.backward()
    assert rel_error(grad, numerical_gradient(lambda _: loss(x, y), x)) < FD_TOL


def test_backward_scales_by_a_scalar_grad_output():
    ce = nn.CrossEntropyLoss()
    x = np.array([[1.0, 2.0, 3.0]])
    ce(x, np.array([1]))
    assert np.allclose(ce.backward(2.5), 2.5 * ce.backward())
    with pytest.raises(ValueError, match="expects a scalar grad_output"):
        ce.backward(np.ones(2))


# --- error messages ---------------------------------------------------------------


def test_backward_before_forward_raises():
    for loss in [nn.MSELoss(), nn.CrossEntropyLoss(), nn.BCEWithLogitsLoss()]:
        with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
            loss.backward()


def test_mse_and_bce_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"mse_loss expects arrays of the same shape, got \(4, 1\) and \(4,\) \(no broadcasting\)"):
        nn.MSELoss()(np.ones((4, 1)), np.ones(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits expects arrays of the same shape, got \(3,\) and \(3, 1\)"):
        nn.BCEWithLogitsLoss()(np.ones(3), np.ones((3, 1)))
    with pytest.raises(ValueError, match="non-empty"):
        nn.MSELoss()(np.ones((0, 2)), np.ones((0, 2)))


def test_cross_entropy_rejects_bad_logits_and_targets():
    ce = nn.CrossEntropyLoss()
    logits = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"cross_entropy expects logits of shape \(N, C\) with N, C >= 1, got \(3,\)"):
        ce(np.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match=r"expects class labels of shape \(4,\), got \(4, 1\)"):
        ce(logits, np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match=r"expects integer class labels of shape \(4,\), got dtype float64"):
        ce(logits, np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\), got values from 0 to 3"):
        ce(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\).*got values from -1 to 2"):
        ce(logits, np.array([-1, 1, 2, 0]))
