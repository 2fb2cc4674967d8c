"""book.plotting.mlp_diagram: chapter 3's figure of a multilayer perceptron."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.mlp_diagram import draw_mlp  # noqa: E402


def test_mlp_diagram_shows_every_layer_and_weight_shape():
    ax = draw_mlp([64, 32, 10], max_units=5)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "64×32" in texts and "32×10" in texts and "⋮" in texts
    assert "hidden layer 1" in texts and "output" in texts
    assert len(ax.lines) == 5 * 5 + 5 * 5
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")
    with pytest.raises(ValueError, match="sizes"):
        draw_mlp([3])
    with pytest.raises(ValueError, match="max_units"):
        draw_mlp([3, 2], max_units=2)
