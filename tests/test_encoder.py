"""book.models.encoder: GPT's block without the causal mask, the encoder classifier and the bag of
embeddings; and book.data.sequence_tasks.first_last_task, the task they are compared on."""
import math

import numpy as np
import pytest
import torch

from book.data.sequence_tasks import first_last_task
from book.models.encoder import BagOfEmbeddings, EncoderBlock, EncoderClassifier, SelfAttention
from book.models.gpt import GPTConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py

CONFIG = GPTConfig(vocab_size=8, block_size=6, n_layer=2, n_head=4, n_embd=32)


def test_self_attention_is_softmax_attention_over_every_position():
    torch.manual_seed(0)
    attn = SelfAttention(CONFIG).eval()
    x = torch.randn(3, 5, 32)
    out, cache = attn(x)
    q, k, v = attn.qkv(x).split(32, dim=2)
    heads = [(q[..., h * 8:(h + 1) * 8], k[..., h * 8:(h + 1) * 8], v[..., h * 8:(h + 1) * 8]) for h in range(4)]
    y = torch.cat([torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(8), dim=-1) @ vh for qh, kh, vh in heads], dim=-1)
    assert cache is None
    assert torch.allclose(out, attn.proj(y), atol=1e-5)
    with pytest.raises(ValueError, match="cache"):
        attn(x, (x, x))


def test_the_first_position_sees_the_last_token():
    from book.models.gpt import Block

    x = torch.randn(1, 6, 32, generator=torch.Generator().manual_seed(0))
    changed = x.clone()
    changed[0, -1] = torch.randn(32, generator=torch.Generator().manual_seed(1))   # not a constant shift: LayerNorm removes those
    moved = {}
    for name, kind in (("encoder", EncoderBlock), ("causal", Block)):
        torch.manual_seed(0)
        block = kind(CONFIG).eval()
        with torch.no_grad():
            moved[name] = float((block(x)[0][0, 0] - block(changed)[0][0, 0]).abs().max())
    assert moved["causal"] == 0.0 and moved["encoder"] > 1e-4


def test_positions_break_permutation_invariance_and_the_bag_has_none():
    idx = torch.tensor([[1, 2, 3, 4, 5, 1], [0, 7, 6, 5, 4, 6]])
    shuffled = idx[:, [5, 3, 1, 0, 2, 4]]
    torch.manual_seed(0)
    with_positions = EncoderClassifier(CONFIG).eval()
    without = EncoderClassifier(CONFIG, positions=False).eval()
    bag = BagOfEmbeddings(8, 16).eval()
    with torch.no_grad():
        assert with_positions(idx).shape == (2, 2)
        assert not torch.allclose(with_positions(idx), with_positions(shuffled), atol=1e-4)
        assert torch.allclose(without(idx), without(shuffled), atol=1e-5)
        assert torch.allclose(bag(idx), bag(shuffled), atol=1e-6)


def test_the_encoder_learns_the_task_and_the_bag_does_not():
    x, y = (torch.from_numpy(a) for a in first_last_task(1600, length=6, vocab_size=8, seed=0))
    xt, yt = (torch.from_numpy(a) for a in first_last_task(1000, length=6, vocab_size=8, seed=1))
    accs = {}
    for name, make in (("encoder", lambda: EncoderClassifier(CONFIG)), ("bag", lambda: BagOfEmbeddings(8, 32))):
        torch.manual_seed(0)
        model = make()
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
        draws = torch.Generator().manual_seed(0)
        for _ in range(300):
            rows = torch.randint(len(x), (64,), generator=draws)
            loss = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accs[name] = float((model.eval()(xt).argmax(1) == yt).float().mean())
    assert accs["encoder"] > 0.9
    assert abs(accs["bag"] - 0.5) < 0.07


def test_first_last_task():
    tokens, labels = first_last_task(2000, length=7, vocab_size=10, seed=3)
    assert tokens.shape == (2000, 7) and labels.shape == (2000,) and tokens.dtype == labels.dtype == np.int64
    assert np.array_equal(labels, (tokens[:, 0] == tokens[:, -1]).astype(np.int64))
    assert abs(labels.mean() - 0.5) < 0.05
    assert tokens.min() >= 0 and tokens.max() < 10
    # every row: six distinct tokens, the last one a repeat, whatever the label (the same bag either way)
    assert all(len(set(row[:-1])) == 6 and row[-1] in row[:-1] for row in tokens.tolist())
    counts = [np.bincount(tokens[labels == c].ravel(), minlength=10) / (labels == c).sum() for c in (0, 1)]
    assert np.abs(counts[0] - counts[1]).max() < 0.1
    again, _ = first_last_task(2000, length=7, vocab_size=10, seed=3)
    assert np.array_equal(tokens, again)


def test_bad_arguments():
    with pytest.raises(ValueError, match="length"):
        first_last_task(5, length=2)
    with pytest.raises(ValueError, match="vocab_size"):
        first_last_task(5, length=8, vocab_size=6)
    with pytest.raises(ValueError, match="GPTConfig"):
        EncoderClassifier(dict(vocab_size=8))
    with pytest.raises(ValueError, match="block_size"):
        EncoderClassifier(CONFIG)(torch.zeros(1, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="indices"):
        BagOfEmbeddings(8, 16)(torch.full((1, 3), 8))
    with pytest.raises(ValueError, match="n_classes"):
        BagOfEmbeddings(8, 16, n_classes=0)
