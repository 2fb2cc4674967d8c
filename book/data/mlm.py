"""BERT's masked-language-model corruption (Devlin et al., 2019), on torch tensors.

:func:`mask_tokens` selects each ordinary token with probability
``mlm_probability`` (15 % in BERT) to be predicted. Of the selected tokens,
80 % are replaced by ``[MASK]``, 10 % by a token drawn uniformly from the
whole vocabulary, and 10 % are left as they were; the model must recover the
original at every selected position, and only there (the other labels are
``-100``, the ``ignore_index`` of ``torch.nn.functional.cross_entropy``).
Keeping and randomising some selected tokens means the model cannot learn
that only ``[MASK]`` positions matter, since ``[MASK]`` never appears when
the model is fine-tuned. A random draw can land on the original token itself
(probability ``1 / vocab_size``), as in BERT's own code.

torch is imported here.
"""
from __future__ import annotations

from typing import Iterable

import torch

from book.checks import non_negative_int, positive_int, real

IGNORE_INDEX = -100


def mask_tokens(input_ids: torch.Tensor, *, vocab_size: int, mask_token_id: int, special_ids: Iterable[int] = (),
                mlm_probability: float = 0.15, generator: torch.Generator | None = None):
    """Corrupt ``input_ids`` (any shape, integer) for masked-language-model training.

    Tokens whose id is in ``special_ids`` (``[CLS]``, ``[SEP]``, ``[PAD]``…)
    are never selected. Returns ``(corrupted, labels)``, both shaped like
    ``input_ids``: ``labels`` holds the original id at selected positions and
    ``-100`` elsewhere. The input is not modified. Random numbers come from
    ``generator`` (on its own device, then moved to the input's), so a seeded
    generator gives the same corruption on every device.
    """
    owner = "mask_tokens"
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{owner} expects input_ids as an integer tensor, got {type(input_ids).__name__}"
                         + (f" of dtype {input_ids.dtype}" if isinstance(input_ids, torch.Tensor) else ""))
    vocab_size = positive_int(vocab_size, "vocab_size", owner=owner)
    mask_token_id = non_negative_int(mask_token_id, "mask_token_id", owner=owner)
    special_ids = [non_negative_int(i, "special_ids", owner=owner) for i in special_ids]
    if max([mask_token_id, *special_ids]) >= vocab_size:
        raise ValueError(f"{owner}: mask_token_id and special_ids must be < vocab_size={vocab_size}")
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab_size):
        raise ValueError(f"{owner}: input_ids must lie in [0, {vocab_size})")
    p = real(mlm_probability, "mlm_probability", 0.0, 1.0, low_open=True, owner=owner)

    device = generator.device if generator is not None else input_ids.device
    ids = input_ids.to(device)
    special = torch.isin(ids, torch.tensor(special_ids, dtype=ids.dtype, device=device))
    draws = torch.rand((3, *ids.shape), generator=generator, device=device)
    selected = (draws[0] < p) & ~special
    to_mask = selected & (draws[1] < 0.8)                    # 80 % of the selected
    to_random = selected & ~to_mask & (draws[2] < 0.5)       # half of the other 20 %: 10 %
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator, device=device, dtype=ids.dtype)

    corrupted = torch.where(to_mask, torch.full_like(ids, mask_token_id), ids)
    corrupted = torch.where(to_random, random_ids, corrupted)  # the last 10 % keep their token
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE_INDEX))
    return corrupted.to(input_ids.device), labels.to(input_ids.device)


__all__ = ["IGNORE_INDEX", "mask_tokens"]
