"""book.training.precision: bf16 autocast, gradient checkpointing, CPU peak memory and fp16 loss scaling."""
import pytest
import torch

from book.models.gpt import GPT, GPTConfig
from book.training.precision import (
    LossScaler, PeakMemory, checkpointing, measure_step, peak_allocated_bytes, scale_loss_step, step_gradients,
    training_step)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def _setup(seed=0, L=3, E=32, V=48, B=4, T=32):
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=4, n_embd=E))
    g = torch.Generator().manual_seed(seed + 100)
    return model, torch.randint(0, V, (B, T), generator=g), torch.randint(0, V, (B, T), generator=g)


def _grads(model):
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bf16_autocast_loss_close_to_fp32(seed):
    model, idx, tgt = _setup(seed)
    fp32 = training_step(model, idx, tgt)
    g32 = _grads(model)
    model.zero_grad()
    bf16 = training_step(model, idx, tgt, precision="bf16")
    # bf16 keeps 8 significant bits (relative step 2**-8 = 0.004); the loss came out within 2e-5 (relative)
    # of fp32 for seeds 0-2, the gradients within 0.6-0.9 % (relative norm of the difference).
    assert abs(bf16 - fp32) < 2e-3 * fp32
    for a, b in zip(g32, _grads(model)):
        assert (a - b).norm() <= 0.05 * a.norm() + 1e-6
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast leaves the weights in fp32


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_checkpointed_gradients_equal_plain_ones(precision):
    model, idx, tgt = _setup(1)
    plain = training_step(model, idx, tgt, precision=precision)
    g_plain = _grads(model)
    model.zero_grad()
    ck = training_step(model, idx, tgt, precision=precision, checkpoint=True)
    assert ck == plain
    tol = 1e-6 if precision == "fp32" else 1e-3
    for a, b in zip(g_plain, _grads(model)):
        assert torch.allclose(a, b, rtol=0, atol=tol)
    assert "forward" not in vars(model.blocks[0])  # the wrapper is gone after the with block


def test_step_gradients_copies_one_step_and_clears():
    model, idx, tgt = _setup(2)
    training_step(model, idx, tgt)  # leave stale gradients behind: step_gradients must not add to them
    expected = _grads(model)
    grads = step_gradients(model, idx, tgt)
    assert len(grads) == len(list(model.parameters()))
    for a, b in zip(expected, grads):
        assert torch.equal(a, b)
    assert all(p.grad is None for p in model.parameters())
    ck = step_gradients(model, idx, tgt, checkpoint=True)
    for a, b in zip(grads, ck):
        assert torch.allclose(a, b, rtol=0, atol=1e-6)


def test_checkpointing_saves_less_and_peaks_lower():
    model, idx, tgt = _setup(0, L=4, E=64, V=64, B=8, T=64)
    plain = measure_step(model, idx, tgt, trials=1)
    ck = measure_step(model, idx, tgt, checkpoint=True, trials=1)
    assert ck["loss"] == plain["loss"]
    assert ck["saved_bytes"] < 0.2 * plain["saved_bytes"]  # 0.105 measured
    assert ck["peak_bytes"] < 0.6 * plain["peak_bytes"]  # 0.43 measured
    bf = measure_step(model, idx, tgt, precision="bf16", trials=1)
    assert bf["saved_bytes"] < 0.75 * plain["saved_bytes"]  # 0.62 measured
    assert abs(bf["loss"] - plain["loss"]) < 1e-2


def test_training_step_with_an_optimizer_updates_and_clears():
    model, idx, tgt = _setup(0, L=1, E=16, V=20, B=2, T=8)
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    first = training_step(model, idx, tgt, optimizer=opt, checkpoint=True)
    assert all(p.grad is None for p in model.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))
    assert training_step(model, idx, tgt) < first  # one step downhill on the same batch


def test_peak_memory_follows_allocations_and_frees():
    x = torch.randn(1000, requires_grad=True)
    with PeakMemory() as tracker:
        y = (x * 2).exp()  # the product is freed, exp's output is kept for its backward
        assert tracker.current == 4000
        z = y.sum()
        del y
        z.backward()
    assert tracker.peak == 8008  # x * 2 and its exp alive together, plus the scalar
    _, peak = peak_allocated_bytes(lambda: torch.zeros(10, 10) + 1)
    assert peak == 800


def test_loss_scaling_rescues_gradients_that_underflow_in_fp16():
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 4)
    with torch.no_grad():
        layer.weight.zero_()  # so that the SGD step below is exactly -gradient (the gradient does not depend on W)
    x = torch.randn(16, 8)

    def loss_fn():  # a tiny loss: its gradient in the fp16 product is about 1e-8, under fp16's range
        with torch.autocast("cpu", dtype=torch.float16):
            out = layer(x)
        return out.float().sum() * 1e-8

    loss_fn().backward()
    assert layer.weight.grad.abs().max() == 0  # flushed to zero
    layer.zero_grad()
    true = 1e-8 * x.double().sum(0).expand(4, 8)
    opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    assert scale_loss_step(loss_fn(), opt, LossScaler())
    step = -layer.weight.detach().double()
    # x itself is rounded to fp16 (relative precision 2**-11): within 0.2% of the largest entry.
    assert (step - true).abs().max() <= 2e-3 * true.abs().max()


def test_loss_scaler_matches_torch_grad_scaler():
    def run(use_torch):
        torch.manual_seed(0)
        model, idx, tgt = _setup(0, L=1, E=16, V=20, B=2, T=8)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        ours = LossScaler(init_scale=2.0 ** 40, growth_interval=2)  # starts too large: overflows first
        theirs = torch.amp.GradScaler("cpu", init_scale=2.0 ** 40, growth_interval=2)
        scales = []
        for _ in range(6):
            with torch.autocast("cpu", dtype=torch.float16):
                loss = model(idx, tgt).loss
            if use_torch:
                theirs.scale(loss).backward()
                theirs.step(opt)
                theirs.update()
                opt.zero_grad(set_to_none=True)
                scales.append(theirs.get_scale())
            else:
                ours.step(loss, opt)
                scales.append(ours.scale)
        return scales, [p.detach().clone() for p in model.parameters()]

    s_ours, p_ours = run(False)
    s_torch, p_torch = run(True)
    assert s_ours == s_torch
    assert s_ours[0] < 2.0 ** 40  # the first step overflowed and was skipped
    for a, b in zip(p_ours, p_torch):
        assert torch.allclose(a, b, rtol=0, atol=1e-6)


def test_bad_arguments():
    model, idx, tgt = _setup(0, L=1, E=8, V=10, B=1, T=4)
    with pytest.raises(ValueError, match="precision"):
        training_step(model, idx, tgt, precision="int8")
    with pytest.raises(ValueError, match="blocks"):
        with checkpointing(torch.nn.Linear(2, 2), blocks=[]):
            pass
    with pytest.raises(ValueError, match="init_scale"):
        LossScaler(init_scale=0)
    with pytest.raises(ValueError, match="scaler"):
        scale_loss_step(torch.tensor(1.0), None, None)
