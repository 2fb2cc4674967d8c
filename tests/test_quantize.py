"""book.models.quantize: int8 per-channel weight quantisation by hand, on a linear layer and a tiny GPT."""
import pytest
import torch
import torch.nn.functional as F

from book.models.gpt import GPT, GPTConfig
from book.models.quantize import (
    QuantizedLinear, dequantize, linear_weight_bytes, quantize_model, quantize_per_channel, serialized_bytes,
    tensor_bytes, torch_dynamic_quantize)
from book.training.lm import train_lm

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


@pytest.fixture(scope="module")
def trained(char_windows):
    """A 2-layer character GPT trained for 150 steps on the first 100k characters of the corpus (2-5 s)."""
    vocab, x, y, xv, yv = char_windows(100_000, 32)
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab.size, block_size=32, n_layer=2, n_head=4, n_embd=48))
    # AdamW at a constant rate (no warm-up, no decay), with torch's default weight decay
    train_lm(model, x, y, steps=150, batch_size=16, lr=3e-3, warmup=0, weight_decay=0.01, final_lr_fraction=1.0)
    return model, xv[:200], yv[:200]


def test_round_trip_error_is_at_most_half_a_step():
    torch.manual_seed(0)
    w = torch.randn(16, 40) * torch.logspace(-3, 1, 16)[:, None]  # rows of very different sizes
    w[3] = 0.0
    w[5, 7] = 50.0  # an outlier only spoils its own row
    q, s = quantize_per_channel(w)
    assert q.dtype == torch.int8 and s.shape == (16,)
    assert q.abs().max() <= 127 and (q.abs().amax(dim=1)[s != 1] == 127).all()
    err = (dequantize(q, s) - w).abs()
    assert (err <= s[:, None] / 2 * (1 + 1e-6)).all()
    assert (dequantize(q, s)[3] == 0).all()
    rel = err.amax(dim=1) / w.abs().amax(dim=1).clamp_min(1e-12)
    assert rel.max() <= 0.5 / 127 + 1e-6  # per channel, the error is relative to the row's own largest entry


def test_quantized_linear_is_the_dequantized_product_and_close_to_the_original():
    torch.manual_seed(1)
    lin = torch.nn.Linear(32, 8)
    x = torch.randn(5, 32)
    ql = QuantizedLinear.from_linear(lin)
    assert ql.weight_int8.dtype == torch.int8 and ql.scales.dtype == torch.float32
    expected = F.linear(x, dequantize(ql.weight_int8, ql.scales), lin.bias)
    assert torch.equal(ql(x), expected)
    bound = x.abs().sum(1, keepdim=True) * ql.scales[None, :] / 2  # |x . (w - w_hat)| <= sum_j |x_j| s_i / 2
    assert ((ql(x) - lin(x)).abs() <= bound * (1 + 1e-5) + 1e-7).all()
    assert not list(ql.parameters())


def test_quantize_model_replaces_linears_keeps_the_tied_head_and_shrinks_4x():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=30, block_size=16, n_layer=2, n_head=2, n_embd=32)).eval()
    q = quantize_model(model)
    assert isinstance(model.blocks[0].mlp.fc, torch.nn.Linear)  # the original is untouched
    kinds = [type(m).__name__ for m in q.modules()]
    assert kinds.count("QuantizedLinear") == 8 and isinstance(q.head, torch.nn.Linear)
    assert q.head.weight is q.tok_emb.weight  # still tied, still fp32
    ratio = linear_weight_bytes(model) / linear_weight_bytes(q)
    # 4 bytes -> 1 byte per weight, plus a 4-byte scale per row: 4 / (1 + 4 / d_in), 3.6 to 3.9 here.
    assert 3.5 < ratio < 4.0
    assert tensor_bytes(q) < tensor_bytes(model)
    idx = torch.randint(0, 30, (3, 16), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        a, b = model(idx).logits, q(idx).logits
    assert (b - a).norm() / a.norm() < 0.01  # 0.002 measured at initialisation


def test_trained_model_loses_almost_nothing(trained):
    model, xv, yv = trained
    q = quantize_model(model)
    with torch.no_grad():
        before, after = model(xv, yv), q(xv, yv)
    assert before.loss < 3.3  # it did learn (ln 100 = 4.6 at the start); 3.09 measured
    assert abs(float(after.loss) - float(before.loss)) < 0.01  # 6e-5 nats measured
    rel = (after.logits - before.logits).norm() / before.logits.norm()
    assert rel < 0.01  # 4e-4 measured
    assert serialized_bytes(q) < 0.5 * serialized_bytes(model)  # 0.39 measured (embedding and head stay fp32)


def test_torch_dynamic_quantization_where_it_runs(trained):
    model, xv, yv = trained
    dq = torch_dynamic_quantize(model)
    if dq is None:
        pytest.skip("torch has no quantised CPU backend here")
    with torch.no_grad():
        before, after = model(xv, yv), dq(xv, yv)
    # Per-tensor weight scales and int8 activations: a larger error than ours, still small.
    assert abs(float(after.loss) - float(before.loss)) < 0.03  # 3e-4 nats measured; logits 0.0036
    assert (after.logits - before.logits).norm() / before.logits.norm() < 0.05
    assert serialized_bytes(dq) < 0.5 * serialized_bytes(model)


def test_bad_arguments():
    with pytest.raises(ValueError, match="2-D floating-point"):
        quantize_per_channel(torch.ones(3))
    with pytest.raises(ValueError, match="int8"):
        dequantize(torch.ones(2, 2), torch.ones(2))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        dequantize(torch.ones(2, 2, dtype=torch.int8), torch.ones(3))
    with pytest.raises(ValueError, match="nn.Linear"):
        QuantizedLinear.from_linear(torch.nn.Conv1d(1, 1, 1))
    with pytest.raises(ValueError, match="nn.Module"):
        quantize_model("model")
