"""Tests of book.training.distillation: the loss and its gradient against a hand-written version
(torch autograd, the closed form and finite differences), its limits (alpha = 0 is the cross-entropy,
a student equal to its teacher has no soft loss), flatter soft targets at higher temperature, and the
T^2 factor that keeps the soft gradient's scale."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from book.gradcheck import numerical_gradient, rel_error
from book.training.distillation import distillation_loss, soft_targets, train_student


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def logits(seed: int, n: int = 6, c: int = 5, scale: float = 2.0):
    g = torch.Generator().manual_seed(seed)
    student = scale * torch.randn(n, c, generator=g, dtype=torch.float64)
    teacher = scale * torch.randn(n, c, generator=g, dtype=torch.float64)
    labels = torch.randint(0, c, (n,), generator=g)
    return student, teacher, labels


def by_hand(student, teacher, labels, T, alpha):
    """The loss written out with sums, exponentials and logarithms only."""
    def log_softmax(z):
        m = z.max(dim=1, keepdim=True).values
        return z - m - torch.log(torch.exp(z - m).sum(dim=1, keepdim=True))
    log_ps, log_pt = log_softmax(student / T), log_softmax(teacher / T)
    kl = (torch.exp(log_pt) * (log_pt - log_ps)).sum(dim=1).mean()
    ce = -log_softmax(student)[torch.arange(len(labels)), labels].mean()
    return alpha * T ** 2 * kl + (1 - alpha) * ce


@pytest.mark.parametrize("T, alpha", [(1.0, 0.5), (2.0, 0.7), (4.0, 0.9), (0.5, 0.3)])
def test_value_and_gradient_match_the_hand_written_loss(T, alpha):
    student, teacher, labels = logits(0)
    s1 = student.clone().requires_grad_()
    s2 = student.clone().requires_grad_()
    loss = distillation_loss(s1, teacher, labels, temperature=T, alpha=alpha)
    reference = by_hand(s2, teacher, labels, T, alpha)
    loss.backward()
    reference.backward()
    assert abs(loss.item() - reference.item()) < 1e-12
    assert rel_error(s1.grad.numpy(), s2.grad.numpy()) < 1e-10
    # Closed form: alpha T (p_s,T - p_t,T) / N + (1 - alpha) (softmax(s) - onehot) / N.
    n = len(labels)
    closed = (alpha * T * (soft_targets(student, T) - soft_targets(teacher, T))
              + (1 - alpha) * (torch.softmax(student, 1) - F.one_hot(labels, 5))) / n
    assert rel_error(s1.grad.numpy(), closed.numpy()) < 1e-10
    x = student.numpy().copy()

    def f(values):
        return distillation_loss(torch.from_numpy(values), teacher, labels, temperature=T, alpha=alpha).item()
    assert np.abs(numerical_gradient(f, x) - s1.grad.numpy()).max() < 1e-8  # entries are of order 0.1


def test_alpha_zero_is_the_cross_entropy_and_the_teacher_gets_no_gradient():
    student, teacher, labels = logits(1)
    teacher.requires_grad_()
    assert distillation_loss(student, teacher, labels, temperature=3.0, alpha=0.0).item() == pytest.approx(
        F.cross_entropy(student, labels).item(), rel=0, abs=1e-14)
    student.requires_grad_()
    distillation_loss(student, teacher, labels, temperature=3.0, alpha=0.5).backward()
    assert teacher.grad is None and student.grad.abs().amax() > 0


@pytest.mark.parametrize("T", [0.5, 1.0, 5.0])
def test_the_soft_term_vanishes_when_the_student_equals_the_teacher(T):
    student, _, labels = logits(2)
    student.requires_grad_()
    loss = distillation_loss(student, student.detach().clone(), labels, temperature=T, alpha=1.0)
    loss.backward()
    assert abs(loss.item()) < 1e-12 and student.grad.abs().amax() < 1e-12
    other = distillation_loss(student.detach(), student.detach() + 0.5 * logits(3)[0], labels, T, alpha=1.0)
    assert other.item() > 1e-3  # and it does not vanish for another teacher


def test_higher_temperature_gives_flatter_soft_targets():
    _, teacher, _ = logits(4, n=8, c=10, scale=3.0)
    temperatures = [0.5, 1.0, 2.0, 4.0, 8.0, 32.0]
    entropies = []
    for T in temperatures:
        p = soft_targets(teacher, T)
        assert torch.allclose(p.sum(dim=1), torch.ones(8, dtype=torch.float64), atol=1e-12)
        entropies.append((-(p * p.log()).sum(dim=1)).mean().item())
    assert all(b > a for a, b in zip(entropies, entropies[1:]))  # strictly more uncertain each time
    assert math.log(10) - entropies[-1] < 0.01 and entropies[0] < 0.5 * math.log(10)
    assert torch.equal(soft_targets(teacher).argmax(1), soft_targets(teacher, 32.0).argmax(1))  # same ranking


def test_t_squared_keeps_the_soft_gradient_scale_at_high_temperature():
    student, teacher, labels = logits(5, c=7)
    n, c = student.shape
    diff = student - teacher
    limit = (diff - diff.mean(dim=1, keepdim=True)) / (n * c)  # Hinton et al.'s large-T limit
    norms = []
    for T in (10.0, 100.0, 1000.0):
        s = student.clone().requires_grad_()
        distillation_loss(s, teacher, labels, temperature=T, alpha=1.0).backward()
        norms.append(s.grad.norm().item())
        assert rel_error(s.grad.numpy(), limit.numpy()) < 3.0 / T  # error of order 1/T
    assert max(norms) / min(norms) < 1.1  # roughly T-independent, where without T^2 it would fall 10^4-fold


def test_sequence_logits_are_flattened_to_rows():
    g = torch.Generator().manual_seed(6)
    student, teacher = torch.randn(2, 3, 4, 5, generator=g), torch.randn(2, 3, 4, 5, generator=g)
    labels = torch.randint(0, 5, (2, 3, 4), generator=g)
    flat = distillation_loss(student.reshape(-1, 5), teacher.reshape(-1, 5), labels.reshape(-1), 2.0, 0.5)
    assert torch.allclose(distillation_loss(student, teacher, labels, 2.0, 0.5), flat, rtol=0, atol=1e-6)


def test_bad_arguments_are_refused():
    student, teacher, labels = logits(7)
    for kwargs, match in [(dict(temperature=0.0), "temperature"), (dict(temperature=-1.0), "temperature"),
                          (dict(alpha=1.5), "alpha"), (dict(alpha=True), "alpha")]:
        with pytest.raises(ValueError, match=match):
            distillation_loss(student, teacher, labels, **kwargs)
    with pytest.raises(ValueError, match="teacher_logits"):
        distillation_loss(student, teacher[:, :4], labels)
    with pytest.raises(ValueError, match="labels"):
        distillation_loss(student, teacher, labels.float())
    with pytest.raises(ValueError, match="labels"):
        distillation_loss(student, teacher, labels[:3])
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        distillation_loss(student[0], teacher[0], labels[0])
    with pytest.raises(ValueError, match="temperature"):
        soft_targets(student, 0)
    assert np.isfinite(distillation_loss(student, teacher, labels, temperature=0.05).item())  # a sharp T is stable


def _mlp(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def test_train_student_fits_hard_labels_and_follows_the_teacher():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 4, generator=g)
    y = X[:, :3].argmax(1)
    hard = _mlp(0)
    losses = train_student(hard, X, y, steps=100, lr=1e-2)
    assert len(losses) == 100 and losses[-1] < 0.5 * losses[0] and not hard.training
    # alpha = 0: the distillation loss is the cross-entropy, so the same weights come out
    with torch.no_grad():
        teacher = 3 * X[:, :3]
    alpha0 = _mlp(0)
    train_student(alpha0, X, y, teacher_logits=teacher, steps=100, lr=1e-2, alpha=0.0)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(hard.parameters(), alpha0.parameters()))
    # alpha = 1: the student matches the teacher's softened probabilities
    soft = _mlp(0)
    train_student(soft, X, y, teacher_logits=teacher, steps=300, lr=1e-2, temperature=2.0, alpha=1.0)
    with torch.no_grad():
        gap = (soft_targets(soft(X), 2.0) - soft_targets(teacher, 2.0)).abs().max().item()
    assert gap < 0.1
    with pytest.raises(ValueError, match="one row per example"):
        train_student(_mlp(0), X, y, teacher_logits=teacher[:5])
