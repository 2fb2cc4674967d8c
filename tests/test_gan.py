"""Chapter 8: the GAN metrics (book.training.gan_metrics) and the Keras GAN (book.models.gan).

The TensorFlow tests build the smallest networks and run a single step: what they check is the
wiring (both forward passes inside the tapes, logits, the losses), not the training.
"""
import math

import numpy as np
import pytest
from scipy import linalg

from book.training import gan_metrics as gm


# --------------------------------------------------------------------------- #
# Fréchet distance
# --------------------------------------------------------------------------- #
def test_frechet_distance_of_diagonal_gaussians_has_the_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([0.5, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
    got = gm.frechet_distance_gaussians(mu1, np.diag(var1), mu2, np.diag(var2))
    assert abs(got - want) < 1e-12
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2, the squared 2-Wasserstein distance of two normals
    assert abs(gm.frechet_distance_gaussians(4.0, 1.25**2, 3.0, 0.5**2) - (1.0 + 0.75**2)) < 1e-12


def test_frechet_distance_of_full_covariances_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    cov1, cov2 = a @ a.T + 0.1 * np.eye(5), b @ b.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    want = np.sum((mu1 - mu2) ** 2) + np.trace(cov1 + cov2 - 2 * linalg.sqrtm(cov1 @ cov2).real)
    assert abs(gm.frechet_distance_gaussians(mu1, cov1, mu2, cov2) - want) < 1e-8 * (1 + abs(want))


def test_frechet_distance_of_identical_sets_is_zero_and_grows_with_a_shift():
    x = np.random.default_rng(1).normal(size=(400, 6))
    assert abs(gm.frechet_distance(x, x)) < 1e-9
    shifted = gm.frechet_distance(x, x + 2.0)
    assert abs(shifted - 6 * 4.0) < 1e-8  # a shift changes only the mean term: |2 * 1|^2
    same_law = gm.frechet_distance(x, np.random.default_rng(2).normal(size=(400, 6)))
    assert 0 < same_law < 0.5 < shifted


def test_frechet_distance_checks_shapes():
    with pytest.raises(ValueError, match=r"frechet_distance expects .*\(3, 2\) and \(3, 4\)"):
        gm.frechet_distance(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="frechet_distance_gaussians expects"):
        gm.frechet_distance_gaussians(np.zeros(2), np.eye(3), np.zeros(2), np.eye(2))


# --------------------------------------------------------------------------- #
# Class entropy
# --------------------------------------------------------------------------- #
def test_class_entropy_is_log_k_for_a_uniform_histogram_and_zero_for_one_class():
    assert abs(gm.class_entropy(np.arange(500) % 10) - math.log(10)) < 1e-12
    assert gm.class_entropy(np.full(50, 3)) == 0.0
    half = gm.class_entropy(np.array([1, 7] * 20))
    assert abs(half - math.log(2)) < 1e-12
    assert np.allclose(gm.class_histogram(np.array([0, 0, 2]), 3), [2 / 3, 0, 1 / 3])


@pytest.mark.parametrize("labels", [np.array([0, 10]), np.array([-1, 2]), np.array([0.5, 1.0]), np.zeros(0, int),
                                    np.zeros((2, 2), int)])
def test_class_histogram_rejects_bad_labels(labels):
    with pytest.raises(ValueError, match="class_histogram expects"):
        gm.class_histogram(labels, 10)


# --------------------------------------------------------------------------- #
# The value function and the optimal discriminator on a grid
# --------------------------------------------------------------------------- #
def _normal(x, mu, sigma):
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


GRID = np.linspace(-10, 14, 24001)
DX = GRID[1] - GRID[0]


def test_optimal_discriminator_beats_every_other_discriminator_on_the_grid():
    p_data, p_g = _normal(GRID, 4.0, 1.25), _normal(GRID, 1.0, 2.0)
    d_star = gm.optimal_discriminator(p_data, p_g)
    best = gm.value_function(d_star, p_data, p_g, DX)
    rng = np.random.default_rng(0)
    for _ in range(20):  # random smooth perturbations of D* inside (0, 1)
        bump = 0.2 * np.sin(rng.uniform(0.2, 2.0) * GRID + rng.uniform(0, 6.3))
        other = np.clip(d_star + bump * d_star * (1 - d_star), 1e-12, 1 - 1e-12)
        assert gm.value_function(other, p_data, p_g, DX) < best
    # pointwise: a ln D + b ln(1 - D) over a grid of D peaks at a / (a + b)
    a, b = 0.3, 0.1
    ds = np.linspace(0.001, 0.999, 999)
    assert abs(ds[np.argmax(a * np.log(ds) + b * np.log1p(-ds))] - a / (a + b)) < 1e-3
    # V(D*, G) = -ln 4 + 2 JS(p_data || p_g) > -ln 4 when the densities differ
    assert best > -math.log(4) + 0.1


def test_value_at_equilibrium_is_minus_log_4():
    p = _normal(GRID, 4.0, 1.25)
    d_star = gm.optimal_discriminator(p, p)
    assert np.allclose(d_star, 0.5)
    assert abs(gm.value_function(d_star, p, p, DX) + math.log(4)) < 1e-6
    assert np.array_equal(gm.optimal_discriminator(np.zeros(3), np.zeros(3)), [0.5] * 3)


def test_value_function_checks_shapes():
    with pytest.raises(ValueError, match="value_function expects"):
        gm.value_function(np.full(3, 0.5), np.ones(3), np.ones(4), 0.1)


# --------------------------------------------------------------------------- #
# The Keras GAN: losses, gradients and one step
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def tf_gan():
    import book

    book.seed(0)
    from book.models import gan

    return gan


def test_losses_are_bce_on_logits_with_the_equilibrium_values(tf_gan):
    import tensorflow as tf

    zeros = tf.zeros((8, 1))
    assert abs(float(tf_gan.discriminator_loss(zeros, zeros)) - 2 * math.log(2)) < 1e-6
    assert abs(float(tf_gan.generator_loss(zeros)) - math.log(2)) < 1e-6
    real_logits = np.array([[3.0], [-1.0], [0.5]], np.float32)
    fake_logits = np.array([[-2.0], [40.0], [0.0]], np.float32)  # 40: stable, no log(0)
    log_sig = lambda s: -np.logaddexp(0, -s.astype(np.float64))  # noqa: E731  ln sigmoid(s)
    want_d = -log_sig(real_logits).mean() - log_sig(-fake_logits).mean()
    want_g = -log_sig(fake_logits).mean()
    assert abs(float(tf_gan.discriminator_loss(real_logits, fake_logits)) - want_d) < 1e-5
    assert abs(float(tf_gan.generator_loss(fake_logits)) - want_g) < 1e-5


def test_every_generator_variable_gets_a_gradient_only_inside_the_tapes(tf_gan):
    import tensorflow as tf

    G, D = tf_gan.gaussian_generator(4, 8), tf_gan.gaussian_discriminator(8)
    real = tf.random.normal((16, 1)) + 4.0
    noise = tf.random.normal((16, 4))
    d_loss, g_loss, d_grads, g_grads = tf_gan.gan_gradients(G, D, real, noise)
    assert len(g_grads) == len(G.trainable_variables) == 6
    assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in g_grads)
    assert all(g is not None for g in d_grads)
    # the source's bug: G run before the tape opens leaves the tape nothing to differentiate
    fake = G(noise, training=True)
    with tf.GradientTape() as tape:
        outside = tf_gan.generator_loss(D(fake, training=True))
    assert all(g is None for g in tape.gradient(outside, G.trainable_variables))


def test_dcgan_shapes_and_tanh_range(tf_gan):
    G, D = tf_gan.dcgan_generator(noise_dim=8, width=4), tf_gan.dcgan_discriminator(width=4)
    images = tf_gan.sample(G, 6, 8)
    assert images.shape == (6, 16, 16, 1) and np.abs(images).max() <= 1.0  # tanh output
    assert D(images).shape == (6, 1)                                         # one logit per image


def test_train_step_updates_both_players_and_returns_finite_losses(tf_gan):
    import tensorflow as tf

    G, D = tf_gan.gaussian_generator(4, 8), tf_gan.gaussian_discriminator(8)
    before_g = [v.numpy().copy() for v in G.trainable_variables]
    before_d = [v.numpy().copy() for v in D.trainable_variables]
    step = tf_gan.make_train_step(G, D, tf_gan.adam(1e-3), tf_gan.adam(1e-3), noise_dim=4)
    d_loss, g_loss = step(tf.random.normal((16, 1)) + 4.0)
    assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before_g, G.trainable_variables))
    assert all(not np.array_equal(b, v.numpy()) for b, v in zip(before_d, D.trainable_variables))


def test_judge_features_have_the_penultimate_width(tf_gan):
    judge = tf_gan.digit_judge(features=12)
    assert tf_gan.judge_features(judge, np.zeros((3, 16, 16, 1))).shape == (3, 12)
    with pytest.raises(ValueError, match=r"judge_features expects images of shape \(N, 16, 16, 1\)"):
        tf_gan.judge_features(judge, np.zeros((3, 16, 16)))


def test_builders_check_their_arguments(tf_gan):
    with pytest.raises(ValueError, match="dcgan_generator: width"):
        tf_gan.dcgan_generator(width=0)
    with pytest.raises(ValueError, match="adam: beta_1"):
        tf_gan.adam(beta_1=1.0)
    with pytest.raises(ValueError, match="make_train_step: noise_dim"):
        tf_gan.make_train_step(None, None, None, None, noise_dim=True)
