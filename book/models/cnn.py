"""Chapter 5's convolutional networks, each written once as a *plan* and built in
NumPy (:mod:`book.nn`), PyTorch and Keras from that plan.

A plan is a list of layer specifications, read in order:

* ``("conv", filters, kernel, padding)``: a square ``kernel`` x ``kernel``
  convolution with stride 1 and zero ``padding`` on every side;
* ``("relu",)``; ``("maxpool", window)`` (stride = window);
* ``("flatten",)``; ``("dense", units)``.

:func:`shape_chain` follows the feature maps' shapes through a plan with the
output-size formula, so the width of the first dense layer is computed, never
typed in (the bug of the source's NumPy CNN, L14). :func:`numpy_cnn`,
:func:`torch_cnn` and :func:`keras_cnn` build the same layers at the same
positions; the NumPy and PyTorch models share ``state_dict`` keys, and the
last layer returns logits.

The networks: :func:`small_cnn_plan` (two padded convolutions, for 8x8
digits) and :func:`seed_cnn_plan`, the topology of the source's Keras
listings L05 (32x32x3 input) and L06 (28x28x1 input): three 3x3
convolutions, two max-pools, a flatten and two dense layers.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from book.checks import non_negative_int, one_of, positive_int, positive_ints
from book.counting.params import conv2d_output_size, pool_output_size

KINDS = ("conv", "relu", "maxpool", "flatten", "dense")


def small_cnn_plan(channels: Sequence[int] = (16, 32), num_classes: int = 10) -> list[tuple]:
    """Two "same"-padded 3x3 convolutions, each with ReLU and a 2x2 max-pool, then one dense layer.

    On an 8x8 image the maps go 8 -> 8 -> 4 -> 4 -> 2: padding 1 keeps a 3x3
    convolution from shrinking an image that small.
    """
    first, second = positive_ints(channels, "channels", min_length=2, owner="small_cnn_plan")[:2]
    num_classes = positive_int(num_classes, "num_classes", owner="small_cnn_plan")
    return [
        ("conv", first, 3, 1), ("relu",), ("maxpool", 2),
        ("conv", second, 3, 1), ("relu",), ("maxpool", 2),
        ("flatten",), ("dense", num_classes),
    ]


def seed_cnn_plan(num_classes: int = 10, padding: str = "valid") -> list[tuple]:
    """The source listings' CNN: conv 32, pool, conv 64, pool, conv 64, flatten, dense 64, dense.

    Three 3x3 convolutions (the source's prose said two), ReLU after each
    convolution and after the hidden dense layer. ``padding`` is ``"valid"``
    (no padding, as in the source) or ``"same"`` (padding 1, which keeps each
    map's size).
    """
    num_classes = positive_int(num_classes, "num_classes", owner="seed_cnn_plan")
    pad = {"valid": 0, "same": 1}[one_of(padding, ("valid", "same"), "padding", owner="seed_cnn_plan")]
    return [
        ("conv", 32, 3, pad), ("relu",), ("maxpool", 2),
        ("conv", 64, 3, pad), ("relu",), ("maxpool", 2),
        ("conv", 64, 3, pad), ("relu",),
        ("flatten",), ("dense", 64), ("relu",), ("dense", num_classes),
    ]


def _check_plan(plan, owner: str) -> list[tuple]:
    plan = [tuple(spec) for spec in plan]
    if not plan:
        raise ValueError(f"{owner}: the plan is empty")
    arity = {"conv": 4, "relu": 1, "maxpool": 2, "flatten": 1, "dense": 2}
    for i, spec in enumerate(plan):
        kind = one_of(spec[0] if spec else None, KINDS, f"plan[{i}] kind", owner=owner)
        if len(spec) != arity[kind]:
            raise ValueError(f"{owner}: plan[{i}] = {spec!r} should have {arity[kind]} entries")
        if kind == "conv":
            positive_int(spec[1], f"plan[{i}] filters", owner=owner)
            positive_int(spec[2], f"plan[{i}] kernel", owner=owner)
            non_negative_int(spec[3], f"plan[{i}] padding", owner=owner)
        elif kind in ("maxpool", "dense"):
            positive_int(spec[1], f"plan[{i}] size", owner=owner)
    return plan


def _check_input_shape(input_shape, owner: str) -> tuple[int, int, int]:
    shape = positive_ints(input_shape, "input_shape (channels, height, width)", min_length=3, owner=owner)
    if len(shape) != 3:
        raise ValueError(f"{owner}: input_shape must be (channels, height, width), got {tuple(input_shape)}")
    return tuple(shape)


def shape_chain(plan, input_shape) -> list[tuple[str, tuple[int, ...]]]:
    """The name and output shape (without the batch axis) of every layer of ``plan``.

    ``input_shape`` is ``(channels, height, width)``; maps are listed in that
    order, as PyTorch stores them. The first entry is the input. A layer whose
    window no longer fits raises ``ValueError``, as the frameworks do.
    """
    plan = _check_plan(plan, "shape_chain")
    shape = _check_input_shape(input_shape, "shape_chain")
    chain = [("input", shape)]
    for i, spec in enumerate(plan):
        kind = spec[0]
        if kind in ("conv", "maxpool") and len(shape) != 3:
            raise ValueError(f"shape_chain: plan[{i}] {kind} needs feature maps, got a vector of shape {shape}")
        if kind == "dense" and len(shape) != 1:
            raise ValueError(f"shape_chain: plan[{i}] dense needs a vector; flatten the maps {shape} first")
        try:
            if kind == "conv":
                _, filters, k, p = spec
                shape = (filters, conv2d_output_size(shape[1], k, 1, p), conv2d_output_size(shape[2], k, 1, p))
                name = f"conv {k}x{k}, {filters}" + (f", pad {p}" if p else "")
            elif kind == "maxpool":
                window = spec[1]
                shape = (shape[0], pool_output_size(shape[1], window), pool_output_size(shape[2], window))
                name = f"max-pool {window}x{window}"
            elif kind == "flatten":
                shape = (int(np.prod(shape)),)
                name = "flatten"
            elif kind == "dense":
                shape = (spec[1],)
                name = f"dense {spec[1]}"
            else:
                name = "ReLU"
        except ValueError as err:
            raise ValueError(f"shape_chain: plan[{i}] {spec!r} does not fit its input of shape {chain[-1][1]}: {err}") from err
        chain.append((name, shape))
    return chain


def _layers(plan, input_shape, owner: str):
    """``(spec, input shape)`` for each layer, after checking that the whole chain fits."""
    chain = shape_chain(plan, input_shape)
    return [(spec, chain[i][1]) for i, spec in enumerate(_check_plan(plan, owner))]


def numpy_cnn(plan, input_shape, rng=None):
    """``plan`` as a :class:`book.nn.Sequential` for NCHW input of ``input_shape`` ``(C, H, W)``.

    ``rng`` (a seed or a ``numpy.random.Generator``) makes the initial weights
    repeatable; they follow torch's default initialisation.
    """
    from book import nn as bnn

    rng = np.random.default_rng(rng)
    layers = []
    for spec, shape in _layers(plan, input_shape, "numpy_cnn"):
        kind = spec[0]
        if kind == "conv":
            layers.append(bnn.Conv2d(shape[0], spec[1], spec[2], padding=spec[3], rng=rng))
        elif kind == "relu":
            layers.append(bnn.ReLU())
        elif kind == "maxpool":
            layers.append(bnn.MaxPool2d(spec[1]))
        elif kind == "flatten":
            layers.append(bnn.Flatten())
        else:
            layers.append(bnn.Linear(shape[0], spec[1], rng=rng))
    return bnn.Sequential(*layers)


def torch_cnn(plan, input_shape, seed: int | None = None):
    """``plan`` as a ``torch.nn.Sequential`` for NCHW input of ``input_shape`` ``(C, H, W)``.

    Its ``state_dict`` keys match :func:`numpy_cnn`'s. ``seed`` makes the
    weights repeatable without touching torch's global random state.
    """
    import torch
    from torch import nn

    layers_spec = _layers(plan, input_shape, "torch_cnn")

    def build():
        layers = []
        for spec, shape in layers_spec:
            kind = spec[0]
            if kind == "conv":
                layers.append(nn.Conv2d(shape[0], spec[1], spec[2], padding=spec[3]))
            elif kind == "relu":
                layers.append(nn.ReLU())
            elif kind == "maxpool":
                layers.append(nn.MaxPool2d(spec[1]))
            elif kind == "flatten":
                layers.append(nn.Flatten())
            else:
                layers.append(nn.Linear(shape[0], spec[1]))
        return nn.Sequential(*layers)

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def keras_cnn(plan, input_shape):
    """``plan`` as a ``keras.Sequential`` for NHWC input: ``input_shape`` is still ``(C, H, W)``.

    Keras stores images channels-last, so the model's input is ``(H, W, C)``
    and its flatten reads the maps in ``(H, W, C)`` order. A convolution's
    padding must be 0 (``"valid"``) or ``kernel // 2`` (``"same"``), the two
    that Keras offers.
    """
    import keras
    from keras import layers

    channels, height, width = _check_input_shape(input_shape, "keras_cnn")
    model_layers = [keras.Input((height, width, channels))]
    # Keras follows the shapes itself, and raises its own error where a window no longer fits.
    for spec in _check_plan(plan, "keras_cnn"):
        kind = spec[0]
        if kind == "conv":
            _, filters, k, p = spec
            if p not in (0, k // 2) or (p and k % 2 == 0):
                raise ValueError(f"keras_cnn: padding {p} for a {k}x{k} kernel is neither 'valid' (0) nor 'same' ({k // 2})")
            model_layers.append(layers.Conv2D(filters, k, padding="valid" if p == 0 else "same"))
        elif kind == "relu":
            model_layers.append(layers.ReLU())
        elif kind == "maxpool":
            model_layers.append(layers.MaxPooling2D(spec[1]))
        elif kind == "flatten":
            model_layers.append(layers.Flatten())
        else:
            model_layers.append(layers.Dense(spec[1]))
    return keras.Sequential(model_layers)


def keras_to_torch_state(keras_model, plan, input_shape) -> dict[str, np.ndarray]:
    """The weights of :func:`keras_cnn`'s model as a ``state_dict`` for :func:`torch_cnn`'s (NumPy arrays).

    Two layouts differ. A Keras ``Conv2D`` kernel is ``(kh, kw, in, out)``,
    torch's ``(out, in, kh, kw)``; a ``Dense`` kernel is ``(in, out)``,
    torch's ``Linear.weight`` its transpose. And Keras flattens ``(H, W, C)``
    maps where torch flattens ``(C, H, W)`` ones, so the columns of the first
    dense layer after a flatten are reordered. Load the result with
    ``torch_model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})``.
    """
    layers = _layers(plan, input_shape, "keras_to_torch_state")
    weighted = [layer for layer in keras_model.layers if layer.get_weights()]
    positions = [i for i, (spec, _) in enumerate(layers) if spec[0] in ("conv", "dense")]
    if len(weighted) != len(positions):
        raise ValueError(f"keras_to_torch_state: the Keras model has {len(weighted)} layers with weights, "
                         f"the plan {len(positions)}")
    state = {}
    for layer, i in zip(weighted, positions):
        (spec, shape), (kernel, bias) = layers[i], layer.get_weights()
        if spec[0] == "conv":
            weight = kernel.transpose(3, 2, 0, 1)
        else:
            flattened = i > 0 and layers[i - 1][0][0] == "flatten"
            maps = layers[i - 1][1] if flattened else None  # the (C, H, W) shape that was flattened
            if maps is not None and len(maps) == 3:
                channels, height, width = maps
                kernel = kernel.reshape(height, width, channels, -1).transpose(2, 0, 1, 3).reshape(shape[0], -1)
            weight = kernel.T
        expected = (spec[1], shape[0], spec[2], spec[2]) if spec[0] == "conv" else (spec[1], shape[0])
        if weight.shape != expected:
            raise ValueError(f"keras_to_torch_state: layer {i} has weight shape {weight.shape}, the plan {expected}")
        state[f"{i}.weight"], state[f"{i}.bias"] = np.ascontiguousarray(weight), bias
    return state


__all__ = [
    "KINDS", "keras_cnn", "keras_to_torch_state", "numpy_cnn", "seed_cnn_plan", "shape_chain", "small_cnn_plan",
    "torch_cnn",
]
