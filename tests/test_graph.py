"""book.nn.graph: the scalar computational graph's reverse pass against torch autograd and finite differences."""
import pytest
import torch

from book.nn.graph import ScalarGraph


def _neuron(values):
    g = ScalarGraph()
    q = g.op("mul", g.input("w", values["w"]), g.input("x", values["x"]), name="q")
    z = g.op("add", q, g.input("b", values["b"]), name="z")
    a = g.op("max", z, g.input("zero", 0.0), name="a")
    d = g.op("sub", a, g.input("y", values["y"]), name="d")
    g.op("square", d, name="L")
    return g


@pytest.mark.parametrize("values", [dict(w=0.5, x=2.0, b=-0.5, y=1.5), dict(w=-1.3, x=0.7, b=2.1, y=-0.4),
                                    dict(w=0.8, x=-1.2, b=0.2, y=0.3)])
def test_reverse_pass_matches_autograd_and_finite_differences(values):
    g = _neuron(values)
    grads = g.backward("L")
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in values.items()}
    loss = (torch.clamp(t["w"] * t["x"] + t["b"], min=0.0) - t["y"]) ** 2
    loss.backward()
    assert abs(loss.item() - g.value("L")) < 1e-14
    for k in values:
        assert abs(t[k].grad.item() - grads[k]) < 1e-12, k
        eps = 1e-6
        up, down = dict(values), dict(values)
        up[k] += eps
        down[k] -= eps
        numeric = (_neuron(up).value("L") - _neuron(down).value("L")) / (2 * eps)
        assert abs(numeric - grads[k]) < 1e-6, k


def test_gate_rules_and_edge_gradients():
    g = ScalarGraph()
    x, y = g.input("x", 3.0), g.input("y", -1.0)
    s = g.op("add", x, y, name="s")
    m = g.op("mul", x, y, name="m")
    out = g.op("max", s, m, name="out")  # s = 2 wins over m = -3
    g.backward(out, seed=2.0)
    assert g.edge_grad[("s", "out")] == 2.0 and g.edge_grad[("m", "out")] == 0.0
    assert g.edge_grad[("x", "s")] == g.edge_grad[("y", "s")] == 2.0
    assert g.edge_grad[("x", "m")] == 0.0  # nothing arrived at m
    assert g.grad["x"] == 2.0 and g.grad["y"] == 2.0  # fan-out sums its edges
    assert g.edges() == [("x", "s"), ("y", "s"), ("x", "m"), ("y", "m"), ("s", "out"), ("m", "out")]


def test_a_node_used_twice_sums_its_edges():
    g = ScalarGraph()
    x = g.input("x", 1.5)
    g.op("mul", x, x, name="sq")
    g.backward("sq")
    assert g.grad["x"] == pytest.approx(3.0) and g.edge_grad[("x", "sq")] == pytest.approx(3.0)


def test_bad_input():
    g = ScalarGraph()
    g.input("x", 1.0)
    with pytest.raises(ValueError, match="already a node"):
        g.input("x", 2.0)
    with pytest.raises(ValueError, match="op must be one of"):
        g.op("div", "x", "x", name="q")
    with pytest.raises(ValueError, match="takes 1 input"):
        g.op("square", "x", "x", name="q")
    with pytest.raises(ValueError, match="unknown input"):
        g.op("add", "x", "nope", name="q")
    with pytest.raises(ValueError, match="value"):
        g.input("z", float("nan"))
    with pytest.raises(ValueError, match="unknown node"):
        g.backward("nope")
