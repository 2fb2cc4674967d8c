"""The book's one PyTorch training loop, :func:`fit`, and its :func:`evaluate`.

Batches come from anything that yields ``(x, y)`` pairs once per pass: a
``torch.utils.data.DataLoader`` or a :class:`book.data.TensorBatches`. Each
epoch is a call of :func:`book.training.train_loop`, so every run has the same
progress bar and the same early-stopping hook.
"""
from __future__ import annotations

import math

from book.checks import positive
from book.training.callbacks import EarlyStopping
from book.training.loop import train_loop


def _cross_entropy(logits, y):
    import torch.nn.functional as F

    return F.cross_entropy(logits, y)


def evaluate(model, batches, loss_fn=None, device=None) -> dict[str, float]:
    """Mean loss and accuracy of a classifier over ``batches``, in eval mode, without gradients.

    ``loss_fn`` defaults to cross-entropy and must average over its batch; the
    mean is weighted by batch size. The model's training mode is restored
    afterwards.
    """
    import torch

    loss_fn = _cross_entropy if loss_fn is None else loss_fn
    device = next(model.parameters()).device if device is None else device
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with torch.no_grad():
        for xb, yb in batches:
            xb, yb = xb.to(device), yb.to(device)
            logits = model(xb)
            total_loss += float(loss_fn(logits, yb)) * len(yb)
            correct += int((logits.argmax(dim=1) == yb).sum())
            count += len(yb)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got no batches")
    return {"loss": total_loss / count, "acc": correct / count}


def fit(
    model,
    train,
    optimizer,
    epochs: int,
    loss_fn=None,
    val=None,
    train_eval=None,
    device=None,
    max_grad_norm: float | None = None,
    record_grad_norm: bool = False,
    scheduler=None,
    early_stopping: EarlyStopping | None = None,
    stop_early: bool = False,
    desc: str = "training",
    progress: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` on the ``(x, y)`` batches of ``train`` for ``epochs`` passes.

    The history holds, per epoch:

    * ``loss``: the mean training loss over the epoch's mini-batches (the model
      changes during the epoch, so this is a running figure);
    * ``train_loss``, ``train_acc``: with ``train_eval`` (batches of the
      training set, for example the whole set as one batch), measured after
      the epoch in eval mode, so dropout is off and they compare with
      validation;
    * ``val_loss``, ``val_acc``: with ``val``, measured the same way;
    * ``grad_norm``: with ``max_grad_norm`` or ``record_grad_norm``, the
      largest total gradient norm of the epoch, before clipping;
    * ``lr``: with ``scheduler``, the learning rate of the epoch's last step.

    ``loss_fn`` defaults to cross-entropy. ``device`` defaults to where the
    model's parameters are; batches are moved there. With ``max_grad_norm``
    gradients are clipped to that total norm every step. ``scheduler`` (a
    ``torch.optim.lr_scheduler`` object built on ``optimizer``) is stepped
    after every optimizer step, so its schedule counts steps, not epochs.
    ``early_stopping``
    is fed the validation loss (and the model, to keep its best weights) every
    epoch; training ends early only if ``stop_early`` is true, so a caller can
    still draw the whole curve. The progress bar goes to standard error.
    """
    import torch

    from book.training.diagnostics import total_grad_norm

    if early_stopping is not None and val is None:
        raise ValueError("fit: early stopping needs validation batches (val=...)")
    if max_grad_norm is not None:
        max_grad_norm = positive(max_grad_norm, "max_grad_norm", owner="fit")
    loss_fn = _cross_entropy if loss_fn is None else loss_fn
    if device is None:
        device = next(model.parameters()).device
    model.to(device)
    track_norm = max_grad_norm is not None or record_grad_norm

    def step(_epoch):
        model.train()
        total, count, largest = 0.0, 0, 0.0
        for xb, yb in train:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            if max_grad_norm is not None:
                norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm))
            elif record_grad_norm:
                norm = total_grad_norm(model.parameters())
            if track_norm:
                largest = math.nan if math.isnan(norm) or math.isnan(largest) else max(largest, norm)
            if scheduler is not None:
                lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(yb)
            count += len(yb)
        metrics = {"loss": total / count}
        if train_eval is not None:
            scores = evaluate(model, train_eval, loss_fn, device)
            metrics.update(train_loss=scores["loss"], train_acc=scores["acc"])
        if track_norm:
            metrics["grad_norm"] = largest
        if scheduler is not None:
            metrics["lr"] = lr
        if val is not None:
            scores = evaluate(model, val, loss_fn, device)
            metrics.update(val_loss=scores["loss"], val_acc=scores["acc"])
            if early_stopping is not None:
                early_stopping.step(metrics["val_loss"], model)
        return metrics

    def stop():
        return stop_early and early_stopping is not None and early_stopping.should_stop

    return train_loop(step, epochs, desc=desc, progress=progress, stop=stop)
