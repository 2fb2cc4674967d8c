"""2-D convolution (NCHW) as ``torch.nn.Conv2d``, written twice: with loops, and vectorised.

:func:`conv2d_loop` and :func:`conv2d_loop_backward` spell the definition out
one output number at a time; they are for reading and for checking. The layer
:class:`Conv2d` uses :func:`conv2d` and :func:`conv2d_backward`, which gather
every receptive field into one matrix (im2col) so that the whole convolution
is a single matrix product (``benchmarks/conv2d.py`` times both against
torch). Like torch (and every deep-learning library), the
"convolution" is a cross-correlation: the kernel is not flipped.

Output size along one axis, for input size ``H``, kernel ``k``, stride ``s``
and padding ``p``: ``H_out = floor((H + 2p - k) / s) + 1``.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from book.checks import integer, is_integer, positive_int
from book.counting.params import conv2d_output_size
from book.nn.module import Module, check_shape, refuse_unsupported


def pair(value, name: str, minimum: int, owner: str) -> tuple[int, int]:
    """An int or a pair of ints (each at least ``minimum``) as a ``(height, width)`` pair."""
    if is_integer(value):
        value = (value, value)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    return tuple(integer(v, name, minimum=minimum, owner=owner) for v in value)


def _check_input(x, weight, padding, what: str) -> np.ndarray:
    """``x`` as float64 if it is ``(N, C, H, W)`` with the weight's ``C`` and room for one window."""
    x = np.asarray(x)
    _, channels, kh, kw = np.shape(weight)
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{what} expects input of shape (N, {channels}, H, W), got {x.shape}")
    # torch refuses a kernel larger than the (padded) image instead of returning an empty output.
    height, width = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if height < kh or width < kw:
        raise ValueError(f"{what}: kernel {(kh, kw)} is larger than the padded input ({height}, {width})")
    return x.astype(np.float64, copy=False)


def _pad(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _unpad(x_padded, padding):
    ph, pw = padding
    height, width = x_padded.shape[2], x_padded.shape[3]
    return x_padded[:, :, ph:height - ph, pw:width - pw]


# --- the loop version: one output number at a time ------------------------------


def conv2d_loop(x, weight, bias=None, stride=1, padding=0):
    """Convolution by its definition, for reading: ``(N, C, H, W)`` -> ``(N, F, H_out, W_out)``.

    ``out[n, f, i, j] = bias[f] + sum over c, u, v of
    x_padded[n, c, i*sh + u, j*sw + v] * weight[f, c, u, v]``.
    """
    sh, sw = pair(stride, "stride", 1, "conv2d_loop")
    padding = pair(padding, "padding", 0, "conv2d_loop")
    x = _check_input(x, weight, padding, "conv2d_loop")
    n_images = x.shape[0]
    n_filters, _, kh, kw = weight.shape
    xp = _pad(x, padding)
    h_out = conv2d_output_size(xp.shape[2], kh, sh)
    w_out = conv2d_output_size(xp.shape[3], kw, sw)
    out = np.zeros((n_images, n_filters, h_out, w_out))
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(h_out):
                for j in range(w_out):
                    window = xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * weight[f])
            if bias is not None:
                out[n, f] += bias[f]
    return out


def conv2d_loop_backward(grad_output, x, weight, stride=1, padding=0):
    """Gradients of :func:`conv2d_loop`: ``(dx, dweight, dbias)``, one output number at a time.

    Each output number touched one window of the input through one filter, so
    its gradient flows back along exactly those products: into the window
    (scaled by the filter) and into the filter (scaled by the window).
    """
    sh, sw = pair(stride, "stride", 1, "conv2d_loop_backward")
    padding = pair(padding, "padding", 0, "conv2d_loop_backward")
    xp = _pad(_check_input(x, weight, padding, "conv2d_loop_backward"), padding)
    n_images, n_filters, h_out, w_out = grad_output.shape
    _, _, kh, kw = weight.shape
    dxp = np.zeros_like(xp)
    dweight = np.zeros(weight.shape)
    for n in range(n_images):
        for f in range(n_filters):
            for i in range(h_out):
                for j in range(w_out):
                    g = grad_output[n, f, i, j]
                    rows = slice(i * sh, i * sh + kh)
                    cols = slice(j * sw, j * sw + kw)
                    # Overlapping windows share inputs, so their gradients add up.
                    dxp[n, :, rows, cols] += g * weight[f]
                    dweight[f] += g * xp[n, :, rows, cols]
    dbias = grad_output.sum(axis=(0, 2, 3))
    return _unpad(dxp, padding), dweight, dbias


# --- the vectorised version: im2col and one matrix product ------------------------


def windows(x, kernel, stride):
    """Every ``kh x kw`` window of ``x`` ``(N, C, H, W)`` at the given stride, without copying.

    ``sliding_window_view`` gives every window (a strided view of shape
    ``(N, C, H-kh+1, W-kw+1, kh, kw)``); slicing keeps every stride-th one.
    Result: ``(N, C, H_out, W_out, kh, kw)``. Convolution and pooling both read
    their input through it.
    """
    (kh, kw), (sh, sw) = kernel, stride
    return sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]


def add_windows(grad_windows, x_shape, stride):
    """The adjoint of :func:`windows`: add each window's gradient back onto the inputs it came from.

    ``grad_windows`` has the shape :func:`windows` returns. One strided
    addition per kernel offset ``(u, v)`` (``kh * kw`` of them), each covering
    all images, channels and output positions at once; windows overlap when
    the stride is smaller than the kernel, hence ``+=``.
    """
    (sh, sw), (h_out, w_out, kh, kw) = stride, grad_windows.shape[2:]
    out = np.zeros(x_shape)
    for u in range(kh):
        for v in range(kw):
            out[:, :, u:u + sh * h_out:sh, v:v + sw * w_out:sw] += grad_windows[..., u, v]
    return out


def im2col(x_padded, kernel, stride):
    """Every receptive field as one row: ``(N * H_out * W_out, C * kh * kw)``.

    The reshape of the :func:`windows` view copies the windows into one
    contiguous matrix whose rows are in ``(n, i, j)`` order and columns in
    ``(c, u, v)`` order, the order of ``weight.reshape(F, -1)``.
    """
    view = windows(x_padded, kernel, stride)
    n_images, channels, h_out, w_out, kh, kw = view.shape
    rows = view.transpose(0, 2, 3, 1, 4, 5).reshape(n_images * h_out * w_out, channels * kh * kw)
    return rows, (h_out, w_out)


def col2im(cols, x_padded_shape, kernel, stride, out_hw):
    """The adjoint of :func:`im2col`: each row back onto its window (:func:`add_windows`)."""
    (kh, kw), (h_out, w_out) = kernel, out_hw
    n_images, channels = x_padded_shape[:2]
    grad_windows = cols.reshape(n_images, h_out, w_out, channels, kh, kw).transpose(0, 3, 1, 2, 4, 5)
    return add_windows(grad_windows, x_padded_shape, stride)


def conv2d(x, weight, bias=None, stride=1, padding=0):
    """Vectorised convolution; returns ``(out, cache)`` where ``cache`` feeds :func:`conv2d_backward`."""
    stride = pair(stride, "stride", 1, "conv2d")
    padding = pair(padding, "padding", 0, "conv2d")
    x = _check_input(x, weight, padding, "conv2d")
    n_filters, _, kh, kw = weight.shape
    xp = _pad(x, padding)
    rows, (h_out, w_out) = im2col(xp, (kh, kw), stride)
    out = rows @ weight.reshape(n_filters, -1).T
    if bias is not None:
        out += bias
    out = out.reshape(x.shape[0], h_out, w_out, n_filters).transpose(0, 3, 1, 2)
    cache = (rows, xp.shape, weight, stride, padding, (h_out, w_out))
    return out, cache


def conv2d_backward(grad_output, cache):
    """Gradients of :func:`conv2d`: ``(dx, dweight, dbias)``, each from one matrix product."""
    rows, xp_shape, weight, stride, padding, out_hw = cache
    n_filters, _, kh, kw = weight.shape
    # Rows in (n, i, j) order, one column per filter: the layout of conv2d's product.
    g = grad_output.transpose(0, 2, 3, 1).reshape(-1, n_filters)
    dweight = (g.T @ rows).reshape(weight.shape)
    dbias = g.sum(axis=0)
    drows = g @ weight.reshape(n_filters, -1)
    dxp = col2im(drows, xp_shape, (kh, kw), stride, out_hw)
    return _unpad(dxp, padding), dweight, dbias


# --- the layer ----------------------------------------------------------------------


class Conv2d(Module):
    """2-D convolution layer, as ``torch.nn.Conv2d`` (no groups, no dilation, zero padding).

    ``weight`` has shape ``(out_channels, in_channels, kh, kw)`` and ``bias``
    ``(out_channels,)``. Initialised like torch: every entry uniform in
    ``(-1/sqrt(fan_in), 1/sqrt(fan_in))`` with ``fan_in = in_channels * kh * kw``
    (what torch's ``kaiming_uniform_(a=sqrt(5))`` amounts to). ``kernel_size``,
    ``stride`` and ``padding`` are an int or a ``(height, width)`` pair. Input
    is ``(N, in_channels, H, W)``. The arguments come in torch's order;
    ``dilation``, ``groups``, ``padding_mode``, ``device`` and ``dtype`` are
    accepted only at their defaults. The book's own ``rng`` (``None``, a seed
    or a Generator) is keyword-only, so a torch call cannot shift into it.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias: bool = True, padding_mode="zeros", device=None, dtype=None, *, rng=None):
        super().__init__()
        refuse_unsupported("Conv2d", dilation=(dilation, 1), groups=(groups, 1), padding_mode=(padding_mode, "zeros"),
                           device=(device, None), dtype=(dtype, None))
        self.in_channels = positive_int(in_channels, "in_channels", owner="Conv2d")
        self.out_channels = positive_int(out_channels, "out_channels", owner="Conv2d")
        self.kernel_size = pair(kernel_size, "kernel_size", 1, "Conv2d")
        self.stride = pair(stride, "stride", 1, "Conv2d")
        self.padding = pair(padding, "padding", 0, "Conv2d")
        self.use_bias = bool(bias)
        shapes = {"weight": (self.out_channels, self.in_channels, *self.kernel_size)}
        if self.use_bias:
            shapes["bias"] = (self.out_channels,)
        self._init_uniform(rng, self.in_channels * self.kernel_size[0] * self.kernel_size[1], shapes)

    def _name(self) -> str:
        return f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def forward(self, x):
        """Convolve ``x`` of shape ``(N, in_channels, H, W)``; returns ``(N, out_channels, H_out, W_out)``."""
        x = _check_input(x, self._params["weight"], self.padding, self._name())
        out, cache = conv2d(x, self._params["weight"], self._params.get("bias"), self.stride, self.padding)
        self._cache = (cache, out.shape)
        return out

    def backward(self, grad_output):
        """Overwrite ``grads['weight']`` (and ``grads['bias']``); return dLoss/dx, the input's shape."""
        cache, out_shape = self._require_cache()
        grad_output = np.asarray(grad_output, dtype=np.float64)
        check_shape(grad_output.shape, out_shape, f"{self._name()}.backward grad_output")
        dx, dweight, dbias = conv2d_backward(grad_output, cache)
        self._grads["weight"][...] = dweight
        if self.use_bias:
            self._grads["bias"][...] = dbias
        return dx

    def __repr__(self) -> str:
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.use_bias})"
        )
