"""Chapter 8's figures: the GAN schematic and the sample grid (book.plotting.gan)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.gan import gan_figure, sample_grid  # noqa: E402


def test_gan_figure_names_both_players_and_both_losses():
    fig, ax = gan_figure()
    texts = " ".join(t.get_text() for t in ax.texts)
    for part in ("generator $G$", "discriminator $D$", "$L_D$", "$L_G$", "non-saturating", "no sigmoid",
                 "updates D only", "into G"):
        assert part in texts, part
    assert len(ax.patches) >= 8 + 9  # eight boxes and nine arrows
    assert missing_glyphs(fig) == set()
    plt.close(fig)


def test_sample_grid_tiles_images_with_gaps():
    images = np.linspace(-1, 1, 7 * 4 * 5).reshape(7, 4, 5, 1)
    ax = sample_grid(images, cols=3, pad=1)
    (shown,) = ax.images
    assert shown.get_array().shape == (3 * 4 + 2, 3 * 5 + 2)  # three rows of three, one-pixel gaps
    assert np.array_equal(shown.get_array()[:4, :5], images[0, ..., 0])
    assert shown.get_clim() == (-1.0, 1.0)
    plt.close(ax.figure)


@pytest.mark.parametrize("kwargs, match", [
    ({"images": np.zeros((2, 3))}, "sample_grid expects images of shape"),
    ({"images": np.zeros((2, 3, 3)), "cols": 0}, "sample_grid: cols"),
    ({"images": np.zeros((2, 3, 3)), "value_range": (1.0, -1.0)}, "sample_grid: value_range"),
    ({"images": np.zeros((2, 3, 3)), "pad": -1}, "sample_grid: pad"),
])
def test_sample_grid_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sample_grid(**kwargs)
