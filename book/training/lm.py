"""A short training run of a next-token language model, and its validation loss (chapters 7 and 11).

:func:`train_lm` trains a :class:`book.models.gpt.GPT` (or any model whose
``forward(idx, targets)`` returns an object with a ``.loss``, or whose
``forward(idx)`` returns the logits first, as chapter 6's LSTM does) on random
windows of a training set with AdamW, a linear warm-up and a cosine decay
(:func:`book.training.schedules.warmup_cosine`); :func:`validation_loss`
gives the mean cross-entropy in nats per token over a whole validation set.
"""
from __future__ import annotations

import inspect
import sys
import time

import torch

from book.checks import non_negative, non_negative_int, positive, positive_int, real
from book.models.rnn import next_token_loss
from book.training.schedules import warmup_cosine


def _windows(x, y, owner: str):
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and x.ndim == 2 and x.shape == y.shape
            and x.dtype == torch.long and y.dtype == torch.long and len(x) > 0):
        raise ValueError(f"{owner}: x and y must be LongTensors of token ids of the same shape (N, T), N >= 1")


def train_lm(model, x, y, steps: int, batch_size: int = 16, lr: float = 3e-3, warmup: int = 20,
             weight_decay: float = 0.0, seed: int = 0, desc: str | None = None, *, clip: float | None = None,
             final_lr_fraction: float = 0.0, max_seconds: float | None = None,
             threads: int | None = None) -> list[float]:
    """Train a causal language model on windows ``x`` (inputs) and ``y`` (targets); returns the losses.

    Each step draws ``batch_size`` random rows (a generator seeded with
    ``seed``) and takes one AdamW step at rate ``lr`` times
    ``f + (1 - f) * warmup_cosine(step, warmup, steps)`` with
    ``f = final_lr_fraction``: a linear warm-up, then a cosine decay to
    ``f * lr``. ``clip`` caps the gradient's global norm. The loss is
    ``model(x, y).loss`` for a model whose ``forward`` takes ``targets``
    (:class:`book.models.gpt.GPT`), and :func:`book.models.rnn.next_token_loss`
    of the logits that ``model(x)`` returns first otherwise
    (:class:`book.models.rnn.CharLSTM`).
    ``max_seconds`` stops the run early when that much wall time has passed
    (the schedule stays laid out over ``steps``; the returned list is then
    shorter). ``threads`` sets torch's CPU threads for the run and restores
    them after. The model is moved to nothing: the batches go to the device
    of its first parameter. A tqdm bar on stderr when ``desc`` is given. The
    model is left in eval mode.
    """
    owner = "train_lm"
    _windows(x, y, owner)
    steps = positive_int(steps, "steps", owner=owner)
    batch_size = positive_int(batch_size, "batch_size", owner=owner)
    lr = positive(lr, "lr", owner=owner)
    warmup = non_negative_int(warmup, "warmup", owner=owner)
    if warmup >= steps:
        raise ValueError(f"{owner}: warmup ({warmup}) must be smaller than steps ({steps})")
    weight_decay = non_negative(weight_decay, "weight_decay", owner=owner)
    seed = non_negative_int(seed, "seed", owner=owner)
    clip = None if clip is None else positive(clip, "clip", owner=owner)
    floor = real(final_lr_fraction, "final_lr_fraction", 0.0, 1.0, owner=owner)
    max_seconds = None if max_seconds is None else positive(max_seconds, "max_seconds", owner=owner)
    threads = None if threads is None else positive_int(threads, "threads", owner=owner)
    targets_in_forward = "targets" in inspect.signature(model.forward).parameters
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: floor + (1.0 - floor) * warmup_cosine(s, warmup, steps))
    draws = torch.Generator().manual_seed(seed)
    rows = range(steps)
    if desc is not None:
        from tqdm.std import tqdm

        rows = tqdm(rows, desc=desc, file=sys.stderr, leave=False, mininterval=5.0)
    saved_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    model.train()
    losses = []
    start = time.perf_counter()
    try:
        for _ in rows:
            i = torch.randint(len(x), (batch_size,), generator=draws)
            xb, yb = x[i].to(device), y[i].to(device)
            if targets_in_forward:
                loss = model(xb, yb).loss
            else:
                loss = next_token_loss(model(xb)[0], yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
    finally:
        if desc is not None:
            rows.close()
        torch.set_num_threads(saved_threads)
    model.eval()
    return losses


@torch.no_grad()
def validation_loss(model, x, y, batch_size: int = 256) -> float:
    """Mean cross-entropy, in nats per token, of ``model`` on all windows ``x``, ``y`` (eval mode, no gradients)."""
    owner = "validation_loss"
    _windows(x, y, owner)
    batch_size = positive_int(batch_size, "batch_size", owner=owner)
    device = next(model.parameters(), torch.empty(0)).device
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
        total += float(model(xb, yb).loss) * len(xb)
    model.train(was_training)
    return total / len(x)


__all__ = ["train_lm", "validation_loss"]
