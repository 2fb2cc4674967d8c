"""The source articles' example networks, rebuilt as they meant them, so that
chapters 1 and 3 can count their parameters in the frameworks themselves.

Listing numbers (L05, L06, ...) refer to the errata appendix. Each builder
makes a freshly initialised model; nothing is trained or downloaded here.
BERT-base and GPT-2 small are built on torch's ``meta`` device: shapes only,
twice: from ``torch.nn`` parts (:func:`torch_bert_base`, :func:`torch_gpt2_small`)
and as Hugging Face ``transformers`` defines them (:func:`hf_bert_base`,
:func:`hf_gpt2_small`; these need ``transformers``). Count with
:func:`book.counting.params.count_parameters`.
"""
from __future__ import annotations


def keras_cnn_32(num_classes: int = 32):
    """L05: three 3x3 convolutions with two max-pools on 32x32x3 images (chapter 5's plan)."""
    from book.models.cnn import keras_cnn, seed_cnn_plan

    return keras_cnn(seed_cnn_plan(num_classes), (3, 32, 32))


def keras_cnn_28():
    """L06: the same pattern on 28x28x1 images with a 10-way output."""
    from book.models.cnn import keras_cnn, seed_cnn_plan

    return keras_cnn(seed_cnn_plan(10), (1, 28, 28))


def keras_lstm_classifier():
    """L07: embedding, two stacked LSTMs of 256 units and a dense head, with one
    sigmoid output (the seed's one-unit softmax is the bug chapter 6 fixes)."""
    from book.models.rnn import keras_sequence_classifier

    return keras_sequence_classifier(units=256)


def torch_lstm_classifier():
    """L07's layers in PyTorch (embedding, two stacked LSTMs, dense head), for
    counting only: ``nn.LSTM`` returns a tuple, so this is a ``ModuleList``,
    not a runnable ``Sequential``."""
    from torch import nn

    return nn.ModuleList([
        nn.Embedding(10000, 128),
        nn.LSTM(128, 256, num_layers=2, batch_first=True),
        nn.Linear(256, 100), nn.Linear(100, 1),
    ])


def keras_mlp_784():
    """L11: 784-64-64-10."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input((784,)),
        layers.Dense(64, activation="relu"), layers.Dense(64, activation="relu"), layers.Dense(10),
    ])


def torch_mlp_784():
    """L08: 784-128-64-10, flattening its input first."""
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def torch_cnn_28():
    """L06 in PyTorch, to show the count does not depend on the framework."""
    from book.models.cnn import seed_cnn_plan, torch_cnn

    return torch_cnn(seed_cnn_plan(10), (1, 28, 28))


def torch_encoder(vocab, d_model, layers, d_ff, heads, positions, token_types=0, pooler=False, pre_norm=False, final_norm=False):
    """A Transformer encoder from ``torch.nn`` parts with BERT's or GPT-2's
    layout, built on the ``meta`` device: shapes only, no memory, no download."""
    import torch
    from torch import nn

    with torch.device("meta"):
        parts = [nn.Embedding(vocab, d_model), nn.Embedding(positions, d_model)]
        if token_types:
            parts += [nn.Embedding(token_types, d_model), nn.LayerNorm(d_model)]
        block = nn.TransformerEncoderLayer(d_model, heads, d_ff, norm_first=pre_norm, batch_first=True)
        parts.append(nn.TransformerEncoder(block, layers, enable_nested_tensor=False))
        if final_norm:
            parts.append(nn.LayerNorm(d_model))
        if pooler:
            parts.append(nn.Linear(d_model, d_model))
        return nn.ModuleList(parts)


def torch_bert_base():
    """BERT-base's shapes: 12 layers, width 768, 12 heads, FFN 3072."""
    return torch_encoder(30522, 768, 12, 3072, 12, 512, token_types=2, pooler=True)


def torch_gpt2_small():
    """GPT-2 small's shapes (pre-norm blocks, tied output layer)."""
    return torch_encoder(50257, 768, 12, 3072, 12, 1024, pre_norm=True, final_norm=True)


def hf_bert_base():
    """Hugging Face ``transformers``' ``BertModel(BertConfig())``: BERT-base as
    the library defines it, random weights on the ``meta`` device (nothing is
    downloaded, no memory is allocated). Needs ``transformers``."""
    import torch
    from transformers import BertConfig, BertModel

    with torch.device("meta"):
        return BertModel(BertConfig())


def hf_gpt2_small():
    """``transformers``' ``GPT2Model(GPT2Config())``: GPT-2 small without the
    language-model head (whose weight is the tied token embedding), on the
    ``meta`` device. Needs ``transformers``."""
    import torch
    from transformers import GPT2Config, GPT2Model

    with torch.device("meta"):
        return GPT2Model(GPT2Config())
