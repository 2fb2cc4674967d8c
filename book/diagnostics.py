"""Tools for seeing why training fails: deep MLPs with a chosen activation and
initialization, per-layer gradient norms, weight changes, early stopping, and
a small classifier loop that records training *and* validation metrics.

Chapter 4 uses them to measure vanishing and exploding gradients and to
compare regularizers. Everything here is PyTorch; models may live on any
device.
"""
from __future__ import annotations

import copy
import math
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from book.training import train_loop

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}
INITS = ("default", "xavier", "he")


def init_std(init: str, fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Standard deviation of the normal initialization named ``init``.

    ``"xavier"`` (Glorot) keeps the variance of activations and gradients
    equal for a unit-slope activation: ``sqrt(2 / (fan_in + fan_out))``.
    ``"he"`` (Kaiming) compensates for ReLU zeroing half its inputs:
    ``sqrt(2 / fan_in)``. ``gain`` multiplies the result.
    """
    if init == "xavier":
        return gain * math.sqrt(2.0 / (fan_in + fan_out))
    if init == "he":
        return gain * math.sqrt(2.0 / fan_in)
    raise ValueError(f"init_std knows 'xavier' and 'he', got {init!r}")


def make_mlp(
    sizes: Sequence[int],
    activation: str = "relu",
    init: str = "default",
    gain: float = 1.0,
    dropout: float = 0.0,
    seed: int | None = None,
) -> nn.Sequential:
    """A fully connected network with layer widths ``sizes`` (input first, output last).

    There are ``len(sizes) - 1`` ``nn.Linear`` layers; each but the last is
    followed by ``activation`` (``"relu"``, ``"sigmoid"``, ``"tanh"`` or
    ``"identity"``) and, if ``dropout > 0``, by ``nn.Dropout(dropout)``. The
    output layer returns logits.

    ``init`` is ``"default"`` (PyTorch's own: uniform with variance
    ``1 / (3 fan_in)``), ``"xavier"`` or ``"he"`` (normal weights with the
    standard deviation of :func:`init_std`, times ``gain``; zero biases).
    ``seed`` makes the weights repeatable without touching torch's global
    random state.
    """
    sizes = _check_arguments(sizes, activation, init, gain)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")

    def build() -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = _initialized_linear(d_in, d_out, init, gain)
            layers.append(linear)
            if i < len(sizes) - 2:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        return nn.Sequential(*layers)

    return _seeded(build, seed)


def _check_arguments(sizes, activation, init, gain) -> list[int]:
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes needs at least two positive widths, got {list(sizes)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    if init == "default" and gain != 1.0:
        raise ValueError("gain applies to the 'xavier' and 'he' initializations only")
    return sizes


def _initialized_linear(d_in: int, d_out: int, init: str, gain: float) -> nn.Linear:
    linear = nn.Linear(d_in, d_out)
    if init != "default":
        with torch.no_grad():
            linear.weight.normal_(0.0, init_std(init, d_in, d_out, gain))
            linear.bias.zero_()
    return linear


def _seeded(build, seed):
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


class ResidualMLP(nn.Module):
    """``h = W_in x``; then ``h <- h + f(W_l h + b_l)`` for each hidden block; then ``W_out h``.

    The skip connection ``h + ...`` gives the gradient a path through each
    block whose Jacobian is the identity plus a correction, so it cannot
    vanish the way a plain stack's product does. Build it with
    :func:`make_residual_mlp`.
    """

    def __init__(self, inp: nn.Linear, blocks: Sequence[nn.Linear], out: nn.Linear, activation: str):
        super().__init__()
        self.inp = inp
        self.blocks = nn.ModuleList(blocks)
        self.out = out
        self.act = ACTIVATIONS[activation]()

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + self.act(block(h))
        return self.out(h)


def make_residual_mlp(
    sizes: Sequence[int], activation: str = "relu", init: str = "default", gain: float = 1.0, seed: int | None = None
) -> ResidualMLP:
    """A :class:`ResidualMLP` with the same number of ``nn.Linear`` layers as ``make_mlp(sizes)``.

    ``sizes`` is ``[d_in, width, ..., width, d_out]``: every hidden width must
    be equal, since each block adds its output to its input. ``activation``,
    ``init``, ``gain`` and ``seed`` mean what they mean in :func:`make_mlp`.
    """
    sizes = _check_arguments(sizes, activation, init, gain)
    if len(sizes) < 3 or len(set(sizes[1:-1])) != 1:
        raise ValueError(f"a residual MLP needs equal hidden widths, got {sizes}")
    width = sizes[1]

    def build() -> ResidualMLP:
        inp = _initialized_linear(sizes[0], width, init, gain)
        blocks = [_initialized_linear(width, width, init, gain) for _ in range(len(sizes) - 3)]
        out = _initialized_linear(width, sizes[-1], init, gain)
        return ResidualMLP(inp, blocks, out, activation)

    return _seeded(build, seed)


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


class EarlyStopping:
    """Watch a validation loss; remember the best epoch and a copy of its weights.

    Call :meth:`step` once per epoch with the validation loss (and the model
    to snapshot). It returns ``True`` once the loss has not improved by more
    than ``min_delta`` for ``patience`` epochs in a row; from then on it is
    frozen, so a caller that keeps training (to draw the whole curve) still
    gets what stopping would have kept: ``best_epoch`` is the arg-min of the
    losses seen up to ``stopped_epoch``. :meth:`restore` loads the best
    weights back. Epochs are counted from 0.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0):
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"patience must be a positive int, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.best_value = math.inf
        self.best_epoch: int | None = None
        self.best_state: dict | None = None
        self.epochs_seen = 0
        self.stopped_epoch: int | None = None

    @property
    def should_stop(self) -> bool:
        """Whether ``patience`` epochs have passed without improvement."""
        return self.best_epoch is not None and self.epochs_seen - 1 - self.best_epoch >= self.patience

    def step(self, value: float, model: nn.Module | None = None) -> bool:
        """Record one epoch's validation loss; return :attr:`should_stop`."""
        value = float(value)
        if math.isnan(value):
            raise ValueError("the validation loss is NaN")
        if self.stopped_epoch is not None:
            return True
        epoch = self.epochs_seen
        self.epochs_seen += 1
        if value < self.best_value - self.min_delta:
            self.best_value = value
            self.best_epoch = epoch
            if model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
        if self.should_stop:
            self.stopped_epoch = epoch
        return self.should_stop

    def restore(self, model: nn.Module) -> None:
        """Load the weights of the best epoch into ``model``."""
        if self.best_state is None:
            raise ValueError("no weights were saved: pass the model to step()")
        model.load_state_dict(self.best_state)


def _as_tensor(a, dtype, device) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a) if not isinstance(a, torch.Tensor) else a, dtype=dtype, device=device)


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of a classifier on ``(X, y)``, in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = float(nn.functional.cross_entropy(logits, y))
        acc = float((logits.argmax(dim=1) == y).float().mean())
    model.train(was_training)
    return loss, acc


def fit_classifier(
    model: nn.Module,
    X_train,
    y_train,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int = 32,
    X_val=None,
    y_val=None,
    seed: int = 0,
    max_grad_norm: float | None = None,
    record_grad_norm: bool = False,
    early_stopping: EarlyStopping | None = None,
    stop_early: bool = False,
    desc: str = "training",
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train a classifier with mini-batch cross-entropy; record metrics after every epoch.

    After each epoch the whole training set (and the validation set, if
    given) is evaluated in eval mode, so dropout is off and training and
    validation numbers are comparable: ``train_loss``, ``train_acc``,
    ``val_loss``, ``val_acc``. With ``max_grad_norm`` the total gradient norm
    is clipped to it every step. With ``max_grad_norm`` or ``record_grad_norm``
    the history also has ``grad_norm``, the largest total gradient norm of
    each epoch, measured before clipping.

    With ``early_stopping``, the validation loss is fed to it every epoch;
    training goes on to ``epochs`` unless ``stop_early`` is true. The mini-batch
    order comes from ``seed``. The progress bar goes to standard error.
    """
    if early_stopping is not None and X_val is None:
        raise ValueError("early stopping needs a validation set")
    device = next(model.parameters()).device
    Xt = _as_tensor(X_train, torch.float32, device)
    yt = _as_tensor(y_train, torch.long, device)
    has_val = X_val is not None
    if has_val:
        Xv = _as_tensor(X_val, torch.float32, device)
        yv = _as_tensor(y_val, torch.long, device)
    generator = torch.Generator().manual_seed(seed)
    track_norm = max_grad_norm is not None or record_grad_norm

    def step(_epoch):
        model.train()
        order = torch.randperm(len(yt), generator=generator).to(device)
        largest = 0.0
        for start in range(0, len(yt), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(Xt[idx]), yt[idx]).backward()
            if max_grad_norm is not None:
                norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm))
            elif record_grad_norm:
                norm = total_grad_norm(model.parameters())
            if track_norm:
                largest = math.nan if math.isnan(norm) or math.isnan(largest) else max(largest, norm)
            optimizer.step()
        train_loss, train_acc = evaluate(model, Xt, yt)
        metrics = {"train_loss": train_loss, "train_acc": train_acc}
        if track_norm:
            metrics["grad_norm"] = largest
        if has_val:
            metrics["val_loss"], metrics["val_acc"] = evaluate(model, Xv, yv)
            if early_stopping is not None:
                early_stopping.step(metrics["val_loss"], model)
        return metrics

    def stop():
        return stop_early and early_stopping is not None and early_stopping.should_stop

    return train_loop(step, epochs, desc=desc, progress=progress, stop=stop)
