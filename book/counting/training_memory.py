"""The memory of one training step of a Transformer (chapter 11), by formula and as PyTorch measures it.

A training step holds four things at once:

* the **weights**, N values;
* the **gradients**, one per weight;
* the **optimizer states**: none for plain SGD, one buffer for SGD with
  momentum, two (the running mean and mean square) for Adam and AdamW;
* the **activations** the forward pass keeps for the backward pass
  (chapter 3's cache, :mod:`book.counting.activation_memory`), which grow
  with the batch, the sequence length and the depth, while the first three
  do not.

In **mixed precision** (Micikevicius et al., 2018) the weights used by the
forward and backward passes and their gradients are 16-bit (bf16 or fp16),
while the optimizer updates an fp32 **master copy** of the weights and keeps
its states in fp32: with Adam, 2 + 2 + 4 + 4 + 4 = 16 bytes per parameter,
the count of Rajbhandari et al. (2020), against 4 + 4 + 8 = 16 in fp32. Mixed
precision saves on activations and on time, not on the model states.
(PyTorch's ``torch.autocast`` is a lighter variant: the weights stay fp32 and
are cast to 16 bits on the fly, so the states cost what fp32 training costs.)

**Activation checkpointing** (Chen et al., 2016) keeps only each block's
input and recomputes the block's inside during the backward pass: the stored
activations fall from about ``16 E`` values per token per layer to ``E``,
for one extra forward pass of compute.

Training compute is :func:`book.counting.flops.training_flops` (C ≈ 6 N T);
:func:`chinchilla_tokens` gives the compute-optimal token count for a model
size. :func:`measure_saved_bytes` and :func:`model_state_bytes_measured`
count what PyTorch really holds, so the formulas can be checked.
"""
from __future__ import annotations

from book.checks import non_negative_int, one_of, positive, positive_int
from book.counting.params import gpt2

BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
"""Bytes per value of each precision; ``"bf16"`` and ``"fp16"`` mean mixed precision with fp32 master weights."""

OPTIMIZER_BUFFERS = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}
"""fp32 buffers per parameter each optimizer keeps: SGD none, momentum one, Adam/AdamW two."""


def model_state_bytes(n_params: int, optimizer: str = "adamw", precision: str = "fp32",
                      n_tensors: int = 0) -> dict[str, int]:
    """Bytes of the weights, gradients, master weights and optimizer states for ``n_params`` parameters.

    ``optimizer`` is ``"sgd"``, ``"momentum"``, ``"adam"`` or ``"adamw"``;
    ``precision`` is ``"fp32"``, or ``"bf16"``/``"fp16"`` for mixed precision
    (16-bit weights and gradients, an fp32 master copy, fp32 optimizer
    states). ``n_tensors`` is the number of parameter tensors: PyTorch's Adam
    and AdamW also keep a step count per tensor, a 4-byte scalar, which this
    adds (leave it 0 to count per parameter only). Returns a dict with
    ``weights``, ``gradients``, ``master_weights``, ``optimizer`` and ``total``.
    """
    owner = "model_state_bytes"
    n = non_negative_int(n_params, "n_params", owner=owner)
    optimizer = one_of(optimizer, tuple(OPTIMIZER_BUFFERS), "optimizer", owner=owner)
    precision = one_of(precision, tuple(BYTES), "precision", owner=owner)
    n_tensors = non_negative_int(n_tensors, "n_tensors", owner=owner)
    b = BYTES[precision]
    states = 4 * OPTIMIZER_BUFFERS[optimizer] * n
    if optimizer in ("adam", "adamw"):
        states += 4 * n_tensors
    out = {
        "weights": b * n,
        "gradients": b * n,
        "master_weights": 0 if precision == "fp32" else 4 * n,
        "optimizer": states,
    }
    out["total"] = sum(out.values())
    return out


def layer_activation_values(n_embd: int, n_head: int) -> int:
    """Values one pre-LayerNorm Transformer block keeps per token for the backward pass.

    Counted for :class:`book.models.gpt.Block` without dropout and with fused
    attention (``scaled_dot_product_attention``, which never stores the
    ``T x T`` attention matrix), ``E = n_embd``: the two LayerNorms' inputs
    and outputs ``4E``, the queries, keys and values ``3E``, the attention
    output ``E``, the MLP's hidden layer before and after GELU ``4E + 4E``:
    ``16 E``; plus a mean and an inverse standard deviation per LayerNorm (4)
    and the attention's log-sum-exp per head (``n_head``). Korthikanti et
    al. (2022) count the same ``16 E`` (their ``34 s b h`` bytes in 16 bits,
    less the dropout masks and the attention matrix).
    """
    E = positive_int(n_embd, "n_embd", owner="layer_activation_values")
    H = positive_int(n_head, "n_head", owner="layer_activation_values")
    return 16 * E + 4 + H


def activation_bytes(n_layer: int, n_embd: int, n_head: int, vocab_size: int, batch_size: int, seq_len: int,
                     precision: str = "fp32", checkpoint: bool = False) -> dict[str, int]:
    """Bytes of the activations a GPT-style decoder keeps for one batch of ``batch_size * seq_len`` tokens.

    Returns ``layers`` (all blocks), ``head`` (final LayerNorm, logits kept
    by the softmax of the loss, token indices and targets), ``total`` (what
    the forward pass stores) and ``peak_extra``: with ``checkpoint`` only
    each block's input is stored (``E`` per token per layer), and during
    the backward pass one block at a time is recomputed, which briefly adds
    one block's activations; without it, 0. ``precision`` gives the bytes
    per value (``"bf16"``/``"fp16"``: 2), an approximation for autocast, which
    keeps some values (LayerNorm, softmax) in fp32.
    """
    owner = "activation_bytes"
    L, E, H, V, B, T = (positive_int(v, name, owner=owner) for name, v in (
        ("n_layer", n_layer), ("n_embd", n_embd), ("n_head", n_head), ("vocab_size", vocab_size),
        ("batch_size", batch_size), ("seq_len", seq_len)))
    b = BYTES[one_of(precision, tuple(BYTES), "precision", owner=owner)]
    if not isinstance(checkpoint, bool):
        raise ValueError(f"{owner}: checkpoint must be True or False, got {checkpoint!r}")
    tokens = B * T
    per_layer = layer_activation_values(E, H)
    layers = L * tokens * (E if checkpoint else per_layer) * b
    # ln_f input and output, its two statistics, the log-softmax output; int64 indices, targets and
    # positions; the loss's 4-byte total weight.
    head = tokens * (2 * E + 2 + V) * b + 8 * (2 * tokens + T) + 4
    return {"layers": layers, "head": head, "total": layers + head,
            "peak_extra": tokens * per_layer * b if checkpoint else 0}


def training_step_memory(config, batch_size: int, seq_len: int | None = None, optimizer: str = "adamw",
                         precision: str = "fp32", checkpoint: bool = False,
                         n_params: int | None = None) -> dict[str, int]:
    """The whole budget of one training step of a GPT of sizes ``config``, in bytes.

    ``config`` is anything with ``n_layer``, ``n_embd``, ``n_head``,
    ``vocab_size`` and ``block_size`` (a :class:`book.models.gpt.GPTConfig`);
    ``seq_len`` defaults to ``block_size``; ``n_params`` to the GPT-2 count
    :func:`book.counting.params.gpt2` (tied head, biases). Returns
    :func:`model_state_bytes`' entries, ``activations`` (stored),
    ``activations_peak_extra`` and ``total`` (everything, at the peak).
    """
    c = config
    seq_len = c.block_size if seq_len is None else seq_len
    if n_params is None:
        n_params = gpt2(c.vocab_size, c.n_embd, c.n_layer, c.block_size)
    out = model_state_bytes(n_params, optimizer, precision)
    states = out.pop("total")
    act = activation_bytes(c.n_layer, c.n_embd, c.n_head, c.vocab_size, batch_size, seq_len, precision, checkpoint)
    out["activations"] = act["total"]
    out["activations_peak_extra"] = act["peak_extra"]
    out["total"] = states + act["total"] + act["peak_extra"]
    return out


def chinchilla_tokens(n_params: float, tokens_per_parameter: float = 20.0) -> float:
    """Training tokens for a compute-optimal model of ``n_params`` parameters: about 20 per parameter.

    Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models"
    (arXiv:2203.15556), fitted loss against model size and data over some
    400 runs and found that, for a fixed compute budget, parameters and
    tokens should grow in equal proportion, at roughly 20 tokens per
    parameter (Chinchilla: 70 B parameters, 1.4 T tokens). It is a fit to
    their data and setting, not a law of nature; models meant to be served
    cheaply are trained on far more tokens. The compute for it is
    :func:`book.counting.flops.training_flops`; the size for a given
    compute is :func:`book.counting.flops.compute_optimal`.
    """
    return positive(n_params, "n_params", owner="chinchilla_tokens") * positive(
        tokens_per_parameter, "tokens_per_parameter", owner="chinchilla_tokens")


def _storage_key(t):
    s = t.untyped_storage()
    return s.data_ptr(), s.nbytes()


def measure_saved_bytes(fn, exclude=()):
    """Run ``fn()`` and count the bytes of the tensors autograd saves for the backward pass.

    Uses ``torch.autograd.graph.saved_tensors_hooks``; each storage is
    counted once (a view shares its base's memory), and the storages of the
    tensors in ``exclude`` (pass ``model.parameters()``: weights are saved by
    reference, they cost nothing extra) are left out. Returns ``(fn's result,
    bytes)``. The saved tensors are held until the result is freed or
    backpropagated, as in ordinary training.
    """
    import torch

    skip = {_storage_key(t) for t in exclude}
    seen: dict = {}

    def pack(t):
        key = _storage_key(t)
        if key not in skip:
            seen[key] = key[1]
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, int(sum(seen.values()))


def model_state_bytes_measured(model, optimizer=None) -> dict[str, int]:
    """What PyTorch holds for ``model``'s weights, gradients and ``optimizer``'s state, in bytes.

    ``sum(numel * element_size)`` over the parameters (a tied matrix once),
    their ``.grad`` where set, and every tensor in ``optimizer.state``.
    """
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    states = 0
    if optimizer is not None:
        for state in optimizer.state.values():
            states += sum(v.numel() * v.element_size() for v in state.values() if hasattr(v, "element_size"))
    return {"weights": weights, "gradients": grads, "optimizer": states, "total": weights + grads + states}


__all__ = ["BYTES", "OPTIMIZER_BUFFERS", "activation_bytes", "chinchilla_tokens", "layer_activation_values",
           "measure_saved_bytes", "model_state_bytes", "model_state_bytes_measured", "training_step_memory"]
