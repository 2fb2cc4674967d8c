"""Parameter counts by formula, layer by layer and for whole architectures.

Chapter 1 checks every formula here against ``sum(p.numel())`` in PyTorch
(:func:`count_parameters`) and ``count_params()`` in Keras. Counts include
biases. Every size argument is a positive whole number (``book.checks``).
"""
from __future__ import annotations

from book.checks import non_negative_int, one_of, positive_int


def _ints(**values) -> list[int]:
    """Each value as an int, or ``ValueError`` naming the first one that is not a positive whole number."""
    return [positive_int(v, name) for name, v in values.items()]


def count_parameters(model) -> int:
    """``sum(p.numel())`` over a torch module's parameters (works on the ``meta`` device too)."""
    return sum(p.numel() for p in model.parameters())


def dense(d_in: int, d_out: int, bias: bool = True) -> int:
    """A fully connected layer: a (d_out, d_in) weight and d_out biases."""
    d_in, d_out = _ints(d_in=d_in, d_out=d_out)
    return d_in * d_out + (d_out if bias else 0)


def conv2d(kernel: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """A 2-D convolution with a square kernel: ``(kernel^2 * c_in + 1) * c_out``."""
    kernel, c_in, c_out = _ints(kernel=kernel, c_in=c_in, c_out=c_out)
    return (kernel * kernel * c_in + (1 if bias else 0)) * c_out


def conv2d_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Side length after a convolution: ``floor((size + 2 padding - kernel) / stride) + 1``."""
    size, kernel, stride = _ints(size=size, kernel=kernel, stride=stride)
    padding = non_negative_int(padding, "padding")
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel}x{kernel} kernel does not fit a {size}x{size} input with padding {padding}")
    return out


def pool_output_size(size: int, window: int = 2, stride: int | None = None) -> int:
    """Side length after max or average pooling without padding (stride defaults to the window)."""
    return conv2d_output_size(size, window, window if stride is None else stride)


def embedding(vocab: int, dim: int) -> int:
    """A lookup table of ``vocab`` rows of length ``dim``."""
    vocab, dim = _ints(vocab=vocab, dim=dim)
    return vocab * dim


def layer_norm(dim: int) -> int:
    """A scale and a shift per feature."""
    dim, = _ints(dim=dim)
    return 2 * dim


def _check_framework(framework: str) -> None:
    one_of(framework, ("keras", "torch"), "framework")


def lstm(d_in: int, hidden: int, framework: str = "keras") -> int:
    """One LSTM layer: four gates, each with input and recurrent weights.

    Keras keeps one bias vector per gate; PyTorch keeps two (``b_ih`` and
    ``b_hh``), so its count is larger by ``4 * hidden``.
    """
    d_in, hidden = _ints(d_in=d_in, hidden=hidden)
    _check_framework(framework)
    biases = 1 if framework == "keras" else 2
    return 4 * (hidden * (d_in + hidden) + biases * hidden)


def gru(d_in: int, hidden: int, framework: str = "keras") -> int:
    """One GRU layer: three gate blocks.

    Keras' default ``reset_after=True`` and PyTorch both keep two bias vectors.
    """
    d_in, hidden = _ints(d_in=d_in, hidden=hidden)
    _check_framework(framework)
    return 3 * (hidden * (d_in + hidden) + 2 * hidden)


def transformer_block(d_model: int, d_ff: int) -> int:
    """Multi-head self-attention (Q, K, V, output projections), a two-layer
    feed-forward network and two LayerNorms. The head count does not change it."""
    d_model, d_ff = _ints(d_model=d_model, d_ff=d_ff)
    attention = 4 * dense(d_model, d_model)
    ffn = dense(d_model, d_ff) + dense(d_ff, d_model)
    return attention + ffn + 2 * layer_norm(d_model)


def bert(vocab=30522, d_model=768, layers=12, d_ff=3072, max_positions=512, token_types=2, pooler=True) -> int:
    """A BERT encoder: word, position and segment embeddings with a LayerNorm,
    ``layers`` Transformer blocks and (by default) the pooler's dense layer."""
    vocab, d_model, layers, d_ff, max_positions, token_types = _ints(
        vocab=vocab, d_model=d_model, layers=layers, d_ff=d_ff, max_positions=max_positions, token_types=token_types
    )
    embeddings = embedding(vocab + max_positions + token_types, d_model) + layer_norm(d_model)
    total = embeddings + layers * transformer_block(d_model, d_ff)
    return total + (dense(d_model, d_model) if pooler else 0)


def gpt2(vocab=50257, d_model=768, layers=12, context=1024) -> int:
    """A GPT-2 decoder with a 4x feed-forward width and a final LayerNorm.

    The output layer shares the token-embedding matrix, so it adds nothing.
    """
    vocab, d_model, layers, context = _ints(vocab=vocab, d_model=d_model, layers=layers, context=context)
    embeddings = embedding(vocab, d_model) + embedding(context, d_model)
    return embeddings + layers * transformer_block(d_model, 4 * d_model) + layer_norm(d_model)
