"""Multilayer perceptrons, built the same way in NumPy and in PyTorch.

:func:`numpy_mlp` (a :class:`book.nn.Sequential`) and :func:`torch_mlp` (a
``torch.nn.Sequential``) put their layers at the same positions, so their
``state_dict`` keys agree (``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...)
and :func:`book.nn.torch_state` copies one network's weights into the other
exactly. :func:`residual_mlp` adds skip connections (chapter 4). The
activation names and the initialisations are defined once, here.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from book.checks import one_of, positive_ints, real

# Each name maps to the class of that name in book.nn and in torch.nn.
ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "identity": "Identity"}
INITS = ("default", "xavier", "he")


def _sizes(sizes, owner: str) -> list[int]:
    return positive_ints(sizes, "sizes (input width, ..., output width)", min_length=2, owner=owner)


def _activation(activation: str, owner: str) -> str:
    return ACTIVATIONS[one_of(activation, tuple(ACTIVATIONS), "activation", owner=owner)]


def _layer_plan(sizes: list[int]):
    """``(d_in, d_out, is_last)`` for each linear layer: an activation follows all but the last."""
    return [(d_in, d_out, i == len(sizes) - 2) for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]))]


def numpy_mlp(sizes: Sequence[int], activation: str = "relu", rng=None):
    """A :class:`book.nn.Sequential` MLP: ``Linear`` layers of widths ``sizes``
    with ``activation`` between them and none after the last (it outputs logits).

    ``numpy_mlp([64, 32, 10])`` is ``Linear(64, 32), ReLU(), Linear(32, 10)``.
    ``rng`` (a ``numpy.random.Generator`` or an int seed) makes the
    initialisation repeatable.
    """
    from book import nn as bnn

    sizes = _sizes(sizes, "numpy_mlp")
    act = getattr(bnn, _activation(activation, "numpy_mlp"))
    rng = np.random.default_rng(rng)
    layers = []
    for d_in, d_out, last in _layer_plan(sizes):
        layers.append(bnn.Linear(d_in, d_out, rng=rng))
        if not last:
            layers.append(act())
    return bnn.Sequential(*layers)


def init_std(init: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Standard deviation of the normal initialization named ``init``.

    ``"xavier"`` (Glorot) keeps the variance of activations and gradients
    equal for a unit-slope activation: ``sqrt(2 / (fan_in + fan_out))``.
    ``"he"`` (Kaiming) compensates for ReLU zeroing half its inputs:
    ``sqrt(2 / fan_in)``. ``gain`` multiplies the result.
    """
    one_of(init, ("xavier", "he"), "init", owner="init_std")
    if init == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    return gain * math.sqrt(2.0 / fan_in)


def _check_init(init: str, gain: float, owner: str) -> float:
    one_of(init, INITS, "init", owner=owner)
    gain = real(gain, "gain", 0.0, low_open=True, owner=owner)
    if init == "default" and gain != 1.0:
        raise ValueError(f"{owner}: gain applies to the 'xavier' and 'he' initializations only")
    return gain


def _initialized_linear(d_in: int, d_out: int, init: str, gain: float) -> nn.Linear:
    linear = nn.Linear(d_in, d_out)
    if init != "default":
        with torch.no_grad():
            linear.weight.normal_(0.0, init_std(init, d_in, d_out, gain))
            linear.bias.zero_()
    return linear


def _seeded(build, seed):
    """``build()`` with torch's generator seeded by ``seed``, leaving the global random state as it was."""
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def torch_mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    init: str = "default",
    gain: float = 1.0,
    dropout: float = 0.0,
    seed: int | None = None,
) -> nn.Sequential:
    """The ``torch.nn.Sequential`` twin of :func:`numpy_mlp` (same layer positions).

    There are ``len(sizes) - 1`` ``nn.Linear`` layers; each but the last is
    followed by ``activation`` (``"relu"``, ``"sigmoid"``, ``"tanh"`` or
    ``"identity"``) and, if ``dropout > 0``, by ``nn.Dropout(dropout)``. The
    output layer returns logits.

    ``init`` is ``"default"`` (PyTorch's own: uniform with variance
    ``1 / (3 fan_in)``), ``"xavier"`` or ``"he"`` (normal weights with the
    standard deviation of :func:`init_std`, times ``gain``; zero biases).
    ``seed`` makes the weights repeatable without touching torch's global
    random state; without it they come from that state.
    """
    sizes = _sizes(sizes, "torch_mlp")
    act = getattr(nn, _activation(activation, "torch_mlp"))
    gain = _check_init(init, gain, "torch_mlp")
    dropout = real(dropout, "dropout", 0.0, 1.0, high_open=True, owner="torch_mlp")

    def build() -> nn.Sequential:
        layers: list[nn.Module] = []
        for d_in, d_out, last in _layer_plan(sizes):
            layers.append(_initialized_linear(d_in, d_out, init, gain))
            if not last:
                layers.append(act())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        return nn.Sequential(*layers)

    return _seeded(build, seed)


class ResidualMLP(nn.Module):
    """``h = W_in x``; then ``h <- h + f(W_l h + b_l)`` for each hidden block; then ``W_out h``.

    The skip connection ``h + ...`` gives the gradient a path through each
    block whose Jacobian is the identity plus a correction, so it cannot
    vanish the way a plain stack's product does. Build it with
    :func:`residual_mlp`.
    """

    def __init__(self, inp: nn.Linear, blocks: Sequence[nn.Linear], out: nn.Linear, activation: str):
        super().__init__()
        self.inp = inp
        self.blocks = nn.ModuleList(blocks)
        self.out = out
        self.act = getattr(nn, _activation(activation, "ResidualMLP"))()

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + self.act(block(h))
        return self.out(h)


def residual_mlp(
    sizes: Sequence[int], activation: str = "relu", init: str = "default", gain: float = 1.0, seed: int | None = None
) -> ResidualMLP:
    """A :class:`ResidualMLP` with the same number of ``nn.Linear`` layers as ``torch_mlp(sizes)``.

    ``sizes`` is ``[d_in, width, ..., width, d_out]``: every hidden width must
    be equal, since each block adds its output to its input. ``activation``,
    ``init``, ``gain`` and ``seed`` mean what they mean in :func:`torch_mlp`.
    """
    sizes = _sizes(sizes, "residual_mlp")
    _activation(activation, "residual_mlp")
    gain = _check_init(init, gain, "residual_mlp")
    if len(sizes) < 3 or len(set(sizes[1:-1])) != 1:
        raise ValueError(f"residual_mlp: a residual MLP needs equal hidden widths, got {sizes}")
    width = sizes[1]

    def build() -> ResidualMLP:
        inp = _initialized_linear(sizes[0], width, init, gain)
        blocks = [_initialized_linear(width, width, init, gain) for _ in range(len(sizes) - 3)]
        out = _initialized_linear(width, sizes[-1], init, gain)
        return ResidualMLP(inp, blocks, out, activation)

    return _seeded(build, seed)


__all__ = ["ACTIVATIONS", "INITS", "ResidualMLP", "init_std", "numpy_mlp", "residual_mlp", "torch_mlp"]
