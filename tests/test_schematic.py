"""The drawing blocks of the schematic figures."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.plotting import missing_glyphs  # noqa: E402
from book.plotting import schematic as sch  # noqa: E402


def test_network_places_every_unit_and_every_edge():
    ax = sch.canvas(8, 4)
    centres = sch.network(ax, [3, 4, 2], labels=[["x1", "x2", "x3"]])
    assert [len(layer) for layer in centres] == [3, 4, 2]
    assert centres[0][0][0] < centres[1][0][0] < centres[2][0][0]  # layers left to right
    assert centres[0][0][1] > centres[0][-1][1]  # first unit on top
    assert len(ax.lines) == 3 * 4 + 4 * 2
    assert {t.get_text() for t in ax.texts} == {"x1", "x2", "x3"}
    plt.close(ax.figure)


def test_dropped_units_lose_their_edges_and_are_crossed_out():
    ax = sch.canvas(8, 4)
    sch.network(ax, [3, 4, 2], dropped=[[], [0, 2]])
    crosses = 2 * 2
    assert len(ax.lines) == 3 * 2 + 2 * 2 + crosses
    plt.close(ax.figure)


def test_arrow_label_sits_beside_the_arrow_and_nodes_return_their_centre():
    ax = sch.canvas(6, 3)
    a = sch.box(ax, (1, 1.5), "x")
    b = sch.circle(ax, (5, 1.5), "+")
    label = sch.arrow(ax, a, b, label="2.0", gap=0.5)
    x, y = label.get_position()
    assert 2.9 < x < 3.1 and y > 1.5  # halfway along, to the arrow's left (above, going right)
    assert a == (1, 1.5) and b == (5, 1.5)
    assert missing_glyphs(ax.figure) == set()
    plt.close(ax.figure)


def test_bad_input():
    ax = sch.canvas(4, 4)
    with pytest.raises(ValueError, match="two different points"):
        sch.arrow(ax, (1, 1), (1, 1))
    with pytest.raises(ValueError, match="sizes"):
        sch.network(ax, [3, 0])
    with pytest.raises(ValueError, match="width"):
        sch.canvas(0, 4)
    plt.close("all")
