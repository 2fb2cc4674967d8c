"""Chapter 9's schematics: the factorised rating matrix and the two-tower model."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.recsys import factorisation_figure, two_tower_figure  # noqa: E402


def test_factorisation_figure_draws_r_p_and_q_with_their_shapes():
    fig, ax = factorisation_figure(n_users=5, n_items=7, rank=3)
    assert len(ax.patches) == 5 * 7 + 5 * 3 + 3 * 7          # one cell per entry of R, P and Q^T
    texts = [t.get_text() for t in ax.texts]
    assert "ratings R: 5 users x 7 items" in texts and "P: 5 x 3" in texts
    assert "?" in texts                                         # missing ratings are marked
    assert missing_glyphs(fig) == set()
    plt.close(fig)


@pytest.mark.parametrize("kwargs", [{"rank": 6}, {"rank": 0}, {"density": 0.0}, {"n_users": True}])
def test_factorisation_figure_checks_its_arguments(kwargs):
    with pytest.raises(ValueError, match="factorisation_figure"):
        factorisation_figure(**{"n_users": 6, "n_items": 8, **kwargs})


def test_two_tower_figure_has_both_towers_and_the_dot_product():
    fig, ax = two_tower_figure()
    texts = " ".join(t.get_text() for t in ax.texts)
    for word in ("user tower", "item tower", "item features", "score", "in-batch negatives"):
        assert word in texts
    assert missing_glyphs(fig) == set()
    plt.close(fig)
    with pytest.raises(ValueError, match="two_tower_figure: scale"):
        two_tower_figure(scale=0)
