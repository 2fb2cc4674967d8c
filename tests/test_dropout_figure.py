"""Chapter 4's dropout schematic."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.dropout import dropout_figure  # noqa: E402


def test_training_panel_loses_the_dropped_units_edges_and_evaluation_keeps_all():
    fig, (train, evaluation) = dropout_figure(sizes=(3, 4, 2), dropped=[[], [0, 2], []], p=0.5)
    crosses = 2 * 2                                     # two strokes per dropped unit
    assert len(train.lines) == 3 * 2 + 2 * 2 + crosses  # only the two kept hidden units are wired
    assert len(evaluation.lines) == 3 * 4 + 4 * 2
    assert "2 of 4 hidden units dropped" in train.get_title()
    assert "1/(1-p) = 2" in train.get_title()
    assert missing_glyphs(fig) == set()
    plt.close(fig)


@pytest.mark.parametrize("dropped", [[[0], [], []], [[], [], [1]], [[], [4], []], [[], [1, 1], []], [[], [], [], []]])
def test_dropout_figure_rejects_impossible_masks(dropped):
    with pytest.raises(ValueError, match="dropout_figure"):
        dropout_figure(sizes=(3, 4, 2), dropped=dropped)


def test_dropout_figure_checks_p():
    for p in (0.0, 1.0, -0.1, True):
        with pytest.raises(ValueError, match="dropout_figure: p"):
            dropout_figure(p=p)
