"""Low-rank adaptation (LoRA): fine-tune a frozen linear layer through a small low-rank update.

A linear layer computes ``y = x W^T + b`` with ``W`` of shape ``(out, in)``.
LoRA (Hu et al., 2021) keeps ``W`` and ``b`` frozen and learns two small
matrices instead, ``A`` of shape ``(r, in)`` and ``B`` of shape ``(out, r)``
with ``r`` much smaller than ``in`` and ``out``::

    y = x W^T + b + (alpha / r) * x A^T B^T

so the layer behaves as if its weight were ``W + (alpha / r) B A``, an update
of rank at most ``r`` that costs ``r (in + out)`` parameters instead of
``in * out``. ``A`` starts small and random and ``B`` starts at zero, so the
wrapped layer starts exactly equal to the layer it wraps, and training moves
it away from there. After training, :meth:`LoRALinear.merge` folds the update
into one plain ``nn.Linear``: the adapted model then runs as fast as the base.

:func:`apply_lora` wraps chosen ``nn.Linear`` layers of a model in place (by
name, e.g. ``("qkv",)`` in :class:`book.models.gpt.GPT` or ``("query",
"value")`` in a Hugging Face BERT), :func:`mark_only_lora_trainable` freezes
everything else, :func:`count_trainable` counts what is left to train, and
:func:`merge_lora` replaces every wrapped layer by its merged ``nn.Linear``.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, NamedTuple

import torch
from torch import nn

from book.checks import positive, positive_int, real


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update ``(alpha / rank) B A``.

    ``base`` is the layer to adapt; its weight and bias are frozen
    (``requires_grad_(False)``) and kept as they are (the same tensors, not
    copies). ``rank`` is ``r``, from 1 to ``min(in_features, out_features)``;
    ``alpha`` (default ``rank``, a scale of 1) sets the scale ``alpha / rank``;
    ``dropout`` in ``[0, 1)`` is applied to the input of the low-rank branch
    only, in training mode. ``A`` is drawn from a normal distribution with
    standard deviation ``1 / sqrt(in_features)`` and ``B`` is zero, on the
    base's device and dtype.
    """

    def __init__(self, base: nn.Linear, rank: int, alpha: float | None = None, dropout: float = 0.0):
        super().__init__()
        owner = "LoRALinear"
        if not isinstance(base, nn.Linear):
            raise ValueError(f"{owner}: base must be a torch.nn.Linear, got {type(base).__name__}")
        rank = positive_int(rank, "rank", owner=owner)
        d_in, d_out = base.in_features, base.out_features
        if rank > min(d_in, d_out):
            raise ValueError(f"{owner}: rank must be at most min(in_features, out_features) = "
                             f"{min(d_in, d_out)} for a Linear({d_in}, {d_out}), got {rank}")
        alpha = float(rank) if alpha is None else positive(alpha, "alpha", owner=owner)
        dropout = real(dropout, "dropout", 0.0, 1.0, high_open=True, owner=owner)
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.rank, self.alpha, self.scaling = rank, alpha, alpha / rank
        factory = dict(device=base.weight.device, dtype=base.weight.dtype)
        self.lora_A = nn.Parameter(torch.randn(rank, d_in, **factory) / math.sqrt(d_in))
        self.lora_B = nn.Parameter(torch.zeros(d_out, rank, **factory))
        self.lora_dropout = nn.Dropout(dropout)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``base(x) + scaling * dropout(x) A^T B^T``; ``x`` of shape ``(..., in_features)``."""
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"LoRALinear: input must have shape (..., {self.in_features}), got {tuple(x.shape)}")
        update = self.lora_dropout(x) @ self.lora_A.T @ self.lora_B.T
        return self.base(x) + self.scaling * update

    def delta_weight(self) -> torch.Tensor:
        """The update ``(alpha / rank) B A`` as a full ``(out_features, in_features)`` matrix."""
        return self.scaling * (self.lora_B @ self.lora_A)

    @torch.no_grad()
    def merge(self) -> nn.Linear:
        """A new plain ``nn.Linear`` with weight ``W + (alpha / rank) B A`` and the base's bias.

        In eval mode (or with ``dropout=0``) it computes what this layer
        computes, up to rounding. The new layer's parameters are copies that
        require gradients, as a fresh ``nn.Linear``'s do; this layer is unchanged.
        """
        base = self.base
        merged = nn.Linear(self.in_features, self.out_features, bias=base.bias is not None,
                           device=base.weight.device, dtype=base.weight.dtype)
        merged.weight.copy_(base.weight + self.delta_weight())
        if base.bias is not None:
            merged.bias.copy_(base.bias)
        return merged

    def trainable_parameters(self) -> list[nn.Parameter]:
        """``[A, B]``: the only parameters LoRA trains (``rank * (in + out)`` numbers)."""
        return [self.lora_A, self.lora_B]

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha:g}, scaling={self.scaling:g}"


def _linear_layers(model: nn.Module) -> list[tuple[str, nn.Linear]]:
    """Every ``nn.Linear`` inside ``model`` with its qualified name, except the bases of LoRALinear layers
    (and ``model`` itself: wrap a lone layer with ``LoRALinear(layer, rank)``)."""
    inside = {id(m.base) for m in model.modules() if isinstance(m, LoRALinear)}
    return [(name, m) for name, m in model.named_modules()
            if name and isinstance(m, nn.Linear) and id(m) not in inside]


def apply_lora(model: nn.Module, target_names: Iterable[str] | None = None, *,
               predicate: Callable[[str, nn.Linear], bool] | None = None,
               rank: int = 8, alpha: float | None = None, dropout: float = 0.0) -> list[str]:
    """Wrap chosen ``nn.Linear`` layers of ``model`` in :class:`LoRALinear`, in place.

    Choose the layers with exactly one of ``target_names`` (a layer is chosen
    when its qualified name equals a target or ends with ``"." + target``:
    ``("qkv",)`` picks every ``blocks.i.attn.qkv`` of a GPT, ``("attn.proj",)``
    the attention output projections but not ``mlp.proj``) or ``predicate``
    (called with each layer's qualified name and the layer). Returns the
    names of the wrapped layers; ``ValueError`` if none matched. Layers
    already wrapped are not wrapped again. The base weights are frozen; the
    rest of the model is left as it was (see :func:`mark_only_lora_trainable`).
    """
    owner = "apply_lora"
    if not isinstance(model, nn.Module):
        raise ValueError(f"{owner}: model must be a torch.nn.Module, got {type(model).__name__}")
    if (target_names is None) == (predicate is None):
        raise ValueError(f"{owner}: give exactly one of target_names (e.g. ('query', 'value')) and predicate")
    if target_names is not None:
        targets = [target_names] if isinstance(target_names, str) else list(target_names)
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise ValueError(f"{owner}: target_names must be non-empty layer names, got {target_names!r}")

        def predicate(name, _layer):
            return any(name == t or name.endswith("." + t) for t in targets)
    elif not callable(predicate):
        raise ValueError(f"{owner}: predicate must be callable as predicate(name, layer), got {predicate!r}")
    layers = _linear_layers(model)
    chosen = [(name, layer) for name, layer in layers if predicate(name, layer)]
    if not chosen:
        names = ", ".join(name for name, _ in layers[:8]) + (", ..." if len(layers) > 8 else "")
        raise ValueError(f"{owner}: no nn.Linear layer matched; the model's linear layers are: {names or 'none'}")
    for name, layer in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(layer, rank, alpha=alpha, dropout=dropout))
    return [name for name, _ in chosen]


def mark_only_lora_trainable(model: nn.Module, also: Iterable[str] = ()) -> None:
    """Freeze every parameter except LoRA's ``A`` and ``B`` (and those named in ``also``).

    ``also`` holds module or parameter name prefixes that stay trainable, e.g.
    ``("classifier",)`` for the new head of a classification model. A tied
    parameter counts once and is trainable if any of its names is chosen.
    """
    prefixes = [also] if isinstance(also, str) else list(also)
    if not all(isinstance(p, str) and p for p in prefixes):
        raise ValueError(f"mark_only_lora_trainable: also must hold non-empty name prefixes, got {also!r}")
    keep = {id(p) for m in model.modules() if isinstance(m, LoRALinear) for p in m.trainable_parameters()}
    for name, p in model.named_parameters(remove_duplicate=False):
        if any(name == q or name.startswith(q + ".") for q in prefixes):
            keep.add(id(p))
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)


class ParameterCount(NamedTuple):
    """Trainable and total parameters of a model (each tied tensor once)."""

    trainable: int
    total: int

    @property
    def fraction(self) -> float:
        """``trainable / total``."""
        return self.trainable / self.total if self.total else 0.0


def count_trainable(model: nn.Module) -> ParameterCount:
    """How many of ``model``'s parameters require gradients, and how many there are."""
    params = list(model.parameters())
    return ParameterCount(sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params))


def merge_lora(model: nn.Module) -> int:
    """Replace every :class:`LoRALinear` in ``model`` by its :meth:`~LoRALinear.merge`, in place.

    Returns how many layers were merged. Call it after training, in eval mode
    if the LoRA branches use dropout. The merged layers require gradients,
    as fresh ``nn.Linear`` layers do.
    """
    wrapped = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    for name in wrapped:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, getattr(parent, child).merge())
    return len(wrapped)


__all__ = ["LoRALinear", "ParameterCount", "apply_lora", "count_trainable", "mark_only_lora_trainable",
           "merge_lora"]
