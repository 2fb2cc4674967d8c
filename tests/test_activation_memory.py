"""book.counting.activation_memory: the formula for an MLP's cached activations against what book.nn keeps."""
import numpy as np
import pytest

import book.nn as bnn
from book.counting.activation_memory import measure_cache, mlp_cache_count
from book.models.mlp import numpy_mlp


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("sizes,batch", [([64, 64, 10], 32), ([5, 7, 7, 7, 3], 3), ([4, 2], 9)])
def test_formula_equals_what_the_layers_keep(activation, sizes, batch):
    net = numpy_mlp(sizes, activation=activation, rng=0)
    X = np.random.default_rng(1).normal(size=(batch, sizes[0]))
    net(X)
    counted = mlp_cache_count(sizes, batch, activation)
    measured = measure_cache(net, exclude=[X])
    assert measured["floats"] == counted["floats"]
    assert measured["bools"] == counted["bools"]
    assert measured["bytes"] == 8 * counted["floats"] + counted["bools"]
    assert measure_cache(net)["floats"] == counted["floats"] + counted["input_floats"]


def test_shared_arrays_are_counted_once_and_a_single_layer_works():
    layer = bnn.Sigmoid()
    out = layer(np.zeros((2, 3)))
    assert measure_cache(layer) == {"floats": 6, "bools": 0, "bytes": 48}
    assert measure_cache(bnn.Sequential(layer, bnn.Linear(3, 1, rng=0)))["floats"] == 6  # Linear keeps `out`
    assert out is layer._cache


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        mlp_cache_count([3, 2], 0)
    with pytest.raises(ValueError, match="activation"):
        mlp_cache_count([3, 2], 4, activation="gelu")
    with pytest.raises(ValueError, match="sizes"):
        mlp_cache_count([3], 4)
