"""The parameter-count formulas against the frameworks' own counts."""
import pytest
import torch

from book import architectures as arch
from book import params


def test_dense_conv_embedding():
    assert params.dense(784, 128) == torch.nn.Linear(784, 128).weight.numel() + 128
    assert params.dense(10, 5, bias=False) == 50
    assert params.conv2d(3, 1, 32) == sum(p.numel() for p in torch.nn.Conv2d(1, 32, 3).parameters())
    assert params.embedding(100, 8) == 800


@pytest.mark.parametrize("d_in,h", [(1, 1), (128, 256), (7, 3)])
def test_recurrent_layers_match_torch(d_in, h):
    assert params.lstm(d_in, h, "torch") == arch.count_torch(torch.nn.LSTM(d_in, h))
    assert params.gru(d_in, h, "torch") == arch.count_torch(torch.nn.GRU(d_in, h))


def test_recurrent_layers_match_keras():
    import keras

    for layer, formula in [(keras.layers.LSTM(5), params.lstm(3, 5)), (keras.layers.GRU(5), params.gru(3, 5))]:
        layer.build((None, 4, 3))
        assert layer.count_params() == formula


def test_transformers_match_published_and_torch_counts():
    assert params.bert() == 109_482_240 == arch.count_torch(arch.torch_bert_base())
    assert params.gpt2() == 124_439_808 == arch.count_torch(arch.torch_gpt2_small())


def test_flops_rule_of_thumb():
    assert params.training_flops(1e9, 2e10) == pytest.approx(1.2e20)
    hours = params.gpu_hours(params.training_flops(65.2e9, 1.4e12), 312e12, 0.5)
    assert 0.5 < hours / 1_022_362 < 2


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="d_in must be a positive int"):
        params.dense(0, 3)
    with pytest.raises(ValueError, match="framework"):
        params.lstm(3, 4, "jax")
    with pytest.raises(ValueError, match="utilization"):
        params.gpu_hours(1e20, 1e12, 1.5)
