"""Optimizers that update :mod:`book.nn` parameters in place, step for step as ``torch.optim``.

Each takes a module or a list of modules (a ``Sequential`` counts as one)
and, at every ``step()``, reads ``(name, param, grad)`` from
``module.parameters()`` afresh, so the optimizer never holds a stale array.
"""
from __future__ import annotations

import numpy as np

from book.checks import non_negative, real
from book.nn.module import Module, refuse_unsupported


class Optimizer:
    """Base class: holds the modules, per-parameter state and the learning rate ``lr``."""

    def __init__(self, layers, lr: float):
        if isinstance(layers, Module):
            layers = [layers]
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"{type(self).__name__}: item {i} is {type(layer).__name__}, not a book.nn Module")
        self.layers = layers
        self.lr = non_negative(lr, "lr", owner=type(self).__name__)
        # (layer index, parameter name) -> dict of buffers, created on first use.
        self.state: dict = {}

    def _triples(self):
        for i, layer in enumerate(self.layers):
            for name, p, g in layer.parameters():
                yield self.state.setdefault((i, name), {}), p, g

    def zero_grad(self) -> None:
        """Zero every gradient of every module."""
        for layer in self.layers:
            layer.zero_grad()

    def step(self) -> None:
        """Update every parameter once from its current gradient."""
        for state, p, g in self._triples():
            self._update(state, p, g)

    def _update(self, state: dict, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay, as ``torch.optim.SGD``.

    ``g = grad + weight_decay * p``; with momentum ``buf = momentum * buf + g``
    (``buf = g`` at the first step) and ``g = buf``; then ``p -= lr * g``.
    The arguments come in torch's order; ``dampening`` and ``nesterov`` are
    accepted only at their defaults (0 and ``False``).
    """

    def __init__(self, layers, lr: float, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        refuse_unsupported("SGD", dampening=(dampening, 0.0), nesterov=(nesterov, False))
        super().__init__(layers, lr)
        self.momentum = non_negative(momentum, "momentum", owner="SGD")
        self.weight_decay = non_negative(weight_decay, "weight_decay", owner="SGD")

    def _update(self, state, p, g):
        if self.weight_decay:
            g = g + self.weight_decay * p
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += g
            g = state["momentum_buffer"]
        p -= self.lr * g


class Adam(Optimizer):
    """Adam with bias correction, as ``torch.optim.Adam``; ``weight_decay`` adds L2 ``wd * p`` to the gradient.

    ``m = b1 m + (1-b1) g``, ``v = b2 v + (1-b2) g^2``,
    ``p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)``.
    """

    decoupled = False

    def __init__(self, layers, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(layers, lr)
        name = type(self).__name__
        try:
            if len(betas) != 2:
                raise ValueError
            self.betas = tuple(real(b, "beta", 0.0, 1.0, high_open=True) for b in betas)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {betas!r}") from None
        self.eps = non_negative(eps, "eps", owner=name)
        self.weight_decay = non_negative(weight_decay, "weight_decay", owner=name)

    def _update(self, state, p, g):
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        state["step"] += 1
        t = state["step"]
        if self.decoupled:
            # AdamW shrinks the weights directly, outside the adaptive scaling.
            p *= 1.0 - self.lr * self.weight_decay
        elif self.weight_decay:
            g = g + self.weight_decay * p
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * g * g
        step_size = self.lr / (1.0 - beta1**t)
        denom = np.sqrt(v) / np.sqrt(1.0 - beta2**t) + self.eps
        p -= step_size * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``: ``p *= 1 - lr * weight_decay`` before the Adam step."""

    decoupled = True

    def __init__(self, layers, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(layers, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
