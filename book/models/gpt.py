"""A small decoder-only Transformer (a mini-GPT) in PyTorch, with a key-value cache.

The whole model, top to bottom, for a batch of token indices ``idx`` of shape
``(B, T)``:

1. token embedding + learned position embedding, both of width ``n_embd``;
2. ``n_layer`` pre-LayerNorm blocks, each ``x = x + attn(ln1(x))`` then
   ``x = x + mlp(ln2(x))``, where ``attn`` is causal multi-head
   self-attention (position ``t`` sees positions ``<= t`` only) and ``mlp``
   is ``Linear(E, 4E)``, GELU, ``Linear(4E, E)``;
3. a final LayerNorm and a linear head to ``vocab_size`` logits whose weight
   *is* the token-embedding matrix (weight tying): a token's input vector and
   its output vector are one and the same.

With ``targets`` the forward pass also returns the mean cross-entropy in nats
per token. The key-value cache: when generating, the keys and values of the
tokens already seen never change (attention is causal), so each layer keeps
them and a new token only computes its own, at position ``len(cache)``.
:meth:`GPT.generate` gives the same tokens with and without the cache.

Context length: a sequence may hold at most ``block_size`` tokens, since there
are only that many position embeddings; :meth:`GPT.forward` raises a
``ValueError`` for longer input. :meth:`GPT.generate` instead conditions on the
last ``block_size`` tokens once the text grows longer (a sliding window, as
GPT-2 does). Past that point the cache cannot help: every token's position in
the window shifts at each step, so its keys and values change, and each step
runs the whole window again, with or without ``use_cache``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from book.checks import non_negative, non_negative_int, positive_int, real
from book.models.sampling import _check_filters, sample_next


@dataclass
class GPTConfig:
    """The sizes of a :class:`GPT`.

    ``vocab_size`` tokens, contexts of at most ``block_size`` tokens,
    ``n_layer`` blocks of ``n_head`` attention heads on vectors of width
    ``n_embd`` (a multiple of ``n_head``), ``dropout`` probability in
    ``[0, 1)`` (on the embeddings, the attention weights and each residual
    branch), and ``bias``: whether the linear layers and LayerNorms have
    biases.
    """

    vocab_size: int
    block_size: int
    n_layer: int
    n_head: int
    n_embd: int
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self):
        owner = "GPTConfig"
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            setattr(self, name, positive_int(getattr(self, name), name, owner=owner))
        if self.n_embd % self.n_head:
            raise ValueError(f"{owner}: n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        self.dropout = real(self.dropout, "dropout", 0.0, 1.0, high_open=True, owner=owner)
        if not isinstance(self.bias, bool):
            raise ValueError(f"{owner}: bias must be True or False, got {self.bias!r}")


def gpt_parameters(config: GPTConfig, embeddings: bool = True) -> int:
    """The number of parameters of ``GPT(config)``, by formula.

    Per block, with ``E = n_embd``: the attention's query, key and value
    projections ``3E^2`` and its output projection ``E^2``, the MLP's
    ``4E^2 + 4E^2``, so ``12 E^2`` weights; with ``bias`` also ``9E`` biases
    (``3E + E + 4E + E``) and two LayerNorms of ``2E`` each, without it two of
    ``E``. Then the final LayerNorm, and the embeddings ``(vocab_size +
    block_size) E``; the head adds nothing, it shares the token embedding.
    ``embeddings=False`` leaves out both embedding tables, the count that
    scaling laws use (Kaplan et al., 2020).
    """
    c = config
    E = c.n_embd
    norm = 2 * E if c.bias else E
    block = 12 * E * E + (9 * E if c.bias else 0) + 2 * norm
    count = c.n_layer * block + norm
    if embeddings:
        count += (c.vocab_size + c.block_size) * E
    return count


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which each position attends to itself and the positions before it."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        E = config.n_embd
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.qkv = nn.Linear(E, 3 * E, bias=config.bias)  # queries, keys and values in one product
        self.proj = nn.Linear(E, E, bias=config.bias)
        self.resid_drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: tuple | None = None):
        """``x`` of shape ``(B, T, E)``; ``cache`` holds the keys and values of earlier positions.

        Returns the output ``(B, T, E)`` and the keys and values of all
        positions so far, each ``(B, n_head, cached + T, E / n_head)``.
        """
        B, T, E = x.shape
        q, k, v = self.qkv(x).split(E, dim=2)
        q, k, v = (t.view(B, T, self.n_head, E // self.n_head).transpose(1, 2) for t in (q, k, v))
        past = 0
        if cache is not None:
            past = cache[0].shape[2]
            k = torch.cat([cache[0], k], dim=2)
            v = torch.cat([cache[1], v], dim=2)
        mask = None
        if past and T > 1:
            # New query i sits at position past + i and may see keys 0 .. past + i.
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=(past == 0 and T > 1),
            dropout_p=self.dropout if self.training else 0.0,
        )
        y = y.transpose(1, 2).reshape(B, T, E)  # the heads side by side again
        return self.resid_drop(self.proj(y)), (k, v)


class MLP(nn.Module):
    """The position-wise feed-forward network: ``Linear(E, 4E)``, GELU, ``Linear(4E, E)``."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        E = config.n_embd
        self.fc = nn.Linear(E, 4 * E, bias=config.bias)
        self.proj = nn.Linear(4 * E, E, bias=config.bias)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """One pre-LayerNorm Transformer block: attention, then the MLP, each added to its input."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: tuple | None = None):
        a, cache = self.attn(self.ln1(x), cache)
        x = x + a
        x = x + self.mlp(self.ln2(x))
        return x, cache


class GPTOutput(NamedTuple):
    """What :meth:`GPT.forward` returns: ``logits`` ``(B, T, vocab_size)``; ``loss``
    (mean cross-entropy in nats, or ``None`` without targets); ``past`` (the
    key-value cache, one ``(keys, values)`` pair per block, or ``None``)."""

    logits: torch.Tensor
    loss: torch.Tensor | None
    past: list | None


class GPT(nn.Module):
    """A decoder-only Transformer language model (see the module docstring for its layout).

    Weights start as in GPT-2: every linear and embedding weight normal with
    standard deviation 0.02, biases zero, and the two projections that end a
    residual branch (attention output, second MLP layer) scaled down by
    ``sqrt(2 n_layer)``, so the residual stream's variance does not grow with
    depth at initialisation.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise ValueError(f"GPT: config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying: one matrix, two uses
        self.apply(self._init_weights)
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self, embeddings: bool = True) -> int:
        """``sum(p.numel())`` over the parameters (the tied matrix once); ``embeddings=False``
        leaves out the token and position embeddings, as :func:`gpt_parameters` does."""
        count = sum(p.numel() for p in self.parameters())
        if not embeddings:
            count -= self.tok_emb.weight.numel() + self.pos_emb.weight.numel()
        return count

    def _check_idx(self, idx, name: str = "idx") -> None:
        if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.shape[1] < 1 or idx.dtype != torch.long:
            got = f"shape {tuple(idx.shape)}, dtype {idx.dtype}" if isinstance(idx, torch.Tensor) else type(idx).__name__
            raise ValueError(f"GPT: {name} must be a LongTensor of token indices of shape (B, T) with T >= 1, got {got}")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.config.vocab_size):
            raise ValueError(f"GPT: {name} must hold indices in [0, {self.config.vocab_size}), "
                             f"got values from {int(idx.min())} to {int(idx.max())}")

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, past: list | None = None,
                use_cache: bool = False) -> GPTOutput:
        """Logits for every position of ``idx`` (a ``LongTensor`` of shape ``(B, T)``).

        ``targets`` (same shape; the index ``-100`` is ignored) adds the mean
        cross-entropy loss in nats. ``past`` is the cache a previous call
        returned: ``idx`` then continues those sequences, at positions
        ``len(past) ...``. ``use_cache`` returns the updated cache. The cached
        and new tokens together may not exceed ``block_size`` (``ValueError``).
        """
        self._check_idx(idx)
        B, T = idx.shape
        if past is not None and (not isinstance(past, (list, tuple)) or len(past) != len(self.blocks)
                                 or past[0][0].shape[0] != B):
            raise ValueError(f"GPT: past must hold one (keys, values) pair per block ({len(self.blocks)}) "
                             f"for a batch of {B}, as returned by forward(..., use_cache=True)")
        start = 0 if past is None else past[0][0].shape[2]
        if start + T > self.config.block_size:
            raise ValueError(f"GPT: {start + T} tokens ({start} cached + {T} new) exceed block_size "
                             f"{self.config.block_size}; crop idx to its last {self.config.block_size - start} tokens")
        if targets is not None and (not isinstance(targets, torch.Tensor) or targets.shape != idx.shape):
            got = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
            raise ValueError(f"GPT: targets must have the shape of idx, {(B, T)}, got {got}")
        positions = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        present = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if past is None else past[i])
            present.append(kv)
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(B * T, -1).float(), targets.reshape(B * T))
        return GPTOutput(logits, loss, present if use_cache else None)

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 generator: torch.Generator | None = None, use_cache: bool = True) -> torch.Tensor:
        """``idx`` (``(B, T)`` or ``(T,)``) followed by ``max_new_tokens`` sampled tokens.

        Each token is drawn by :func:`book.models.sampling.sample_next` with
        ``temperature`` (0: greedy), ``top_k``, ``top_p`` and ``generator``.
        The model runs in eval mode (no dropout) and is put back in its mode
        afterwards. With ``use_cache`` each step feeds only the newest token;
        without it, the whole sequence. Both give the same tokens. Beyond
        ``block_size`` tokens the model sees the last ``block_size`` (see the
        module docstring). The result is on the model's device.
        """
        owner = "GPT.generate"
        max_new_tokens = non_negative_int(max_new_tokens, "max_new_tokens", owner=owner)
        non_negative(temperature, "temperature", owner=owner)
        _check_filters(top_k, top_p, owner)
        one_row = isinstance(idx, torch.Tensor) and idx.ndim == 1
        idx = idx[None] if one_row else idx
        self._check_idx(idx)
        idx = idx.to(self.head.weight.device)
        block_size = self.config.block_size
        was_training = self.training
        self.eval()
        past = None
        for _ in range(max_new_tokens):
            if use_cache and idx.shape[1] <= block_size:
                # The first step fills the cache with the prompt; later steps feed the newest token only.
                out = self(idx if past is None else idx[:, -1:], past=past, use_cache=True)
                past = out.past
            else:
                out = self(idx[:, -block_size:])
            token = sample_next(out.logits[:, -1, :], temperature=temperature, top_k=top_k, top_p=top_p,
                                generator=generator)
            idx = torch.cat([idx, token[:, None]], dim=1)
        self.train(was_training)
        return idx[0] if one_row else idx


__all__ = ["GPT", "GPTConfig", "GPTOutput", "gpt_parameters"]
