"""Figures of computational graphs with numbers on their edges (chapter 3).

:func:`draw_computational_graph` draws a :class:`book.nn.graph.ScalarGraph`
after its backward pass: each edge carries the forward value of its source
(dark, above) and the gradient that travelled back along it (red, below).
:func:`gate_graphs` and :func:`draw_gate_patterns` show the three gate
patterns of backpropagation side by side: an add gate distributes the
gradient, a multiply gate swaps its inputs, a max gate routes it. Every
number in these figures is computed by the graph, none is typed in.
"""
from __future__ import annotations

import numpy as np

from book.checks import positive, real
from book.nn.graph import OPS, ScalarGraph
from book.plotting import schematic as sch


def _fmt(value: float) -> str:
    text = f"{value:.3g}"
    return "0" if text in ("0", "-0") else text.replace("-", "−")


def layout(graph: ScalarGraph, dx: float = 2.2, dy: float = 1.25) -> dict[str, tuple[float, float]]:
    """Positions for a graph read left to right: operations on a spine, leaf inputs hanging beside them.

    An operation's column is one more than the latest operation it reads;
    operations sharing a column are stacked. Each leaf sits most of a column
    before the operation that first reads it, alternately above and below
    the spine (the two leaves of an operation reading only leaves go one
    above, one below, a whole column before it).
    """
    dx, dy = positive(dx, "dx", owner="layout"), positive(dy, "dy", owner="layout")
    column: dict[str, int] = {}
    rows: dict[int, int] = {}
    pos: dict[str, tuple[float, float]] = {}
    for node in graph.nodes.values():
        if node.op == "input":
            continue
        parents = [column[i] for i in node.inputs if i in column]
        column[node.name] = 1 + max(parents, default=0)
        row = rows.get(column[node.name], 0)
        rows[column[node.name]] = row + 1
        pos[node.name] = (column[node.name] * dx, -row * 2 * dy)
    side = 1
    for node in graph.nodes.values():
        if node.op == "input":
            continue
        leaves = [i for i in node.inputs if graph.nodes[i].op == "input" and i not in pos]
        x, y = pos[node.name]
        if len(leaves) == len(node.inputs) == 2:
            pos[leaves[0]] = (x - dx, y + dy)
            pos[leaves[1]] = (x - dx, y - dy)
            continue
        for leaf in leaves:
            pos[leaf] = (x - 0.7 * dx, y + side * dy)
            side = -side
    for node in graph.nodes.values():  # leaves nobody reads
        pos.setdefault(node.name, (0.0, -len(pos) * dy))
    return pos


def draw_computational_graph(graph: ScalarGraph, output: str, ax=None, positions=None,
                             names: dict[str, str] | None = None, radius: float = 0.36,
                             title: str | None = None):
    """Draw ``graph`` after ``graph.backward(output)``; returns the axes.

    ``positions`` maps node names to points (default: :func:`layout`);
    ``names`` maps node names to the text written in leaf nodes (default:
    the names). The output node gets a last arrow to a box showing its value
    and the seed gradient 1.
    """
    if output not in graph.nodes:
        raise ValueError(f"draw_computational_graph: unknown output node {output!r}")
    if not graph.edge_grad and graph.edges():
        raise ValueError("draw_computational_graph: call graph.backward(output) first")
    radius = positive(radius, "radius", owner="draw_computational_graph")
    pos = dict(layout(graph) if positions is None else positions)
    names = names or {}
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    x0, y0 = min(xs) - 0.8, min(ys) - 1.0
    width, height = max(xs) - x0 + 2.6, max(ys) - y0 + 1.3
    pos = {k: (x - x0, y - y0) for k, (x, y) in pos.items()}
    ax = sch.canvas(width, height, scale=0.75, ax=ax)
    for node in graph.nodes.values():
        if node.op == "input":
            sch.circle(ax, pos[node.name], names.get(node.name, node.name), radius=radius, colour="input",
                       fontsize=10)
        else:
            sch.circle(ax, pos[node.name], OPS[node.op], radius=radius, colour="op",
                       fontsize=10 if len(OPS[node.op]) < 3 else 8)
    for src, dst in graph.edges():
        a, b = np.asarray(pos[src]), np.asarray(pos[dst])
        sch.arrow(ax, tuple(a), tuple(b), label=_fmt(graph.value(src)), gap=radius, label_offset=0.22,
                  fontsize=9)
        direction = (b - a) / np.hypot(*(b - a))
        normal = np.array([-direction[1], direction[0]])
        where = (a + b) / 2 - 0.24 * normal
        ax.text(*where, _fmt(graph.edge_grad.get((src, dst), 0.0)), ha="center", va="center", fontsize=9,
                color=sch.COLOURS["grad"])
    out_xy = np.asarray(pos[output])
    end = out_xy + np.array([1.8, 0.0])
    sch.arrow(ax, tuple(out_xy), tuple(end), label=_fmt(graph.value(output)), gap=radius, gap_end=0.45)
    ax.text(*(out_xy + np.array([0.95, -0.24])), _fmt(graph.grad[output]), ha="center", va="center",
            fontsize=9, color=sch.COLOURS["grad"])
    sch.box(ax, tuple(end), names.get(output, output), width=0.8, height=0.6, colour="loss")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def gate_graphs(x=3.0, y=-1.0, upstream: float = 2.0) -> dict[str, ScalarGraph]:
    """Three one-gate graphs ``out = x + y``, ``x * y`` and ``max(x, y)``, after a backward pass
    that receives ``upstream`` as d(loss)/d(out). Keys: ``"add"``, ``"mul"``, ``"max"``."""
    x, y = real(x, "x", owner="gate_graphs"), real(y, "y", owner="gate_graphs")
    upstream = real(upstream, "upstream", owner="gate_graphs")
    if x == y:
        raise ValueError("gate_graphs: x and y must differ, or the max gate has a tie")
    graphs = {}
    for op in ("add", "mul", "max"):
        g = ScalarGraph()
        g.op(op, g.input("x", x), g.input("y", y), name="out")
        g.backward("out", seed=upstream)
        graphs[op] = g
    return graphs


_GATE_TITLES = {"add": "add gate: distributes", "mul": "multiply gate: swaps", "max": "max gate: routes"}


def draw_gate_patterns(graphs: dict[str, ScalarGraph] | None = None):
    """The three gates of :func:`gate_graphs` side by side, values dark and gradients red; returns the figure."""
    import matplotlib.pyplot as plt

    graphs = gate_graphs() if graphs is None else graphs
    fig, axes = plt.subplots(1, len(graphs), figsize=(3.4 * len(graphs), 2.6))
    for ax, (op, g) in zip(np.atleast_1d(axes), graphs.items()):
        out = list(g.nodes)[-1]
        positions = {"x": (0.0, 0.9), "y": (0.0, -0.9), out: (2.0, 0.0)}
        pos = {k: positions.get(k, (0.0, 0.0)) for k in g.nodes}
        draw_computational_graph(g, out, ax=ax, positions=pos, title=_GATE_TITLES.get(op, op))
    fig.tight_layout()
    return fig


__all__ = ["draw_computational_graph", "draw_gate_patterns", "gate_graphs", "layout"]
