"""``Sequential``: layers applied in order, as ``torch.nn.Sequential``."""
from __future__ import annotations

from book.nn.module import Module


class Sequential(Module):
    """Chain of layers. Forward runs them in order, backward in reverse.

    ``params`` and ``grads`` are built from the layers' own dicts with the
    layer's position as prefix (``"0.weight"``, ``"2.bias"``), exactly like the
    keys of ``torch.nn.Sequential.state_dict()``; the arrays are shared with
    the layers, not copied.
    """

    def __init__(self, *layers: Module):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a book.nn Module")
        self.layers = list(layers)

    def _collect(self, which: str) -> dict:
        out = {}
        for i, layer in enumerate(self.layers):
            items = getattr(layer, which)
            items = items() if callable(items) else items
            for name, value in items.items():
                out[f"{i}.{name}"] = value
        return out

    @property
    def params(self) -> dict:
        """``"index.name"`` -> parameter array of the layer at that index (shared, not copied)."""
        return self._collect("params")

    @property
    def grads(self) -> dict:
        """``"index.name"`` -> gradient array of the layer at that index (shared, not copied)."""
        return self._collect("grads")

    @property
    def buffers(self) -> dict:
        """``"index.name"`` -> buffer of the layer at that index (shared, not copied)."""
        return self._collect("buffers")

    def _state(self) -> dict:
        # Layer by layer, each layer's parameters before its buffers: torch's state_dict order.
        return self._collect("_state")

    def train(self, mode: bool = True) -> "Sequential":
        """Set the mode of this container and of every layer in it."""
        super().train(mode)
        for layer in self.layers:
            layer.train(mode)
        return self

    def forward(self, x):
        """Feed ``x`` through every layer in order."""
        for layer in self.layers:
            x = layer(x)
        self._cache = True
        return x

    def backward(self, grad_output):
        """Back-propagate through the layers in reverse order; returns dLoss/d(input)."""
        self._require_cache()
        for layer in reversed(self.layers):
            grad_output = layer.backward(grad_output)
        return grad_output

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"
