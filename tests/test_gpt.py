"""Tests of book.models.gpt: causality, the key-value cache, the loss at initialisation,
overfitting a short string, and the parameter count by formula."""
import math
import time

import pytest
import torch

from book.models.gpt import GPT, GPTConfig, gpt_parameters


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def tiny(seed: int = 0, **overrides) -> GPT:
    config = dict(vocab_size=23, block_size=32, n_layer=2, n_head=4, n_embd=32)
    config.update(overrides)
    torch.manual_seed(seed)
    return GPT(GPTConfig(**config)).eval()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_causality_changing_token_t_leaves_earlier_logits_unchanged():
    model = tiny()
    idx = torch.randint(0, 23, (3, 20), generator=gen(0))
    with torch.no_grad():
        before = model(idx).logits
        for t in (0, 7, 19):
            changed = idx.clone()
            changed[:, t] = (changed[:, t] + 1) % 23
            after = model(changed).logits
            assert torch.allclose(after[:, :t], before[:, :t], atol=1e-6, rtol=0)
            assert (after[:, t:] - before[:, t:]).abs().amax() > 1e-3  # and it does change the rest


def test_cached_forward_equals_full_forward_in_any_chunks():
    model = tiny(1)
    idx = torch.randint(0, 23, (2, 25), generator=gen(1))
    with torch.no_grad():
        full = model(idx).logits
        pieces, past = [], None
        for a, b in [(0, 6), (6, 7), (7, 15), (15, 25)]:  # a prompt, one token, then chunks (the masked path)
            out = model(idx[:, a:b], past=past, use_cache=True)
            pieces.append(out.logits)
            past = out.past
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=0)
    assert len(past) == 2 and past[0][0].shape == (2, 4, 25, 8)


@pytest.mark.parametrize("sampling", [dict(temperature=0.0), dict(temperature=1.0), dict(temperature=0.8, top_k=5, top_p=0.9)])
def test_cached_and_uncached_generation_give_the_same_tokens(sampling):
    model = tiny(2, block_size=16)
    prompt = torch.randint(0, 23, (3, 5), generator=gen(2))
    # 30 new tokens run 19 past block_size: the sliding window takes over in both modes.
    with_cache = model.generate(prompt, 30, generator=gen(3), use_cache=True, **sampling)
    without = model.generate(prompt, 30, generator=gen(3), use_cache=False, **sampling)
    assert with_cache.shape == (3, 35) and torch.equal(with_cache[:, :5], prompt)
    assert torch.equal(with_cache, without)
    if sampling["temperature"] > 0:  # a different seed gives a different text
        assert not torch.equal(with_cache, model.generate(prompt, 30, generator=gen(4), **sampling))


def test_generate_one_row_long_prompt_and_training_mode():
    model = tiny(3, block_size=8, dropout=0.1).train()
    prompt = torch.randint(0, 23, (12,), generator=gen(5))  # longer than block_size: cropped, never an error
    out = model.generate(prompt, 4, temperature=0)
    assert out.shape == (16,) and torch.equal(out[:12], prompt)
    assert model.training  # the mode is restored (generation itself runs without dropout)
    assert torch.equal(out, model.generate(prompt, 4, temperature=0, use_cache=False))


def test_loss_at_initialisation_is_about_ln_vocab_size():
    for vocab in (23, 200):
        model = tiny(4, vocab_size=vocab)
        idx = torch.randint(0, vocab, (8, 32), generator=gen(6))
        targets = torch.randint(0, vocab, (8, 32), generator=gen(7))
        with torch.no_grad():
            loss = model(idx, targets).loss.item()
        assert abs(loss - math.log(vocab)) < 0.05


def test_a_tiny_model_overfits_a_repeated_string_quickly():
    text = "the cat sat on the mat. " * 8
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text])
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(chars), block_size=32, n_layer=2, n_head=2, n_embd=32))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    starts = torch.arange(0, len(data) - 33, 4)
    x = torch.stack([data[s:s + 32] for s in starts])
    y = torch.stack([data[s + 1:s + 33] for s in starts])
    begin = time.process_time()  # CPU seconds of this process: what the test costs, whatever the machine's load
    for _ in range(100):
        loss = model(x, y).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    elapsed = time.process_time() - begin
    assert loss.item() < 0.1
    assert elapsed < 3.0
    # The trained model continues the pattern on its own.
    prompt = torch.tensor([chars.index(c) for c in "the cat "])
    out = model.generate(prompt, 16, temperature=0)
    assert "".join(chars[i] for i in out) == "the cat sat on the mat. "


@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_formula(bias):
    config = GPTConfig(vocab_size=50, block_size=40, n_layer=3, n_head=2, n_embd=24, bias=bias)
    model = GPT(config)
    total = sum(p.numel() for p in model.parameters())
    assert model.num_parameters() == total == gpt_parameters(config)
    embeddings = (50 + 40) * 24
    assert model.num_parameters(embeddings=False) == gpt_parameters(config, embeddings=False) == total - embeddings
    assert model.head.weight is model.tok_emb.weight  # tied: counted once


def test_gpt2_style_initialisation():
    model = tiny(5, n_layer=8, n_embd=64, vocab_size=500)
    assert abs(model.tok_emb.weight.std().item() - 0.02) < 0.002
    assert abs(model.blocks[0].attn.proj.weight.std().item() - 0.02 / 4) < 0.0005  # 0.02 / sqrt(2 * 8)
    assert model.blocks[0].mlp.fc.bias.abs().max() == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_embd \\(30\\) must be a multiple of n_head \\(4\\)"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=4, n_embd=30)
    with pytest.raises(ValueError, match="dropout must be a number in \\[0, 1\\)"):
        GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8, dropout=1.0)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        GPTConfig(vocab_size=10, block_size=0, n_layer=1, n_head=1, n_embd=8)
    model = tiny(block_size=8)
    with pytest.raises(ValueError, match="9 tokens \\(0 cached \\+ 9 new\\) exceed block_size 8"):
        model(torch.zeros(1, 9, dtype=torch.long))
    past = model(torch.zeros(1, 6, dtype=torch.long), use_cache=True).past
    with pytest.raises(ValueError, match="10 tokens \\(6 cached \\+ 4 new\\) exceed block_size 8"):
        model(torch.zeros(1, 4, dtype=torch.long), past=past)
    with pytest.raises(ValueError, match="past must hold one \\(keys, values\\) pair per block"):
        model(torch.zeros(2, 1, dtype=torch.long), past=past)
    with pytest.raises(ValueError, match="idx must be a LongTensor of token indices of shape \\(B, T\\)"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="LongTensor"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="indices in \\[0, 23\\), got values from 0 to 23"):
        model(torch.tensor([[0, 23]]))
    with pytest.raises(ValueError, match="targets must have the shape of idx"):
        model(torch.zeros(1, 4, dtype=torch.long), targets=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="top_p"):
        model.generate(torch.zeros(1, 2, dtype=torch.long), 3, top_p=0)
    with pytest.raises(ValueError, match="max_new_tokens must be a non-negative int"):
        model.generate(torch.zeros(1, 2, dtype=torch.long), -1)
