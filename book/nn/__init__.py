"""A small NumPy (float64) layer library whose objects mirror ``torch.nn`` and ``torch.optim``.

Layers, losses and optimizers are written cs231n-style: ``forward`` keeps what
``backward`` needs in a cache, and ``backward`` turns dLoss/d(output) into
dLoss/d(input) and overwrites the parameter gradients. ``tests/test_nn_*.py``
check every piece against torch autograd and torch.optim to a relative error
of 1e-7. Importing it needs NumPy only.
"""
from book.nn import functional, optim
from book.nn.activations import Identity, ReLU, Sigmoid, Tanh
from book.nn.attention import MultiheadAttention, scaled_dot_product_attention, scaled_dot_product_attention_backward
from book.nn.container import Sequential
from book.nn.conv import Conv2d
from book.nn.dropout import Dropout
from book.nn.embedding import Embedding
from book.nn.linear import Linear
from book.nn.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from book.nn.module import Module, torch_state
from book.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from book.nn.optim import SGD, Adam, AdamW, Optimizer
from book.nn.pooling import AvgPool2d, MaxPool2d
from book.nn.positional import sinusoidal_positional_encoding
from book.nn.recurrent import GRU, LSTM, RNN
from book.nn.shape import Flatten

__all__ = [
    "functional",
    "optim",
    "Module",
    "torch_state",
    "Linear",
    "Identity",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Dropout",
    "Sequential",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "Embedding",
    "LayerNorm",
    "BatchNorm1d",
    "BatchNorm2d",
    "RNN",
    "LSTM",
    "GRU",
    "MultiheadAttention",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
    "sinusoidal_positional_encoding",
    "Loss",
    "MSELoss",
    "CrossEntropyLoss",
    "BCEWithLogitsLoss",
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
]
