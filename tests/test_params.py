"""The parameter-count formulas against the frameworks' own counts."""
import pytest
import torch

from book.counting import flops, params
from book.counting.params import count_parameters
from book.models import sources as arch


def test_dense_conv_embedding():
    assert params.dense(784, 128) == torch.nn.Linear(784, 128).weight.numel() + 128
    assert params.dense(10, 5, bias=False) == 50
    assert params.conv2d(3, 1, 32) == sum(p.numel() for p in torch.nn.Conv2d(1, 32, 3).parameters())
    assert params.embedding(100, 8) == 800


@pytest.mark.parametrize("d_in,h", [(1, 1), (128, 256), (7, 3)])
def test_recurrent_layers_match_torch(d_in, h):
    assert params.lstm(d_in, h, "torch") == count_parameters(torch.nn.LSTM(d_in, h))
    assert params.gru(d_in, h, "torch") == count_parameters(torch.nn.GRU(d_in, h))


def test_recurrent_layers_match_keras():
    import keras

    for layer, formula in [(keras.layers.LSTM(5), params.lstm(3, 5)), (keras.layers.GRU(5), params.gru(3, 5))]:
        layer.build((None, 4, 3))
        assert layer.count_params() == formula


def test_transformers_match_published_and_torch_counts():
    assert params.bert() == 109_482_240 == count_parameters(arch.torch_bert_base())
    assert params.gpt2() == 124_439_808 == count_parameters(arch.torch_gpt2_small())


def test_counts_match_hugging_face_transformers():
    pytest.importorskip("transformers")
    bert, gpt2 = arch.hf_bert_base(), arch.hf_gpt2_small()
    assert count_parameters(bert) == params.bert() == 109_482_240
    assert count_parameters(gpt2) == params.gpt2() == 124_439_808
    # Built on the meta device: shapes only, nothing allocated or downloaded.
    assert all(p.is_meta for p in bert.parameters()) and all(p.is_meta for p in gpt2.parameters())


def test_feature_map_sizes():
    assert params.conv2d_output_size(32, 3) == 30
    assert params.conv2d_output_size(28, 5, stride=2, padding=2) == 14
    assert params.pool_output_size(13) == 6
    out = torch.nn.Conv2d(1, 1, 5, stride=2, padding=2)(torch.zeros(1, 1, 28, 28))
    assert out.shape[-1] == 14
    with pytest.raises(ValueError, match="does not fit"):
        params.conv2d_output_size(2, 3)


def test_seed_models_match_keras_and_torch():
    # The counts chapter 1 prints, from the frameworks themselves.
    assert arch.keras_cnn_32(32).count_params() == 124_000
    assert arch.keras_cnn_32(10).count_params() == 122_570
    assert arch.keras_cnn_28().count_params() == 93_322 == count_parameters(arch.torch_cnn_28())
    assert arch.keras_mlp_784().count_params() == 55_050
    assert count_parameters(arch.torch_mlp_784()) == 109_386
    keras_lstm = arch.keras_lstm_classifier().count_params()
    assert keras_lstm == 2_225_353
    # PyTorch keeps a second bias vector per gate: 4 * 256 more per LSTM layer.
    assert count_parameters(arch.torch_lstm_classifier()) == keras_lstm + 2 * 4 * 256


def test_flops_rule_of_thumb():
    assert flops.training_flops(1e9, 2e10) == pytest.approx(1.2e20)
    hours = flops.gpu_hours(flops.training_flops(65.2e9, 1.4e12), 312e12, 0.5)
    assert 0.5 < hours / 1_022_362 < 2


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="d_in must be a positive int"):
        params.dense(0, 3)
    with pytest.raises(ValueError, match="framework"):
        params.lstm(3, 4, "jax")
    with pytest.raises(ValueError, match="utilization"):
        flops.gpu_hours(1e20, 1e12, 1.5)


def test_compute_optimal_split():
    n, t = flops.compute_optimal(flops.training_flops(70e9, 1.4e12))
    assert n == pytest.approx(70e9) and t == pytest.approx(1.4e12)
    n, t = flops.compute_optimal(1e21, tokens_per_parameter=5)
    assert flops.training_flops(n, t) == pytest.approx(1e21) and t == pytest.approx(5 * n)
    with pytest.raises(ValueError):
        flops.compute_optimal(-1.0)


def test_measured_flops_are_two_plus_four_per_parameter_and_example():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16, bias=False), torch.nn.Tanh(), torch.nn.Linear(16, 4, bias=False))
    x = torch.randn(5, 8, requires_grad=True)  # so the first layer's input gradient is computed too
    n = count_parameters(model)
    forward, backward = flops.measured_training_flops(model, x)
    assert (forward, backward) == (2 * 5 * n, 4 * 5 * n)
    assert all(p.grad is None for p in model.parameters())
    # Without an input gradient the first layer skips one of its two backward products.
    _, backward = flops.measured_training_flops(model, x.detach())
    assert backward == 4 * 5 * n - 2 * 5 * 8 * 16
