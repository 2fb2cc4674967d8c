"""Transfer learning (迁移学习) on the digits, offline: pretrain a small CNN, then reuse it.

The *source* task stands in for a large pretraining set: clean 8x8 digits. The
*target* task is the same ten classes seen through Gaussian pixel noise, with
only a few labelled images per class. Three ways to learn the target:

* ``"scratch"``: a new network, every weight random, trained on the few labels;
* ``"frozen"``: the pretrained backbone frozen (``requires_grad_(False)``, eval
  mode), a new linear head trained alone (feature extraction, 特征提取);
* ``"finetune"``: the pretrained backbone and a new head both trained, with a
  small learning rate on the backbone and a large one on the head (two
  parameter groups: discriminative learning rates).

Everything trains full-batch with Adam for a fixed number of steps; a model
has a ``backbone`` (conv 32, conv 64, dense 64) and a ``head`` (dense 10).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from book.checks import non_negative_int, one_of, positive, positive_int, real

ARMS = ("scratch", "frozen", "finetune")
FEATURES = 64


class TransferData(NamedTuple):
    """Source images and labels (clean), target images (noisy) and labels; images ``(N, 1, 8, 8)`` float32."""

    X_source: torch.Tensor
    y_source: torch.Tensor
    X_target: torch.Tensor
    y_target: torch.Tensor


def digits_transfer_data(n_source: int = 900, noise: float = 0.2, source_classes=None, seed: int = 0) -> TransferData:
    """Shuffle scikit-learn's 1,797 digits with ``seed``; the first ``n_source`` are the source set,
    the rest, plus Gaussian noise of standard deviation ``noise``, the target set.

    Pixels are scaled to [0, 1] before the noise is added. With ``source_classes`` (e.g. ``range(5)``)
    the source keeps only those classes and the target only the others, relabelled from 0
    (a shift of task, not of pixels: set ``noise=0`` to isolate it).
    """
    from sklearn.datasets import load_digits

    owner = "digits_transfer_data"
    n_source = positive_int(n_source, "n_source", owner=owner)
    if n_source >= 1797:
        raise ValueError(f"{owner}: n_source must be below 1797 (the number of digits), got {n_source}")
    noise = real(noise, "noise", 0.0, 10.0, owner=owner)
    rng = np.random.default_rng(non_negative_int(seed, "seed", owner=owner))
    digits = load_digits()
    order = rng.permutation(len(digits.target))
    X = (digits.images[order] / 16.0).astype(np.float32)[:, None]
    y = digits.target[order].astype(np.int64)
    Xs, ys, Xt, yt = X[:n_source], y[:n_source], X[n_source:], y[n_source:]
    if source_classes is not None:
        keep = np.array(sorted({int(c) for c in source_classes}))
        if keep.size == 0 or keep.min() < 0 or keep.max() > 9 or keep.size == 10:
            raise ValueError(f"{owner}: source_classes must be a proper subset of 0..9, got {source_classes!r}")
        rest = np.setdiff1d(np.arange(10), keep)
        Xs, ys = Xs[np.isin(ys, keep)], np.searchsorted(keep, ys[np.isin(ys, keep)])
        Xt, yt = Xt[np.isin(yt, rest)], np.searchsorted(rest, yt[np.isin(yt, rest)])
    Xt = Xt + noise * rng.standard_normal(Xt.shape).astype(np.float32)
    t = torch.as_tensor
    return TransferData(t(Xs), t(ys), t(Xt), t(yt))


def few_labels(labels: torch.Tensor, per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of ``per_class`` labelled examples of every class (drawn with ``seed``) and of all the others.

    Returns ``(labelled, rest)``: the few-shot training set and the evaluation pool.
    """
    owner = "few_labels"
    per_class = positive_int(per_class, "per_class", owner=owner)
    g = torch.Generator().manual_seed(non_negative_int(seed, "seed", owner=owner))
    order = torch.randperm(len(labels), generator=g)
    chosen = []
    for c in torch.unique(labels).tolist():
        members = order[labels[order] == c]
        if len(members) <= per_class:
            raise ValueError(f"{owner}: class {c} has {len(members)} examples, not more than per_class={per_class}")
        chosen.append(members[:per_class])
    labelled = torch.sort(torch.cat(chosen)).values
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[labelled] = False
    return labelled, torch.nonzero(mask).squeeze(1)


class DigitsNet(nn.Module):
    """``backbone`` (conv 32, pool, conv 64, pool, dense 64, all ReLU) then ``head`` (dense ``num_classes``).

    Input ``(N, 1, 8, 8)``; returns logits ``(N, num_classes)``. ``seed`` makes the weights repeatable
    without touching torch's global random state.
    """

    def __init__(self, num_classes: int = 10, seed: int | None = None):
        super().__init__()
        num_classes = positive_int(num_classes, "num_classes", owner="DigitsNet")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(non_negative_int(seed, "seed", owner="DigitsNet"))
            self.backbone = nn.Sequential(
                nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Flatten(), nn.Linear(64 * 2 * 2, FEATURES), nn.ReLU())
            self.head = nn.Linear(FEATURES, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"DigitsNet: input must have shape (N, 1, 8, 8), got {tuple(x.shape)}")
        return self.head(self.backbone(x))


def train_full_batch(model: nn.Module, optimizer: torch.optim.Optimizer, X: torch.Tensor, y: torch.Tensor,
                     steps: int) -> list[float]:
    """``steps`` Adam (or any optimizer) steps of cross-entropy on the whole of ``(X, y)``; returns the losses.

    The model is put in training mode first, except a frozen ``backbone`` (no parameter requiring
    gradients), which stays in eval mode so that layers such as BatchNorm or dropout would not change it.
    """
    steps = positive_int(steps, "steps", owner="train_full_batch")
    model.train()
    backbone = getattr(model, "backbone", None)
    if backbone is not None and not any(p.requires_grad for p in backbone.parameters()):
        backbone.eval()
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of ``X`` classified as ``y``, in eval mode."""
    model.eval()
    return (model(X).argmax(1) == y).float().mean().item()


def pretrain(X: torch.Tensor, y: torch.Tensor, num_classes: int = 10, epochs: int = 15, batch_size: int = 64,
             lr: float = 3e-3, seed: int = 0) -> DigitsNet:
    """A :class:`DigitsNet` trained on the source set with Adam in shuffled mini-batches; returned in eval mode."""
    owner = "pretrain"
    epochs = positive_int(epochs, "epochs", owner=owner)
    batch_size = positive_int(batch_size, "batch_size", owner=owner)
    model = DigitsNet(num_classes, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=positive(lr, "lr", owner=owner))
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=g).split(batch_size):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X[idx]), y[idx]).backward()
            optimizer.step()
    return model.eval()


def make_arm(arm: str, pretrained: DigitsNet | None, num_classes: int = 10, seed: int = 0,
             lr_head: float = 1e-2, lr_backbone: float = 1e-4, lr_scratch: float = 3e-3):
    """The model and optimizer of one arm (see the module docstring); returns ``(model, optimizer)``.

    ``"frozen"`` and ``"finetune"`` copy ``pretrained``'s backbone and give it a new random head
    of ``num_classes`` (seeded by ``seed``); ``"frozen"``'s optimizer holds the head's parameters only.
    """
    owner = "make_arm"
    arm = one_of(arm, ARMS, "arm", owner=owner)
    model = DigitsNet(num_classes, seed=seed)
    if arm == "scratch":
        return model, torch.optim.Adam(model.parameters(), lr=positive(lr_scratch, "lr_scratch", owner=owner))
    if not isinstance(pretrained, DigitsNet):
        raise ValueError(f"{owner}: arm {arm!r} needs a pretrained DigitsNet, got {type(pretrained).__name__}")
    model.backbone.load_state_dict(pretrained.backbone.state_dict())
    if arm == "frozen":
        model.backbone.requires_grad_(False)
        return model, torch.optim.Adam(model.head.parameters(), lr=positive(lr_head, "lr_head", owner=owner))
    groups = [{"params": model.backbone.parameters(), "lr": positive(lr_backbone, "lr_backbone", owner=owner)},
              {"params": model.head.parameters(), "lr": positive(lr_head, "lr_head", owner=owner)}]
    return model, torch.optim.Adam(groups)


def run_arm(arm: str, data: TransferData, pretrained: DigitsNet | None, per_class: int, seed: int,
            steps: int = 100, **lrs) -> float:
    """Train one arm on ``per_class`` labelled target images (drawn with ``seed``) and return its
    accuracy on every other target image."""
    labelled, rest = few_labels(data.y_target, per_class, seed=seed)
    num_classes = int(data.y_target.max()) + 1
    model, optimizer = make_arm(arm, pretrained, num_classes=num_classes, seed=seed, **lrs)
    train_full_batch(model, optimizer, data.X_target[labelled], data.y_target[labelled], steps)
    return accuracy(model, data.X_target[rest], data.y_target[rest])


def bert_classifier(model_dir, pretrained: bool = True, num_labels: int = 2, seed: int = 0,
                    freeze_word_embeddings: bool = True):
    """A ``BertForSequenceClassification`` from the local folder ``model_dir`` (offline): the pretrained
    weights with a new random head of ``num_labels`` classes, or, with ``pretrained=False``, the same
    architecture (read from the folder's ``config.json``) with every weight random.

    Seeds torch's global generator with ``seed`` first, so the new head (or the whole random model)
    and the dropout masks of the training that follows repeat. With ``freeze_word_embeddings`` the
    word-embedding table gets ``requires_grad_(False)`` (half of MiniLM's weights; saves CPU time).
    """
    from transformers import BertConfig, BertForSequenceClassification

    owner = "bert_classifier"
    num_labels = positive_int(num_labels, "num_labels", owner=owner)
    torch.manual_seed(non_negative_int(seed, "seed", owner=owner))
    if pretrained:
        model = BertForSequenceClassification.from_pretrained(model_dir, num_labels=num_labels,
                                                              local_files_only=True)
    else:
        model = BertForSequenceClassification(BertConfig.from_pretrained(model_dir, num_labels=num_labels))
    if freeze_word_embeddings:
        model.bert.embeddings.word_embeddings.requires_grad_(False)
    return model


def finetune_sequence_classifier(model, encoded: dict, labels: torch.Tensor, epochs: int = 1, batch_size: int = 16,
                                 lr: float = 5e-5, weight_decay: float = 0.01, warmup_fraction: float = 0.1,
                                 clip: float = 1.0, seed: int = 0) -> list[float]:
    """Fine-tune a Hugging Face sequence classifier (e.g. ``BertForSequenceClassification``) the standard way.

    ``encoded`` is a tokenizer's output (``input_ids``, ``attention_mask``, padded to one length);
    ``labels`` a LongTensor of class indices. AdamW on the parameters that require gradients,
    weight decay ``weight_decay``, linear warm-up over ``warmup_fraction`` of the steps then cosine
    decay (:func:`book.training.schedules.warmup_cosine`), gradient norm clipped at ``clip``,
    shuffled mini-batches drawn with ``seed``. The model trains in training mode (dropout on) and is
    returned to eval mode. Returns the loss of every step.
    """
    from book.training.schedules import warmup_cosine

    owner = "finetune_sequence_classifier"
    epochs = positive_int(epochs, "epochs", owner=owner)
    batch_size = positive_int(batch_size, "batch_size", owner=owner)
    if "input_ids" not in encoded or "attention_mask" not in encoded:
        raise ValueError(f"{owner}: encoded must hold 'input_ids' and 'attention_mask', as a tokenizer returns")
    if encoded["input_ids"].shape[0] != len(labels):
        raise ValueError(f"{owner}: labels must have one entry per sentence ({encoded['input_ids'].shape[0]}), "
                         f"got {len(labels)}")
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=positive(lr, "lr", owner=owner), weight_decay=weight_decay)
    total = epochs * -(-len(labels) // batch_size)
    warmup = int(real(warmup_fraction, "warmup_fraction", 0.0, 1.0, high_open=True, owner=owner) * total)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: warmup_cosine(t, warmup, total))
    g = torch.Generator().manual_seed(non_negative_int(seed, "seed", owner=owner))
    model.train()
    losses = []
    for _ in range(epochs):
        for idx in torch.randperm(len(labels), generator=g).split(batch_size):
            outputs = model(input_ids=encoded["input_ids"][idx], attention_mask=encoded["attention_mask"][idx])
            loss = nn.functional.cross_entropy(outputs.logits, labels[idx])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, positive(clip, "clip", owner=owner))
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def classifier_accuracy(model, encoded: dict, labels: torch.Tensor) -> float:
    """Accuracy of a Hugging Face sequence classifier on tokenized sentences, in eval mode."""
    model.eval()
    logits = model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).logits
    return (logits.argmax(-1) == labels).float().mean().item()


__all__ = ["ARMS", "DigitsNet", "TransferData", "accuracy", "bert_classifier", "classifier_accuracy",
           "digits_transfer_data", "few_labels", "finetune_sequence_classifier", "make_arm", "pretrain", "run_arm",
           "train_full_batch"]
