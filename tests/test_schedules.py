"""book.training.schedules: the warm-up and cosine multiplier, alone and inside torch's LambdaLR."""
import math

import numpy as np
import pytest
import torch

from book.training.schedules import warmup_cosine


def test_warmup_rises_linearly_then_cosine_falls_to_zero():
    s = [warmup_cosine(t, 4, 12) for t in range(14)]
    assert s[:4] == [0.25, 0.5, 0.75, 1.0]
    assert s[4] == 1.0 and s[12] == 0.0 and s[13] == 0.0
    assert math.isclose(s[8], 0.5, rel_tol=0, abs_tol=1e-15)          # half-way through the decay
    assert all(a >= b for a, b in zip(s[4:], s[5:]))                 # never rises after the warm-up
    assert warmup_cosine(0, 0, 10) == 1.0                             # no warm-up: pure cosine


def test_warmup_cosine_drives_lambdalr_step_by_step():
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=0.2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: warmup_cosine(t, 3, 10))
    seen = []
    for _ in range(10):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert np.allclose(seen, [0.2 * warmup_cosine(t, 3, 10) for t in range(10)], rtol=1e-15)


@pytest.mark.parametrize("args", [(-1, 2, 10), (0, -1, 10), (0, 2, 0), (0, 10, 10), (1.5, 2, 10), (True, 2, 10)])
def test_warmup_cosine_rejects_bad_arguments(args):
    with pytest.raises(ValueError, match="warmup_cosine"):
        warmup_cosine(*args)
