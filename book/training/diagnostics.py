"""Instruments for seeing why training fails: per-layer gradient norms, the
total gradient norm that clipping measures, how far each layer's weights
moved, and how much each layer's input still varies from example to example. Chapter 4 uses them on PyTorch models (any device).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``model``, input side first."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def weight_grad_norms(model: nn.Module) -> np.ndarray:
    """Frobenius norm of each ``nn.Linear`` weight gradient, input side first.

    Call it after ``loss.backward()``. A layer without a gradient raises.
    """
    norms = []
    for i, layer in enumerate(linear_layers(model)):
        if layer.weight.grad is None:
            raise ValueError(f"linear layer {i} has no gradient; call loss.backward() first")
        norms.append(float(layer.weight.grad.detach().norm()))
    return np.array(norms)


def layer_gradient_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn) -> np.ndarray:
    """One forward and backward pass of ``loss_fn(model(x), y)``; returns :func:`weight_grad_norms`."""
    model.zero_grad(set_to_none=True)
    loss_fn(model(x), y).backward()
    return weight_grad_norms(model)


def total_grad_norm(parameters: Iterable[torch.Tensor]) -> float:
    """The 2-norm of all gradients stacked into one vector (what gradient clipping measures).

    Parameters without a gradient are skipped.
    """
    squares = [p.grad.detach().double().pow(2).sum() for p in parameters if p.grad is not None]
    if not squares:
        return 0.0
    return float(torch.stack(squares).sum().sqrt())


def linear_io(model: nn.Module, x: torch.Tensor, owner: str = "linear_io") -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(input, output)`` of every ``nn.Linear`` layer, input side first, from one forward pass without gradients."""
    layers = linear_layers(model)
    if not layers:
        raise ValueError(f"{owner}: the model has no nn.Linear layer")
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def recorder(i):
        def hook(_module, inputs, output):
            seen[i] = (inputs[0].detach(), output.detach())
        return hook

    handles = [layer.register_forward_hook(recorder(i)) for i, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return [seen[i] for i in range(len(layers))]


def layer_input_spread(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """How much the input of each ``nn.Linear`` layer varies across the examples of ``x``.

    One forward pass (no gradients, the model's mode unchanged); for layer
    ``l`` the value is the standard deviation over the batch of each input
    feature, averaged over features. Entry 0 is the spread of ``x`` itself.
    A value near zero means that layer sees almost the same vector for every
    example: the forward signal has collapsed, whatever the gradients do.
    """
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError(f"layer_input_spread needs a batch of at least 2 examples, shape (N, d); got {tuple(x.shape)}")
    return np.array([float(inp.double().std(dim=0).mean()) for inp, _ in linear_io(model, x, "layer_input_spread")])


def first_nonfinite_layer(model: nn.Module, x: torch.Tensor) -> int | None:
    """The first ``nn.Linear`` layer (counting from 1, input side first) whose output on ``x`` has an inf or NaN.

    One forward pass without gradients; ``None`` if every layer's output is
    finite. It says where an overflow starts: an exploding network usually
    overflows a few layers before its output, not at the loss.
    """
    for i, (_, out) in enumerate(linear_io(model, x, "first_nonfinite_layer"), start=1):
        if not bool(torch.isfinite(out).all()):
            return i
    return None


def weight_snapshot(model: nn.Module) -> list[torch.Tensor]:
    """Copies of every ``nn.Linear`` weight, to compare with later (see :func:`relative_weight_change`)."""
    return [layer.weight.detach().clone() for layer in linear_layers(model)]


def relative_weight_change(before: Sequence[torch.Tensor], model: nn.Module) -> np.ndarray:
    """``||W_now - W_before|| / ||W_before||`` for each ``nn.Linear`` layer, input side first."""
    layers = linear_layers(model)
    if len(before) != len(layers):
        raise ValueError(f"snapshot has {len(before)} layers, the model has {len(layers)}")
    return np.array(
        [float((lay.weight.detach() - w0).norm() / w0.norm()) for lay, w0 in zip(layers, before)]
    )
