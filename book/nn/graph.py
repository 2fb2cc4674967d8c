"""A computational graph of scalars with a hand-written reverse pass: backpropagation
at the scale of single numbers, for worked examples and figures.

Each node is an input (a leaf holding a number) or an operation on earlier
nodes. :meth:`ScalarGraph.backward` visits the nodes from the last to the
first and applies each operation's local rule, which is where the gate
patterns come from:

* ``add`` hands the incoming gradient unchanged to both inputs (it
  *distributes* it);
* ``mul`` hands each input the incoming gradient times the *other* input's
  value (it *swaps* its inputs);
* ``max`` hands the whole gradient to the larger input and 0 to the other
  (it *routes* it; a tie goes to the first input, as ``torch.maximum``'s
  subgradient splits it evenly, so keep ties out of examples);
* ``sub`` hands it on to the first input and negated to the second;
* ``square`` multiplies it by ``2 x``.

The gradient carried along each edge is kept, so a figure can write it
beside the arrow (:mod:`book.plotting.computational_graph`).
``tests/test_graph.py`` checks the pass against torch autograd and finite
differences.
"""
from __future__ import annotations

from dataclasses import dataclass

from book.checks import one_of, real

OPS = {"add": "+", "sub": "−", "mul": "×", "max": "max", "square": "( )²"}
_ARITY = {"add": 2, "sub": 2, "mul": 2, "max": 2, "square": 1}


@dataclass
class Node:
    """One node: ``op`` is ``"input"`` or a key of :data:`OPS`; ``inputs`` names its arguments."""

    name: str
    op: str
    inputs: tuple[str, ...]
    value: float


class ScalarGraph:
    """Build with :meth:`input` and :meth:`op`, then call :meth:`backward` on the output.

    After ``backward(output)``, ``grad[name]`` is d(output)/d(node) for every
    node and ``edge_grad[(src, dst)]`` is the part of ``grad[src]`` that
    arrived along the edge ``src -> dst``.
    """

    def __init__(self):
        self.nodes: dict[str, Node] = {}
        self.grad: dict[str, float] = {}
        self.edge_grad: dict[tuple[str, str], float] = {}

    def _new_name(self, name: str) -> str:
        if not isinstance(name, str) or not name:
            raise ValueError(f"ScalarGraph: a node needs a non-empty string name, got {name!r}")
        if name in self.nodes:
            raise ValueError(f"ScalarGraph: there is already a node named {name!r}")
        return name

    def input(self, name: str, value) -> str:
        """A leaf holding ``value``; returns its name."""
        name = self._new_name(name)
        self.nodes[name] = Node(name, "input", (), real(value, f"value of {name!r}", owner="ScalarGraph.input"))
        return name

    def op(self, op: str, *inputs: str, name: str) -> str:
        """The node ``name = op(*inputs)``, evaluated now; returns ``name``."""
        op = one_of(op, tuple(OPS), "op", owner="ScalarGraph.op")
        if len(inputs) != _ARITY[op]:
            raise ValueError(f"ScalarGraph.op: {op!r} takes {_ARITY[op]} input(s), got {len(inputs)}")
        missing = [i for i in inputs if i not in self.nodes]
        if missing:
            raise ValueError(f"ScalarGraph.op: unknown input node(s) {missing}; create them first")
        name = self._new_name(name)
        v = [self.nodes[i].value for i in inputs]
        if op == "add":
            value = v[0] + v[1]
        elif op == "sub":
            value = v[0] - v[1]
        elif op == "mul":
            value = v[0] * v[1]
        elif op == "max":
            value = max(v[0], v[1])
        else:
            value = v[0] ** 2
        self.nodes[name] = Node(name, op, tuple(inputs), value)
        return name

    def value(self, name: str) -> float:
        """The forward value of node ``name``."""
        return self.nodes[name].value

    def edges(self) -> list[tuple[str, str]]:
        """Every ``(src, dst)`` pair, in the order the nodes were made."""
        return [(src, node.name) for node in self.nodes.values() for src in node.inputs]

    def local_gradients(self, node: Node, upstream: float) -> list[float]:
        """The gradient each input of ``node`` receives, given d(output)/d(node) = ``upstream``."""
        v = [self.nodes[i].value for i in node.inputs]
        if node.op == "add":  # d(u+v)/du = d(u+v)/dv = 1: the gradient is distributed
            return [upstream, upstream]
        if node.op == "sub":
            return [upstream, -upstream]
        if node.op == "mul":  # d(uv)/du = v: each input gets the other's value
            return [upstream * v[1], upstream * v[0]]
        if node.op == "max":  # only the larger input changes the output, so only it gets a gradient
            first = v[0] >= v[1]
            return [upstream if first else 0.0, 0.0 if first else upstream]
        return [upstream * 2.0 * v[0]]  # square

    def backward(self, output: str, seed: float = 1.0) -> dict[str, float]:
        """Fill :attr:`grad` and :attr:`edge_grad` with derivatives of ``output``; returns :attr:`grad`.

        ``seed`` is d(loss)/d(output) when ``output`` is not itself the loss
        (1 when it is).
        """
        if output not in self.nodes:
            raise ValueError(f"ScalarGraph.backward: unknown node {output!r}")
        seed = real(seed, "seed", owner="ScalarGraph.backward")
        self.grad = {name: 0.0 for name in self.nodes}
        self.edge_grad = {}
        self.grad[output] = seed
        # Creation order is a topological order, so reversing it visits every
        # node after all the nodes that use it: its gradient is complete.
        for node in reversed(list(self.nodes.values())):
            if node.op == "input":
                continue
            for src, g in zip(node.inputs, self.local_gradients(node, self.grad[node.name])):
                self.edge_grad[(src, node.name)] = self.edge_grad.get((src, node.name), 0.0) + g
                self.grad[src] += g
        return self.grad


__all__ = ["OPS", "Node", "ScalarGraph"]
