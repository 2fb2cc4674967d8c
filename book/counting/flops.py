"""Training compute: the rule of thumb C ~ 6 N T, PyTorch's own FLOP count of a
training step, accelerator-hours for a FLOP budget, and the compute-optimal
model size for a budget.
"""
from __future__ import annotations

import math

from book.checks import positive, real


def training_flops(n_params: float, n_tokens: float) -> float:
    """The rule of thumb C ~ 6 N T: about 2 FLOPs per parameter per token for
    the forward pass and 4 for the backward pass (Kaplan et al., 2020)."""
    return 6.0 * positive(n_params, "n_params") * positive(n_tokens, "n_tokens")


def gpu_hours(flops: float, peak_flops_per_s: float, utilization: float) -> float:
    """Accelerator-hours needed for ``flops`` at a fraction ``utilization`` of peak."""
    utilization = real(utilization, "utilization", 0.0, 1.0, low_open=True)
    flops, peak_flops_per_s = positive(flops, "flops"), positive(peak_flops_per_s, "peak_flops_per_s")
    return flops / (peak_flops_per_s * utilization) / 3600.0


def compute_optimal(flops: float, tokens_per_parameter: float = 20.0) -> tuple[float, float]:
    """Model size N and training tokens T that spend ``flops`` with T = r N.

    From C = 6 N T and T = r N: N = sqrt(C / (6 r)). ``r = 20`` is the
    compute-optimal ratio Hoffmann et al. (2022) found for their setting.
    """
    flops = positive(flops, "flops")
    tokens_per_parameter = positive(tokens_per_parameter, "tokens_per_parameter")
    n = math.sqrt(flops / (6.0 * tokens_per_parameter))
    return n, tokens_per_parameter * n


def measured_training_flops(model, inputs) -> tuple[int, int]:
    """(forward, backward) FLOPs of one training step, counted by PyTorch.

    Uses ``torch.utils.flop_counter.FlopCounterMode``, which counts matrix
    multiplications and convolutions (2 FLOPs per multiply-add) but not
    element-wise work such as bias additions or activations. The loss is the
    sum of the outputs; parameter gradients are cleared afterwards.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        loss = model(inputs).sum()
    forward = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        loss.backward()
    backward = counter.get_total_flops()
    model.zero_grad(set_to_none=True)
    return forward, backward
