"""Sinusoidal positional encoding, the fixed position signal of the original Transformer.

Attention treats its input as a set: permuting the positions permutes the
output the same way. To let a model tell "the cat bit the dog" from "the dog
bit the cat", each position ``pos`` gets a vector that is added to the token
embedding. Column pair ``(2i, 2i + 1)`` holds a sine and a cosine of one
frequency ``w_i = 10000^(-2i / dim)``::

    PE[pos, 2i]     = sin(pos * w_i)
    PE[pos, 2i + 1] = cos(pos * w_i)

The frequencies fall geometrically from 1 (period 2 pi) to nearly 1/10000, so
the fast pairs tell neighbours apart and the slow ones far-apart positions.
Moving ``k`` positions on turns each pair by the angle ``k * w_i``, whatever
``pos`` is, so ``PE[pos + k] = PE[pos] @ M_k`` with one fixed matrix
(:func:`sinusoidal_shift_matrix`): a relative offset is a linear map a layer
can learn.

An odd ``dim`` is allowed: the last column is then the sine of one more
frequency whose cosine has no room, which is what the formula gives column by
column.
"""
from __future__ import annotations

import numpy as np

from book.checks import integer, positive_int

BASE = 10000.0


def sinusoidal_frequencies(dim: int) -> np.ndarray:
    """The angular frequency of each column: ``w_i = 10000^(-2i / dim)`` for the columns ``2i`` and ``2i + 1``."""
    dim = positive_int(dim, "dim", owner="sinusoidal_frequencies")
    pair_index = np.arange(dim) // 2
    return BASE ** (-2.0 * pair_index / dim)


def sinusoidal_positional_encoding(length: int, dim: int) -> np.ndarray:
    """The ``(length, dim)`` table of sines (even columns) and cosines (odd columns) for positions ``0 .. length-1``."""
    length = positive_int(length, "length", owner="sinusoidal_positional_encoding")
    dim = positive_int(dim, "dim", owner="sinusoidal_positional_encoding")
    angles = np.arange(length)[:, None] * sinusoidal_frequencies(dim)[None, :]
    return np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))


def sinusoidal_shift_matrix(offset: int, dim: int) -> np.ndarray:
    """The ``(dim, dim)`` matrix ``M`` with ``PE[pos + offset] = PE[pos] @ M`` for every ``pos``.

    It is block diagonal: the pair ``(sin a, cos a)`` becomes ``(sin(a + b),
    cos(a + b))`` with ``b = offset * w_i``, that is ``(s, c) @ [[cos b, -sin b],
    [sin b, cos b]]``, a rotation. For an odd ``dim`` the last (lonely) sine
    has no cosine to mix with, so no such matrix exists and a ``ValueError`` says so.
    """
    offset = integer(offset, "offset", owner="sinusoidal_shift_matrix")
    dim = positive_int(dim, "dim", owner="sinusoidal_shift_matrix")
    if dim % 2:
        raise ValueError(
            f"sinusoidal_shift_matrix: dim must be even (the last sine of an odd dim has no cosine), got {dim}"
        )
    m = np.zeros((dim, dim))
    for i, w in enumerate(sinusoidal_frequencies(dim)[::2]):
        b = offset * w
        m[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[np.cos(b), -np.sin(b)], [np.sin(b), np.cos(b)]]
    return m


__all__ = ["sinusoidal_frequencies", "sinusoidal_positional_encoding", "sinusoidal_shift_matrix"]
