"""Optimizers on a two-dimensional quadratic bowl, where every path can be drawn.

``f(x) = 1/2 x^T A x`` with ``A = diag(curvatures)``: the condition number is
``max(curvatures) / min(curvatures)``. The same starting point can be handed
to ``torch.optim`` optimizers (:func:`descend_torch`), to the book's NumPy
optimizers (:func:`descend_book`) and to the textbook Adam formula
(:func:`adam_textbook`), so that all three can be compared number by number.
Everything runs in float64 on the CPU.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np
import torch

from book.checks import non_negative_int
from book.nn.module import Module


class Quadratic:
    """``f(x) = 1/2 * sum_i a_i x_i^2`` for positive curvatures ``a_i``; minimum 0 at the origin."""

    def __init__(self, curvatures=(1.0, 100.0)):
        a = np.asarray(curvatures, dtype=np.float64).reshape(-1)
        if a.size < 1 or np.any(a <= 0) or not np.all(np.isfinite(a)):
            raise ValueError(f"curvatures must be finite and positive, got {curvatures!r}")
        self.curvatures = a

    @property
    def condition_number(self) -> float:
        """Largest over smallest curvature: how elongated the bowl is."""
        return float(self.curvatures.max() / self.curvatures.min())

    def value(self, x) -> float:
        """``f(x)`` for a NumPy array or torch tensor ``x`` (returns a float)."""
        x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
        return float(0.5 * np.sum(self.curvatures * x * x))

    def grad(self, x) -> np.ndarray:
        """``A x``."""
        return self.curvatures * np.asarray(x, dtype=np.float64)

    def torch_value(self, x: torch.Tensor) -> torch.Tensor:
        """``f(x)`` as a differentiable torch scalar."""
        a = torch.as_tensor(self.curvatures, dtype=x.dtype, device=x.device)
        return 0.5 * (a * x * x).sum()


class QuadraticModule(Module):
    """The quadratic as a :mod:`book.nn` module with one parameter ``"x"``.

    ``forward()`` returns ``f(x)`` and ``backward()`` writes ``A x`` into
    ``grads["x"]``, so ``book.nn.SGD``/``Adam``/``AdamW`` can minimize it.
    """

    def __init__(self, quadratic: Quadratic, x0):
        super().__init__()
        self.quadratic = quadratic
        self._params["x"] = np.array(x0, dtype=np.float64).reshape(-1)
        self._grads["x"] = np.zeros_like(self._params["x"])

    def forward(self):
        return self.quadratic.value(self._params["x"])

    def backward(self, grad_output=1.0):
        self._grads["x"][...] = grad_output * self.quadratic.grad(self._params["x"])
        return None


def descend_torch(
    quadratic: Quadratic, x0, make_optimizer: Callable[[list], torch.optim.Optimizer], steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Run a ``torch.optim`` optimizer for ``steps`` steps from ``x0``.

    ``make_optimizer`` receives the parameter list, e.g.
    ``lambda p: torch.optim.SGD(p, lr=0.01)``. Returns the path, shape
    ``(steps + 1, d)``, and the loss at every point of it, shape ``(steps + 1,)``.
    """
    x = torch.tensor(np.asarray(x0, dtype=np.float64), dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([x])
    path = [x.detach().numpy().copy()]
    for _ in range(non_negative_int(steps, "steps")):
        optimizer.zero_grad()
        quadratic.torch_value(x).backward()
        optimizer.step()
        path.append(x.detach().numpy().copy())
    path = np.array(path)
    return path, np.array([quadratic.value(p) for p in path])


def descend_book(quadratic: Quadratic, x0, make_optimizer: Callable, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """As :func:`descend_torch`, with a :mod:`book.nn` optimizer, e.g. ``lambda m: book.nn.Adam(m, lr=0.1)``."""
    module = QuadraticModule(quadratic, x0)
    optimizer = make_optimizer(module)
    path = [module.params["x"].copy()]
    for _ in range(non_negative_int(steps, "steps")):
        module.forward()
        module.backward()
        optimizer.step()
        path.append(module.params["x"].copy())
    path = np.array(path)
    return path, np.array([quadratic.value(p) for p in path])


def steps_to_reach(losses, tol: float) -> int | None:
    """The first step index whose loss is below ``tol``, or ``None`` if none is."""
    below = np.flatnonzero(np.asarray(losses) < tol)
    return int(below[0]) if below.size else None


def gradient_descent_steps(quadratic: Quadratic, x0, lr: float, tol: float, max_steps: int = 100_000) -> int | None:
    """Steps plain gradient descent needs to bring ``f`` below ``tol``, from the closed form.

    On a diagonal quadratic each coordinate shrinks by ``(1 - lr * a_i)`` per
    step, so ``f(x_t) = 1/2 sum_i a_i x0_i^2 (1 - lr a_i)^(2t)``; no iterate
    is simulated.
    """
    a = quadratic.curvatures
    x0 = np.asarray(x0, dtype=np.float64)
    factors = (1.0 - lr * a) ** 2
    for t in range(max_steps + 1):
        if 0.5 * np.sum(a * x0 * x0 * factors**t) < tol:
            return t
    return None


def adam_textbook(
    grad_fn: Callable[[np.ndarray], np.ndarray],
    x0,
    steps: int,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> np.ndarray:
    """Adam as written in Kingma & Ba (2015), Algorithm 1; returns the iterates ``x_0 .. x_steps``.

    ``m = b1 m + (1 - b1) g``; ``v = b2 v + (1 - b2) g^2``;
    ``m_hat = m / (1 - b1^t)``; ``v_hat = v / (1 - b2^t)``;
    ``x = x - lr * m_hat / (sqrt(v_hat) + eps)``.

    ``weight_decay`` with ``decoupled=False`` adds the L2 gradient
    ``weight_decay * x`` to ``g`` (what ``torch.optim.Adam`` does). With
    ``decoupled=True`` it shrinks ``x`` by ``lr * weight_decay * x`` outside the
    adaptive scaling (AdamW, as ``torch.optim.AdamW`` schedules it).
    """
    b1, b2 = betas
    x = np.array(x0, dtype=np.float64)
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    iterates = [x.copy()]
    for t in range(1, non_negative_int(steps, "steps") + 1):
        g = np.asarray(grad_fn(x), dtype=np.float64)
        if weight_decay and not decoupled:
            g = g + weight_decay * x
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        step = lr * m_hat / (np.sqrt(v_hat) + eps)
        if weight_decay and decoupled:
            step = step + lr * weight_decay * x
        x = x - step
        iterates.append(x.copy())
    return np.array(iterates)


def plot_paths(quadratic: Quadratic, paths: Mapping[str, np.ndarray], ax=None, extent=None, levels: int = 12):
    """Contours of a 2-D quadratic with one optimizer path per entry of ``paths``.

    ``extent`` is ``(xmin, xmax, ymin, ymax)``; by default it covers every
    path with a margin. The contour levels are spaced geometrically, because
    the loss spans orders of magnitude. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if quadratic.curvatures.size != 2:
        raise ValueError("plot_paths draws two-dimensional quadratics only")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    if extent is None:
        pts = np.concatenate([np.asarray(p) for p in paths.values()])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-3
        extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    gx, gy = np.meshgrid(np.linspace(extent[0], extent[1], 300), np.linspace(extent[2], extent[3], 300))
    fz = 0.5 * (quadratic.curvatures[0] * gx**2 + quadratic.curvatures[1] * gy**2)
    top = max(float(fz.max()), 1e-6)
    ax.contour(gx, gy, fz, levels=np.geomspace(top * 1e-4, top, levels), colors="0.75", linewidths=0.8)
    for name, path in paths.items():
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], marker=".", markersize=3, linewidth=1, label=name)
    ax.plot([0], [0], marker="*", color="k", markersize=10, linestyle="none", label="minimum")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("$x_1$ (curvature %g)" % quadratic.curvatures[0])
    ax.set_ylabel("$x_2$ (curvature %g)" % quadratic.curvatures[1])
    ax.legend(loc="best", fontsize=8)
    return ax
