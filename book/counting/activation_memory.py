"""What a forward pass must keep for the backward pass (chapter 3).

Backpropagation needs, at every layer, quantities of the forward pass: a
linear layer needs its input to form ``dL/dW``, an activation needs its
input or its output to form ``f'``. They are kept from the forward pass
until the backward pass reaches the layer, so their size grows with the
batch and the depth while the parameter count does not.

:func:`mlp_cache_count` counts them for an MLP of :mod:`book.nn` layers by
formula; :func:`measure_cache` counts what a :mod:`book.nn` model really
holds after a forward pass. Arrays are counted once even when two layers
hold the same one (a linear layer keeps, by reference, the output of the
activation before it).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from book.checks import one_of, positive_int, positive_ints


def mlp_cache_count(sizes: Sequence[int], batch_size: int, activation: str = "relu") -> dict[str, int]:
    """Entries a :func:`book.models.mlp.numpy_mlp` of widths ``sizes`` keeps after a forward pass of ``batch_size`` rows.

    Returns ``{"floats": ..., "bools": ..., "input_floats": ...}``:

    * every ``Linear`` keeps its input, ``batch_size * d_in`` floats (the
      first one's is the data itself, counted apart as ``input_floats``);
    * ``ReLU`` keeps the mask ``x > 0``, ``batch_size * width`` booleans
      (one byte each in NumPy); ``Sigmoid`` and ``Tanh`` keep their output,
      ``batch_size * width`` floats;
    * ``floats`` counts everything except the input batch and the loss.
    """
    sizes = positive_ints(sizes, "sizes", min_length=2, owner="mlp_cache_count")
    n = positive_int(batch_size, "batch_size", owner="mlp_cache_count")
    activation = one_of(activation, ("relu", "sigmoid", "tanh"), "activation", owner="mlp_cache_count")
    hidden = sum(sizes[1:-1])
    # Each hidden output is kept by the Linear that reads it; Sigmoid and Tanh
    # keep that same array for f', ReLU keeps a boolean mask besides.
    floats = n * hidden
    bools = n * hidden if activation == "relu" else 0
    return {"floats": floats, "bools": bools, "input_floats": n * sizes[0]}


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from _arrays(item)


def measure_cache(model, exclude=()) -> dict[str, int]:
    """Count the array entries held in the caches of ``model``'s layers (a :class:`book.nn.Sequential` or one layer).

    Returns ``{"floats": ..., "bools": ..., "bytes": ...}``, counting each
    array once however many layers hold it. Arrays in ``exclude`` (the input
    batch, which exists anyway) are left out, as are views of them.
    """
    layers = list(model) if hasattr(model, "__iter__") else [model]
    excluded = {id(a) for a in exclude}
    seen: dict[int, np.ndarray] = {}
    for layer in layers:
        for a in _arrays(getattr(layer, "_cache", None)):
            base = a if a.base is None else a.base
            if id(a) in excluded or id(base) in excluded:
                continue
            seen.setdefault(id(a), a)
    floats = sum(a.size for a in seen.values() if np.issubdtype(a.dtype, np.floating))
    bools = sum(a.size for a in seen.values() if a.dtype == np.bool_)
    return {"floats": int(floats), "bools": int(bools), "bytes": int(sum(a.nbytes for a in seen.values()))}


__all__ = ["measure_cache", "mlp_cache_count"]
