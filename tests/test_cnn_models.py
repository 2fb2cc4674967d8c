"""book.models.cnn: shape chains, the same plan in NumPy, PyTorch and Keras, and Keras weights in torch's layout."""
import numpy as np
import pytest
import torch

from book.counting.params import count_parameters
from book.models.cnn import (keras_cnn, keras_to_torch_state, numpy_cnn, seed_cnn_plan, shape_chain,
                             small_cnn_plan, torch_cnn)
from torch_reference import T, assert_matches_torch


def test_shape_chains_of_the_source_listings():
    l05 = shape_chain(seed_cnn_plan(10), (3, 32, 32))
    sides = [shape[1] for name, shape in l05 if len(shape) == 3 and name != "ReLU"]
    assert sides == [32, 30, 15, 13, 6, 4]
    assert l05[-4][1] == (1024,) and l05[-1][1] == (10,)
    l06 = shape_chain(seed_cnn_plan(10), (1, 28, 28))
    assert [shape[1] for name, shape in l06 if len(shape) == 3 and name != "ReLU"] == [28, 26, 13, 11, 5, 3]
    assert l06[-4][1] == (576,)
    same = shape_chain(seed_cnn_plan(10, padding="same"), (1, 8, 8))
    assert same[-4][1] == (256,)
    assert shape_chain(small_cnn_plan((16, 32)), (1, 8, 8))[-2][1] == (128,)


def test_valid_padding_does_not_fit_an_8x8_image():
    with pytest.raises(ValueError, match="does not fit"):
        shape_chain(seed_cnn_plan(10), (1, 8, 8))
    with pytest.raises(ValueError, match="does not fit"):
        numpy_cnn(seed_cnn_plan(10), (1, 8, 8))
    with pytest.raises(ValueError, match="does not fit"):
        torch_cnn(seed_cnn_plan(10), (1, 8, 8))


@pytest.mark.parametrize("plan,shape", [
    (small_cnn_plan((3, 4)), (1, 8, 8)),
    (seed_cnn_plan(5, padding="same"), (2, 8, 8)),
    ([("conv", 2, 3, 0), ("relu",), ("maxpool", 3), ("flatten",), ("dense", 3)], (1, 7, 9)),
])
def test_numpy_and_torch_builds_agree(plan, shape):
    theirs = torch_cnn(plan, shape, seed=0).to(T)
    ours = numpy_cnn(plan, shape, rng=0)
    assert {k: v.shape for k, v in ours.params.items()} == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert sum(v.size for v in ours.params.values()) == count_parameters(theirs)
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(0)
    assert_matches_torch(ours, theirs, rng.normal(size=(3, *shape)), rng)
    # the model's own shapes follow the chain
    x = torch.zeros(2, *shape, dtype=T)
    for layer, (_, expected) in zip(theirs, shape_chain(plan, shape)[1:]):
        x = layer(x)
        assert tuple(x.shape[1:]) == expected


def test_torch_seed_leaves_the_global_generator_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    a = torch_cnn(small_cnn_plan(), (1, 8, 8), seed=1)
    assert torch.equal(torch.rand(3), expected)
    b = torch_cnn(small_cnn_plan(), (1, 8, 8), seed=1)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("plan", [
    [], [("conv", 2, 3)], [("pool", 2)], [("dense", 0)], [("conv", 2, 3, -1)],
])
def test_bad_plans_raise(plan):
    with pytest.raises(ValueError):
        shape_chain(plan, (1, 8, 8))


def test_bad_shapes_and_orders_raise():
    with pytest.raises(ValueError, match="input_shape"):
        shape_chain(small_cnn_plan(), (8, 8))
    with pytest.raises(ValueError, match="flatten"):
        shape_chain([("conv", 2, 3, 1), ("dense", 3)], (1, 8, 8))
    with pytest.raises(ValueError, match="feature maps"):
        shape_chain([("flatten",), ("conv", 2, 3, 1)], (1, 8, 8))
    with pytest.raises(ValueError, match="padding"):
        seed_cnn_plan(10, padding="full")


def test_keras_builds_the_same_network_and_its_weights_map_onto_torch():
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    assert keras_cnn(seed_cnn_plan(10), (3, 32, 32)).count_params() == 122_570
    assert keras_cnn(seed_cnn_plan(32), (3, 32, 32)).count_params() == 124_000
    plan, shape = seed_cnn_plan(10, padding="same"), (2, 8, 8)
    model = keras_cnn(plan, shape)
    twin = torch_cnn(plan, shape, seed=0)
    assert model.count_params() == count_parameters(twin)
    twin.load_state_dict({k: torch.tensor(v) for k, v in keras_to_torch_state(model, plan, shape).items()})
    x = np.random.default_rng(0).normal(size=(4, *shape)).astype(np.float32)
    ours = model.predict(x.transpose(0, 2, 3, 1), verbose=0)
    with torch.no_grad():
        theirs = twin(torch.tensor(x)).numpy()
    assert np.allclose(ours, theirs, atol=1e-5)
    # Keras raises its own error where a window no longer fits
    with pytest.raises(ValueError):
        keras_cnn(seed_cnn_plan(10), (1, 8, 8))
    with pytest.raises(ValueError, match="neither 'valid'"):
        keras_cnn([("conv", 2, 3, 2), ("flatten",), ("dense", 2)], (1, 8, 8))
