"""Knowledge distillation (知识蒸馏): train a student on a teacher's temperature-softened outputs.

Hinton, Vinyals and Dean (2015) train a small student on two targets at once:
the true labels, and the teacher's probabilities softened by a temperature
``T``, ``softmax(z_teacher / T)``. At ``T > 1`` the teacher's small
probabilities (which wrong classes it finds plausible) become large enough to
learn from. The loss is

    alpha * T^2 * KL(softmax(z_teacher / T) || softmax(z_student / T))
        + (1 - alpha) * CE(z_student, labels).

The gradient of the KL term with respect to the student's logits is
``(p_student - p_teacher) / T`` per example, and at a large ``T`` the two
probability vectors differ by about ``(z_student - z_teacher) / (C T)``, so
the gradient shrinks like ``1 / T^2``. The factor ``T^2`` undoes that: the
soft term keeps the same weight against the hard one whatever ``T`` is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from book.checks import positive, positive_int, real


def soft_targets(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """``softmax(logits / temperature)`` over the last dimension: flatter as the temperature grows."""
    temperature = positive(temperature, "temperature", owner="soft_targets")
    return torch.softmax(logits / temperature, dim=-1)


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor,
                      temperature: float = 2.0, alpha: float = 0.5) -> torch.Tensor:
    """``alpha T^2 KL(teacher_T || student_T) + (1 - alpha) CE(student, labels)``, a scalar.

    ``student_logits`` and ``teacher_logits``: the same shape ``(N, C)`` (or
    ``(..., C)``, flattened to rows); ``labels``: class indices of shape
    ``(N,)`` (or ``(...)``). The KL divergence is summed over classes and
    averaged over rows, like the cross-entropy, so both terms are per
    example. The teacher is a fixed target: no gradient flows into
    ``teacher_logits``. ``temperature`` > 0; ``alpha`` in ``[0, 1]`` (0: the
    ordinary cross-entropy; 1: the soft targets only).
    """
    owner = "distillation_loss"
    T = positive(temperature, "temperature", owner=owner)
    alpha = real(alpha, "alpha", 0.0, 1.0, owner=owner)
    for name, t in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(t, torch.Tensor) or t.ndim < 2 or not t.is_floating_point():
            raise ValueError(f"{owner}: {name} must be a floating-point tensor of shape (N, C), got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(f"{owner}: teacher_logits must have the student's shape {tuple(student_logits.shape)}, "
                         f"got {tuple(teacher_logits.shape)}")
    if (not isinstance(labels, torch.Tensor) or labels.shape != student_logits.shape[:-1]
            or labels.dtype != torch.long):
        got = (f"{tuple(labels.shape)}, dtype {labels.dtype}" if isinstance(labels, torch.Tensor)
               else type(labels).__name__)
        raise ValueError(f"{owner}: labels must be a LongTensor of shape {tuple(student_logits.shape[:-1])}, got {got}")
    C = student_logits.shape[-1]
    student = student_logits.reshape(-1, C)
    teacher = teacher_logits.detach().reshape(-1, C)
    log_p_student = F.log_softmax(student / T, dim=-1)
    log_p_teacher = F.log_softmax(teacher / T, dim=-1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    ce = F.cross_entropy(student, labels.reshape(-1))
    return alpha * T * T * kl + (1.0 - alpha) * ce



def train_student(model: torch.nn.Module, X: torch.Tensor, labels: torch.Tensor,
                  teacher_logits: torch.Tensor | None = None, steps: int = 300, lr: float = 1e-2,
                  temperature: float = 4.0, alpha: float = 0.7) -> list[float]:
    """``steps`` full-batch Adam steps on ``(X, labels)``; returns the loss of every step.

    With ``teacher_logits`` (one row per row of ``X``) the loss is :func:`distillation_loss` at
    ``temperature`` and ``alpha``; without, the plain cross-entropy on the hard labels. The model
    trains in training mode and is returned to eval mode.
    """
    owner = "train_student"
    steps = positive_int(steps, "steps", owner=owner)
    if teacher_logits is not None and teacher_logits.shape[0] != X.shape[0]:
        raise ValueError(f"{owner}: teacher_logits must have one row per example ({X.shape[0]}), "
                         f"got shape {tuple(teacher_logits.shape)}")
    optimizer = torch.optim.Adam(model.parameters(), lr=positive(lr, "lr", owner=owner))
    model.train()
    losses = []
    for _ in range(steps):
        logits = model(X)
        loss = (F.cross_entropy(logits, labels) if teacher_logits is None else
                distillation_loss(logits, teacher_logits, labels, temperature=temperature, alpha=alpha))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses


__all__ = ["distillation_loss", "soft_targets", "train_student"]
