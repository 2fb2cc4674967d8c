"""The base class shared by every layer and loss in :mod:`book.nn`.

A :class:`Module` mirrors ``torch.nn.Module`` with the bookkeeping made
explicit: ``params`` and ``grads`` are plain dicts of NumPy arrays whose keys
and shapes equal the torch module's ``state_dict()``, and ``backward`` is
written by hand instead of recorded by autograd. A layer with state that is
not trained (batch normalisation's running statistics) keeps it in
``buffers``, as torch does; ``state_dict()`` then holds the parameters and the
buffers, with torch's keys.

How ``backward`` takes and returns gradients (torch's autograd conventions):

* ``backward`` takes one gradient per output of ``forward``, in the same order
  and shapes. Outputs a caller did not use may be left out or passed as
  ``None``, which counts as a zero gradient (torch gives unused outputs zero
  gradient too). A recurrent layer whose forward returns ``(output, h_n)`` has
  ``backward(grad_output, grad_h_n=None)``; the LSTM's ``(output, (h_n, c_n))``
  gives ``backward(grad_output, grad_h_n=None, grad_c_n=None)``.
* ``backward`` returns one gradient per input of ``forward``, in the order of
  ``forward``'s arguments: a single array when ``forward`` takes one array
  (``Linear``, ``ReLU``), otherwise a tuple, so attention's
  ``forward(query, key, value)`` gives ``dquery, dkey, dvalue`` and a recurrent
  layer's ``forward(x, h0=None)`` gives ``dx, dh0``. An input that cannot have a
  gradient (integer indices of an ``Embedding``) or that was not given (``h0``
  left as ``None``) gets ``None`` in its place, as ``torch.autograd.Function``
  returns ``None`` for it. A layer that takes one tensor and uses it in
  several places (self-attention's ``forward(x)`` reads ``x`` as query, key
  and value) returns one gradient: the sum over those uses, as autograd does.
* Parameter gradients are written into :attr:`Module.grads`, never returned.
"""
from __future__ import annotations

import numpy as np


def check_shape(got, expected, what: str) -> None:
    """Raise ``ValueError`` unless ``got == expected`` (used for ``grad_output`` checks)."""
    if tuple(got) != tuple(expected):
        raise ValueError(f"{what} expects shape {tuple(expected)}, got {tuple(got)}")


def refuse_unsupported(owner: str, **arguments) -> None:
    """Raise ``ValueError`` naming the first torch argument set to a value that :mod:`book.nn` does not implement.

    Each keyword is ``name=(value, supported)``, the argument and the one value
    the book implements (a pair such as ``dilation=(1, 1)`` counts when every
    entry is ``supported``). Refusing it by name, instead of ignoring it or
    reading it as the book's next parameter, keeps a model written for torch
    from silently running here as a different model.
    """
    for name, (value, supported) in arguments.items():
        entries = value if isinstance(value, (tuple, list)) and value else [value]
        if not all(_is_value(v, supported) for v in entries):
            raise ValueError(
                f"{owner}: {name}={value!r} is not supported (book.nn implements only {name}={supported!r})"
            )


def _is_value(value, supported) -> bool:
    if supported is None:
        return value is None
    # Plain scalars only: an array or tensor (CrossEntropyLoss's weight=...) is never the supported value.
    return isinstance(value, (bool, int, float, str, np.generic)) and value == supported


def to_numpy(value) -> np.ndarray:
    """A float64 NumPy copy of ``value``, which may be a NumPy array, a list or a torch tensor."""
    if hasattr(value, "detach"):  # a torch tensor; avoid importing torch here
        value = value.detach().cpu().numpy()
    return np.array(value, dtype=np.float64)


def torch_state(state: dict, dtype=None) -> dict:
    """A NumPy ``state_dict`` as torch tensors, ready for ``torch_model.load_state_dict``.

    ``dtype`` defaults to float64, the dtype of :mod:`book.nn`, so the copy is
    exact. The arrays are copied, so the two models do not share memory.
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
    return {k: torch.tensor(np.array(v), dtype=dtype) for k, v in state.items()}


class Module:
    """Base class: ``forward`` computes and caches, ``backward`` uses the cache.

    Subclasses fill ``self._params`` and ``self._grads`` (same keys, same
    shapes) in ``__init__`` and implement ``forward`` and ``backward``.

    ``backward`` **overwrites** ``grads`` in place; it does not accumulate them
    as torch's ``.grad`` does. So one forward and one backward per step is all
    that is needed, and ``zero_grad`` is only hygiene. Writing in place (rather
    than rebinding) keeps any reference to a gradient array valid.
    """

    def __init__(self):
        self.training = True
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}
        self._buffers: dict[str, np.ndarray] = {}
        self._cache = None

    # --- parameters -------------------------------------------------------
    @property
    def params(self) -> dict:
        """Name -> parameter array; keys and shapes match ``torch_module.state_dict()``."""
        return self._params

    @property
    def grads(self) -> dict:
        """Name -> gradient array, same keys and shapes as :attr:`params`; written by ``backward``."""
        return self._grads

    @property
    def buffers(self) -> dict:
        """Name -> state array that is saved but not trained (running statistics); empty for most layers."""
        return self._buffers

    def _state(self) -> dict:
        """The arrays of ``state_dict()``, shared: parameters, then buffers, as torch orders them."""
        return {**self.params, **self.buffers}

    def parameters(self) -> list:
        """``(name, param, grad)`` triples; optimizers update ``param`` in place from ``grad``."""
        grads = self.grads
        return [(name, p, grads[name]) for name, p in self.params.items()]

    def zero_grad(self) -> None:
        """Set every gradient to zero, in place."""
        for g in self.grads.values():
            g.fill(0.0)

    def state_dict(self) -> dict:
        """A copy of :attr:`params` (and :attr:`buffers`), so later training does not change the snapshot."""
        return {name: p.copy() for name, p in self._state().items()}

    def load_state_dict(self, state: dict) -> None:
        """Copy ``state`` (NumPy arrays or torch tensors) into the parameters and buffers, in place.

        Raises ``ValueError`` for missing or unexpected keys and for shape
        mismatches, checking everything before changing anything. An integer
        buffer (``num_batches_tracked``) takes the value cast to its dtype.
        """
        params = self._state()
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        if missing or unexpected:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
            )
        arrays = {name: to_numpy(value) for name, value in state.items()}
        for name, value in arrays.items():
            if value.shape != params[name].shape:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: '{name}' expects shape "
                    f"{params[name].shape}, got {value.shape}"
                )
        for name, value in arrays.items():
            np.copyto(params[name], value, casting="unsafe")

    def _init_uniform(self, rng, fan_in: int, shapes: dict) -> None:
        """torch's default initialisation: each parameter uniform in ``(-1/sqrt(fan_in), 1/sqrt(fan_in))``.

        Parameters are drawn from ``rng`` (``None``, an int seed or a
        ``np.random.Generator``) in the order of ``shapes`` (name -> shape), so
        a seed always gives the same weights; every gradient starts at zero.
        """
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(fan_in)
        for name, shape in shapes.items():
            self._params[name] = rng.uniform(-bound, bound, size=shape)
        self._grads = {name: np.zeros_like(p) for name, p in self._params.items()}

    # --- modes ------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Switch to training mode (``mode=False``: evaluation mode); returns ``self`` like torch."""
        self.training = bool(mode)
        return self

    def eval(self) -> "Module":
        """Switch to evaluation mode (Dropout becomes the identity); returns ``self``."""
        return self.train(False)

    # --- computation ------------------------------------------------------
    def forward(self, *inputs):
        """Compute the output and cache what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self, grad_output):
        """Given dLoss/d(output), overwrite :attr:`grads` and return dLoss/d(input)."""
        raise NotImplementedError

    def __call__(self, *inputs, **kwargs):
        # A forward pass that fails its input checks must not leave the
        # previous call's cache behind for backward to use by mistake.
        self._cache = None
        return self.forward(*inputs, **kwargs)

    def _require_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward(); run a forward pass first")
        return self._cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
