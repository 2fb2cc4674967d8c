"""book.plotting.computational_graph: chapter 3's computational-graph and gate-pattern figures."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from book.nn.graph import ScalarGraph  # noqa: E402
from book.plotting import missing_glyphs  # noqa: E402
from book.plotting.computational_graph import (  # noqa: E402
    draw_computational_graph, draw_gate_patterns, gate_graphs, layout)


def _graph():
    g = ScalarGraph()
    q = g.op("mul", g.input("w", 0.5), g.input("x", 2.0), name="q")
    z = g.op("add", q, g.input("b", -0.5), name="z")
    g.op("square", z, name="L")
    g.backward("L")
    return g


def test_every_edge_carries_its_value_and_its_gradient():
    g = _graph()
    ax = draw_computational_graph(g, "L")
    numbers = sorted(t.get_text() for t in ax.texts if t.get_text() not in {"w", "x", "b", "L", "×", "+", "( )²"})
    # z = 0.5 and L = z² = 0.25, so dL/dz = dL/dq = dL/db = 1, dL/dw = x = 2, dL/dx = w = 0.5.
    values = ["0.5", "2", "1", "−0.5", "0.5", "0.25"]  # along w, x, q, b, z and the output arrow
    grads = ["2", "0.5", "1", "1", "1", "1"]  # the same edges, the last one the seed
    assert numbers == sorted(values + grads)
    assert missing_glyphs(ax.figure) == set()
    plt.close("all")


def test_layout_puts_operations_left_to_right_and_leaves_before_their_consumer():
    pos = layout(_graph())
    assert pos["q"][0] < pos["z"][0] < pos["L"][0]
    assert pos["w"][0] < pos["q"][0] and pos["b"][0] < pos["z"][0]
    assert pos["w"][1] != pos["x"][1]


def test_gates_distribute_swap_and_route():
    graphs = gate_graphs(x=3.0, y=-1.0, upstream=2.0)
    assert (graphs["add"].grad["x"], graphs["add"].grad["y"]) == (2.0, 2.0)
    assert (graphs["mul"].grad["x"], graphs["mul"].grad["y"]) == (-2.0, 6.0)
    assert (graphs["max"].grad["x"], graphs["max"].grad["y"]) == (2.0, 0.0)
    fig = draw_gate_patterns(graphs)
    assert len(fig.axes) == 3 and missing_glyphs(fig) == set()
    plt.close("all")
    with pytest.raises(ValueError, match="tie"):
        gate_graphs(x=1.0, y=1.0)


def test_drawing_needs_a_backward_pass_first():
    g = ScalarGraph()
    g.op("add", g.input("a", 1.0), g.input("b", 2.0), name="s")
    with pytest.raises(ValueError, match="backward"):
        draw_computational_graph(g, "s")
    with pytest.raises(ValueError, match="unknown output"):
        draw_computational_graph(g, "nope")
