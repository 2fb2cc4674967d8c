"""Saliency, the deletion test, FGSM and linear probes on tiny models with known answers."""
import numpy as np
import pytest
import torch

from book.models.interpret import deletion_drop, fgsm, layer_outputs, probe_accuracy, saliency


def linear_model(w):
    model = torch.nn.Sequential(torch.nn.Linear(len(w), 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.stack([torch.tensor(w), -torch.tensor(w)]))
        model[0].bias.zero_()
    return model


def test_saliency_of_a_linear_model_is_its_weights():
    w = [1.0, -2.0, 0.5, 0.0]
    model = linear_model(w)
    x = torch.tensor([[1.0, 1.0, 2.0, 3.0]])
    assert torch.allclose(saliency(model, x, 0), torch.tensor([w]).abs())
    ixg = saliency(model, x, 0, method="input_x_gradient")
    assert torch.allclose(ixg, x * torch.tensor([w]))
    # input x gradient sums to the logit minus the logit at zero
    assert ixg.sum().item() == pytest.approx(model(x)[0, 0].item())


def test_saliency_leaves_gradients_and_mode_alone_and_works_under_no_grad():
    model = linear_model([1.0, 2.0])
    model.train()
    with torch.no_grad():
        s = saliency(model, torch.ones(3, 2), torch.tensor([0, 1, 0]))
    assert s.shape == (3, 2) and model.training
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="saliency"):
        saliency(model, torch.ones(3, 2), 0, method="magic")
    with pytest.raises(ValueError, match="target"):
        saliency(model, torch.ones(3, 2), torch.tensor([0, 1]))


def test_deletion_drop_of_a_linear_model_is_exact():
    w = [3.0, -1.0, 2.0, 0.5]
    model = linear_model(w)
    x = torch.ones(1, 4)
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0]])        # delete features 0 then 1
    assert deletion_drop(model, x, 0, scores, 1).item() == pytest.approx(3.0)
    assert deletion_drop(model, x, 0, scores, 2).item() == pytest.approx(2.0)
    assert deletion_drop(model, x, 0, scores, 0).item() == 0.0
    with pytest.raises(ValueError, match="deletion_drop"):
        deletion_drop(model, x, 0, scores, 5)
    with pytest.raises(ValueError, match="deletion_drop"):
        deletion_drop(model, x, 0, scores[:, :2], 1)


def test_fgsm_moves_each_feature_by_epsilon_against_the_true_class():
    model = linear_model([1.0, -1.0, 2.0])
    x = torch.full((1, 3), 0.5)
    x_adv = fgsm(model, x, torch.tensor([0]), 0.1)
    assert torch.allclose(x_adv, torch.tensor([[0.4, 0.6, 0.4]]))
    assert model(x_adv)[0, 0] < model(x)[0, 0]
    assert torch.equal(fgsm(model, x, 0, 0.0), x)
    assert fgsm(model, torch.zeros(1, 3), 0, 0.3).min() >= 0      # clipped to [0, 1]
    with torch.no_grad():
        assert fgsm(model, x, 0, 0.1).shape == x.shape
    with pytest.raises(ValueError, match="fgsm"):
        fgsm(model, x, 0, -0.1)


def test_layer_outputs_and_probe():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    outs = layer_outputs(model, torch.randn(5, 4))
    assert [o.shape for o in outs] == [(5, 4), (5, 8), (5, 3)]
    with pytest.raises(ValueError, match="layer_outputs"):
        layer_outputs(model[0], torch.randn(5, 4))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    informative = np.c_[y + 0.1 * rng.normal(size=200), rng.normal(size=200)]
    noise = rng.normal(size=(200, 2))
    assert probe_accuracy(informative[:100], y[:100], informative[100:], y[100:]) > 0.95
    assert probe_accuracy(noise[:100], y[:100], noise[100:], y[100:]) < 0.7
    with pytest.raises(ValueError, match="probe_accuracy"):
        probe_accuracy(noise, y, noise[:, :1], y)
