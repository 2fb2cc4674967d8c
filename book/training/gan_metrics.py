"""Judging a generator: the Fréchet distance between two sets of features, the entropy of the
class histogram of generated samples, and the GAN value function on a grid.

NumPy only. The Fréchet distance of Heusel et al. (FID, when the features are Inception's)
fits a Gaussian to each set and measures

    FD = |mu_1 - mu_2|^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^{1/2}),

the squared 2-Wasserstein distance between the two Gaussians. The trace of the matrix square
root is computed from a symmetric matrix, ``S_1^{1/2} S_2 S_1^{1/2}``, whose eigenvalues are
those of ``S_1 S_2``, so ``eigh`` suffices and the result is real.
"""
from __future__ import annotations

import numpy as np

from book.checks import positive_int


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_gaussians(mu1, cov1, mu2, cov2) -> float:
    """Fréchet (2-Wasserstein) distance, squared, between N(mu1, cov1) and N(mu2, cov2)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, float)), np.atleast_1d(np.asarray(mu2, float))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, float)), np.atleast_2d(np.asarray(cov2, float))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(
            f"frechet_distance_gaussians expects means of shape (d,) and covariances (d, d), got "
            f"{mu1.shape}, {cov1.shape}, {mu2.shape}, {cov2.shape}")
    root1 = _sqrt_psd(cov1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ cov2 @ root1), 0.0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * cross)


def frechet_distance(features1, features2) -> float:
    """Fréchet distance between two sets of feature rows ``(N1, d)`` and ``(N2, d)``.

    Each set is summarised by its mean and its covariance (``np.cov``, divisor N - 1).
    """
    a, b = np.asarray(features1, float), np.asarray(features2, float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(
            f"frechet_distance expects two arrays (N1, d) and (N2, d) with N >= 2, got {a.shape} and {b.shape}")
    return frechet_distance_gaussians(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def class_histogram(labels, num_classes: int = 10) -> np.ndarray:
    """The share of each class among predicted ``labels`` (integers in ``[0, num_classes)``)."""
    num_classes = positive_int(num_classes, "num_classes", owner="class_histogram")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or not np.issubdtype(labels.dtype, np.integer) \
            or labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f"class_histogram expects a non-empty 1-D array of ints in [0, {num_classes}), got {labels!r}")
    return np.bincount(labels, minlength=num_classes) / labels.size


def class_entropy(labels, num_classes: int = 10) -> float:
    """Entropy (nats) of the class histogram: ln(num_classes) when every class is equally common,
    0 when one class takes everything (complete mode collapse)."""
    p = class_histogram(labels, num_classes)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum()) + 0.0  # + 0.0 turns the -0.0 of a single class into 0.0


def value_function(d, p_data, p_g, dx: float) -> float:
    """V(D, G) = E_data[ln D(x)] + E_g[ln(1 - D(x))], integrated on a grid of spacing ``dx``.

    ``d``, ``p_data`` and ``p_g`` are arrays over the same grid: the discriminator's
    probability that ``x`` is real and the two densities.
    """
    d, p_data, p_g = (np.asarray(v, float) for v in (d, p_data, p_g))
    if not (d.shape == p_data.shape == p_g.shape) or d.ndim != 1:
        raise ValueError(f"value_function expects three 1-D arrays of one shape, got {d.shape}, {p_data.shape}, {p_g.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p_data > 0, p_data * np.log(d), 0.0) + np.where(p_g > 0, p_g * np.log1p(-d), 0.0)
    return float(terms.sum() * dx)


def optimal_discriminator(p_data, p_g) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)); 1/2 where both densities vanish."""
    p_data, p_g = np.asarray(p_data, float), np.asarray(p_g, float)
    if p_data.shape != p_g.shape:
        raise ValueError(f"optimal_discriminator expects densities of one shape, got {p_data.shape} and {p_g.shape}")
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


__all__ = [
    "class_entropy",
    "class_histogram",
    "frechet_distance",
    "frechet_distance_gaussians",
    "optimal_discriminator",
    "value_function",
]
