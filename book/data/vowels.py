"""Synthetic vowel sounds and their spectrograms: a speech-recognition task with no download.

A voiced vowel is, to a first approximation, a periodic buzz from the vocal folds
(a fundamental frequency and its harmonics) shaped by the resonances of the vocal
tract, the *formants*. The first two formants, F1 and F2, mostly decide which vowel
we hear. :func:`vowel_sounds` draws sounds of a few vowels with a random pitch,
formants jittered around typical adult values, and background noise;
:func:`log_spectrogram` turns them into small time-frequency images that chapter 5's
CNN can classify.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from book.checks import non_negative, non_negative_int, positive_int, real

# First and second formants (Hz) of four vowels of adult male speakers: Peterson and Barney's (1952)
# averages for the vowels of "father" (a), "beet" (i), "boot" (u) and "bet" (e).
FORMANTS = {"a": (730.0, 1090.0), "i": (270.0, 2290.0), "u": (300.0, 870.0), "e": (530.0, 1840.0)}
SAMPLE_RATE = 8000


class Sounds(NamedTuple):
    """Waveforms ``(N, L)`` float32 and labels ``(N,)`` int64 (indices into ``vowels``)."""

    signals: np.ndarray
    labels: np.ndarray
    vowels: tuple[str, ...]


def vowel_sounds(n_per_class: int, vowels=("a", "i", "u", "e"), length: int = 2176, jitter: float = 0.08,
                 noise: float = 0.3, seed: int = 0) -> Sounds:
    """``n_per_class`` sounds of each vowel, ``length`` samples at :data:`SAMPLE_RATE` Hz, in a shuffled order.

    Each sound has a pitch drawn uniformly from 90-180 Hz, harmonics up to 3.5 kHz whose
    amplitudes follow two resonance peaks at the vowel's formants (each scaled by a factor
    drawn from ``1 +- jitter``), a random phase per harmonic, unit peak amplitude, and white
    noise of standard deviation ``noise``.
    """
    owner = "vowel_sounds"
    n_per_class = positive_int(n_per_class, "n_per_class", owner=owner)
    length = positive_int(length, "length", owner=owner)
    jitter = real(jitter, "jitter", 0.0, 0.5, owner=owner)
    noise = non_negative(noise, "noise", owner=owner)
    vowels = tuple(vowels)
    if not vowels or any(v not in FORMANTS for v in vowels):
        raise ValueError(f"{owner}: vowels must be among {sorted(FORMANTS)}, got {vowels!r}")
    rng = np.random.default_rng(non_negative_int(seed, "seed", owner=owner))
    t = np.arange(length) / SAMPLE_RATE
    signals, labels = [], []
    for label, vowel in enumerate(vowels):
        for _ in range(n_per_class):
            f0 = rng.uniform(90.0, 180.0)
            f1, f2 = (f * rng.uniform(1 - jitter, 1 + jitter) for f in FORMANTS[vowel])
            harmonics = f0 * np.arange(1, int(3500 // f0) + 1)
            envelope = (1.0 / (1.0 + ((harmonics - f1) / 90.0) ** 2)
                        + 0.7 / (1.0 + ((harmonics - f2) / 120.0) ** 2))
            phases = rng.uniform(0, 2 * np.pi, size=len(harmonics))
            wave = (envelope[:, None] * np.sin(2 * np.pi * harmonics[:, None] * t + phases[:, None])).sum(0)
            wave /= np.abs(wave).max()
            signals.append(wave + noise * rng.standard_normal(length))
            labels.append(label)
    order = rng.permutation(len(labels))
    return Sounds(np.asarray(signals, dtype=np.float32)[order], np.asarray(labels, dtype=np.int64)[order], vowels)


def log_spectrogram(signals, n_fft: int = 256, hop: int = 128, n_bands: int = 16) -> np.ndarray:
    """Log-magnitude spectrograms ``(N, n_bands, frames)`` of waveforms ``(N, L)``, float32.

    A Hann window of ``n_fft`` samples moves by ``hop``; the ``n_fft // 2`` positive
    frequency bins are averaged in ``n_bands`` equal bands (low frequencies first);
    ``log(1 + magnitude)`` compresses the range. ``frames = 1 + (L - n_fft) // hop``.
    """
    x = np.asarray(signals, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"log_spectrogram expects waveforms of shape (N, L), got {x.shape}")
    n_fft = positive_int(n_fft, "n_fft", owner="log_spectrogram")
    hop = positive_int(hop, "hop", owner="log_spectrogram")
    n_bands = positive_int(n_bands, "n_bands", owner="log_spectrogram")
    if x.shape[1] < n_fft or (n_fft // 2) % n_bands:
        raise ValueError(f"log_spectrogram: need L >= n_fft and n_fft // 2 divisible by n_bands, got L={x.shape[1]}, "
                         f"n_fft={n_fft}, n_bands={n_bands}")
    frames = 1 + (x.shape[1] - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]      # (frames, n_fft)
    windows = x[:, index] * np.hanning(n_fft)                                  # (N, frames, n_fft)
    magnitude = np.abs(np.fft.rfft(windows, axis=-1))[..., : n_fft // 2]        # (N, frames, n_fft/2)
    bands = magnitude.reshape(len(x), frames, n_bands, -1).mean(-1)            # (N, frames, n_bands)
    return np.log1p(bands).transpose(0, 2, 1).astype(np.float32)


__all__ = ["FORMANTS", "SAMPLE_RATE", "Sounds", "log_spectrogram", "vowel_sounds"]
