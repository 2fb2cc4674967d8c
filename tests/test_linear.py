"""Tests of the losses in book.nn.functional and of book.models.linear: every loss
against torch, every gradient against torch autograd (float64) and finite
differences, the fits against closed forms and scikit-learn, and the ValueErrors
for bad input."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from book.models import linear as L
from book.nn import functional as bF
from book.data import make_linear_data, make_logistic_data, make_softmax_data
from book.gradcheck import numerical_gradient, rel_error
from book.nn.functional import softmax

RNG = np.random.default_rng(1234)


def t64(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


# ----------------------------------------------------------------- losses and dL/dZ
def test_mse_matches_torch_and_autograd():
    y_pred, y = RNG.normal(size=(7, 1)), RNG.normal(size=(7, 1))
    tp = t64(y_pred, grad=True)
    loss = F.mse_loss(tp, t64(y))
    loss.backward()
    assert bF.mse_loss(y_pred, y) == pytest.approx(loss.item(), rel=1e-14)
    assert rel_error(bF.mse_loss_grad(y_pred, y), tp.grad.numpy()) < 1e-12
    assert rel_error(bF.mse_loss_grad(y_pred, y), 2 * (y_pred - y) / 7) < 1e-15


def test_mse_grad_matches_finite_differences():
    y_pred, y = RNG.normal(size=(5, 2)), RNG.normal(size=(5, 2))
    num = numerical_gradient(lambda v: bF.mse_loss(v, y), y_pred.copy())
    assert rel_error(bF.mse_loss_grad(y_pred, y), num) < 1e-6


def test_bce_with_logits_matches_torch_and_autograd():
    z = RNG.normal(scale=3.0, size=50)
    y = (RNG.uniform(size=50) < 0.5).astype(np.float64)
    tz = t64(z, grad=True)
    loss = F.binary_cross_entropy_with_logits(tz, t64(y))
    loss.backward()
    assert bF.binary_cross_entropy_with_logits(z, y) == pytest.approx(loss.item(), rel=1e-13)
    assert rel_error(bF.binary_cross_entropy_with_logits_grad(z, y), tz.grad.numpy()) < 1e-12


def test_bce_grad_matches_finite_differences_with_soft_targets():
    z = RNG.normal(scale=2.0, size=8)
    y = RNG.uniform(size=8)  # targets anywhere in [0, 1] are allowed
    num = numerical_gradient(lambda v: bF.binary_cross_entropy_with_logits(v, y), z.copy())
    assert rel_error(bF.binary_cross_entropy_with_logits_grad(z, y), num) < 1e-6


def test_bce_is_finite_and_exact_at_huge_logits():
    z = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    # Two confident right answers cost 0, two confident wrong ones 1000 each.
    assert bF.binary_cross_entropy_with_logits(z, y) == pytest.approx(500.0, rel=1e-15)
    assert np.allclose(bF.binary_cross_entropy_with_logits_grad(z, y), [0, 0, 0.25, -0.25])


def test_softmax_cross_entropy_matches_torch_and_autograd():
    Z = RNG.normal(scale=2.0, size=(9, 4))
    y = RNG.integers(0, 4, size=9)
    tZ = t64(Z, grad=True)
    loss = F.cross_entropy(tZ, torch.as_tensor(y))
    loss.backward()
    assert bF.cross_entropy(Z, y) == pytest.approx(loss.item(), rel=1e-13)
    assert rel_error(bF.cross_entropy_grad(Z, y), tZ.grad.numpy()) < 1e-12


def test_softmax_cross_entropy_grad_matches_finite_differences():
    Z = RNG.normal(size=(6, 3))
    y = RNG.integers(0, 3, size=6)
    num = numerical_gradient(lambda v: bF.cross_entropy(v, y), Z.copy())
    assert rel_error(bF.cross_entropy_grad(Z, y), num) < 1e-6


def test_softmax_cross_entropy_is_shift_invariant_and_stable():
    Z = RNG.normal(size=(5, 3))
    y = RNG.integers(0, 3, size=5)
    shifted = Z + 1000.0
    assert bF.cross_entropy(shifted, y) == pytest.approx(bF.cross_entropy(Z, y), rel=1e-9)
    assert np.allclose(bF.cross_entropy_grad(shifted, y), bF.cross_entropy_grad(Z, y), atol=1e-12)
    big = np.array([[1000.0, 0.0, -1000.0]])
    assert bF.cross_entropy(big, np.array([2])) == pytest.approx(2000.0, rel=1e-15)
    assert bF.cross_entropy(big, np.array([0])) == 0.0


def test_one_hot():
    assert np.array_equal(bF.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


# ----------------------------------------------------------------- parameter gradients
def _torch_param_grads(X, W, b, loss_fn):
    tW, tb = t64(W, grad=True), t64(b, grad=True)
    loss = loss_fn(t64(X) @ tW + tb)
    loss.backward()
    return loss.item(), tW.grad.numpy(), tb.grad.numpy()


def test_linear_regression_param_grads_match_autograd_and_finite_differences():
    X, y = make_linear_data(n=30, weights=(1.0, -2.0, 0.5), seed=3)
    W, b = RNG.normal(size=(3, 1)), RNG.normal(size=(1,))
    dW, db = L.linear_grads(X, bF.mse_loss_grad(X @ W + b, y))
    _, tW, tb = _torch_param_grads(X, W, b, lambda z: F.mse_loss(z, t64(y)))
    assert rel_error(dW, tW) < 1e-12 and rel_error(db, tb) < 1e-12
    # The matrix formula of the chapter: (2/N) X^T (y_hat - y).
    assert rel_error(dW, 2 / 30 * X.T @ (X @ W + b - y)) < 1e-12
    assert rel_error(dW, numerical_gradient(lambda v: bF.mse_loss(X @ v + b, y), W.copy())) < 1e-6
    assert rel_error(db, numerical_gradient(lambda v: bF.mse_loss(X @ W + v, y), b.copy())) < 1e-6


def test_logistic_param_grads_match_autograd_and_finite_differences():
    X, y = make_logistic_data(n=40, seed=5)
    W, b = RNG.normal(size=2), np.array(0.3)
    dW, db = L.linear_grads(X, bF.binary_cross_entropy_with_logits_grad(X @ W + b, y))
    yt = t64(y.astype(np.float64))
    _, tW, tb = _torch_param_grads(X, W, b, lambda z: F.binary_cross_entropy_with_logits(z, yt))
    assert rel_error(dW, tW) < 1e-12 and rel_error(db, tb) < 1e-12
    assert rel_error(dW, numerical_gradient(lambda v: bF.binary_cross_entropy_with_logits(X @ v + b, y), W.copy())) < 1e-6
    num_b = numerical_gradient(lambda v: bF.binary_cross_entropy_with_logits(X @ W + v, y), np.array([0.3]))
    assert rel_error(np.atleast_1d(db), num_b) < 1e-6


def test_softmax_param_grads_match_autograd_and_finite_differences():
    X, y = make_softmax_data(n=25, n_classes=4, n_features=3, seed=2)
    W, b = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    dW, db = L.linear_grads(X, bF.cross_entropy_grad(X @ W + b, y))
    yt = torch.as_tensor(y)
    _, tW, tb = _torch_param_grads(X, W, b, lambda z: F.cross_entropy(z, yt))
    assert rel_error(dW, tW) < 1e-12 and rel_error(db, tb) < 1e-12
    # The matrix formula of the chapter: (1/N) X^T (P - Y).
    assert rel_error(dW, X.T @ (softmax(X @ W + b, axis=1) - bF.one_hot(y, 4)) / 25) < 1e-12
    assert rel_error(dW, numerical_gradient(lambda v: bF.cross_entropy(X @ v + b, y), W.copy())) < 1e-6
    assert rel_error(db, numerical_gradient(lambda v: bF.cross_entropy(X @ W + v, y), b.copy())) < 1e-6


# ----------------------------------------------------------------- fitting
def test_linear_regression_gd_reaches_the_normal_equations():
    X, y = make_linear_data(n=200, seed=0)
    fit = L.fit_linear_regression(X, y, lr=0.1, steps=2500)
    W, b = L.normal_equations(X, y)
    assert np.max(np.abs(fit.W - W)) < 1e-6 and np.max(np.abs(fit.b - b)) < 1e-6
    assert fit.history.shape == (2501,)
    assert np.all(np.diff(fit.history) <= 1e-12)  # never rises, up to rounding
    assert abs(W.item() - 3.0) < 0.3 and abs(b.item() - 2.0) < 0.2


def test_normal_equations_recover_noise_free_weights_exactly():
    X, y = make_linear_data(n=20, weights=(1.5, -0.5), bias=-1.0, noise_std=0.0, seed=4)
    W, b = L.normal_equations(X, y)
    assert np.allclose(W.ravel(), [1.5, -0.5], atol=1e-12) and abs(b.item() + 1.0) < 1e-12


def test_logistic_regression_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    X, y = make_logistic_data(n=1000, seed=1)
    fit = L.fit_logistic_regression(X, y, lr=1.0, steps=600)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    assert np.max(np.abs(fit.W - ref.coef_.ravel())) < 1e-4
    assert abs(fit.b - ref.intercept_[0]) < 1e-4
    assert np.all(np.diff(fit.history) <= 1e-12)


def test_softmax_regression_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression

    X, y = make_softmax_data(n=300, n_classes=3, seed=0)
    fit = L.fit_softmax_regression(X, y, lr=0.5, steps=1500)
    assert fit.W.shape == (2, 3) and fit.b.shape == (3,)
    assert np.all(np.diff(fit.history) <= 1e-12)
    ref = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(X, y)
    # W is defined only up to a constant added to every class; the probabilities are unique.
    assert np.max(np.abs(softmax(X @ fit.W + fit.b, axis=1) - ref.predict_proba(X))) < 1e-6


def test_softmax_regression_without_features_learns_the_label_entropy():
    # With a constant zero input only the biases learn: the best such model predicts the class
    # frequencies, and its mean cross-entropy is their entropy (cross-entropy = entropy + KL).
    y = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])
    fit = L.fit_softmax_regression(np.zeros((y.size, 1)), y, lr=2.0, steps=2000)
    freq = np.bincount(y) / y.size
    assert np.allclose(softmax(fit.b), freq, atol=1e-6)
    assert fit.history[-1] == pytest.approx(-np.sum(freq * np.log(freq)), abs=1e-9)
    assert fit.history[0] == pytest.approx(np.log(4), rel=1e-15)  # zero weights: a uniform guess


def test_gradient_descent_with_zero_steps_returns_the_start():
    X, y = make_linear_data(n=10)
    fit = L.fit_linear_regression(X, y, steps=0)
    assert np.all(fit.W == 0) and fit.history.shape == (1,)
    assert fit.history[0] == pytest.approx(np.mean(y**2))


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bF.mse_loss(np.zeros((4, 1)), np.zeros(4)), "no broadcasting"),
        (lambda: bF.mse_loss(np.zeros(0), np.zeros(0)), "empty"),
        (lambda: L.fit_linear_regression(np.zeros((3, 1)), np.array([0.0, np.nan, 1.0])), "NaN"),
        (lambda: L.linear_grads(np.array([["a"]]), np.zeros(1)), "numeric"),
        (lambda: bF.binary_cross_entropy_with_logits(np.zeros(3), np.array([0.0, 1.0, 1.5])), r"\[0, 1\]"),
        (lambda: bF.binary_cross_entropy_with_logits_grad(np.zeros(3), np.zeros((3, 1))), "no broadcasting"),
        (lambda: bF.cross_entropy(np.zeros(3), np.array([0])), r"\(N, C\)"),
        (lambda: bF.cross_entropy(np.zeros((2, 3)), np.array([0, 3])), r"\[0, 3\)"),
        (lambda: bF.cross_entropy_grad(np.zeros((2, 3)), np.array([0.0, 1.0])), "integer"),
        (lambda: bF.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2])), r"shape \(2,\)"),
        (lambda: bF.one_hot(np.array([0, 1]), 1), "num_classes"),
        (lambda: L.linear_grads(np.zeros((3, 2)), np.zeros(4)), "rows"),
        (lambda: L.linear_grads(np.zeros(3), np.zeros(3)), r"\(N, d\)"),
        (lambda: L.normal_equations(np.zeros((3, 2)), np.zeros(4)), "rows"),
        (lambda: L.fit_linear_regression(np.zeros((3, 1)), np.zeros((3, 1)), lr=0.0), "lr"),
        (lambda: L.fit_linear_regression(np.zeros((3, 1)), np.zeros((3, 1)), steps=-1), "steps"),
        (lambda: L.fit_linear_regression(np.zeros((3, 1)), np.zeros((3, 2))), "shape"),
        (lambda: L.fit_logistic_regression(np.zeros((3, 1)), np.array([0.0, 1.0, 2.0]), steps=1), r"\[0, 1\]"),
        (lambda: L.fit_logistic_regression(np.zeros((3, 1)), np.zeros((3, 1))), "shape"),
        (lambda: L.fit_softmax_regression(np.zeros((3, 1)), np.array([0, 1, 1]), n_classes=1), "n_classes"),
        (lambda: L.fit_softmax_regression(np.zeros((3, 1)), np.array([0, 1, 5]), n_classes=3), r"\[0, 3\)"),
        (lambda: L.gradient_descent(np.zeros((3, 2)), np.zeros(3), bF.mse_loss, bF.mse_loss_grad, np.zeros(3), 0.0, 0.1, 1), "W0"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
