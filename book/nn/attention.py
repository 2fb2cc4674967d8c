"""Scaled dot-product attention and multi-head self-attention, as torch computes them.

:func:`scaled_dot_product_attention` is ``torch.nn.functional.scaled_dot_product_attention``
(no dropout): for queries ``q`` ``(..., L, E)``, keys ``k`` ``(..., S, E)`` and
values ``v`` ``(..., S, Ev)``::

    scores  = q @ k^T / sqrt(E)        (..., L, S): how well query i matches key j
    weights = softmax(scores + mask)   each row sums to 1 over the keys it may see
    out     = weights @ v              (..., L, Ev): a weighted average of the values

It is a function with a cache, like :func:`book.nn.conv.conv2d`, rather than a
layer, because it has no parameters: it returns ``(out, cache)`` and
:func:`scaled_dot_product_attention_backward` turns ``dout`` and the cache into
``(dq, dk, dv)``. The cache holds the attention weights (``cache.weights``),
which is what a chapter plots as an attention map.

Masks follow torch's ``scaled_dot_product_attention``: a boolean mask marks with
``True`` the pairs (query, key) that **take part**; a float mask is **added** to
the scores (``-inf`` removes a key). ``is_causal=True`` lets query ``i`` see the
keys ``j <= i`` (the lower triangle, aligned at the top-left corner as torch
aligns it when ``L != S``). Beware: ``torch.nn.MultiheadAttention`` reads a
boolean ``attn_mask`` the other way round (``True`` = *not* allowed).

A query that may see no key at all (a row that is fully masked) has no
softmax to take. torch (2.5 and later, checked on 2.13) returns a zero output
and zero gradients for such a row instead of ``nan``; this module does the same,
so its weights in that row are all 0 rather than summing to 1.

:class:`MultiheadAttention` is ``torch.nn.MultiheadAttention(embed_dim,
num_heads, batch_first=True)`` used for self-attention: the input ``x`` is the
query, the key and the value at once.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from book.checks import positive_int
from book.nn.module import Module, check_shape, refuse_unsupported


class AttentionCache(NamedTuple):
    """What :func:`scaled_dot_product_attention_backward` needs; ``weights`` is the attention map."""

    q: np.ndarray
    k: np.ndarray
    v: np.ndarray
    weights: np.ndarray
    scale: float


def _as_float(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"scaled_dot_product_attention expects {name} to hold numbers, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def _check_qkv(q, k, v):
    q, k, v = _as_float(q, "query"), _as_float(k, "key"), _as_float(v, "value")
    if q.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention expects query of shape (..., L, E), got {q.shape}")
    *lead, _, e = q.shape
    lead = tuple(lead)
    if k.shape[:-2] != lead or k.ndim != q.ndim or k.shape[-1] != e:
        raise ValueError(
            f"scaled_dot_product_attention expects key of shape {(*lead, 'S', e)} (the query's leading "
            f"dimensions and width), got {k.shape}".replace("'", "")
        )
    if v.ndim != k.ndim or v.shape[:-1] != k.shape[:-1]:
        raise ValueError(
            f"scaled_dot_product_attention expects value of shape {(*k.shape[:-1], 'Ev')} (one row per key), "
            f"got {v.shape}".replace("'", "")
        )
    if q.shape[-2] == 0 or k.shape[-2] == 0 or e == 0:
        raise ValueError(f"scaled_dot_product_attention needs L, S and E >= 1, got query {q.shape} and key {k.shape}")
    return q, k, v


def _mask_scores(scores, attn_mask, is_causal: bool) -> np.ndarray:
    """The scores with the mask applied: ``-inf`` where a key may not be seen."""
    length, keys = scores.shape[-2:]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both (as torch)")
        allowed = np.tril(np.ones((length, keys), dtype=bool))
        return np.where(allowed, scores, -np.inf)
    if attn_mask is None:
        return scores
    mask = np.asarray(attn_mask)
    try:
        fits = np.broadcast_shapes(mask.shape, scores.shape) == scores.shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"scaled_dot_product_attention expects attn_mask broadcastable to (..., L, S) = {scores.shape}, "
            f"got {mask.shape}"
        )
    if mask.dtype == np.bool_:
        return np.where(mask, scores, -np.inf)
    if not np.issubdtype(mask.dtype, np.floating):
        raise ValueError(f"scaled_dot_product_attention expects a bool or float attn_mask, got dtype {mask.dtype}")
    return scores + mask


def masked_softmax(scores) -> np.ndarray:
    """Softmax over the last axis that turns a row of ``-inf`` into zeros (torch's choice), not ``nan``.

    The row maximum is subtracted first, so ``exp`` never sees a positive
    number; a masked entry (``-inf``) gets a weight of exactly 0.
    """
    top = np.max(scores, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)  # a fully masked row: shift by 0, every exp is 0
    e = np.exp(scores - top)
    total = np.sum(e, axis=-1, keepdims=True)
    return e / np.where(total > 0, total, 1.0)


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal: bool = False):
    """Attention of queries ``q`` ``(..., L, E)`` over keys ``k`` ``(..., S, E)`` and values ``v`` ``(..., S, Ev)``.

    Returns ``(out, cache)``: ``out`` ``(..., L, Ev)`` equals
    ``torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask,
    is_causal=is_causal)`` and ``cache`` (an :class:`AttentionCache`, whose
    ``weights`` ``(..., L, S)`` is the attention map) feeds
    :func:`scaled_dot_product_attention_backward`. ``q``, ``k`` and ``v`` share
    their leading dimensions (batch, heads, ...). ``attn_mask`` is ``None``, a
    boolean array (``True``: the pair takes part) or a float array added to the
    scores, broadcastable to ``(..., L, S)``. torch's ``dropout_p``, ``scale``
    and ``enable_gqa`` are left out: no dropout, the scale is ``1/sqrt(E)``,
    and every query head has its own key and value head.
    """
    q, k, v = _check_qkv(q, k, v)
    scale = 1.0 / np.sqrt(q.shape[-1])
    scores = _mask_scores((q @ np.swapaxes(k, -1, -2)) * scale, attn_mask, bool(is_causal))
    weights = masked_softmax(scores)
    return weights @ v, AttentionCache(q, k, v, weights, scale)


def scaled_dot_product_attention_backward(dout, cache: AttentionCache):
    """Gradients ``(dq, dk, dv)`` of :func:`scaled_dot_product_attention`, given ``dout`` = dLoss/d(out).

    Going back through the three lines of the forward pass::

        dv      = weights^T @ dout
        dw      = dout @ v^T
        dscores = weights * (dw - sum over keys of (dw * weights))   softmax's Jacobian, row by row
        dq      = dscores @ k * scale,   dk = dscores^T @ q * scale

    A masked entry has weight 0, so no gradient flows through it; the mask
    itself is treated as a constant.
    """
    q, k, v, weights, scale = cache
    dout = np.asarray(dout, dtype=np.float64)
    check_shape(dout.shape, (*q.shape[:-1], v.shape[-1]), "scaled_dot_product_attention_backward dout")
    dv = np.swapaxes(weights, -1, -2) @ dout
    dw = dout @ np.swapaxes(v, -1, -2)
    dscores = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dscores *= scale
    dq = dscores @ k
    dk = np.swapaxes(dscores, -1, -2) @ q
    return dq, dk, dv


class MultiheadAttention(Module):
    """Multi-head self-attention on batch-first input, as ``torch.nn.MultiheadAttention(batch_first=True)``.

    ``x`` ``(N, T, embed_dim)`` is projected at once to queries, keys and values
    (``x @ in_proj_weight.T + in_proj_bias``, ``in_proj_weight`` of shape
    ``(3 * embed_dim, embed_dim)``, the three blocks in the order q, k, v). Each
    is cut into ``num_heads`` heads of width ``head_dim = embed_dim //
    num_heads``; every head attends on its own
    (:func:`scaled_dot_product_attention`); the heads are put side by side
    again and mixed by ``out_proj`` (a ``Linear(embed_dim, embed_dim)``, keys
    ``out_proj.weight`` and ``out_proj.bias``).

    Initialised as torch's ``_reset_parameters``: ``in_proj_weight`` Xavier
    uniform, in ``(-b, b)`` with ``b = sqrt(6 / (embed_dim + 3 * embed_dim))``;
    ``out_proj.weight`` as any ``Linear``, uniform in ``(-1/sqrt(embed_dim),
    1/sqrt(embed_dim))``; both biases zero. ``rng`` is ``None``, a seed or a
    ``np.random.Generator``.

    The arguments come in torch's order, so torch's positional ``dropout``
    cannot land in ``bias``; ``rng`` is keyword-only. Unlike torch, whose
    default is ``batch_first=False``, the book is batch first, and it accepts
    ``dropout``, ``add_bias_kv``, ``add_zero_attn``, ``kdim``, ``vdim``,
    ``batch_first``, ``device`` and ``dtype`` only at the values it implements.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout=0.0, bias: bool = True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=True, device=None, dtype=None, *, rng=None):
        super().__init__()
        # kdim = vdim = embed_dim is what torch's None means, so both are accepted.
        refuse_unsupported("MultiheadAttention", dropout=(dropout, 0.0), add_bias_kv=(add_bias_kv, False),
                           add_zero_attn=(add_zero_attn, False), kdim=(None if kdim == embed_dim else kdim, None),
                           vdim=(None if vdim == embed_dim else vdim, None), batch_first=(batch_first, True),
                           device=(device, None), dtype=(dtype, None))
        self.embed_dim = positive_int(embed_dim, "embed_dim", owner="MultiheadAttention")
        self.num_heads = positive_int(num_heads, "num_heads", owner="MultiheadAttention")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads})"
            )
        self.head_dim = self.embed_dim // self.num_heads
        self.use_bias = bool(bias)
        e = self.embed_dim
        rng = np.random.default_rng(rng)
        xavier = np.sqrt(6.0 / (e + 3 * e))
        self._params["in_proj_weight"] = rng.uniform(-xavier, xavier, size=(3 * e, e))
        if self.use_bias:
            self._params["in_proj_bias"] = np.zeros(3 * e)
        self._params["out_proj.weight"] = rng.uniform(-1 / np.sqrt(e), 1 / np.sqrt(e), size=(e, e))
        if self.use_bias:
            self._params["out_proj.bias"] = np.zeros(e)
        self._grads = {name: np.zeros_like(p) for name, p in self._params.items()}

    def _name(self) -> str:
        return f"MultiheadAttention({self.embed_dim}, {self.num_heads})"

    def _split_heads(self, a):
        """``(N, T, embed_dim)`` -> ``(N, num_heads, T, head_dim)``."""
        n, steps, _ = a.shape
        return a.reshape(n, steps, self.num_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge_heads(self, a):
        """``(N, num_heads, T, head_dim)`` -> ``(N, T, embed_dim)``: the heads side by side."""
        n, _, steps, _ = a.shape
        return a.transpose(0, 2, 1, 3).reshape(n, steps, self.embed_dim)

    def forward(self, x, is_causal: bool = False):
        """Self-attention over ``x`` ``(N, T, embed_dim)``; returns ``(N, T, embed_dim)``.

        ``is_causal=True`` lets position ``t`` attend to positions ``<= t`` only,
        what torch computes with ``attn_mask`` = the boolean upper triangle
        ``torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)``.
        """
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != self.embed_dim or x.shape[1] == 0:
            raise ValueError(f"{self._name()} expects input of shape (N, T, {self.embed_dim}) with T >= 1, got {x.shape}")
        x = x.astype(np.float64, copy=False)
        p = self._params
        qkv = x @ p["in_proj_weight"].T
        if self.use_bias:
            qkv += p["in_proj_bias"]
        q, k, v = (self._split_heads(part) for part in np.split(qkv, 3, axis=-1))
        heads, attention = scaled_dot_product_attention(q, k, v, is_causal=is_causal)
        merged = self._merge_heads(heads)
        out = merged @ p["out_proj.weight"].T
        if self.use_bias:
            out += p["out_proj.bias"]
        self._cache = (x, merged, attention)
        return out

    def backward(self, grad_output):
        """Overwrite every parameter gradient; return dLoss/dx ``(N, T, embed_dim)``.

        ``x`` served as query, key and value, so its gradient is the sum of the
        three, which is what one product with the whole ``in_proj_weight`` gives.
        """
        x, merged, attention = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, x.shape, f"{self._name()}.backward grad_output")
        p, g = self._params, self._grads
        e = self.embed_dim
        flat = grad_output.reshape(-1, e)
        g["out_proj.weight"][...] = flat.T @ merged.reshape(-1, e)
        if self.use_bias:
            g["out_proj.bias"][...] = flat.sum(axis=0)
        d_heads = self._split_heads(grad_output @ p["out_proj.weight"])
        dq, dk, dv = scaled_dot_product_attention_backward(d_heads, attention)
        d_qkv = np.concatenate([self._merge_heads(d) for d in (dq, dk, dv)], axis=-1)
        d_flat = d_qkv.reshape(-1, 3 * e)
        g["in_proj_weight"][...] = d_flat.T @ x.reshape(-1, e)
        if self.use_bias:
            g["in_proj_bias"][...] = d_flat.sum(axis=0)
        return d_qkv @ p["in_proj_weight"]

    def __repr__(self) -> str:
        return f"MultiheadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads}, bias={self.use_bias})"


__all__ = [
    "AttentionCache",
    "MultiheadAttention",
    "masked_softmax",
    "scaled_dot_product_attention",
    "scaled_dot_product_attention_backward",
]
