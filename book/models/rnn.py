"""Recurrent models of chapter 6: a character-level LSTM language model, the GRU step in
both published conventions, and the source's Keras LSTM listing (L07) rebuilt as the
sequence classifier it is.

* :class:`CharLSTM` (PyTorch): embedding, LSTM, and a linear layer that gives
  one logit per character *at every position*, trained on targets shifted by
  one (:func:`next_token_loss`); :meth:`CharLSTM.generate` samples text one
  character at a time through :func:`book.models.sampling.sample_next`.
* :func:`gru_forward` (NumPy): a GRU over a sequence with torch's weights,
  either as torch, cuDNN and Keras compute it (``reset_after=True``: the
  reset gate scales ``h W_hn^T + b_hn``) or as Cho et al. (2014) wrote it
  (``reset_after=False``: the reset gate scales ``h`` before the product).
* :func:`keras_sequence_classifier`: embedding, two stacked LSTMs and a dense
  layer ending in **one sigmoid unit** trained with binary cross-entropy: a
  many-to-one classifier. The source ended the same stack in a one-unit
  softmax, which outputs 1 whatever the input.

torch is imported here; Keras only inside :func:`keras_sequence_classifier`.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from book.checks import non_negative_int, positive_int


class CharLSTM(nn.Module):
    """A character-level language model: ``Embedding -> LSTM -> Linear`` to ``vocab_size`` logits.

    ``forward(x, state=None)`` takes ids ``(N, T)`` and returns ``(logits,
    state)``: ``logits`` ``(N, T, vocab_size)`` scores the character that
    *follows* each position, and ``state`` is the LSTM's ``(h, c)``, which a
    caller passes back in to continue the same text. ``seed`` makes the
    initial weights repeatable.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_size: int = 128, num_layers: int = 1,
                 seed: int | None = None):
        super().__init__()
        owner = "CharLSTM"
        self.vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
        embed_dim = positive_int(embed_dim, "embed_dim", owner=owner)
        hidden_size = positive_int(hidden_size, "hidden_size", owner=owner)
        num_layers = positive_int(num_layers, "num_layers", owner=owner)
        if seed is not None:
            torch.manual_seed(non_negative_int(seed, "seed", owner=owner))
        self.embedding = nn.Embedding(self.vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, self.vocab_size)

    def forward(self, x: torch.Tensor, state=None):
        if x.ndim != 2 or x.dtype not in (torch.int64, torch.int32):
            raise ValueError(f"CharLSTM expects integer ids of shape (N, T), got {tuple(x.shape)} {x.dtype}")
        output, state = self.lstm(self.embedding(x), state)
        return self.head(output), state

    @torch.no_grad()
    def generate(self, prompt, steps: int, *, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None, generator: torch.Generator | None = None) -> list[int]:
        """``steps`` new ids that continue ``prompt`` (a non-empty sequence of ids), sampled one at a time.

        The prompt is read once; then each sampled id is fed back with the
        carried state, so a step costs one LSTM step, not a pass over the
        whole text. ``temperature``, ``top_k``, ``top_p`` and ``generator`` go
        to :func:`book.models.sampling.sample_next` (``temperature=0`` is greedy).
        The model's training mode is restored afterwards.
        """
        from book.models.sampling import sample_next

        steps = positive_int(steps, "steps", owner="CharLSTM.generate")
        prompt = [int(i) for i in (prompt.tolist() if hasattr(prompt, "tolist") else prompt)]
        if not prompt or min(prompt) < 0 or max(prompt) >= self.vocab_size:
            raise ValueError(f"CharLSTM.generate: prompt must be a non-empty sequence of ids in [0, {self.vocab_size})")
        was_training = self.training
        self.eval()
        device = self.head.weight.device
        logits, state = self(torch.tensor([prompt], device=device))
        new = []
        for _ in range(steps):
            nxt = sample_next(logits[:, -1], temperature=temperature, top_k=top_k, top_p=top_p, generator=generator)
            new.append(int(nxt[0]))
            logits, state = self(nxt.view(1, 1).to(device), state)
        self.train(was_training)
        return new


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy (nats per token) of ``logits`` ``(N, T, V)`` against ``targets`` ``(N, T)``."""
    if logits.ndim != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"next_token_loss expects logits (N, T, V) and targets (N, T), "
                         f"got {tuple(logits.shape)} and {tuple(targets.shape)}")
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@torch.no_grad()
def mean_nats(model: CharLSTM, x, y, batch_size: int = 256) -> float:
    """Mean next-token cross-entropy of ``model`` over windows ``x``, ``y`` ``(N, T)``, in eval mode.

    Each window starts from a zero state, as in training. The model's training
    mode is restored afterwards.
    """
    batch_size = positive_int(batch_size, "batch_size", owner="mean_nats")
    device = model.head.weight.device
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
        total += float(next_token_loss(model(xb)[0], yb)) * yb.numel()
    model.train(was_training)
    return total / y.numel()


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def gru_forward(x, params: dict, h0=None, reset_after: bool = True) -> np.ndarray:
    """Every hidden state ``(N, T, H)`` of a GRU run over ``x`` ``(N, T, D)`` with torch's weights.

    ``params`` holds ``weight_ih_l0`` ``(3H, D)``, ``weight_hh_l0`` ``(3H, H)``,
    ``bias_ih_l0``, ``bias_hh_l0`` ``(3H,)``, gate blocks in torch's order r, z, n.
    With ``reset_after=True`` (torch, cuDNN, Keras's default) the candidate is
    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``; with
    ``reset_after=False`` (Cho et al., 2014) it is
    ``n = tanh(x W_in^T + b_in + (r * h) W_hn^T + b_hn)``. Then
    ``h' = (1 - z) * n + z * h`` in both.
    """
    x = np.asarray(x, dtype=np.float64)
    w_ih, w_hh = np.asarray(params["weight_ih_l0"]), np.asarray(params["weight_hh_l0"])
    b_ih, b_hh = np.asarray(params["bias_ih_l0"]), np.asarray(params["bias_hh_l0"])
    hidden = w_hh.shape[1]
    if w_ih.shape[0] != 3 * hidden or x.ndim != 3 or x.shape[2] != w_ih.shape[1]:
        raise ValueError(f"gru_forward expects x (N, T, {w_ih.shape[1]}) and weight_ih_l0 (3H, D), "
                         f"got {x.shape} and {w_ih.shape}")
    n_seq, steps, _ = x.shape
    h = np.zeros((n_seq, hidden)) if h0 is None else np.asarray(h0, dtype=np.float64).reshape(n_seq, hidden)
    w_hr, w_hz, w_hn = np.split(w_hh, 3, axis=0)
    b_hr, b_hz, b_hn = np.split(b_hh, 3)
    out = np.empty((n_seq, steps, hidden))
    for t in range(steps):
        x_r, x_z, x_n = np.split(x[:, t] @ w_ih.T + b_ih, 3, axis=1)
        r = _sigmoid(x_r + h @ w_hr.T + b_hr)
        z = _sigmoid(x_z + h @ w_hz.T + b_hz)
        if reset_after:
            n = np.tanh(x_n + r * (h @ w_hn.T + b_hn))
        else:
            n = np.tanh(x_n + (r * h) @ w_hn.T + b_hn)
        h = (1.0 - z) * n + z * h
        out[:, t] = h
    return out


def keras_sequence_classifier(vocab_size: int = 10000, seq_len: int = 100, embed_dim: int = 128, units: int = 64,
                              dense_units: int = 100, learning_rate: float = 1e-3):
    """The source's stacked-LSTM listing, corrected: a compiled Keras many-to-one binary classifier.

    ``Input(seq_len ids) -> Embedding(vocab_size, embed_dim) -> LSTM(units,
    return_sequences=True) -> LSTM(units) -> Dense(dense_units, relu) ->
    Dense(1, sigmoid)``, compiled with binary cross-entropy, Adam and
    accuracy. The output is one probability per sequence, that its label is 1.
    ``units=256`` is the source's width; the default 64 trains several times faster on a CPU.
    """
    import keras

    owner = "keras_sequence_classifier"
    vocab_size, seq_len, embed_dim, units, dense_units = (
        positive_int(v, name, owner=owner) for v, name in
        ((vocab_size, "vocab_size"), (seq_len, "seq_len"), (embed_dim, "embed_dim"), (units, "units"),
         (dense_units, "dense_units")))
    inputs = keras.Input((seq_len,), dtype="int32")
    h = keras.layers.Embedding(vocab_size, embed_dim)(inputs)
    h = keras.layers.LSTM(units, return_sequences=True)(h)   # one output per step, read by the next LSTM
    h = keras.layers.LSTM(units)(h)                          # the last step only: many-to-one
    h = keras.layers.Dense(dense_units, activation="relu")(h)
    outputs = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="binary_crossentropy",
                  metrics=["accuracy"])
    return model


__all__ = ["CharLSTM", "gru_forward", "keras_sequence_classifier", "mean_nats", "next_token_loss"]
