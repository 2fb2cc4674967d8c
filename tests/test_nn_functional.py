"""book.nn.functional against torch: exact, finite and warning-free, even at ±1e4."""
import numpy as np
import pytest
import torch

from book.gradcheck import rel_error
from book.nn import functional as F
from torch_reference import to_np

T = torch.float64
EXTREMES = np.array([-1e4, -800.0, -40.0, -1.0, -1e-12, 0.0, 1e-12, 1.0, 40.0, 800.0, 1e4])

PAIRS = [
    (F.sigmoid, torch.sigmoid),
    (F.log_sigmoid, torch.nn.functional.logsigmoid),
    (F.softplus, torch.nn.functional.softplus),
    (F.relu, torch.relu),
    (F.tanh, torch.tanh),
]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("ours,theirs", PAIRS, ids=lambda f: getattr(f, "__name__", "torch"))
def test_elementwise_match_torch_including_extremes(ours, theirs):
    rng = np.random.default_rng(0)
    for z in [EXTREMES, rng.normal(scale=5, size=(4, 7)), np.array(3.0)]:
        got = ours(z)
        assert got.dtype == np.float64 and np.all(np.isfinite(got))
        assert rel_error(got, theirs(torch.tensor(z, dtype=T)).cpu().numpy()) < 1e-12


def test_exact_values_at_extremes():
    assert F.log_sigmoid(np.array(-1e4)) == -1e4  # naive log(sigmoid) would give -inf
    assert F.softplus(np.array(1e4)) == 1e4  # naive log(1 + exp) would overflow
    assert F.sigmoid(np.array(-1e4)) == 0.0 and F.sigmoid(np.array(1e4)) == 1.0
    assert F.log_sigmoid(np.array(-40.0)) == pytest.approx(-40.0 - np.exp(-40.0), rel=1e-15)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shape,axis", [((5,), -1), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), 1), ((1, 1), -1)])
def test_softmax_family_matches_torch(shape, axis):
    rng = np.random.default_rng(1)
    z = rng.normal(scale=3, size=shape)
    zt = torch.tensor(z, dtype=T)
    assert rel_error(F.softmax(z, axis=axis), torch.softmax(zt, dim=axis).cpu().numpy()) < 1e-12
    assert rel_error(F.log_softmax(z, axis=axis), torch.log_softmax(zt, dim=axis).cpu().numpy()) < 1e-12
    assert rel_error(F.logsumexp(z, axis=axis), torch.logsumexp(zt, dim=axis).cpu().numpy()) < 1e-12
    kept = F.logsumexp(z, axis=axis, keepdims=True)
    assert rel_error(kept, torch.logsumexp(zt, dim=axis, keepdim=True).cpu().numpy()) < 1e-12
    assert np.allclose(F.softmax(z, axis=axis).sum(axis=axis), 1.0)


@pytest.mark.filterwarnings("error")
def test_softmax_family_at_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    zt = torch.tensor(z, dtype=T)
    for ours, theirs in [(F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax), (F.logsumexp, torch.logsumexp)]:
        got = ours(z, axis=1)
        assert np.all(np.isfinite(got))
        assert rel_error(got, theirs(zt, dim=1).cpu().numpy()) < 1e-12
    assert F.log_softmax(z, axis=1)[0, 1] == -2e4
    assert F.logsumexp(z, axis=1)[1] == pytest.approx(-1e4 + np.log(3), rel=1e-15)


@pytest.mark.filterwarnings("error")
def test_logsumexp_of_all_minus_inf_is_minus_inf():
    z = np.full((2, 3), -np.inf)
    assert np.all(F.logsumexp(z, axis=1) == -np.inf)
    assert np.all(torch.logsumexp(torch.tensor(z, dtype=T), dim=1).cpu().numpy() == -np.inf)


def test_integer_input_is_promoted_to_float64():
    assert F.relu(np.array([-2, 3])).dtype == np.float64
    assert F.softmax([1, 2, 3]).dtype == np.float64


SOFTMAX_FAMILY = [(F.softmax, torch.softmax), (F.log_softmax, torch.log_softmax), (F.logsumexp, torch.logsumexp)]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("ours,theirs", SOFTMAX_FAMILY, ids=["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shape,axis", [((0,), 0), ((0,), -1), ((2, 0), 0), ((2, 0), 1), ((2, 0), -1),
                                        ((0, 3), 0), ((0, 3), 1), ((0, 3), -2), ((2, 0, 3), 1), ((2, 0, 3), 2)])
def test_softmax_family_on_empty_inputs_matches_torch(ours, theirs, shape, axis):
    z = np.zeros(shape)
    want = to_np(theirs(torch.tensor(z, dtype=T), axis))
    got = ours(z, axis=axis)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.array_equal(got, want)  # empty, or -inf where logsumexp reduces over nothing
    if ours is F.logsumexp:
        kept = ours(z, axis=axis, keepdims=True)
        assert kept.shape == tuple(torch.logsumexp(torch.tensor(z, dtype=T), axis, keepdim=True).shape)
        assert np.array_equal(kept.reshape(want.shape), want)


@pytest.mark.parametrize("ours,theirs", SOFTMAX_FAMILY, ids=["softmax", "log_softmax", "logsumexp"])
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf - inf is nan, in torch too
@pytest.mark.parametrize("value", [2.5, -1e4, 0.0, np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("axis", [0, -1])
def test_softmax_family_on_0d_inputs_matches_torch(ours, theirs, value, axis):
    want = to_np(theirs(torch.tensor(value, dtype=T), axis))
    got = ours(np.array(value), axis=axis)
    assert np.shape(got) == want.shape == ()
    assert np.array_equal(got, want, equal_nan=True)
    if ours is F.logsumexp:
        assert np.shape(ours(np.array(value), axis=axis, keepdims=True)) == ()
    if np.isfinite(value):
        assert got == {"softmax": 1.0, "log_softmax": 0.0, "logsumexp": value}[ours.__name__]


@pytest.mark.parametrize("ours,theirs", SOFTMAX_FAMILY, ids=["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("shape,axis", [((), 1), ((), -2), ((3,), 1), ((2, 0), 2), ((2, 3), -3)])
def test_softmax_family_refuses_an_axis_out_of_range_by_name(ours, theirs, shape, axis):
    with pytest.raises(IndexError, match="Dimension out of range"):
        theirs(torch.zeros(shape, dtype=T), axis)
    with pytest.raises(ValueError, match=rf"^{ours.__name__}: axis {axis} is out of range"):
        ours(np.zeros(shape), axis=axis)
