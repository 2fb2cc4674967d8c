"""A GRU encoder–decoder with dot-product attention (Luong et al., 2015), in PyTorch.

* :class:`Encoder`: embedding, then a GRU over the source; it returns every
  hidden state (the "memory" the decoder attends to), the last real state
  (the decoder's first state) and the padding mask.
* :func:`dot_attention`: score each encoder state by its dot product with the
  decoder state, softmax over the source (padding gets weight exactly 0), and
  average the encoder states with those weights: the context vector.
* :class:`AttentionDecoder`: embedding, a GRU, attention, then
  ``tanh(W_c [context; state])`` and a linear head to the vocabulary.
  :meth:`AttentionDecoder.step` is one step: logits, new state, weights.
* :class:`Seq2Seq`: both, with a teacher-forced ``forward`` for training and
  :meth:`Seq2Seq.greedy_decode` (each step feeds back its own argmax) for use.
* :func:`train_seq2seq`, :func:`sequence_accuracy` and
  :func:`anti_diagonal_fraction` train and judge it on
  :func:`book.data.sequence_tasks.reversal_task`.

torch is imported here.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from book.checks import non_negative_int, positive, positive_int


def dot_attention(query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None):
    """Dot-product attention of queries ``(N, T, H)`` over keys ``(N, S, H)``, which are also the values.

    ``mask`` ``(N, S)`` is ``True`` at real source positions; the others get a
    score of ``-inf``, so their weight is exactly 0. Returns ``(context,
    weights)``: ``context`` ``(N, T, H)`` and ``weights`` ``(N, T, S)``,
    each row of which sums to 1.
    """
    if query.ndim != 3 or keys.ndim != 3 or query.shape[0] != keys.shape[0] or query.shape[2] != keys.shape[2]:
        raise ValueError(f"dot_attention expects query (N, T, H) and keys (N, S, H), "
                         f"got {tuple(query.shape)} and {tuple(keys.shape)}")
    scores = query @ keys.transpose(1, 2)  # (N, T, S): one score per (output step, source position)
    if mask is not None:
        if mask.shape != keys.shape[:2]:
            raise ValueError(f"dot_attention expects mask (N, S) = {tuple(keys.shape[:2])}, got {tuple(mask.shape)}")
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ keys, weights


def _check_ids(ids, name: str, owner: str, vocab_size: int) -> None:
    if not isinstance(ids, torch.Tensor) or ids.ndim != 2 or ids.dtype not in (torch.int64, torch.int32):
        shape = tuple(ids.shape) if hasattr(ids, "shape") else type(ids).__name__
        raise ValueError(f"{owner} expects {name} as integer ids of shape (N, T), got {shape}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{owner}: {name} must hold ids in [0, {vocab_size})")


class Encoder(nn.Module):
    """``Embedding -> GRU`` over source ids ``(N, S)``, right-padded with ``pad_id``.

    ``forward(source)`` returns ``(outputs, hidden, mask)``: every state
    ``(N, S, H)``, the state after each sequence's last real token ``(1, N, H)``
    (the GRU reads left to right, so the padding after it cannot change it),
    and the mask ``(N, S)``, ``True`` at real tokens.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int, pad_id: int = 0):
        super().__init__()
        owner = "Encoder"
        self.vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
        self.pad_id = non_negative_int(pad_id, "pad_id", owner=owner)
        self.embedding = nn.Embedding(self.vocab_size, positive_int(embed_dim, "embed_dim", owner=owner),
                                      padding_idx=self.pad_id)
        self.gru = nn.GRU(embed_dim, positive_int(hidden_size, "hidden_size", owner=owner), batch_first=True)

    def forward(self, source: torch.Tensor):
        _check_ids(source, "source", "Encoder", self.vocab_size)
        mask = source != self.pad_id
        lengths = mask.sum(dim=1)
        positions = torch.arange(source.shape[1], device=source.device)
        if bool((lengths == 0).any()) or not torch.equal(mask, positions < lengths[:, None]):
            raise ValueError("Encoder: each source needs at least one token, with padding only at its end")
        outputs, _ = self.gru(self.embedding(source))
        last = outputs[torch.arange(len(source), device=source.device), lengths - 1]
        return outputs, last.unsqueeze(0), mask


class AttentionDecoder(nn.Module):
    """``Embedding -> GRU -> dot attention -> tanh(W_c [context; state]) -> Linear`` to ``vocab_size`` logits.

    ``forward(tokens, hidden, memory, mask)`` reads ``tokens`` ``(N, T)``
    from state ``hidden`` ``(1, N, H)``, attending at every step over the
    encoder's ``memory`` ``(N, S, H)``; it returns ``(logits, hidden,
    weights)`` with shapes ``(N, T, V)``, ``(1, N, H)`` and ``(N, T, S)``.
    The attention does not feed back into the GRU, so reading ``T`` tokens at
    once equals ``T`` calls of :meth:`step`.
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_size: int):
        super().__init__()
        owner = "AttentionDecoder"
        self.vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
        embed_dim = positive_int(embed_dim, "embed_dim", owner=owner)
        hidden_size = positive_int(hidden_size, "hidden_size", owner=owner)
        self.embedding = nn.Embedding(self.vocab_size, embed_dim)
        self.gru = nn.GRU(embed_dim, hidden_size, batch_first=True)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        self.head = nn.Linear(hidden_size, self.vocab_size)

    def forward(self, tokens: torch.Tensor, hidden: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None):
        _check_ids(tokens, "tokens", "AttentionDecoder", self.vocab_size)
        states, hidden = self.gru(self.embedding(tokens), hidden)   # (N, T, H)
        context, weights = dot_attention(states, memory, mask)      # (N, T, H), (N, T, S)
        attentional = torch.tanh(self.combine(torch.cat([context, states], dim=-1)))
        return self.head(attentional), hidden, weights

    def step(self, token: torch.Tensor, hidden: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None):
        """One decoding step from the previous tokens ``(N,)``: logits ``(N, V)``, new state, weights ``(N, S)``."""
        if token.ndim != 1:
            raise ValueError(f"AttentionDecoder.step expects one token per sequence, shape (N,), got {tuple(token.shape)}")
        logits, hidden, weights = self(token[:, None], hidden, memory, mask)
        return logits[:, 0], hidden, weights[:, 0]


class Seq2Seq(nn.Module):
    """An :class:`Encoder` and an :class:`AttentionDecoder` sharing one vocabulary (ids ``0 .. vocab_size-1``).

    ``forward(source, decoder_input)`` is teacher forcing: the decoder reads
    the true previous tokens ``(N, T)`` and returns logits ``(N, T, V)`` and
    the attention weights ``(N, T, S)``. ``seed`` makes the initial weights
    repeatable.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 32, hidden_size: int = 64, pad_id: int = 0,
                 seed: int | None = None):
        super().__init__()
        if seed is not None:
            torch.manual_seed(non_negative_int(seed, "seed", owner="Seq2Seq"))
        self.encoder = Encoder(vocab_size, embed_dim, hidden_size, pad_id=pad_id)
        self.decoder = AttentionDecoder(vocab_size, embed_dim, hidden_size)
        self.vocab_size, self.pad_id = self.encoder.vocab_size, self.encoder.pad_id

    def forward(self, source: torch.Tensor, decoder_input: torch.Tensor):
        memory, hidden, mask = self.encoder(source)
        logits, _, weights = self.decoder(decoder_input, hidden, memory, mask)
        return logits, weights

    def loss(self, source: torch.Tensor, decoder_input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean teacher-forced cross-entropy (nats per token) over the non-padding targets ``(N, T)``."""
        logits, _ = self(source, decoder_input)
        if target.shape != logits.shape[:2]:
            raise ValueError(f"Seq2Seq.loss expects target (N, T) = {tuple(logits.shape[:2])}, got {tuple(target.shape)}")
        return nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size), target.reshape(-1),
                                           ignore_index=self.pad_id)

    @torch.no_grad()
    def greedy_decode(self, source: torch.Tensor, max_len: int, bos_id: int, eos_id: int):
        """Decode ``source`` ``(N, S)`` by feeding back each step's most likely token.

        Stops after ``max_len`` steps, or earlier once every sequence has
        produced ``eos_id``. Returns ``(tokens, weights)``: ``tokens`` ``(N,
        T)`` with ``T <= max_len``, each row padded with ``pad_id`` after its
        ``eos_id``, and the attention map ``weights`` ``(N, T, S)`` of every
        step (zeros after a sequence ended). The training mode is restored.
        """
        owner = "Seq2Seq.greedy_decode"
        max_len = positive_int(max_len, "max_len", owner=owner)
        for value, name in ((bos_id, "bos_id"), (eos_id, "eos_id")):
            if non_negative_int(value, name, owner=owner) >= self.vocab_size:
                raise ValueError(f"{owner}: {name} must be < vocab_size={self.vocab_size}, got {value}")
        was_training = self.training
        self.eval()
        memory, hidden, mask = self.encoder(source)
        token = torch.full((len(source),), bos_id, dtype=torch.long, device=source.device)
        done = torch.zeros(len(source), dtype=torch.bool, device=source.device)
        tokens, maps = [], []
        for _ in range(max_len):
            logits, hidden, weights = self.decoder.step(token, hidden, memory, mask)
            token = logits.argmax(dim=-1)
            tokens.append(token.masked_fill(done, self.pad_id))
            maps.append(weights.masked_fill(done[:, None], 0.0))
            done = done | (token == eos_id)
            if bool(done.all()):
                break
        self.train(was_training)
        return torch.stack(tokens, dim=1), torch.stack(maps, dim=1)


def train_seq2seq(model: Seq2Seq, data, *, steps: int = 400, batch_size: int = 64, lr: float = 3e-3,
                  clip_norm: float | None = 1.0, seed: int = 0, progress: bool = False) -> list[float]:
    """Train ``model`` with Adam and teacher forcing on mini-batches drawn from ``data``; returns the loss per step.

    ``data`` is a :class:`book.data.sequence_tasks.SequencePairs` (NumPy
    arrays or tensors). Batches are drawn with replacement by a generator
    seeded with ``seed``, on the model's device. The learning rate falls from
    ``lr`` to 0 along a cosine over the ``steps``, so the last steps settle
    instead of jumping about; the gradient's global norm is clipped to
    ``clip_norm`` (``None``: not clipped), the usual guard against the
    occasional huge gradient of a recurrent network. ``progress`` shows a
    tqdm bar on stderr.
    """
    owner = "train_seq2seq"
    steps = positive_int(steps, "steps", owner=owner)
    batch_size = positive_int(batch_size, "batch_size", owner=owner)
    lr = positive(lr, "lr", owner=owner)
    clip_norm = None if clip_norm is None else positive(clip_norm, "clip_norm", owner=owner)
    device = model.decoder.head.weight.device
    source, decoder_input, target = (torch.as_tensor(a).long() for a in (data.source, data.decoder_input, data.target))
    generator = torch.Generator().manual_seed(non_negative_int(seed, "seed", owner=owner))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    model.train()
    iterator = range(steps)
    if progress:
        from tqdm.std import tqdm

        iterator = tqdm(iterator, desc="seq2seq", file=sys.stderr, mininterval=5.0)
    losses = []
    for _ in iterator:
        idx = torch.randint(len(source), (batch_size,), generator=generator)
        loss = model.loss(source[idx].to(device), decoder_input[idx].to(device), target[idx].to(device))
        optimizer.zero_grad()
        loss.backward()
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def sequence_accuracy(model: Seq2Seq, data, *, bos_id: int, eos_id: int) -> tuple[float, float]:
    """Greedy decoding of ``data.source`` against ``data.target``: ``(exact-sequence accuracy, token accuracy)``.

    A sequence counts only if every token, its ``eos_id`` included, is right
    (stopping early or late is wrong). Token accuracy is over the non-padding
    target positions.
    """
    device = model.decoder.head.weight.device
    source = torch.as_tensor(data.source).long().to(device)
    target = torch.as_tensor(data.target).long().to(device)
    tokens, _ = model.greedy_decode(source, target.shape[1], bos_id, eos_id)
    predicted = torch.full_like(target, model.pad_id)
    predicted[:, :tokens.shape[1]] = tokens
    real = target != model.pad_id
    right = (predicted == target) & real
    exact = (right.sum(dim=1) == real.sum(dim=1)).float().mean().item()
    return exact, (right.sum() / real.sum()).item()


def anti_diagonal_fraction(weights, lengths) -> float:
    """The share of output steps whose attention peaks where reversal says it should.

    ``weights`` ``(N, T, S)`` are attention maps of a reversal task and
    ``lengths`` ``(N,)`` the true source lengths: output step ``t < length``
    should attend most to source position ``length - 1 - t`` (the anti-diagonal).
    The step that emits the end token is not counted.
    """
    weights = np.asarray(weights.detach().cpu() if isinstance(weights, torch.Tensor) else weights)
    lengths = np.asarray(lengths).reshape(-1)
    if weights.ndim != 3 or len(weights) != len(lengths):
        raise ValueError(f"anti_diagonal_fraction expects weights (N, T, S) and lengths (N,), "
                         f"got {weights.shape} and {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > min(weights.shape[1], weights.shape[2]):
        raise ValueError(f"anti_diagonal_fraction: lengths must lie in [1, {min(weights.shape[1:])}]")
    hits = total = 0
    for w, k in zip(weights, lengths):
        peaks = w[:k].argmax(axis=1)
        hits += int((peaks == np.arange(k - 1, -1, -1)).sum())
        total += int(k)
    return hits / total


__all__ = ["AttentionDecoder", "Encoder", "Seq2Seq", "anti_diagonal_fraction", "dot_attention",
           "sequence_accuracy", "train_seq2seq"]
