"""Looking inside a trained classifier, and attacking it: gradient saliency, the deletion test,
linear probes on hidden layers and the fast gradient sign method (FGSM).

All functions take a PyTorch model that maps a batch of inputs to logits. They leave the
model's parameters and its gradients as they found them.
"""
from __future__ import annotations

import numpy as np
import torch

from book.checks import non_negative, non_negative_int, one_of

METHODS = ("gradient", "input_x_gradient")


def _targets(x: torch.Tensor, target) -> torch.Tensor:
    target = torch.as_tensor(target, dtype=torch.long)
    if target.ndim == 0:
        target = target.expand(len(x))
    if target.shape != (len(x),):
        raise ValueError(f"target must be one class per input ({len(x)}), got shape {tuple(target.shape)}")
    return target


def saliency(model, x: torch.Tensor, target, method: str = "gradient") -> torch.Tensor:
    """Per-input-feature relevance for the logit of class ``target`` (one per row of ``x``).

    ``"gradient"``: the absolute gradient of the target logit with respect to the input
    (Simonyan et al., 2014). ``"input_x_gradient"``: the input times that gradient, signed.
    Returns a tensor shaped like ``x``.
    """
    one_of(method, METHODS, "method", owner="saliency")
    target = _targets(x, target)
    x = x.detach().clone().requires_grad_(True)
    was_training = model.training
    model.eval()
    saved = [p.grad for p in model.parameters()]
    with torch.enable_grad():  # works inside a caller's torch.no_grad() too
        logits = model(x)
        grad, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), x)
    for p, g in zip(model.parameters(), saved):
        p.grad = g
    model.train(was_training)
    return grad.abs() if method == "gradient" else (x * grad).detach()


def deletion_drop(model, x: torch.Tensor, target, scores: torch.Tensor, k: int,
                  baseline: float = 0.0) -> torch.Tensor:
    """How much the target logit falls when the ``k`` features with the highest ``scores`` are
    set to ``baseline`` (per row). A positive drop means the deleted features supported the class."""
    k = non_negative_int(k, "k", owner="deletion_drop")
    target = _targets(x, target)
    flat_x, flat_s = x.reshape(len(x), -1), scores.reshape(len(x), -1)
    if flat_s.shape != flat_x.shape:
        raise ValueError(f"deletion_drop: scores must have the shape of x {tuple(x.shape)}, got {tuple(scores.shape)}")
    if k > flat_x.shape[1]:
        raise ValueError(f"deletion_drop: k must be at most the number of features {flat_x.shape[1]}, got {k}")
    top = flat_s.argsort(dim=1, descending=True)[:, :k]
    deleted = flat_x.clone()
    deleted.scatter_(1, top, baseline)
    with torch.no_grad():
        before = model(x).gather(1, target[:, None])[:, 0]
        after = model(deleted.reshape(x.shape)).gather(1, target[:, None])[:, 0]
    return before - after


def fgsm(model, x: torch.Tensor, y, epsilon: float, low: float = 0.0, high: float = 1.0) -> torch.Tensor:
    """The fast gradient sign method (Goodfellow et al., 2015): ``x + epsilon * sign(grad of the loss)``,
    clipped to ``[low, high]``. One step that raises the cross-entropy of the true labels ``y``."""
    epsilon = non_negative(epsilon, "epsilon", owner="fgsm")
    y = _targets(x, y)
    x_adv = x.detach().clone().requires_grad_(True)
    was_training = model.training
    model.eval()
    with torch.enable_grad():  # works inside a caller's torch.no_grad() too
        loss = torch.nn.functional.cross_entropy(model(x_adv), y)
        grad, = torch.autograd.grad(loss, x_adv)
    model.train(was_training)
    return (x + epsilon * grad.sign()).clamp(low, high).detach()


def layer_outputs(model: torch.nn.Sequential, x: torch.Tensor) -> list[np.ndarray]:
    """The input, the output of every activation layer of a ``Sequential``, and the logits, as
    NumPy arrays on the CPU (the model and ``x`` may live on any device)."""
    if not isinstance(model, torch.nn.Sequential):
        raise ValueError(f"layer_outputs: model must be a torch.nn.Sequential, got {type(model).__name__}")
    outputs, h = [x.detach().cpu().numpy()], x
    with torch.no_grad():
        for layer in model:
            h = layer(h)
            if isinstance(layer, (torch.nn.ReLU, torch.nn.Tanh, torch.nn.Sigmoid)):
                outputs.append(h.cpu().numpy())
    outputs.append(h.cpu().numpy())
    return outputs


def probe_accuracy(features_train: np.ndarray, y_train: np.ndarray, features_val: np.ndarray,
                   y_val: np.ndarray) -> float:
    """Validation accuracy of a linear probe: a logistic regression trained on frozen features
    (Alain and Bengio, 2017). The features are standardised with the training set's statistics."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    features_train, features_val = np.asarray(features_train, float), np.asarray(features_val, float)
    if features_train.ndim != 2 or features_val.ndim != 2 or features_train.shape[1] != features_val.shape[1]:
        raise ValueError(f"probe_accuracy: features must be 2-D with the same width, got "
                         f"{features_train.shape} and {features_val.shape}")
    mean, std = features_train.mean(0), features_train.std(0) + 1e-8
    probe = LogisticRegression(max_iter=2000)
    with threadpool_limits(1):  # small problems: one BLAS thread is many times faster than several
        probe.fit((features_train - mean) / std, y_train)
    return float(probe.score((features_val - mean) / std, y_val))


__all__ = ["deletion_drop", "fgsm", "layer_outputs", "probe_accuracy", "saliency"]
