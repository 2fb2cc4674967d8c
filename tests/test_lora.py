"""Tests of book.models.lora: a wrapped layer starts equal to its base, the merged weight computes
what the low-rank branch computes, only A and B learn while the base stays bit-identical, the
trainable count is r (in + out) per layer, on the book's GPT and on a tiny random Hugging Face BERT."""
import pytest
import torch
from torch import nn

from book.models.gpt import GPT, GPTConfig
from book.models.lora import (LoRALinear, apply_lora, count_trainable, mark_only_lora_trainable,
                              merge_lora)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=19, block_size=16, n_layer=2, n_head=2, n_embd=16))


def batch(seed: int = 0, vocab: int = 19, shape=(4, 12)):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, vocab, shape, generator=g)
    return idx, torch.randint(0, vocab, shape, generator=g)


def perturbed(layer: LoRALinear, seed: int = 0) -> LoRALinear:
    """The layer with a non-zero B, as after some training."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_B.copy_(0.1 * torch.randn(layer.lora_B.shape, generator=g, dtype=layer.lora_B.dtype))
    return layer


def test_wrapped_layer_starts_equal_to_its_base_and_keeps_its_tensors():
    torch.manual_seed(0)
    base = nn.Linear(12, 10)
    layer = LoRALinear(base, rank=3, alpha=6.0)
    x = torch.randn(5, 7, 12)
    assert torch.equal(layer(x), base(x))
    assert layer.base.weight is base.weight and not base.weight.requires_grad and not base.bias.requires_grad
    assert layer.lora_A.shape == (3, 12) and layer.lora_B.shape == (10, 3) and layer.scaling == 2.0
    assert layer.lora_A.abs().amax() > 0 and torch.count_nonzero(layer.lora_B) == 0


def test_apply_lora_leaves_gpt_logits_unchanged_at_the_start():
    model = tiny_gpt().eval()
    idx, _ = batch()
    with torch.no_grad():
        before = model(idx).logits
        names = apply_lora(model, ("qkv", "attn.proj"), rank=2)
        after = model(idx).logits
    assert names == ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.1.attn.qkv", "blocks.1.attn.proj"]
    assert isinstance(model.blocks[0].mlp.proj, nn.Linear)  # "attn.proj" leaves mlp.proj alone
    assert torch.equal(after, before)


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-6), (torch.float64, 1e-12)])
def test_merged_linear_computes_the_lora_output(dtype, tol):
    torch.manual_seed(1)
    layer = perturbed(LoRALinear(nn.Linear(12, 10, dtype=dtype), rank=4, alpha=8.0))
    x = torch.randn(6, 12, dtype=dtype)
    merged = layer.merge()
    assert type(merged) is nn.Linear and merged.weight.dtype == dtype
    with torch.no_grad():
        lora, plain = layer(x), merged(x)
        assert (lora - layer.base(x)).abs().amax() > 0.05  # the update does change the output
    assert (plain - lora).abs().amax() <= tol
    expected = layer.base.weight + 2.0 * layer.lora_B @ layer.lora_A
    assert torch.allclose(merged.weight, expected, rtol=0, atol=tol)
    assert torch.equal(merged.bias, layer.base.bias) and merged.bias is not layer.base.bias


def test_dropout_acts_on_the_low_rank_branch_in_training_mode_only():
    torch.manual_seed(2)
    layer = perturbed(LoRALinear(nn.Linear(8, 8), rank=2, dropout=0.5))
    x = torch.randn(30, 8)
    with torch.no_grad():
        train_out = layer.train()(x)
        eval_out = layer.eval()(x)
        assert (train_out - eval_out).abs().amax() > 1e-3
        assert (layer.merge()(x) - eval_out).abs().amax() <= 1e-6


def test_only_a_and_b_receive_gradients_and_the_base_stays_bit_identical():
    model = tiny_gpt(3)
    apply_lora(model, ("qkv", "attn.proj"), rank=2, alpha=4.0)
    mark_only_lora_trainable(model)
    lora = {n for n, _ in model.named_parameters() if n.endswith(("lora_A", "lora_B"))}
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if n not in lora}
    assert len(lora) == 8 and all(p.requires_grad == (n in lora) for n, p in model.named_parameters())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)  # all of them, on purpose
    idx, targets = batch(3)
    losses = []
    for _ in range(10):
        loss = model(idx, targets).loss
        optimizer.zero_grad()
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads == lora
    assert all(model.get_parameter(n).grad.abs().amax() > 0 for n in lora)  # A too, once B has moved
    for n, p in model.named_parameters():
        if n not in lora:
            assert torch.equal(p, frozen[n]), n
    assert losses[-1] < losses[0] - 0.03  # and the adapters did learn (0.06-0.07 on seeds 0-4)


def test_trainable_count_is_rank_times_in_plus_out_per_wrapped_layer():
    model = tiny_gpt()
    total = count_trainable(model).total
    rank, E, n_layer = 3, 16, 2
    apply_lora(model, ("qkv", "attn.proj"), rank=rank)
    mark_only_lora_trainable(model)
    expected = n_layer * (rank * (E + 3 * E) + rank * (E + E))
    count = count_trainable(model)
    assert count.trainable == expected and count.total == total + expected
    assert count.fraction == pytest.approx(expected / (total + expected))
    assert sum(p.numel() for m in model.modules() if isinstance(m, LoRALinear)
               for p in m.trainable_parameters()) == expected


def test_merge_lora_gives_a_plain_model_with_the_same_outputs():
    model = tiny_gpt(4).eval()
    plain_count = count_trainable(model).total
    apply_lora(model, ("qkv", "fc"), rank=2)
    for m in model.modules():
        if isinstance(m, LoRALinear):
            perturbed(m, seed=5)
    idx, _ = batch(4)
    with torch.no_grad():
        lora_logits = model(idx).logits
        assert merge_lora(model) == 4
        merged_logits = model(idx).logits
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert count_trainable(model).total == plain_count
    assert (merged_logits - lora_logits).abs().amax() < 1e-5


def test_lora_on_a_tiny_random_bert_query_and_value():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=32, num_labels=3)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config).eval()  # random weights, nothing downloaded
    ids = torch.randint(0, 50, (4, 10), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.no_grad():
        before = model(input_ids=ids, attention_mask=mask).logits
    names = apply_lora(model, ("query", "value"), rank=2)
    assert len(names) == 4 and all(n.endswith(("self.query", "self.value")) for n in names)
    mark_only_lora_trainable(model, also=("classifier",))
    assert count_trainable(model).trainable == 4 * 2 * (16 + 16) + (16 * 3 + 3)
    out = model(input_ids=ids, attention_mask=mask, labels=torch.tensor([0, 1, 2, 1]))
    assert torch.equal(out.logits.detach(), before)
    out.loss.backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads == {n for n, p in model.named_parameters() if n.endswith(("lora_A", "lora_B"))
                     or n.startswith("classifier.")}
    for m in model.modules():
        if isinstance(m, LoRALinear):
            perturbed(m, seed=6)
    with torch.no_grad():
        lora_logits = model(input_ids=ids, attention_mask=mask).logits
        merge_lora(model)
        assert (model(input_ids=ids, attention_mask=mask).logits - lora_logits).abs().amax() < 1e-5
        assert (lora_logits - before).abs().amax() > 1e-4


@pytest.mark.parametrize("rank", [0, -1, 1.5, True, "2", 11])
def test_bad_rank_is_refused(rank):
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(12, 10), rank)


def test_other_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="torch.nn.Linear"):
        LoRALinear(nn.Conv1d(3, 3, 1), 1)
    with pytest.raises(ValueError, match="alpha"):
        LoRALinear(nn.Linear(4, 4), 2, alpha=0)
    with pytest.raises(ValueError, match="dropout"):
        LoRALinear(nn.Linear(4, 4), 2, dropout=1.0)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        LoRALinear(nn.Linear(4, 4), 2)(torch.zeros(3, 5))
    model = tiny_gpt()
    with pytest.raises(ValueError, match="exactly one"):
        apply_lora(model, rank=2)
    with pytest.raises(ValueError, match="exactly one"):
        apply_lora(model, ("qkv",), predicate=lambda name, layer: True, rank=2)
    with pytest.raises(ValueError, match="blocks.0.attn.qkv"):  # the message lists the linear layers
        apply_lora(model, ("query",), rank=2)
    with pytest.raises(ValueError, match="rank"):
        apply_lora(model, ("qkv",), rank=17)


def test_predicate_chooses_layers_and_wrapping_twice_changes_nothing():
    model = tiny_gpt()
    names = apply_lora(model, predicate=lambda name, layer: layer.out_features == 64, rank=1)
    assert names == ["blocks.0.mlp.fc", "blocks.1.mlp.fc"]
    again = apply_lora(model, predicate=lambda name, layer: layer.out_features == 64 or name.endswith("qkv"), rank=1)
    assert again == ["blocks.0.attn.qkv", "blocks.1.attn.qkv"]  # the fc layers are already wrapped
