"""Data that needs no download: scikit-learn's bundled digits, generated sets
with a known truth, published model sizes, and mini-batching.

Importing this package needs NumPy only; scikit-learn and torch are imported
by the functions that use them.
"""
from book.data.batches import TensorBatches, minibatches
from book.data.digits import LAYOUTS, Split, digits_loaders, load_digits_split, resize_images
from book.data.model_sizes import ModelSize, load_model_sizes
from book.data.synthetic import make_linear_data, make_logistic_data, make_softmax_data

__all__ = [
    "LAYOUTS",
    "ModelSize",
    "Split",
    "TensorBatches",
    "digits_loaders",
    "load_digits_split",
    "load_model_sizes",
    "make_linear_data",
    "make_logistic_data",
    "make_softmax_data",
    "minibatches",
    "resize_images",
]
