"""Post-training int8 weight quantisation, by hand (chapter 11).

A trained weight matrix ``W`` of shape ``(out, in)`` is stored as 8-bit
integers ``Q`` and one fp32 **scale** per output channel (per row):

.. math::

    s_i = \\max_j |W_{ij}| / 127, \\qquad Q_{ij} = \\operatorname{round}(W_{ij} / s_i) \\in [-127, 127],
    \\qquad \\hat W_{ij} = s_i Q_{ij}.

The scheme is **symmetric** (zero maps to zero, no offset) and
**per-channel** (a row of small weights is not crushed by a large row
elsewhere). Rounding moves each entry by at most half a step,
``|W_{ij} - \\hat W_{ij}| <= s_i / 2``. Storage falls from 4 bytes per weight
to 1, plus 4 bytes per row for the scale.

:class:`QuantizedLinear` keeps ``Q`` and the scales and dequantises the
weight on the fly in each forward pass: it saves memory, not time (the
product still runs in fp32). Kernels that multiply int8 by int8 directly,
as PyTorch's dynamic quantisation does (:func:`torch_dynamic_quantize`),
save time as well (the integer-arithmetic scheme of Jacob et al., 2018). Activations stay in fp32 here.
"""
from __future__ import annotations

import copy
import io

import torch
import torch.nn.functional as F
from torch import nn

QMAX = 127


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q, scales)``: int8 ``Q`` of ``weight``'s shape ``(out, in)`` and fp32 ``scales`` of shape ``(out,)``.

    Symmetric per-row scales ``max|row| / 127``; a row of zeros gets scale 1
    (any scale represents it exactly).
    """
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2 or not weight.is_floating_point():
        got = (f"shape {tuple(weight.shape)}, dtype {weight.dtype}" if isinstance(weight, torch.Tensor)
               else type(weight).__name__)
        raise ValueError(f"quantize_per_channel: weight must be a 2-D floating-point tensor (out, in), got {got}")
    w = weight.detach().float()
    scales = w.abs().amax(dim=1) / QMAX
    scales = torch.where(scales > 0, scales, torch.ones_like(scales))
    q = torch.round(w / scales[:, None]).clamp_(-QMAX, QMAX).to(torch.int8)
    return q, scales


def dequantize(q: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The fp32 weight ``scales[i] * q[i, j]`` (``q`` int8 ``(out, in)``, ``scales`` ``(out,)``)."""
    if not isinstance(q, torch.Tensor) or q.dtype != torch.int8 or q.ndim != 2:
        raise ValueError("dequantize: q must be a 2-D int8 tensor (out, in)")
    if not isinstance(scales, torch.Tensor) or scales.shape != (q.shape[0],):
        got = tuple(scales.shape) if isinstance(scales, torch.Tensor) else type(scales).__name__
        raise ValueError(f"dequantize: scales must have shape ({q.shape[0]},), one per row of q, got {got}")
    return q.float() * scales[:, None].float()


class QuantizedLinear(nn.Module):
    """A linear layer that stores its weight as int8 plus fp32 per-row scales, and its bias in fp32.

    Build one from a trained ``nn.Linear`` with :meth:`from_linear`. The
    forward pass is ``x @ dequantize(Q, scales).T + bias``. Its tensors are
    buffers, not parameters: it is for inference, not training.
    """

    def __init__(self, q: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        dequantize(q, scales)  # checks the shapes
        if bias is not None and (not isinstance(bias, torch.Tensor) or bias.shape != (q.shape[0],)):
            raise ValueError(f"QuantizedLinear: bias must have shape ({q.shape[0]},) or be None")
        self.in_features, self.out_features = q.shape[1], q.shape[0]
        self.register_buffer("weight_int8", q)
        self.register_buffer("scales", scales.float())
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "QuantizedLinear":
        """Quantise ``linear``'s weight with :func:`quantize_per_channel`; the bias is copied."""
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"QuantizedLinear.from_linear: expected an nn.Linear, got {type(linear).__name__}")
        q, scales = quantize_per_channel(linear.weight)
        return cls(q, scales, linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, dequantize(self.weight_int8, self.scales).to(x.dtype),
                        None if self.bias is None else self.bias.to(x.dtype))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-channel"


def _shared_weights(model: nn.Module) -> set[int]:
    """ids of the weights of ``nn.Linear`` layers that are also used elsewhere (tied)."""
    owners: dict[int, int] = {}
    for module in model.modules():
        for p in module.parameters(recurse=False):
            owners[id(p)] = owners.get(id(p), 0) + 1
    return {key for key, count in owners.items() if count > 1}


def quantize_model(model: nn.Module, skip_tied: bool = True) -> nn.Module:
    """A copy of ``model`` in which every ``nn.Linear`` is a :class:`QuantizedLinear`; ``model`` is unchanged.

    With ``skip_tied`` (the default) a linear layer whose weight another
    module also uses is kept in fp32: in :class:`book.models.gpt.GPT` the
    output head shares the token-embedding matrix, and quantising it would
    store that matrix twice (the embedding stays fp32). The copy is in eval mode.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"quantize_model: model must be a torch nn.Module, got {type(model).__name__}")
    model = copy.deepcopy(model).eval()
    tied = _shared_weights(model) if skip_tied else set()
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and id(child.weight) not in tied:
                setattr(module, name, QuantizedLinear.from_linear(child))
    return model


def tensor_bytes(model: nn.Module) -> int:
    """Bytes of ``model``'s parameters and buffers, each storage counted once (a tied matrix once)."""
    storages = {}
    for t in list(model.parameters()) + list(model.buffers()):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
    return int(sum(storages.values()))


def linear_weight_bytes(model: nn.Module) -> int:
    """Bytes of the weights of ``model``'s linear layers, tied ones left out.

    An ``nn.Linear`` counts its weight; a :class:`QuantizedLinear` its int8
    weight and its fp32 scales. Biases are left out.
    """
    tied = _shared_weights(model)
    total = 0
    for module in model.modules():
        if isinstance(module, nn.Linear) and id(module.weight) not in tied:
            total += module.weight.numel() * module.weight.element_size()
        elif isinstance(module, QuantizedLinear):
            total += module.weight_int8.numel() + module.scales.numel() * module.scales.element_size()
    return total


def serialized_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``: the size on disk, for any kind of module (packed ones too)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def torch_dynamic_quantize(model: nn.Module) -> nn.Module | None:
    """PyTorch's own int8 dynamic quantisation of ``model``'s ``nn.Linear`` layers, or ``None`` where it cannot run.

    ``torch.ao.quantization.quantize_dynamic`` with ``dtype=torch.qint8``:
    int8 weights (per tensor), activations quantised on the fly in each
    product, int8 kernels (fbgemm or onednn on x86, qnnpack on ARM). It is
    deprecated in recent PyTorch (in favour of the separate ``torchao``
    package) and its deprecation warnings are silenced here; ``None`` when
    the module or a quantised backend is missing. Works on a copy.
    """
    import warnings

    if not torch.backends.quantized.supported_engines or torch.backends.quantized.engine == "none":
        return None
    try:
        from torch.ao.quantization import quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear}, dtype=torch.qint8)
    except (ImportError, AttributeError, RuntimeError, NotImplementedError):
        return None


__all__ = ["QMAX", "QuantizedLinear", "dequantize", "linear_weight_bytes", "quantize_model", "quantize_per_channel",
           "serialized_bytes", "tensor_bytes", "torch_dynamic_quantize"]
