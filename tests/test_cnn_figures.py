"""Chapter 5's figures: a convolution step, a shape chain, filters and activation maps."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from book.models.cnn import seed_cnn_plan, shape_chain  # noqa: E402
from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.cnn import (activation_maps_figure, convolution_figure, filters_figure,  # noqa: E402
                               shape_chain_figure)

X = np.arange(20).reshape(4, 5) % 3
W = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]])


def test_convolution_figure_writes_the_chosen_output_as_its_sum():
    fig = convolution_figure(X, W, padding=1, stride=1, position=(2, 3))
    ax = fig.axes[0]
    xp = np.pad(X, 1)
    value = float((xp[2:5, 3:6] * W).sum())
    assert ax.get_title().endswith(f"= {value:g}")
    texts = [t.get_text() for t in ax.texts]
    assert "output 4×5, stride 1" in texts and "kernel 3×3" in texts
    # every cell of the padded input, the kernel and the output is written out
    assert sum(t.get_text().lstrip("-").isdigit() for t in ax.texts) == 6 * 7 + 9 + 4 * 5
    assert missing_glyphs(fig) == set()
    plt.close(fig)


def test_convolution_figure_with_stride_shrinks_the_output():
    fig = convolution_figure(X, W, padding=0, stride=2, position=(0, 1))
    assert "output 1×2, stride 2" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)


@pytest.mark.parametrize("kwargs", [dict(position=(4, 0)), dict(position=(0,)), dict(padding=-1), dict(stride=0)])
def test_convolution_figure_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="convolution_figure"):
        convolution_figure(X, W, **kwargs)
    plt.close("all")


def test_convolution_figure_needs_2d_arrays_that_fit():
    with pytest.raises(ValueError, match="2-D"):
        convolution_figure(X[None], W)
    with pytest.raises(ValueError, match="larger"):
        convolution_figure(X[:1, :2], W, padding=0)


def test_shape_chain_figure_draws_one_box_per_shape_change():
    chain = shape_chain(seed_cnn_plan(10), (1, 28, 28))
    fig = shape_chain_figure(chain, title="L06")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    kept = [shape for name, shape in chain if name != "ReLU"]
    assert len(ax.patches) == len(kept) + (len(kept) - 1)   # boxes and arrows
    assert "1×28×28" in texts and "64×3×3" in texts and "576" in texts
    assert "conv 3×3\n32\n+ ReLU" in texts and "max-pool\n2×2" in texts
    assert missing_glyphs(fig) == set()
    plt.close(fig)


def test_shape_chain_figure_rejects_bad_chains():
    with pytest.raises(ValueError, match="shape_chain_figure"):
        shape_chain_figure([("input", (1, 8, 8))])
    with pytest.raises(ValueError, match="shape_chain_figure"):
        shape_chain_figure([("input", (8, 8)), ("flatten", (64,))])


def test_filters_and_activation_maps_have_one_panel_each():
    weight = np.random.default_rng(0).normal(size=(10, 2, 3, 3))
    fig = filters_figure(weight, channel=1, ncols=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 10 and len(fig.axes) == 12
    lo, hi = shown[0].images[0].get_clim()
    assert lo == -hi == -np.abs(weight[:, 1]).max()
    plt.close(fig)
    fig = activation_maps_figure(np.zeros((8, 8)), np.ones((5, 4, 4)), ncols=3)
    assert len([ax for ax in fig.axes if ax.images]) == 6 and fig.axes[0].get_title() == "input"
    plt.close(fig)


def test_filters_and_maps_reject_bad_shapes():
    with pytest.raises(ValueError, match="filters_figure"):
        filters_figure(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="channel 2"):
        filters_figure(np.zeros((3, 2, 3, 3)), channel=2)
    with pytest.raises(ValueError, match="activation_maps_figure"):
        activation_maps_figure(np.zeros((8, 8)), np.zeros((8, 8)))
