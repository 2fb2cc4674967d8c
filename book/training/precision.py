"""Mixed precision and gradient checkpointing, measured on one training step (chapter 11).

* :func:`checkpointing` wraps a model's Transformer blocks in
  ``torch.utils.checkpoint`` from outside, for the duration of a ``with``
  block: each block keeps only its input, and its inside is recomputed in
  the backward pass. The model's code and parameters are untouched.
* :func:`training_step` runs one forward and backward pass (and an
  optimizer step) in fp32, or under ``torch.autocast`` in bf16 or fp16;
  :func:`step_gradients` returns the gradients of such a step.
* :class:`PeakMemory` and :func:`peak_allocated_bytes` follow every tensor
  PyTorch allocates on the CPU, which has no ``torch.cuda.max_memory_allocated``.
* :func:`measure_step` gathers the loss, the median time, the peak memory
  and the saved-activation bytes of a step.
* :class:`LossScaler` is fp16 loss scaling written out, step by step, the
  recipe ``torch.amp.GradScaler`` follows (Micikevicius et al., 2018).
"""
from __future__ import annotations

import contextlib
import math
import weakref

import torch

from book.checks import one_of, positive, positive_int
from book.counting.training_memory import measure_saved_bytes
from book.timing import median_time

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
"""The precisions of :func:`training_step`: fp32, or autocast to bf16 or fp16."""


@contextlib.contextmanager
def checkpointing(model, blocks=None):
    """Inside the ``with`` block, each of ``blocks`` (default: ``model.blocks``) runs under ``torch.utils.checkpoint``.

    Works on :class:`book.models.gpt.GPT` and any model whose forward calls
    its blocks as modules: each block's ``forward`` is replaced, for the
    instance only, by a checkpointed call of the original (non-reentrant,
    ``use_reentrant=False``, PyTorch's recommended variant). The backward
    pass may run after the ``with`` block: the recomputation uses the
    original forward, kept by the checkpoint.
    """
    from torch.utils.checkpoint import checkpoint

    blocks = list(model.blocks if blocks is None else blocks)
    if not blocks or not all(isinstance(b, torch.nn.Module) for b in blocks):
        raise ValueError("checkpointing: blocks must be a non-empty sequence of torch modules "
                         "(a model with a .blocks ModuleList, or pass blocks=...)")

    def wrapped(block):
        original = type(block).forward

        def forward(*args, **kwargs):
            return checkpoint(original, block, *args, use_reentrant=False, **kwargs)

        return forward

    for block in blocks:
        block.forward = wrapped(block)
    try:
        yield model
    finally:
        for block in blocks:
            del block.forward


class PeakMemory:
    """A ``TorchDispatchMode`` context that counts the bytes of the tensors allocated inside it.

    Every storage an operator returns is counted once, while it is alive
    (a finaliser subtracts it when PyTorch frees it): ``current`` is what is
    alive now, ``peak`` the largest value seen. Memory that existed before
    the ``with`` block (the weights, say) is not counted. It slows every
    operator, so time steps without it.
    """

    def __init__(self):
        self.current = 0
        self.peak = 0
        self._live: set = set()
        self._mode = None

    def _free(self, key, nbytes):
        self._live.discard(key)
        self.current -= nbytes

    def _record(self, out):
        from torch.utils._pytree import tree_leaves

        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                s = t.untyped_storage()
                key, nbytes = s.data_ptr(), s.nbytes()
                if nbytes and key not in self._live:
                    self._live.add(key)
                    self.current += nbytes
                    weakref.finalize(s, self._free, key, nbytes)
        self.peak = max(self.peak, self.current)

    def __enter__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker._record(out)
                return out

        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)
        self._mode = None
        return False


def peak_allocated_bytes(fn):
    """Run ``fn()``; return ``(its result, the peak bytes of tensors allocated during it)`` (:class:`PeakMemory`)."""
    with PeakMemory() as tracker:
        result = fn()
    return result, tracker.peak


def _autocast(precision, model):
    """Autocast on the device of ``model``'s weights (``"cpu"`` in the book), or nothing for fp32."""
    dtype = DTYPES[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(next(model.parameters()).device.type, dtype=dtype)


def training_step(model, idx, targets, optimizer=None, precision: str = "fp32", checkpoint: bool = False) -> float:
    """One training step of a :class:`book.models.gpt.GPT`; returns the loss as a float.

    The forward pass runs in fp32 or under ``torch.autocast`` (on the
    weights' device, the CPU here) for ``precision`` ``"bf16"`` or ``"fp16"`` (the weights stay fp32; the
    loss is computed in fp32 by the model), with the blocks checkpointed if
    ``checkpoint``. Then the backward pass, and ``optimizer.step()`` and
    ``zero_grad`` if an optimizer is given. Without one, the gradients are
    left in ``.grad`` (accumulated: clear them between calls). For fp16 use
    :class:`LossScaler` instead of a bare step.
    """
    precision = one_of(precision, tuple(DTYPES), "precision", owner="training_step")
    ctx = checkpointing(model) if checkpoint else contextlib.nullcontext()
    with ctx, _autocast(precision, model):
        loss = model(idx, targets).loss
    loss.backward()
    if optimizer is not None:
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def step_gradients(model, idx, targets, precision: str = "fp32", checkpoint: bool = False) -> list:
    """The gradients of one :func:`training_step` (no optimizer), one fp32 copy per parameter.

    Clears the model's gradients before and after, so that calls with
    different ``precision`` and ``checkpoint`` settings can be compared.
    """
    model.zero_grad(set_to_none=True)
    training_step(model, idx, targets, precision=precision, checkpoint=checkpoint)
    grads = [p.grad.detach().clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return grads


def measure_step(model, idx, targets, precision: str = "fp32", checkpoint: bool = False, trials: int = 3) -> dict:
    """Loss, time and memory of one forward and backward pass (no optimizer step; the gradients are cleared).

    Returns ``loss``; ``seconds`` (median of ``trials`` timed steps after a
    warm-up); ``peak_bytes`` (:func:`peak_allocated_bytes`: everything the
    step allocates alive at once, gradients included, weights excluded);
    ``saved_bytes`` (:func:`book.counting.training_memory.measure_saved_bytes`:
    what the forward pass keeps for the backward pass).
    """
    precision = one_of(precision, tuple(DTYPES), "precision", owner="measure_step")
    trials = positive_int(trials, "trials", owner="measure_step")
    ctx = checkpointing if checkpoint else (lambda m: contextlib.nullcontext())

    def forward():
        with ctx(model), _autocast(precision, model):
            return model(idx, targets).loss

    def step():
        model.zero_grad(set_to_none=True)
        loss = forward()
        loss.backward()
        return loss

    seconds = median_time(step, trials=trials)
    model.zero_grad(set_to_none=True)
    loss, peak = peak_allocated_bytes(step)
    model.zero_grad(set_to_none=True)
    saved_loss, saved = measure_saved_bytes(forward, exclude=model.parameters())
    del saved_loss
    return {"loss": float(loss.detach()), "seconds": seconds, "peak_bytes": peak, "saved_bytes": saved}


class LossScaler:
    """Dynamic loss scaling for fp16 training, written out (what ``torch.amp.GradScaler`` does).

    fp16 cannot represent magnitudes below about ``6e-8``, and small
    gradients of a 16-bit backward pass flush to zero. So the loss is
    multiplied by ``scale`` before ``backward``; the fp32 gradients of the
    master weights are divided by it again before the update. If any
    gradient came out ``inf`` or ``nan`` (the scale was too large), the
    update is skipped and the scale multiplied by ``backoff_factor``; after
    ``growth_interval`` good steps in a row it is multiplied by
    ``growth_factor``, so it stays near the largest value that does not
    overflow. The defaults are ``GradScaler``'s.
    """

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000):
        owner = "LossScaler"
        self.scale = positive(init_scale, "init_scale", owner=owner)
        self.growth_factor = positive(growth_factor, "growth_factor", owner=owner)
        self.backoff_factor = positive(backoff_factor, "backoff_factor", owner=owner)
        self.growth_interval = positive_int(growth_interval, "growth_interval", owner=owner)
        self.good_steps = 0

    def step(self, loss, optimizer) -> bool:
        """``backward`` of the scaled ``loss``, unscale, and ``optimizer.step()`` if all gradients are finite.

        Clears the gradients either way; returns whether the step was taken.
        """
        (loss * self.scale).backward()
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        finite = all(bool(torch.isfinite(g).all()) for g in grads)
        if finite:
            for g in grads:
                g.div_(self.scale)
            optimizer.step()
            self.good_steps += 1
            if self.good_steps == self.growth_interval:
                self.scale *= self.growth_factor
                self.good_steps = 0
        else:
            self.scale *= self.backoff_factor
            self.good_steps = 0
        optimizer.zero_grad(set_to_none=True)
        return finite


def scale_loss_step(loss, optimizer, scaler: LossScaler) -> bool:
    """One fp16 update with loss scaling: ``scaler.step(loss, optimizer)`` (see :class:`LossScaler`)."""
    if not isinstance(scaler, LossScaler):
        raise ValueError(f"scale_loss_step: scaler must be a LossScaler, got {type(scaler).__name__}")
    if not isinstance(loss, torch.Tensor) or loss.ndim != 0 or not math.isfinite(float(loss.detach())):
        raise ValueError("scale_loss_step: loss must be a finite scalar tensor")
    return scaler.step(loss, optimizer)


__all__ = ["DTYPES", "LossScaler", "PeakMemory", "checkpointing", "measure_step", "peak_allocated_bytes",
           "scale_loss_step", "training_step"]
