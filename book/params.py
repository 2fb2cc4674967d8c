"""Parameter counting by formula, and FLOP estimates for training.

Chapter 1 checks every formula here against ``sum(p.numel())`` in PyTorch and
``count_params()`` in Keras. Counts include biases. The FLOP helpers give the
rule of thumb C ~ 6 N T, measure it with PyTorch's FLOP counter, and turn a
FLOP budget into accelerator-hours or a compute-optimal model size.
"""
from __future__ import annotations

import math


def _positive(**values) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def dense(d_in: int, d_out: int, bias: bool = True) -> int:
    """A fully connected layer: a (d_out, d_in) weight and d_out biases."""
    _positive(d_in=d_in, d_out=d_out)
    return d_in * d_out + (d_out if bias else 0)


def conv2d(kernel: int, c_in: int, c_out: int, bias: bool = True) -> int:
    """A 2-D convolution with a square kernel: ``(kernel^2 * c_in + 1) * c_out``."""
    _positive(kernel=kernel, c_in=c_in, c_out=c_out)
    return (kernel * kernel * c_in + (1 if bias else 0)) * c_out


def conv2d_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Side length after a convolution: ``floor((size + 2 padding - kernel) / stride) + 1``."""
    _positive(size=size, kernel=kernel, stride=stride)
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int, got {padding!r}")
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel}x{kernel} kernel does not fit a {size}x{size} input with padding {padding}")
    return out


def pool_output_size(size: int, window: int = 2, stride: int | None = None) -> int:
    """Side length after max or average pooling without padding (stride defaults to the window)."""
    return conv2d_output_size(size, window, window if stride is None else stride)


def embedding(vocab: int, dim: int) -> int:
    """A lookup table of ``vocab`` rows of length ``dim``."""
    _positive(vocab=vocab, dim=dim)
    return vocab * dim


def layer_norm(dim: int) -> int:
    """A scale and a shift per feature."""
    _positive(dim=dim)
    return 2 * dim


def _check_framework(framework: str) -> None:
    if framework not in ("keras", "torch"):
        raise ValueError(f"framework must be 'keras' or 'torch', got {framework!r}")


def lstm(d_in: int, hidden: int, framework: str = "keras") -> int:
    """One LSTM layer: four gates, each with input and recurrent weights.

    Keras keeps one bias vector per gate; PyTorch keeps two (``b_ih`` and
    ``b_hh``), so its count is larger by ``4 * hidden``.
    """
    _positive(d_in=d_in, hidden=hidden)
    _check_framework(framework)
    biases = 1 if framework == "keras" else 2
    return 4 * (hidden * (d_in + hidden) + biases * hidden)


def gru(d_in: int, hidden: int, framework: str = "keras") -> int:
    """One GRU layer: three gate blocks.

    Keras' default ``reset_after=True`` and PyTorch both keep two bias vectors.
    """
    _positive(d_in=d_in, hidden=hidden)
    _check_framework(framework)
    return 3 * (hidden * (d_in + hidden) + 2 * hidden)


def transformer_block(d_model: int, d_ff: int) -> int:
    """Multi-head self-attention (Q, K, V, output projections), a two-layer
    feed-forward network and two LayerNorms. The head count does not change it."""
    _positive(d_model=d_model, d_ff=d_ff)
    attention = 4 * dense(d_model, d_model)
    ffn = dense(d_model, d_ff) + dense(d_ff, d_model)
    return attention + ffn + 2 * layer_norm(d_model)


def bert(vocab=30522, d_model=768, layers=12, d_ff=3072, max_positions=512, token_types=2, pooler=True) -> int:
    """A BERT encoder: word, position and segment embeddings with a LayerNorm,
    ``layers`` Transformer blocks and (by default) the pooler's dense layer."""
    _positive(vocab=vocab, d_model=d_model, layers=layers, d_ff=d_ff, max_positions=max_positions, token_types=token_types)
    embeddings = embedding(vocab + max_positions + token_types, d_model) + layer_norm(d_model)
    total = embeddings + layers * transformer_block(d_model, d_ff)
    return total + (dense(d_model, d_model) if pooler else 0)


def gpt2(vocab=50257, d_model=768, layers=12, context=1024) -> int:
    """A GPT-2 decoder with a 4x feed-forward width and a final LayerNorm.

    The output layer shares the token-embedding matrix, so it adds nothing.
    """
    _positive(vocab=vocab, d_model=d_model, layers=layers, context=context)
    embeddings = embedding(vocab, d_model) + embedding(context, d_model)
    return embeddings + layers * transformer_block(d_model, 4 * d_model) + layer_norm(d_model)


def training_flops(n_params: float, n_tokens: float) -> float:
    """The rule of thumb C ~ 6 N T: about 2 FLOPs per parameter per token for
    the forward pass and 4 for the backward pass (Kaplan et al., 2020)."""
    if n_params <= 0 or n_tokens <= 0:
        raise ValueError(f"n_params and n_tokens must be positive, got {n_params} and {n_tokens}")
    return 6.0 * float(n_params) * float(n_tokens)


def gpu_hours(flops: float, peak_flops_per_s: float, utilization: float) -> float:
    """Accelerator-hours needed for ``flops`` at a fraction ``utilization`` of peak."""
    if not 0 < utilization <= 1:
        raise ValueError(f"utilization must lie in (0, 1], got {utilization}")
    if flops <= 0 or peak_flops_per_s <= 0:
        raise ValueError("flops and peak_flops_per_s must be positive")
    return flops / (peak_flops_per_s * utilization) / 3600.0


def compute_optimal(flops: float, tokens_per_parameter: float = 20.0) -> tuple[float, float]:
    """Model size N and training tokens T that spend ``flops`` with T = r N.

    From C = 6 N T and T = r N: N = sqrt(C / (6 r)). ``r = 20`` is the
    compute-optimal ratio Hoffmann et al. (2022) found for their setting.
    """
    if flops <= 0 or tokens_per_parameter <= 0:
        raise ValueError("flops and tokens_per_parameter must be positive")
    n = math.sqrt(flops / (6.0 * tokens_per_parameter))
    return n, tokens_per_parameter * n


def measured_training_flops(model, inputs) -> tuple[int, int]:
    """(forward, backward) FLOPs of one training step, counted by PyTorch.

    Uses ``torch.utils.flop_counter.FlopCounterMode``, which counts matrix
    multiplications and convolutions (2 FLOPs per multiply-add) but not
    element-wise work such as bias additions or activations. The loss is the
    sum of the outputs; parameter gradients are cleared afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loss = model(inputs).sum()
    forward = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        loss.backward()
    backward = counter.get_total_flops()
    model.zero_grad(set_to_none=True)
    return forward, backward
