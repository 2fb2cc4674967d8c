"""Recurrent layers (one layer, batch first) as ``torch.nn.RNN``, ``LSTM`` and ``GRU``.

The constructors take torch's arguments in torch's order, but ``batch_first``
defaults to ``True`` (torch: ``False``) and any setting the book does not
implement (more layers, dropout, two directions, ...) is refused by name.

All three read a sequence ``x`` of shape ``(N, T, input_size)`` one step at a
time, carrying a state from step to step, and differ only in the cell: how a
step turns its input and the previous state into the next state. So the
bookkeeping lives once, in :class:`_Recurrent`:

* the input's contribution to every step, ``x_t W_ih^T + b_ih``, is computed for
  all steps at once before the loop (it does not depend on the state);
* the loop calls the cell's ``_step`` with that and the hidden projection
  ``h_{t-1} W_hh^T + b_hh``;
* backward runs the loop in reverse (backpropagation through time): at each
  step the cell's ``_step_backward`` turns the gradient of its new state into
  the gradients of the two projections and of the old state, and the weight
  gradients add up over the steps, because the same weights serve every step.

The parameters are keyed and laid out as torch's (``weight_ih_l0`` of shape
``(gates * hidden_size, input_size)``, gate blocks stacked in torch's order)
and initialised like torch: every entry uniform in ``(-1/sqrt(hidden_size),
1/sqrt(hidden_size))``.
"""
from __future__ import annotations

import numpy as np

from book.checks import positive_int
from book.nn.functional import sigmoid, tanh
from book.nn.module import Module, check_shape, refuse_unsupported


class _Recurrent(Module):
    """The time loop, the checks and the parameters shared by RNN, LSTM and GRU."""

    gates = 1  # how many hidden_size blocks each projection holds
    states = 1  # the state is (h,) or, for the LSTM, (h, c)

    def __init__(self, input_size: int, hidden_size: int, num_layers=1, bias=True, batch_first=True, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, *, rng=None):
        super().__init__()
        owner = type(self).__name__
        # torch's arguments in torch's order (GRU's; RNN adds nonlinearity, LSTM proj_size), accepted only at
        # what the book implements. batch_first defaults to True here, False in torch. rng is keyword-only.
        refuse_unsupported(owner, num_layers=(num_layers, 1), bias=(bias, True), batch_first=(batch_first, True),
                           dropout=(dropout, 0.0), bidirectional=(bidirectional, False), device=(device, None),
                           dtype=(dtype, None))
        self.input_size = positive_int(input_size, "input_size", owner=owner)
        self.hidden_size = positive_int(hidden_size, "hidden_size", owner=owner)
        rows = self.gates * self.hidden_size
        # torch bounds every recurrent parameter by 1/sqrt(hidden_size), not by a fan-in.
        self._init_uniform(rng, self.hidden_size, {
            "weight_ih_l0": (rows, self.input_size),
            "weight_hh_l0": (rows, self.hidden_size),
            "bias_ih_l0": (rows,),
            "bias_hh_l0": (rows,),
        })

    def _name(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    # --- checks ---------------------------------------------------------------
    def _check_input(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] == 0:
            raise ValueError(
                f"{self._name()} expects input of shape (N, T, {self.input_size}) with T >= 1, got {x.shape}"
            )
        return x.astype(np.float64, copy=False)

    def _check_state(self, state, n: int, what: str) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (1, n, self.hidden_size):
            raise ValueError(f"{self._name()} expects {what} of shape (1, {n}, {self.hidden_size}), got {state.shape}")
        return state[0]

    def _grad(self, grad, shape, what: str) -> np.ndarray:
        # A gradient left out (None) means the output was not used: zero, as in torch.
        if grad is None:
            return np.zeros(shape)
        grad = np.asarray(grad, dtype=np.float64)
        check_shape(grad.shape, shape, f"{self._name()}.backward {what}")
        return grad

    # --- the time loop ----------------------------------------------------------
    def _run(self, x, initial):
        """Run the cell over all steps from the state ``initial`` (None: zeros); returns (output, final state)."""
        p = self._params
        n, steps, _ = x.shape
        given = initial is not None
        state = initial if given else tuple(np.zeros((n, self.hidden_size)) for _ in range(self.states))
        x_proj = x @ p["weight_ih_l0"].T + p["bias_ih_l0"]
        output = np.empty((n, steps, self.hidden_size))
        h_prev, cell_caches = [], []
        for t in range(steps):
            h_prev.append(state[0])
            h_proj = state[0] @ p["weight_hh_l0"].T + p["bias_hh_l0"]
            state, cache = self._step(x_proj[:, t], h_proj, state)
            cell_caches.append(cache)
            output[:, t] = state[0]
        self._cache = (x, h_prev, cell_caches, given)
        return output, state

    def _bptt(self, grad_output, grad_final):
        """Backpropagation through time; returns dLoss/dx and the gradient of the initial state (or None)."""
        x, h_prev, cell_caches, given = self._require_cache()
        p, g = self._params, self._grads
        n, steps, _ = x.shape
        d_x_proj = np.empty((n, steps, self.gates * self.hidden_size))
        g["weight_hh_l0"].fill(0.0)
        g["bias_hh_l0"].fill(0.0)
        d_state = list(grad_final)
        for t in reversed(range(steps)):
            # h_t went two ways: into the output at step t and into step t + 1.
            d_state[0] = d_state[0] + grad_output[:, t]
            d_x_proj[:, t], d_h_proj, d_state = self._step_backward(d_state, cell_caches[t])
            g["weight_hh_l0"] += d_h_proj.T @ h_prev[t]
            g["bias_hh_l0"] += d_h_proj.sum(axis=0)
            d_state = [d_state[0] + d_h_proj @ p["weight_hh_l0"], *d_state[1:]]
        flat = d_x_proj.reshape(n * steps, -1)
        g["weight_ih_l0"][...] = flat.T @ x.reshape(n * steps, -1)
        g["bias_ih_l0"][...] = flat.sum(axis=0)
        dx = d_x_proj @ p["weight_ih_l0"]
        return dx, (tuple(d[None] for d in d_state) if given else None)

    def _step(self, x_proj, h_proj, state):
        """One step: the new state and what ``_step_backward`` needs."""
        raise NotImplementedError

    def _step_backward(self, d_state, cache):
        """Gradients of the input projection, of the hidden projection, and of the old state
        along the paths that bypass ``weight_hh`` (the LSTM's cell, the GRU's ``z * h``)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}, batch_first=True)"


class _SingleState(_Recurrent):
    """The interface of RNN and GRU, whose state is ``h`` alone."""

    def forward(self, x, h0=None):
        """Run over ``x`` ``(N, T, input_size)``; return ``(output, h_n)``.

        ``output`` ``(N, T, hidden_size)`` holds every step's ``h_t`` and
        ``h_n`` ``(1, N, hidden_size)`` the last one. ``h0`` (same shape as
        ``h_n``) is the initial state, zeros if ``None``.
        """
        x = self._check_input(x)
        initial = None if h0 is None else (self._check_state(h0, x.shape[0], "h0"),)
        output, (h,) = self._run(x, initial)
        return output, h[None]

    def backward(self, grad_output, grad_h_n=None):
        """Overwrite the parameter gradients; return ``(dx, dh0)``, ``dh0`` ``None`` when ``h0`` was not given."""
        x = self._require_cache()[0]
        n, steps, _ = x.shape
        grad_output = self._grad(grad_output, (n, steps, self.hidden_size), "grad_output")
        grad_h_n = self._grad(grad_h_n, (1, n, self.hidden_size), "grad_h_n")
        dx, d_initial = self._bptt(grad_output, (grad_h_n[0],))
        return dx, (None if d_initial is None else d_initial[0])


class RNN(_SingleState):
    """Elman RNN with tanh: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=True, dropout=0.0, bidirectional=False, device=None, dtype=None, *, rng=None):
        refuse_unsupported("RNN", nonlinearity=(nonlinearity, "tanh"))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype,
                         rng=rng)

    def _step(self, x_proj, h_proj, state):
        h = tanh(x_proj + h_proj)
        return (h,), h

    def _step_backward(self, d_state, h):
        d_pre = d_state[0] * (1.0 - h * h)
        # The pre-activation is a plain sum of the two projections: both get d_pre.
        return d_pre, d_pre, [0.0]


class GRU(_SingleState):
    """Gated recurrent unit, torch's equations (gate blocks r, z, n)::

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)        reset gate
        z = sigmoid(x W_iz^T + b_iz + h W_hz^T + b_hz)        update gate
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))     candidate
        h' = (1 - z) * n + z * h

    The reset gate multiplies the hidden projection *after* ``W_hn`` and
    ``b_hn`` ("reset after", torch's and cuDNN's choice), not ``h`` before it.
    """

    gates = 3

    def _step(self, x_proj, h_proj, state):
        (h,) = state
        x_r, x_z, x_n = np.split(x_proj, 3, axis=1)
        h_r, h_z, h_n = np.split(h_proj, 3, axis=1)
        r = sigmoid(x_r + h_r)
        z = sigmoid(x_z + h_z)
        n = tanh(x_n + r * h_n)
        h_new = (1.0 - z) * n + z * h
        return (h_new,), (r, z, n, h_n, h)

    def _step_backward(self, d_state, cache):
        r, z, n, h_n, h = cache
        dh_new = d_state[0]
        d_n_pre = dh_new * (1.0 - z) * (1.0 - n * n)
        d_z_pre = dh_new * (h - n) * z * (1.0 - z)
        d_r_pre = d_n_pre * h_n * r * (1.0 - r)
        d_x_proj = np.concatenate([d_r_pre, d_z_pre, d_n_pre], axis=1)
        # Only the candidate's hidden part is scaled by r, so the two projections differ there.
        d_h_proj = np.concatenate([d_r_pre, d_z_pre, d_n_pre * r], axis=1)
        return d_x_proj, d_h_proj, [dh_new * z]


class LSTM(_Recurrent):
    """Long short-term memory, torch's equations (gate blocks i, f, g, o)::

        i, f, o = sigmoid(...), g = tanh(...)   of x W_ih^T + b_ih + h W_hh^T + b_hh, split in four
        c' = f * c + i * g                      the cell forgets, then writes
        h' = o * tanh(c')                       and shows part of itself

    The cell ``c`` passes from step to step through ``f * c`` alone, with no
    weight matrix and no squashing, which is why its gradient survives many steps.
    """

    gates = 4
    states = 2

    def __init__(self, input_size: int, hidden_size: int, num_layers=1, bias=True, batch_first=True, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, *, rng=None):
        refuse_unsupported("LSTM", proj_size=(proj_size, 0))
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype,
                         rng=rng)

    def forward(self, x, hx=None):
        """Run over ``x`` ``(N, T, input_size)``; return ``(output, (h_n, c_n))``.

        ``hx`` is ``None`` (zero initial state) or a pair ``(h0, c0)``, each
        ``(1, N, hidden_size)``.
        """
        x = self._check_input(x)
        initial = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"{self._name()} expects hx to be None or a pair (h0, c0), got {type(hx).__name__}")
            n = x.shape[0]
            initial = (self._check_state(hx[0], n, "h0"), self._check_state(hx[1], n, "c0"))
        output, (h, c) = self._run(x, initial)
        return output, (h[None], c[None])

    def backward(self, grad_output, grad_h_n=None, grad_c_n=None):
        """Overwrite the parameter gradients; return ``(dx, (dh0, dc0))``, or ``(dx, None)`` when ``hx`` was not given."""
        x = self._require_cache()[0]
        n, steps, _ = x.shape
        state_shape = (1, n, self.hidden_size)
        grad_output = self._grad(grad_output, (n, steps, self.hidden_size), "grad_output")
        grad_h_n = self._grad(grad_h_n, state_shape, "grad_h_n")
        grad_c_n = self._grad(grad_c_n, state_shape, "grad_c_n")
        return self._bptt(grad_output, (grad_h_n[0], grad_c_n[0]))

    def _step(self, x_proj, h_proj, state):
        _, c = state
        i, f, g, o = np.split(x_proj + h_proj, 4, axis=1)
        i, f, g, o = sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)
        c_new = f * c + i * g
        tanh_c = tanh(c_new)
        return (o * tanh_c, c_new), (i, f, g, o, c, tanh_c)

    def _step_backward(self, d_state, cache):
        i, f, g, o, c, tanh_c = cache
        dh, dc = d_state
        # c' reaches the loss directly (later steps, c_n) and through h' = o * tanh(c').
        dc = dc + dh * o * (1.0 - tanh_c * tanh_c)
        d_pre = np.concatenate(
            [dc * g * i * (1.0 - i), dc * c * f * (1.0 - f), dc * i * (1.0 - g * g), dh * tanh_c * o * (1.0 - o)],
            axis=1,
        )
        return d_pre, d_pre, [0.0, dc * f]
