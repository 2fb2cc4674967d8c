"""Keras LSTM and GRU weights rewritten in torch's layout, so the two frameworks compute the same thing.

Keras keeps a recurrent layer as three arrays (``layer.get_weights()``):

* ``kernel`` ``(input_size, gates * H)``: the input weights, columns in gate blocks;
* ``recurrent_kernel`` ``(H, gates * H)``: the hidden-to-hidden weights;
* ``bias``: ``(4H,)`` for the LSTM; ``(2, 3H)`` for the GRU with
  ``reset_after=True`` (Keras's default), row 0 for the input side and row 1
  for the recurrent side.

torch keeps ``weight_ih_l0`` ``(gates * H, input_size)``, ``weight_hh_l0``
``(gates * H, H)`` and two biases ``bias_ih_l0``, ``bias_hh_l0`` ``(gates * H,)``.
So every matrix is transposed (Keras multiplies ``x @ kernel``, torch
``x @ weight.T``) and the gate blocks are put in torch's order:

* LSTM: Keras i, f, c, o; torch i, f, g, o. The same order (torch calls the
  candidate g), so only the transposes; Keras has one bias, which becomes
  ``bias_ih`` with ``bias_hh`` zero (torch only ever uses their sum).
* GRU: Keras z, r, h; torch r, z, n. The first two blocks swap. Both put the
  reset gate after the recurrent product (``r * (h W_hn^T + b_hn)``), so the
  two bias rows map one to one. A Keras GRU with ``reset_after=False`` (one
  bias row, Cho et al.'s original equations) computes something else, and
  has no torch counterpart: it is refused.

The functions return NumPy arrays keyed like torch's ``state_dict``; load them
into a :mod:`book.nn` layer directly, or into a torch layer through
:func:`book.nn.torch_state`. Importing this module needs NumPy only.
"""
from __future__ import annotations

import numpy as np

KERAS_GATES = {"lstm": "ifco", "gru": "zrh"}
TORCH_GATES = {"lstm": "ifgo", "gru": "rzn"}


def _arrays(weights, owner: str) -> list[np.ndarray]:
    """The three arrays of a Keras recurrent layer (or its ``get_weights()`` list)."""
    if hasattr(weights, "get_weights"):
        weights = weights.get_weights()
    weights = [np.asarray(w) for w in weights]
    if len(weights) != 3:
        raise ValueError(f"{owner} expects [kernel, recurrent_kernel, bias] (use_bias=True), got {len(weights)} arrays")
    return weights


def _check(kernel, recurrent, gates: int, owner: str) -> int:
    if kernel.ndim != 2 or kernel.shape[1] % gates:
        raise ValueError(f"{owner}: kernel must have shape (input_size, {gates} * H), got {kernel.shape}")
    hidden = kernel.shape[1] // gates
    if recurrent.shape != (hidden, gates * hidden):
        raise ValueError(f"{owner}: recurrent_kernel must have shape ({hidden}, {gates * hidden}), got {recurrent.shape}")
    return hidden


def keras_lstm_to_torch(weights) -> dict[str, np.ndarray]:
    """A Keras ``LSTM`` layer's weights as a torch ``nn.LSTM`` ``state_dict`` (NumPy arrays)."""
    owner = "keras_lstm_to_torch"
    kernel, recurrent, bias = _arrays(weights, owner)
    hidden = _check(kernel, recurrent, 4, owner)
    if bias.shape != (4 * hidden,):
        raise ValueError(f"{owner}: bias must have shape ({4 * hidden},), got {bias.shape}")
    return {
        "weight_ih_l0": kernel.T.copy(),
        "weight_hh_l0": recurrent.T.copy(),
        "bias_ih_l0": bias.copy(),
        "bias_hh_l0": np.zeros_like(bias),
    }


def _zrh_to_rzn(matrix: np.ndarray, hidden: int) -> np.ndarray:
    """Reorder the gate blocks of the last axis from Keras's z, r, h to torch's r, z, n."""
    z, r, h = (matrix[..., k * hidden:(k + 1) * hidden] for k in range(3))
    return np.concatenate([r, z, h], axis=-1)


def keras_gru_to_torch(weights) -> dict[str, np.ndarray]:
    """A Keras ``GRU`` layer's weights (``reset_after=True``) as a torch ``nn.GRU`` ``state_dict``."""
    owner = "keras_gru_to_torch"
    kernel, recurrent, bias = _arrays(weights, owner)
    hidden = _check(kernel, recurrent, 3, owner)
    if bias.shape == (3 * hidden,):
        raise ValueError(f"{owner}: a bias of shape ({3 * hidden},) means reset_after=False (Cho et al.'s "
                         "equations), which torch's GRU does not compute; build the Keras GRU with reset_after=True")
    if bias.shape != (2, 3 * hidden):
        raise ValueError(f"{owner}: bias must have shape (2, {3 * hidden}), got {bias.shape}")
    return {
        "weight_ih_l0": _zrh_to_rzn(kernel, hidden).T.copy(),
        "weight_hh_l0": _zrh_to_rzn(recurrent, hidden).T.copy(),
        "bias_ih_l0": _zrh_to_rzn(bias[0], hidden),
        "bias_hh_l0": _zrh_to_rzn(bias[1], hidden),
    }


__all__ = ["KERAS_GATES", "TORCH_GATES", "keras_gru_to_torch", "keras_lstm_to_torch"]
