"""Generative adversarial networks in Keras/TensorFlow, written the way chapter 8 corrects the
source's listing L12.

Each network is a ``keras.Model`` built once, so its weights persist from one step to the next
and it has ``trainable_variables``. The discriminator ends in a ``Dense(1)`` with no activation:
it returns a **logit**, and the losses apply the sigmoid themselves
(``BinaryCrossentropy(from_logits=True)``), once. The generator's output layer is ``tanh`` (images
in [-1, 1]) or linear (real numbers), with no batch normalisation on it.

One training step (:func:`gan_gradients`, wrapped by :func:`make_train_step`) runs *both*
forward passes, ``G(z)`` and ``D`` on real and generated data, inside the two gradient tapes;
otherwise the generator's tape records nothing and every generator gradient is ``None``.

Builders:

* :func:`gaussian_generator`, :func:`gaussian_discriminator`: small MLPs for 1-D data;
* :func:`dcgan_generator`, :func:`dcgan_discriminator`: a DCGAN for 16x16 grey images
  (4x4 -> 4x4 -> 8x8 -> 16x16 in the generator);
* :func:`digit_judge`: a small CNN classifier whose penultimate layer supplies features for
  the Fréchet distance (:mod:`book.training.gan_metrics`).
"""
from __future__ import annotations

from book.checks import positive, positive_int
from book.checks import real as real_number


def gaussian_generator(noise_dim: int = 8, hidden: int = 32):
    """G for 1-D data: ``noise_dim -> hidden -> hidden -> 1``, ReLU, linear output."""
    import keras
    from keras import layers

    noise_dim = positive_int(noise_dim, "noise_dim", owner="gaussian_generator")
    hidden = positive_int(hidden, "hidden", owner="gaussian_generator")
    return keras.Sequential([
        keras.Input((noise_dim,)),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(hidden, activation="relu"),
        layers.Dense(1),
    ], name="generator")


def gaussian_discriminator(hidden: int = 32):
    """D for 1-D data: ``1 -> hidden -> hidden -> 1`` logit (no sigmoid), LeakyReLU(0.2)."""
    import keras
    from keras import layers

    hidden = positive_int(hidden, "hidden", owner="gaussian_discriminator")
    return keras.Sequential([
        keras.Input((1,)),
        layers.Dense(hidden), layers.LeakyReLU(negative_slope=0.2),
        layers.Dense(hidden), layers.LeakyReLU(negative_slope=0.2),
        layers.Dense(1),  # a logit: the loss applies the sigmoid
    ], name="discriminator")


def dcgan_generator(noise_dim: int = 32, width: int = 32):
    """DCGAN generator for 16x16x1 images in [-1, 1].

    ``z -> Dense(4*4*2*width) -> 4x4 maps -> ConvT (4x4, width) -> ConvT stride 2 (8x8, width/2)
    -> ConvT stride 2 (16x16, 1 channel, tanh)``. Batch normalisation follows every hidden
    layer (the convolutions before it need no bias), never the output.
    """
    import keras
    from keras import layers

    noise_dim = positive_int(noise_dim, "noise_dim", owner="dcgan_generator")
    width = positive_int(width, "width", owner="dcgan_generator")
    half = max(1, width // 2)
    return keras.Sequential([
        keras.Input((noise_dim,)),
        layers.Dense(4 * 4 * 2 * width, use_bias=False), layers.BatchNormalization(), layers.ReLU(),
        layers.Reshape((4, 4, 2 * width)),
        layers.Conv2DTranspose(width, 3, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.ReLU(),
        layers.Conv2DTranspose(half, 4, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.ReLU(),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),  # bias, no BN
    ], name="dcgan_generator")


def dcgan_discriminator(width: int = 32):
    """DCGAN discriminator for 16x16x1 images: two strided convolutions, one logit.

    ``16x16 -> Conv stride 2 (8x8, width/2) -> Conv stride 2 (4x4, width) -> Dense(1)``, with
    LeakyReLU(0.2) and no batch normalisation on the input layer.
    """
    import keras
    from keras import layers

    width = positive_int(width, "width", owner="dcgan_discriminator")
    half = max(1, width // 2)
    return keras.Sequential([
        keras.Input((16, 16, 1)),
        layers.Conv2D(half, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(width, 4, strides=2, padding="same"), layers.LeakyReLU(negative_slope=0.2),
        layers.Flatten(),
        layers.Dense(1),  # a logit
    ], name="dcgan_discriminator")


def digit_judge(features: int = 64):
    """A small CNN that classifies 16x16x1 digits in [-1, 1] into 10 classes (logits).

    Its layer named ``"features"`` (``features`` ReLU units before the output) supplies the
    embedding in which :func:`book.training.gan_metrics.frechet_distance` compares image sets;
    :func:`judge_features` reads it.
    """
    import keras
    from keras import layers

    features = positive_int(features, "features", owner="digit_judge")
    return keras.Sequential([
        keras.Input((16, 16, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(features, activation="relu", name="features"),
        layers.Dense(10, name="logits"),
    ], name="digit_judge")


def judge_features(judge, images):
    """The penultimate (``"features"``) activations of a :func:`digit_judge` for ``images``,
    as a float64 NumPy array ``(N, features)``."""
    import keras
    import numpy as np

    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[1:] != (16, 16, 1):
        raise ValueError(f"judge_features expects images of shape (N, 16, 16, 1), got {images.shape}")
    extractor = keras.Model(judge.inputs[0], judge.get_layer("features").output)
    return np.asarray(extractor(images, training=False), dtype=np.float64)


# --------------------------------------------------------------------------- #
# Losses and the training step
# --------------------------------------------------------------------------- #
def discriminator_loss(real_logits, fake_logits):
    """L_D = -mean log D(x) - mean log(1 - D(G(z))), from logits: BCE with label 1 on real, 0 on fake.

    Minimising it is the discriminator's half of the game: maximising V(D, G).
    """
    import keras
    import tensorflow as tf

    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    return bce(tf.ones_like(real_logits), real_logits) + bce(tf.zeros_like(fake_logits), fake_logits)


def generator_loss(fake_logits):
    """The non-saturating generator loss L_G = -mean log D(G(z)): BCE with label 1 on fakes."""
    import keras
    import tensorflow as tf

    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    return bce(tf.ones_like(fake_logits), fake_logits)


def gan_gradients(generator, discriminator, real, noise):
    """Both losses and both gradient lists for one batch: the heart of a GAN step.

    Every forward pass runs inside the two tapes, with ``training=True`` (batch normalisation
    uses batch statistics). Returns ``(d_loss, g_loss, d_grads, g_grads)``.
    """
    import tensorflow as tf

    with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
        fake = generator(noise, training=True)
        real_logits = discriminator(real, training=True)
        fake_logits = discriminator(fake, training=True)
        d_loss = discriminator_loss(real_logits, fake_logits)
        g_loss = generator_loss(fake_logits)
    d_grads = d_tape.gradient(d_loss, discriminator.trainable_variables)
    g_grads = g_tape.gradient(g_loss, generator.trainable_variables)
    return d_loss, g_loss, d_grads, g_grads


def make_train_step(generator, discriminator, d_optimizer, g_optimizer, noise_dim: int):
    """A compiled (``@tf.function``) step ``step(real) -> (d_loss, g_loss)``.

    It draws a batch of noise as large as ``real``, computes both gradients with
    :func:`gan_gradients` and updates both players at once (a simultaneous update: the
    generator's gradient is taken against the discriminator as it was before this step).
    """
    import tensorflow as tf

    noise_dim = positive_int(noise_dim, "noise_dim", owner="make_train_step")

    @tf.function
    def step(real):
        noise = tf.random.normal([tf.shape(real)[0], noise_dim])
        d_loss, g_loss, d_grads, g_grads = gan_gradients(generator, discriminator, real, noise)
        d_optimizer.apply_gradients(zip(d_grads, discriminator.trainable_variables))
        g_optimizer.apply_gradients(zip(g_grads, generator.trainable_variables))
        return d_loss, g_loss

    return step


def adam(learning_rate: float = 2e-4, beta_1: float = 0.5):
    """Adam with the GAN setting beta_1 = 0.5 (DCGAN's recommendation)."""
    import keras

    learning_rate = positive(learning_rate, "learning_rate", owner="adam")
    beta_1 = real_number(beta_1, "beta_1", 0.0, 1.0, high_open=True, owner="adam")
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta_1)


def sample(generator, n: int, noise_dim: int, seed: int = 0):
    """``n`` generator outputs (evaluation mode) for noise from a seeded NumPy generator, as NumPy."""
    import numpy as np

    n = positive_int(n, "n", owner="sample")
    noise_dim = positive_int(noise_dim, "noise_dim", owner="sample")
    z = np.random.default_rng(seed).standard_normal((n, noise_dim)).astype(np.float32)
    return np.asarray(generator(z, training=False))


__all__ = [
    "adam",
    "dcgan_discriminator",
    "dcgan_generator",
    "digit_judge",
    "discriminator_loss",
    "gan_gradients",
    "gaussian_discriminator",
    "gaussian_generator",
    "generator_loss",
    "judge_features",
    "make_train_step",
    "sample",
]
