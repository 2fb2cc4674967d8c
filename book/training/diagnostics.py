"""Instruments for seeing why training fails: per-layer gradient norms, the
total gradient norm that clipping measures, and how far each layer's weights
moved. Chapter 4 uses them on PyTorch models (any device).
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
