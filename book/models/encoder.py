"""A small Transformer encoder that classifies sequences (chapter 7), and a bag-of-embeddings baseline.

An encoder block is :class:`book.models.gpt.Block` with the causal mask taken
out: :class:`SelfAttention` keeps the layers of
:class:`book.models.gpt.CausalSelfAttention` (one product for queries, keys and
values, one output projection) and lets every position attend to every other
one, before and after it. :class:`EncoderBlock` is GPT's block with that
attention, so the LayerNorms, residual connections and MLP are GPT's own.

:class:`EncoderClassifier`: token embeddings plus learned position embeddings
(``positions=False`` leaves them out), ``n_layer`` encoder blocks, a final
LayerNorm, the mean over positions, and a linear head to ``n_classes`` logits.
:class:`BagOfEmbeddings`: the mean of the token embeddings, a LayerNorm and the
same head; it sees which tokens a sequence holds, never their order.
Both take ``idx`` ``(B, T)`` and return logits ``(B, n_classes)``, so
:func:`book.training.fit` trains them with its default cross-entropy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from book.checks import positive_int
from book.models.gpt import GPT, Block, CausalSelfAttention, GPTConfig


class SelfAttention(CausalSelfAttention):
    """Multi-head self-attention without a mask: each position attends to all positions of its sequence."""

    def forward(self, x: torch.Tensor, cache: tuple | None = None):
        """``x`` ``(B, T, E)`` to ``(B, T, E)``; returns ``(output, None)`` as a GPT block expects (no cache)."""
        if cache is not None:
            raise ValueError("SelfAttention: an encoder sees the whole sequence at once; it keeps no cache")
        B, T, E = x.shape
        q, k, v = self.qkv(x).split(E, dim=2)
        q, k, v = (t.view(B, T, self.n_head, E // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, T, E)
        return self.resid_drop(self.proj(y)), None


class EncoderBlock(Block):
    """GPT's pre-LayerNorm block with :class:`SelfAttention` in place of the causal attention."""

    def __init__(self, config: GPTConfig):
        super().__init__(config)
        self.attn = SelfAttention(config)


def _check_idx(idx, vocab_size: int, block_size: int | None, owner: str) -> None:
    if not isinstance(idx, torch.Tensor) or idx.ndim != 2 or idx.shape[1] < 1 or idx.dtype != torch.long:
        got = f"shape {tuple(idx.shape)}, dtype {idx.dtype}" if isinstance(idx, torch.Tensor) else type(idx).__name__
        raise ValueError(f"{owner}: idx must be a LongTensor of token indices of shape (B, T) with T >= 1, got {got}")
    if block_size is not None and idx.shape[1] > block_size:
        raise ValueError(f"{owner}: {idx.shape[1]} tokens exceed block_size {block_size}")
    if idx.numel() and (idx.min() < 0 or idx.max() >= vocab_size):
        raise ValueError(f"{owner}: idx must hold indices in [0, {vocab_size}), "
                         f"got values from {int(idx.min())} to {int(idx.max())}")


class EncoderClassifier(nn.Module):
    """Embeddings (+ positions), ``config.n_layer`` :class:`EncoderBlock`\\ s, LayerNorm, mean over positions, linear head.

    The linear layers start as in :class:`book.models.gpt.GPT` (normal,
    standard deviation 0.02; biases zero); the token and position embeddings
    as in ``torch.nn.Embedding`` (standard deviation 1). With GPT's small
    embeddings the first-equals-last task of chapter 7 sat at chance for
    hundreds of steps before attention found the pair; with these it leaves
    chance within about a hundred (measured on the CPU). Without
    ``positions`` the model is permutation-invariant: attention and the MLP
    treat each position alike, and the mean forgets the order.
    """

    def __init__(self, config: GPTConfig, n_classes: int = 2, positions: bool = True):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise ValueError(f"EncoderClassifier: config must be a GPTConfig, got {type(config).__name__}")
        if not isinstance(positions, bool):
            raise ValueError(f"EncoderClassifier: positions must be True or False, got {positions!r}")
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd) if positions else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(EncoderBlock(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.head = nn.Linear(config.n_embd, positive_int(n_classes, "n_classes", owner="EncoderClassifier"))
        self.apply(GPT._init_weights)
        for embedding in (self.tok_emb, self.pos_emb):
            if embedding is not None:
                nn.init.normal_(embedding.weight, std=1.0)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` for token indices ``idx`` ``(B, T)``, ``T <= block_size``."""
        _check_idx(idx, self.config.vocab_size, self.config.block_size, "EncoderClassifier")
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(idx.shape[1], device=idx.device))
        x = self.drop(x)
        for block in self.blocks:
            x, _ = block(x)
        return self.head(self.ln_f(x).mean(dim=1))


class BagOfEmbeddings(nn.Module):
    """The mean of a sequence's token embeddings, a LayerNorm and a linear head: order plays no part."""

    def __init__(self, vocab_size: int, n_embd: int, n_classes: int = 2):
        super().__init__()
        owner = "BagOfEmbeddings"
        self.vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
        self.tok_emb = nn.Embedding(self.vocab_size, positive_int(n_embd, "n_embd", owner=owner))
        self.ln = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, positive_int(n_classes, "n_classes", owner=owner))
        self.apply(GPT._init_weights)
        nn.init.normal_(self.tok_emb.weight, std=1.0)   # as in EncoderClassifier

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` for token indices ``idx`` ``(B, T)``."""
        _check_idx(idx, self.vocab_size, None, "BagOfEmbeddings")
        return self.head(self.ln(self.tok_emb(idx).mean(dim=1)))


__all__ = ["BagOfEmbeddings", "EncoderBlock", "EncoderClassifier", "SelfAttention"]
