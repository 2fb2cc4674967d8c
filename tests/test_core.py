"""Tests of the book's core helpers: device, seeding, gradient checking, data,
plotting, the training loop and show_source."""
import random

import numpy as np
import pytest
import torch

import book
from book import data, gradcheck, plotting, source, training
from book.device import describe_devices, torch_device


def test_torch_device_is_usable():
    dev = torch_device()
    assert dev.type in {"cuda", "mps", "cpu"}
    assert torch.ones(2, device=dev).sum().item() == 2.0


def test_describe_devices_names_both_frameworks():
    line = describe_devices()
    assert line.startswith("Devices: torch -> ")
    assert "TensorFlow -> " in line and "\n" not in line


def test_setup_prints_the_device_line(capsys):
    assert book.setup(3) is None
    assert capsys.readouterr().out.strip() == describe_devices()


def test_seed_repeats_every_library():
    def draw():
        import tensorflow as tf

        return (random.random(), np.random.rand(), torch.rand(1).item(), float(tf.random.uniform(())))

    book.seed(7)
    first = draw()
    book.seed(7)
    assert draw() == first
    book.seed(8)
    assert draw() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_seed_rejects_bad_values(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        book.seed(bad)


def test_numerical_gradient_of_a_quadratic():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    x = np.array([0.3, -0.7])
    num = gradcheck.numerical_gradient(lambda v: 0.5 * v @ A @ v, x)
    assert gradcheck.rel_error(num, A @ x) < 1e-8


def test_numerical_gradient_matches_torch_autograd():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4))
    x = rng.normal(size=4)

    def f(W_):
        return float(np.sum(np.tanh(W_ @ x) ** 2))

    t = torch.tensor(W, requires_grad=True)
    (torch.tanh(t @ torch.tensor(x)) ** 2).sum().backward()
    assert gradcheck.rel_error(gradcheck.numerical_gradient(f, W.copy()), t.grad.numpy()) < 1e-7


def test_numerical_gradient_restores_its_input():
    x = np.array([1.0, 2.0])
    gradcheck.numerical_gradient(lambda v: v.sum(), x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_gradcheck_bad_input():
    with pytest.raises(ValueError, match="floating-point"):
        gradcheck.numerical_gradient(lambda v: 0.0, np.array([1, 2]))
    with pytest.raises(ValueError, match="equal shapes"):
        gradcheck.rel_error(np.zeros(2), np.zeros(3))


def test_rel_error_is_zero_for_equal_zero_arrays():
    assert gradcheck.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert gradcheck.rel_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)


def test_digits_split_is_stratified_and_repeatable():
    a = data.load_digits_split(seed=0)
    b = data.load_digits_split(seed=0)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    n = len(a.y_train) + len(a.y_val) + len(a.y_test)
    assert n == 1797
    assert len(a.y_test) == pytest.approx(0.25 * 1797, abs=2)
    assert len(a.y_val) == pytest.approx(0.15 * 1797, abs=2)
    assert a.X_train.dtype == np.float32 and 0.0 <= a.X_train.min() and a.X_train.max() <= 1.0
    assert set(np.unique(a.y_test)) == set(range(10))
    c = data.load_digits_split(seed=1)
    assert not np.array_equal(a.y_test, c.y_test)


@pytest.mark.parametrize("size", [16, 28, 32])
@pytest.mark.parametrize("layout,shape", [("flat", lambda s: (s * s,)), ("hw", lambda s: (s, s)),
                                          ("nchw", lambda s: (1, s, s)), ("nhwc", lambda s: (s, s, 1))])
def test_digits_sizes_and_layouts(size, layout, shape):
    split = data.load_digits_split(size=size, layout=layout)
    assert split.X_train.shape[1:] == shape(size)
    assert split.X_test.shape[0] == len(split.y_test)


def test_resize_keeps_a_constant_image_constant():
    img = np.full((2, 8, 8), 0.5)
    for size in (4, 16, 28):
        out = data.resize_images(img, size)
        assert out.shape == (2, size, size)
        np.testing.assert_allclose(out, 0.5, atol=1e-6)


def test_data_bad_arguments():
    with pytest.raises(ValueError, match="layout"):
        data.load_digits_split(layout="chw")
    with pytest.raises(ValueError, match="sum to less than 1"):
        data.load_digits_split(val_fraction=0.5, test_fraction=0.6)
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        data.resize_images(np.zeros((8, 8)), 16)
    with pytest.raises(ValueError, match="positive int"):
        data.resize_images(np.zeros((1, 8, 8)), 0)
    with pytest.raises(ValueError, match="positive int"):
        data.make_linear_data(n=0)
    with pytest.raises(ValueError, match="n_classes"):
        data.make_softmax_data(n_classes=1)


def test_linear_data_recovers_its_truth():
    X, y = data.make_linear_data(n=20000, weights=(3.0, -1.0), bias=2.0, noise_std=0.5)
    A = np.hstack([X, np.ones((len(X), 1))])
    coef = np.linalg.lstsq(A, y, rcond=None)[0].ravel()
    np.testing.assert_allclose(coef, [3.0, -1.0, 2.0], atol=0.05)


def test_logistic_data_has_binary_labels_at_the_true_rate():
    X, y = data.make_logistic_data(n=20000, weights=(2.0, -1.0), bias=0.5)
    assert set(np.unique(y)) == {0, 1}
    p = 1 / (1 + np.exp(-(X @ np.array([2.0, -1.0]) + 0.5)))
    assert abs(y.mean() - p.mean()) < 0.01


def test_plot_history_draws_each_series():
    import matplotlib

    matplotlib.use("Agg")
    ax = plotting.plot_history({"loss": [3, 2, 1], "val_loss": [3.5, 2.5, 2]}, ylabel="loss")
    assert len(ax.get_lines()) == 2
    with pytest.raises(ValueError, match="no series"):
        plotting.plot_history({"loss": [1]}, keys=["acc"])


def test_train_loop_collects_metrics():
    hist = training.train_loop(lambda e: {"loss": 1.0 / (e + 1)}, epochs=3, progress=False)
    assert hist == {"loss": [1.0, 0.5, 1.0 / 3]}
    with pytest.raises(ValueError, match="positive int"):
        training.train_loop(lambda e: {}, epochs=0)


def test_train_loop_stops_when_asked():
    seen = []
    hist = training.train_loop(lambda e: seen.append(e) or {"loss": e}, epochs=10, progress=False,
                               stop=lambda: len(seen) == 3)
    assert seen == [0, 1, 2] and hist == {"loss": [0.0, 1.0, 2.0]}


def test_fit_lowers_the_loss_on_a_data_loader():
    torch.manual_seed(0)
    X = torch.randn(256, 2)
    y = (X[:, 0] + X[:, 1] > 0).long()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=32, shuffle=True)
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    hist = training.fit(model, loader, opt, 5, loss_fn=torch.nn.CrossEntropyLoss(), val=loader, progress=False)
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_acc"][-1] > 0.9


def test_show_source_displays_the_real_code():
    md = source.show_source(gradcheck.rel_error)
    assert "def rel_error" in md.data and "*Source: `book/gradcheck.py`*" in md.data
    assert md.data.startswith("*Source:") and "```python" in md.data
    with pytest.raises(ValueError, match="no Python source"):
        source.show_source(len)
