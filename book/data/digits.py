"""Scikit-learn's bundled digits, split, resized and served in batches.

Nothing here downloads. ``load_digits`` ships inside scikit-learn: 1,797
grey-scale 8x8 images of the digits 0-9 with values 0-16.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from book.checks import one_of, positive_int

LAYOUTS = ("flat", "hw", "nchw", "nhwc")


@dataclass
class Split:
    """Train/validation/test arrays. Images are float32 in [0, 1]; labels int64."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def __repr__(self) -> str:
        return (
            f"Split(train={self.X_train.shape}, val={self.X_val.shape}, "
            f"test={self.X_test.shape}, classes={len(np.unique(self.y_train))})"
        )


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinearly resize a stack of square grey images ``(N, H, W)`` to ``(N, size, size)``.

    Uses torch's ``interpolate`` (antialiased when shrinking) so the result is
    the same on every machine; returns float32.
    """
    images = np.asarray(images)
    if images.ndim != 3:
        raise ValueError(f"resize_images expects images of shape (N, H, W), got {images.shape}")
    size = positive_int(size, "size", owner="resize_images")
    import torch
    import torch.nn.functional as F

    t = torch.as_tensor(images, dtype=torch.float32)[:, None]
    shrinking = size < images.shape[1]
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
    return out[:, 0].numpy()


def _layout(images: np.ndarray, layout: str) -> np.ndarray:
    n, h, w = images.shape
    if layout == "flat":
        return images.reshape(n, h * w)
    if layout == "hw":
        return images
    if layout == "nchw":
        return images[:, None, :, :]
    return images[:, :, :, None]  # nhwc, the Keras default


def load_digits_split(
    size: int = 8,
    layout: str = "flat",
    val_fraction: float = 0.15,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Split:
    """Scikit-learn digits, scaled to [0, 1], in a stratified train/val/test split.

    ``size`` resizes the 8x8 images (16, 28 and 32 px are the sizes the
    chapters use); ``layout`` is ``"flat"`` ``(N, size*size)``, ``"hw"``
    ``(N, size, size)``, ``"nchw"`` (PyTorch) or ``"nhwc"`` (Keras). The same
    ``seed`` always gives the same split.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    one_of(layout, LAYOUTS, "layout", owner="load_digits_split")
    size = positive_int(size, "size", owner="load_digits_split")
    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            "val_fraction and test_fraction must lie in [0, 1) and (0, 1) and sum to less than 1, "
            f"got {val_fraction} and {test_fraction}"
        )
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)
    labels = digits.target.astype(np.int64)
    if size != 8:
        images = resize_images(images, size)
    rest_x, X_test, rest_y, y_test = train_test_split(
        images, labels, test_size=test_fraction, stratify=labels, random_state=seed
    )
    if val_fraction > 0:
        X_train, X_val, y_train, y_val = train_test_split(
            rest_x, rest_y, test_size=val_fraction / (1 - test_fraction), stratify=rest_y, random_state=seed
        )
    else:
        X_train, y_train = rest_x, rest_y
        X_val, y_val = rest_x[:0], rest_y[:0]
    return Split(
        _layout(X_train, layout), y_train, _layout(X_val, layout), y_val, _layout(X_test, layout), y_test
    )


def digits_loaders(split: Split, batch_size: int = 32, seed: int = 0):
    """PyTorch ``DataLoader``s (train, validation, test) over a :class:`Split`.

    Images become float32 tensors in whatever layout the split has (for
    example ``(N, 1, 28, 28)`` for ``layout="nchw"``), labels int64. Only the
    training loader shuffles, with a generator seeded by ``seed``, so the
    batch order is the same on every run.
    """
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    batch_size = positive_int(batch_size, "batch_size", owner="digits_loaders")

    def dataset(X, y):
        return TensorDataset(torch.as_tensor(np.asarray(X), dtype=torch.float32), torch.as_tensor(np.asarray(y), dtype=torch.int64))

    generator = torch.Generator().manual_seed(int(seed))
    train = DataLoader(dataset(split.X_train, split.y_train), batch_size=batch_size, shuffle=True, generator=generator)
    val = DataLoader(dataset(split.X_val, split.y_val), batch_size=256)
    test = DataLoader(dataset(split.X_test, split.y_test), batch_size=256)
    return train, val, test
