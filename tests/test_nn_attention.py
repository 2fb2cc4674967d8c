"""Scaled dot-product attention, multi-head self-attention and the sinusoidal positional encoding:
against torch (forward and backward, float64), finite differences, masks, and bad inputs."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import book.nn as nn
from book.gradcheck import numerical_gradient, rel_error
from book.nn.attention import MultiheadAttention, scaled_dot_product_attention, scaled_dot_product_attention_backward
from book.nn.module import torch_state
from book.nn.positional import sinusoidal_frequencies, sinusoidal_positional_encoding, sinusoidal_shift_matrix
from torch_reference import TOL, T, to_np

FD_TOL = 1e-6  # central differences (eps=1e-6) carry ~1e-10 absolute noise


def torch_sdpa(q, k, v, grad, attn_mask=None, is_causal=False):
    """torch's output and (dq, dk, dv) for the loss sum(out * grad)."""
    tq, tk, tv = (torch.tensor(a, dtype=T, requires_grad=True) for a in (q, k, v))
    mask = None if attn_mask is None else torch.tensor(attn_mask)
    out = F.scaled_dot_product_attention(tq, tk, tv, attn_mask=mask, is_causal=is_causal)
    out.backward(torch.tensor(grad, dtype=T))
    return to_np(out), tuple(to_np(t.grad) for t in (tq, tk, tv))


def sdpa_errors(q, k, v, rng, attn_mask=None, is_causal=False):
    """Relative errors of our output and gradients against torch; also returns our weights."""
    out, cache = scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal)
    grad = rng.normal(size=out.shape)
    grads = scaled_dot_product_attention_backward(grad, cache)
    t_out, t_grads = torch_sdpa(q, k, v, grad, attn_mask, is_causal)
    assert out.dtype == np.float64 and all(g.dtype == np.float64 for g in grads)
    # A causal row that sees one key has a query gradient of exactly zero; torch leaves rounding noise
    # there whose size depends on the BLAS path (1e-17 natively, 1e-16 under MKL's reproducible modes),
    # so entries below 1e-8 (the inputs are of order 1) are compared absolutely, not relatively.
    errors = [rel_error(out, t_out)] + [rel_error(g, t, floor=1e-8) for g, t in zip(grads, t_grads)]
    return max(errors), cache.weights


def make_mask(kind, lead, length, keys, rng):
    """A mask of the given kind; every row keeps at least two keys where there are two.

    Fully masked rows are tested apart. A row that sees a single key has a
    query gradient of exactly zero (a softmax over one entry is constant), where
    torch may leave rounding noise of 1e-17 that no relative error can compare.
    """
    if kind in ("none", "causal"):
        return None
    keep = rng.random((*lead, length, keys)) < 0.6
    keep[..., :2] = True
    if kind == "bool":
        return keep
    if kind == "bool-broadcast":  # one (L, S) mask for every batch and head
        return keep.reshape(-1, length, keys)[0]
    if kind == "float":  # a general additive bias, -inf where masked
        return np.where(keep, rng.normal(size=keep.shape), -np.inf)
    raise AssertionError(kind)


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool", "bool-broadcast", "float"])
@pytest.mark.parametrize(
    "lead,length,keys,width,value_width",
    [
        ((2, 3), 4, 4, 5, 5),  # (batch, heads), self-attention shapes
        ((2, 3), 4, 6, 5, 7),  # L != S, Ev != E
        ((3,), 6, 2, 4, 3),  # more queries than keys (causal: top-left aligned, as torch)
        ((), 5, 5, 3, 3),  # no leading dimension at all
        ((2, 1, 3), 3, 4, 2, 2),  # three leading dimensions
        ((1, 1), 1, 1, 1, 1),  # batch 1, one step
        ((1,), 1, 5, 4, 2),  # one query over several keys
    ],
)
def test_sdpa_matches_torch(mask_kind, lead, length, keys, width, value_width):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(*lead, length, width))
    k = rng.normal(size=(*lead, keys, width))
    v = rng.normal(size=(*lead, keys, value_width))
    mask = make_mask(mask_kind, lead, length, keys, rng)
    error, weights = sdpa_errors(q, k, v, rng, attn_mask=mask, is_causal=mask_kind == "causal")
    assert error < TOL
    # Every row is a probability distribution over the keys it may see, and only over them.
    assert np.allclose(weights.sum(axis=-1), 1.0, rtol=0, atol=1e-12)
    if mask_kind == "causal":
        mask = np.tril(np.ones((length, keys), dtype=bool))
    if mask is not None:
        hidden = np.broadcast_to(~mask if mask.dtype == bool else np.isneginf(mask), weights.shape)
        assert np.all(weights[hidden] == 0.0) and np.all(weights[~hidden] > 0.0)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_row_gives_zeros_like_torch(kind):
    rng = np.random.default_rng(1)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 3))
    keep = np.ones((2, 3, 5), dtype=bool)
    keep[0, 1] = False  # query 1 of the first example may see no key
    mask = keep if kind == "bool" else np.where(keep, 0.0, -np.inf)
    out, cache = scaled_dot_product_attention(q, k, v, attn_mask=mask)
    error, weights = sdpa_errors(q, k, v, rng, attn_mask=mask)
    assert error < TOL
    assert np.all(out[0, 1] == 0.0) and np.all(weights[0, 1] == 0.0)
    assert np.allclose(weights[keep[..., 0]].sum(axis=-1), 1.0, atol=1e-12)
    dq, dk, dv = scaled_dot_product_attention_backward(np.ones_like(out), cache)
    assert np.all(dq[0, 1] == 0.0) and np.all(np.isfinite(dk)) and np.all(np.isfinite(dv))


def test_sdpa_is_stable_for_huge_scores():
    rng = np.random.default_rng(2)
    q, k, v = rng.normal(size=(2, 4, 3)) * 1e3, rng.normal(size=(2, 4, 3)) * 1e3, rng.normal(size=(2, 4, 3))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # exp may underflow to 0, nothing worse
        out, cache = scaled_dot_product_attention(q, k, v, is_causal=True)
        scaled_dot_product_attention_backward(np.ones_like(out), cache)
    assert np.all(np.isfinite(out))
    error, _ = sdpa_errors(q, k, v, rng, is_causal=True)
    assert error < TOL


@pytest.mark.parametrize("mask_kind", ["none", "causal", "float"])
def test_sdpa_gradients_match_finite_differences(mask_kind):
    rng = np.random.default_rng(3)
    q, k, v = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 2))
    mask = make_mask(mask_kind, (2,), 3, 5, rng)
    causal = mask_kind == "causal"
    out, cache = scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    grad = rng.normal(size=out.shape)
    analytic = scaled_dot_product_attention_backward(grad, cache)

    def loss(_):
        return np.sum(scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)[0] * grad)

    for a, x in zip(analytic, (q, k, v)):
        assert rel_error(a, numerical_gradient(loss, x)) < FD_TOL


def test_sdpa_rejects_bad_shapes_and_masks():
    q, k, v = np.ones((2, 3, 4)), np.ones((2, 5, 4)), np.ones((2, 5, 6))
    with pytest.raises(ValueError, match=r"expects key of shape \(2, S, 4\).*got \(2, 5, 3\)"):
        scaled_dot_product_attention(q, np.ones((2, 5, 3)), v)
    with pytest.raises(ValueError, match=r"expects key of shape \(2, S, 4\).*got \(3, 5, 4\)"):
        scaled_dot_product_attention(q, np.ones((3, 5, 4)), v)
    with pytest.raises(ValueError, match=r"expects value of shape \(2, 5, Ev\).*got \(2, 4, 6\)"):
        scaled_dot_product_attention(q, k, np.ones((2, 4, 6)))
    with pytest.raises(ValueError, match=r"expects query of shape \(\.\.\., L, E\), got \(4,\)"):
        scaled_dot_product_attention(np.ones(4), k, v)
    with pytest.raises(ValueError, match=r"attn_mask broadcastable to \(\.\.\., L, S\) = \(2, 3, 5\), got \(5, 3\)"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((5, 3), dtype=bool))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), dtype=bool), is_causal=True)
    with pytest.raises(ValueError, match="bool or float attn_mask"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), dtype=int))
    with pytest.raises(ValueError, match="L, S and E >= 1"):
        scaled_dot_product_attention(np.ones((2, 0, 4)), k, v)
    out, cache = scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match=r"dout expects shape \(2, 3, 6\), got \(2, 3, 4\)"):
        scaled_dot_product_attention_backward(np.ones((2, 3, 4)), cache)


# --- multi-head self-attention --------------------------------------------------------


def make_mha(embed_dim, num_heads, bias=True, seed=0):
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True, dtype=T)
    ours = MultiheadAttention(embed_dim, num_heads, bias=bias)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def torch_mha(layer, x, grad, is_causal):
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    steps = x.shape[1]
    # torch's MultiheadAttention reads a boolean mask the other way round: True = may NOT attend.
    mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), diagonal=1) if is_causal else None
    out = layer(xt, xt, xt, attn_mask=mask, need_weights=False)[0]
    out.backward(torch.tensor(grad, dtype=T))
    return to_np(out), to_np(xt.grad), {name: to_np(p.grad) for name, p in layer.named_parameters()}


def mha_errors(ours, theirs, x, rng, is_causal):
    """Relative errors of output, dx and every parameter gradient against torch.

    The key block of ``in_proj_bias`` is left out of the relative errors: its
    gradient is exactly zero in exact arithmetic (adding a constant to every
    key's bias adds the same number to a whole row of scores, which softmax
    ignores), so both sides hold rounding noise there; it is checked to be tiny.
    """
    e = ours.embed_dim
    out = ours(x, is_causal=is_causal)
    grad = rng.normal(size=out.shape)
    dx = ours.backward(grad)
    t_out, t_dx, t_grads = torch_mha(theirs, x, grad, is_causal)
    assert set(t_grads) == set(ours.grads) and out.dtype == dx.dtype == np.float64
    errors = {"output": rel_error(out, t_out), "dx": rel_error(dx, t_dx)}
    for name, t_grad in t_grads.items():
        g = ours.grads[name]
        if name == "in_proj_bias":
            scale = np.abs(g).max()
            assert np.abs(g[e:2 * e]).max() < 1e-12 * scale and np.abs(t_grad[e:2 * e]).max() < 1e-12 * scale
            g, t_grad = np.delete(g, np.s_[e:2 * e]), np.delete(t_grad, np.s_[e:2 * e])
        errors[name] = rel_error(g, t_grad)
    return errors


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize(
    "n,steps,embed_dim,num_heads,bias",
    [
        (3, 5, 8, 2, True),
        (2, 4, 12, 3, True),
        (2, 6, 8, 1, True),  # one head: plain attention between two projections
        (2, 3, 4, 4, True),  # heads of width 1
        (1, 7, 6, 2, False),  # batch 1, no biases
        (4, 1, 8, 4, True),  # one step: each position can only see itself
    ],
)
def test_mha_matches_torch(n, steps, embed_dim, num_heads, bias, is_causal):
    rng = np.random.default_rng(0)
    ours, theirs = make_mha(embed_dim, num_heads, bias)
    errors = mha_errors(ours, theirs, rng.normal(size=(n, steps, embed_dim)), rng, is_causal)
    assert max(errors.values()) < TOL, errors


def test_mha_causal_output_ignores_the_future():
    rng = np.random.default_rng(4)
    layer = MultiheadAttention(8, 2, rng=0)
    x = rng.normal(size=(2, 6, 8))
    changed = x.copy()
    changed[:, 4:] = rng.normal(size=(2, 2, 8))  # new tokens at positions 4 and 5
    causal, causal_changed = layer(x, is_causal=True), layer(changed, is_causal=True)
    assert np.array_equal(causal[:, :4], causal_changed[:, :4])
    assert not np.allclose(layer(x)[:, :4], layer(changed)[:, :4])  # without the mask the past sees them


def test_mha_gradients_match_finite_differences():
    rng = np.random.default_rng(5)
    layer = MultiheadAttention(4, 2, rng=1)
    for name in ("in_proj_bias", "out_proj.bias"):  # torch starts them at 0; make them count
        layer.params[name][...] = rng.normal(size=layer.params[name].shape)
    x = rng.normal(size=(2, 3, 4))
    grad = rng.normal(size=(2, 3, 4))
    layer(x, is_causal=True)
    dx = layer.backward(grad)
    analytic = {name: g.copy() for name, g in layer.grads.items()}

    def loss(_):
        return np.sum(layer(x, is_causal=True) * grad)

    assert rel_error(dx, numerical_gradient(loss, x)) < FD_TOL
    for name, p in layer.params.items():
        numeric = numerical_gradient(loss, p)
        if name == "in_proj_bias":  # the key block's gradient is zero (see mha_errors)
            assert np.abs(numeric[4:8]).max() < 1e-9 and np.abs(analytic[name][4:8]).max() < 1e-12
            numeric, analytic[name] = np.delete(numeric, np.s_[4:8]), np.delete(analytic[name], np.s_[4:8])
        assert rel_error(analytic[name], numeric) < FD_TOL, name


def test_mha_parameters_follow_torch_keys_and_initialisation():
    ours = MultiheadAttention(8, 2, rng=0)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=T)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(MultiheadAttention(8, 2, bias=False).state_dict()) == ["in_proj_weight", "out_proj.weight"]
    theirs.load_state_dict(torch_state(ours.state_dict()))
    for name, value in theirs.state_dict().items():
        assert np.array_equal(to_np(value), ours.params[name])
    e = 256
    big = MultiheadAttention(e, 8, rng=1)
    w_in, w_out = big.params["in_proj_weight"], big.params["out_proj.weight"]
    xavier, linear = np.sqrt(6 / (e + 3 * e)), 1 / np.sqrt(e)
    assert np.abs(w_in).max() <= xavier and np.abs(w_out).max() <= linear
    # 196 608 and 65 536 draws of U(-b, b): variance b^2 / 3 to within a few standard errors.
    assert abs(w_in.var() / (xavier**2 / 3) - 1) < 0.02 and abs(w_out.var() / (linear**2 / 3) - 1) < 0.03
    # torch draws the same distributions (xavier_uniform_ on the whole (3E, E) matrix).
    t_in = to_np(torch.nn.MultiheadAttention(e, 8, dtype=T).in_proj_weight)
    assert abs(t_in.var() / w_in.var() - 1) < 0.03 and np.abs(t_in).max() <= xavier
    assert np.all(big.params["in_proj_bias"] == 0) and np.all(big.params["out_proj.bias"] == 0)
    assert np.array_equal(MultiheadAttention(8, 2, rng=0).params["in_proj_weight"], ours.params["in_proj_weight"])


def test_mha_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be divisible by num_heads \(4\)"):
        MultiheadAttention(10, 4)
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match="num_heads must be a positive int"):
            MultiheadAttention(8, bad)
    layer = MultiheadAttention(8, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.ones((2, 3, 8)))
    with pytest.raises(ValueError, match=r"MultiheadAttention\(8, 2\) expects input of shape \(N, T, 8\) with T >= 1, got \(2, 3, 6\)"):
        layer(np.ones((2, 3, 6)))
    with pytest.raises(ValueError, match=r"got \(3, 8\)"):
        layer(np.ones((3, 8)))
    layer(np.ones((2, 3, 8)))
    with pytest.raises(ValueError, match=r"backward grad_output expects shape \(2, 3, 8\), got \(2, 8\)"):
        layer.backward(np.ones((2, 8)))


def test_attention_names_are_exported():
    assert nn.MultiheadAttention is MultiheadAttention
    assert nn.scaled_dot_product_attention is scaled_dot_product_attention
    assert nn.sinusoidal_positional_encoding is sinusoidal_positional_encoding


# --- sinusoidal positional encoding ---------------------------------------------------


@pytest.mark.parametrize("dim", [1, 2, 7, 16])
def test_positional_encoding_follows_the_formula(dim):
    pe = sinusoidal_positional_encoding(50, dim)
    assert pe.shape == (50, dim)
    for pos in (0, 1, 17, 49):
        for j in range(dim):
            i = j // 2
            angle = pos / 10000 ** (2 * i / dim)
            assert pe[pos, j] == pytest.approx(np.sin(angle) if j % 2 == 0 else np.cos(angle), abs=1e-13)
    assert np.all(pe[0, 0::2] == 0) and np.all(pe[0, 1::2] == 1)


@pytest.mark.parametrize("offset", [1, 3, 40, -5])
def test_positional_encoding_shift_is_a_rotation_per_pair(offset):
    dim, length = 16, 200
    pe = sinusoidal_positional_encoding(length, dim)
    m = sinusoidal_shift_matrix(offset, dim)
    start, stop = max(0, -offset), length - max(0, offset)
    # One matrix for every position: PE(pos + k) = PE(pos) @ M_k.
    assert np.abs(pe[start + offset:stop + offset] - pe[start:stop] @ m).max() < 1e-10
    assert np.abs(m @ m.T - np.eye(dim)).max() < 1e-12  # orthogonal: it only turns each pair
    # The map is fixed without knowing the formula: fitted by least squares on each pair, it leaves no residual.
    for i in range(0, dim, 2):
        before, after = pe[start:stop, i:i + 2], pe[start + offset:stop + offset, i:i + 2]
        fitted, *_ = np.linalg.lstsq(before, after, rcond=None)
        assert np.abs(before @ fitted - after).max() < 1e-10
        assert np.abs(fitted - m[i:i + 2, i:i + 2]).max() < 1e-10


def test_positional_encoding_frequencies_and_bad_arguments():
    w = sinusoidal_frequencies(8)
    assert np.array_equal(w[0::2], w[1::2]) and w[0] == 1.0 and np.all(np.diff(w[0::2]) < 0)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="sinusoidal_positional_encoding: length must be a positive int"):
            sinusoidal_positional_encoding(bad, 4)
        with pytest.raises(ValueError, match="sinusoidal_positional_encoding: dim must be a positive int"):
            sinusoidal_positional_encoding(4, bad)
    with pytest.raises(ValueError, match="dim must be even.*got 7"):
        sinusoidal_shift_matrix(1, 7)
    with pytest.raises(ValueError, match="offset must be an int"):
        sinusoidal_shift_matrix(1.5, 8)
