"""Tests of book.training.quadratic: the quadratic bowl, optimizer paths and the textbook Adam."""
import numpy as np
import pytest
import torch

import book.nn
from book.training import quadratic as od


def test_quadratic_value_grad_and_condition_number():
    q = od.Quadratic((2.0, 50.0))
    x = np.array([1.0, -0.5])
    assert q.value(x) == pytest.approx(0.5 * (2 * 1 + 50 * 0.25))
    np.testing.assert_allclose(q.grad(x), [2.0, -25.0])
    assert q.condition_number == 25.0
    t = torch.tensor(x, requires_grad=True)
    q.torch_value(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), q.grad(x))
    with pytest.raises(ValueError):
        od.Quadratic((1.0, 0.0))


def test_gradient_descent_closed_form_matches_simulation():
    q = od.Quadratic((1.0, 10.0))
    x0 = [3.0, 1.0]
    _, losses = od.descend_torch(q, x0, lambda p: torch.optim.SGD(p, lr=0.05), 400)
    assert od.steps_to_reach(losses, 1e-6) == od.gradient_descent_steps(q, x0, 0.05, 1e-6)
    assert od.steps_to_reach(losses, -1.0) is None
    assert od.gradient_descent_steps(q, x0, 0.0, 1e-6, max_steps=10) is None


def test_descend_book_matches_descend_torch():
    q = od.Quadratic((1.0, 100.0))
    for mk_t, mk_b in [
        (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), lambda m: book.nn.SGD(m, lr=0.01, momentum=0.9)),
        (lambda p: torch.optim.Adam(p, lr=0.1), lambda m: book.nn.Adam(m, lr=0.1)),
    ]:
        pt, lt = od.descend_torch(q, [-10.0, 1.0], mk_t, 20)
        pb, lb = od.descend_book(q, [-10.0, 1.0], mk_b, 20)
        assert pt.shape == (21, 2)
        np.testing.assert_allclose(pb, pt, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lb, lt, rtol=1e-12)


@pytest.mark.parametrize("wd,decoupled", [(0.0, False), (0.1, False), (0.1, True)])
def test_adam_textbook_matches_torch(wd, decoupled):
    q = od.Quadratic((1.0, 100.0))
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    path, _ = od.descend_torch(q, [-10.0, 1.0], lambda p: cls(p, lr=0.1, weight_decay=wd), 5)
    ours = od.adam_textbook(q.grad, [-10.0, 1.0], 5, lr=0.1, weight_decay=wd, decoupled=decoupled)
    np.testing.assert_allclose(ours, path, rtol=0, atol=1e-12)


def test_adam_first_step_is_lr_times_sign():
    ours = od.adam_textbook(lambda x: np.array([1e-3, -1e3]), [0.0, 0.0], 1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(ours[1], [-0.1, 0.1])


def test_plot_paths_draws_contours_and_paths():
    import matplotlib.pyplot as plt

    q = od.Quadratic((1.0, 100.0))
    path, _ = od.descend_torch(q, [-10.0, 1.0], lambda p: torch.optim.SGD(p, lr=0.01), 10)
    ax = od.plot_paths(q, {"sgd": path})
    labels = [line.get_label() for line in ax.get_lines()]
    assert "sgd" in labels and "minimum" in labels
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="two-dimensional"):
        od.plot_paths(od.Quadratic((1.0, 2.0, 3.0)), {})
