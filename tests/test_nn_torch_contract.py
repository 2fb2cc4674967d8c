"""book.nn keeps torch's contract: torch's positional order, refusal by name, NaN in ReLU, loss reductions.

Each test builds the same object in book.nn and in torch (float64) from the
same arguments and compares forward and backward (torch autograd).
"""
import numpy as np
import pytest
import torch

import book.nn as nn
from book.gradcheck import rel_error
from book.nn import functional as F
from torch_reference import TOL, T, assert_matches_torch, to_np

# --- constructors: what the book cannot honour is refused by name -------------------


def _linear():
    return nn.Linear(2, 2)


REFUSED = [
    # torch reads the sixth positional argument as dilation; the book once read it as bias.
    (lambda: nn.Conv2d(3, 2, 3, 1, 0, 2), "Conv2d", "dilation"),
    (lambda: nn.Conv2d(3, 2, 3, dilation=(1, 2)), "Conv2d", "dilation"),
    (lambda: nn.Conv2d(4, 2, 3, 1, 0, 1, 2), "Conv2d", "groups"),
    (lambda: nn.Conv2d(3, 2, 3, padding_mode="reflect"), "Conv2d", "padding_mode"),
    (lambda: nn.Conv2d(3, 2, 3, device="cpu"), "Conv2d", "device"),
    (lambda: nn.Conv2d(3, 2, 3, dtype=torch.float64), "Conv2d", "dtype"),
    # A seed passed where the book once had rng lands on torch's device.
    (lambda: nn.Linear(3, 2, True, 0), "Linear", "device"),
    (lambda: nn.Linear(3, 2, dtype=torch.float32), "Linear", "dtype"),
    (lambda: nn.Embedding(5, 3, 0), "Embedding", "padding_idx"),
    (lambda: nn.Embedding(5, 3, max_norm=1.0), "Embedding", "max_norm"),
    (lambda: nn.Embedding(5, 3, sparse=True), "Embedding", "sparse"),
    (lambda: nn.Dropout(0.5, True), "Dropout", "inplace"),
    # torch's third argument is dropout; the book once read it as bias.
    (lambda: nn.MultiheadAttention(8, 2, 0.1), "MultiheadAttention", "dropout"),
    (lambda: nn.MultiheadAttention(8, 2, add_bias_kv=True), "MultiheadAttention", "add_bias_kv"),
    (lambda: nn.MultiheadAttention(8, 2, kdim=4), "MultiheadAttention", "kdim"),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=False), "MultiheadAttention", "batch_first"),
    (lambda: nn.RNN(3, 4, 2), "RNN", "num_layers"),
    (lambda: nn.RNN(3, 4, 1, "relu"), "RNN", "nonlinearity"),
    (lambda: nn.RNN(3, 4, batch_first=False), "RNN", "batch_first"),
    (lambda: nn.LSTM(3, 4, 1, False), "LSTM", "bias"),
    (lambda: nn.LSTM(3, 4, 1, True, True, 0.0, False, 2), "LSTM", "proj_size"),
    (lambda: nn.GRU(3, 4, 1, True, True, 0.5), "GRU", "dropout"),
    (lambda: nn.GRU(3, 4, bidirectional=True), "GRU", "bidirectional"),
    # torch's fourth argument is dampening; the book once read it as weight_decay.
    (lambda: nn.SGD(_linear(), 0.1, 0.9, 0.01), "SGD", "dampening"),
    (lambda: nn.SGD(_linear(), 0.1, 0.9, nesterov=True), "SGD", "nesterov"),
    (lambda: nn.MSELoss(True), "MSELoss", "size_average"),
    (lambda: nn.MSELoss(reduce=False), "MSELoss", "reduce"),
    (lambda: nn.CrossEntropyLoss(torch.ones(3, dtype=T)), "CrossEntropyLoss", "weight"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=np.ones(3)), "BCEWithLogitsLoss", "pos_weight"),
    (lambda: nn.MSELoss(reduction="batchmean"), "MSELoss", "reduction"),
    (lambda: nn.CrossEntropyLoss(reduction=None), "CrossEntropyLoss", "reduction"),
    (lambda: nn.CrossEntropyLoss(label_smoothing=1.5), "CrossEntropyLoss", "label_smoothing"),
    (lambda: nn.CrossEntropyLoss(ignore_index=0.5), "CrossEntropyLoss", "ignore_index"),
]


@pytest.mark.parametrize("make,owner,name", REFUSED, ids=[f"{o}-{n}" for _, o, n in REFUSED])
def test_unsupported_torch_arguments_are_refused_by_name(make, owner, name):
    with pytest.raises(ValueError, match=rf"^{owner}: {name}"):
        make()


def test_book_rng_is_keyword_only():
    for make in [lambda: nn.Conv2d(3, 2, 3, 1, 0, 1, 1, True, "zeros", None, None, 0),
                 lambda: nn.Embedding(5, 3, None, None, 2.0, False, False, None, False, None, None, 0),
                 lambda: nn.RNN(3, 4, 1, "tanh", True, True, 0.0, False, None, None, 0)]:
        with pytest.raises(TypeError, match="positional"):
            make()


def test_defaults_and_supported_values_are_accepted():
    nn.Conv2d(3, 2, 3, 1, 0, (1, 1), 1, True, "zeros", None, None, rng=0)
    nn.Embedding(5, 3, None, None, 2.0, False, False, None, False, None, None, rng=0)
    nn.MultiheadAttention(8, 2, 0.0, True, False, False, 8, 8, True, rng=0)
    nn.LSTM(3, 4, 1, True, True, 0.0, False, 0, None, None, rng=0)
    nn.Dropout(0.5, False, rng=0)
    nn.SGD(_linear(), 0.1, 0.9, 0.0, 0.01, False)


# --- supported positional arguments give torch's model ----------------------------------


@pytest.mark.parametrize("args", [
    (3, 2, 3, 1, 0, 1, 1, False),
    (3, 2, (3, 2), (2, 1), (1, 0), (1, 1), 1, True, "zeros"),
    (3, 4, 2, 2, 1),
])
def test_conv2d_positional_arguments_match_torch(args):
    rng = np.random.default_rng(0)
    ours, theirs = nn.Conv2d(*args, rng=1), torch.nn.Conv2d(*args, dtype=T)
    ours.load_state_dict(theirs.state_dict())
    assert_matches_torch(ours, theirs, rng.normal(size=(2, 3, 7, 6)), rng)


def test_linear_positional_bias_matches_torch():
    rng = np.random.default_rng(1)
    ours, theirs = nn.Linear(3, 2, False), torch.nn.Linear(3, 2, False, None, T)
    assert list(ours.params) == ["weight"]
    ours.load_state_dict(theirs.state_dict())
    assert_matches_torch(ours, theirs, rng.normal(size=(4, 3)), rng)


def test_multihead_attention_positional_bias_matches_torch():
    rng = np.random.default_rng(2)
    # (embed_dim, num_heads, dropout, bias): bias=False is the fourth argument, as in torch.
    ours = nn.MultiheadAttention(8, 2, 0.0, False, rng=0)
    theirs = torch.nn.MultiheadAttention(8, 2, 0.0, False, batch_first=True, dtype=T)
    assert list(ours.params) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = rng.normal(size=(2, 5, 8))
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    out_t = theirs(xt, xt, xt, need_weights=False)[0]
    dout = rng.normal(size=out_t.shape)
    out_t.backward(torch.tensor(dout, dtype=T))
    assert rel_error(ours(x), to_np(out_t)) < TOL
    assert rel_error(ours.backward(dout), to_np(xt.grad)) < TOL


@pytest.mark.parametrize("ours_cls,theirs_cls,args", [
    (nn.RNN, torch.nn.RNN, (3, 4, 1, "tanh", True, True, 0.0, False)),
    (nn.LSTM, torch.nn.LSTM, (3, 4, 1, True, True, 0.0, False, 0)),
    (nn.GRU, torch.nn.GRU, (3, 4, 1, True, True, 0.0, False)),
])
def test_recurrent_positional_arguments_match_torch(ours_cls, theirs_cls, args):
    rng = np.random.default_rng(3)
    ours, theirs = ours_cls(*args, rng=0), theirs_cls(*args, dtype=T)
    ours.load_state_dict(theirs.state_dict())
    x = rng.normal(size=(2, 5, 3))
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    out_t = theirs(xt)[0]
    dout = rng.normal(size=out_t.shape)
    out_t.backward(torch.tensor(dout, dtype=T))
    assert rel_error(ours(x)[0], to_np(out_t)) < TOL
    assert rel_error(ours.backward(dout)[0], to_np(xt.grad)) < TOL
    for name, p in theirs.named_parameters():
        assert rel_error(ours.grads[name], to_np(p.grad)) < TOL


def test_embedding_positional_arguments_match_torch():
    args = (5, 3, None, None, 2.0, False, False)
    ours, theirs = nn.Embedding(*args, rng=0), torch.nn.Embedding(*args, dtype=T)
    ours.load_state_dict(theirs.state_dict())
    idx = np.array([[0, 4, 4], [2, 1, 0]])
    assert np.array_equal(ours(idx), to_np(theirs(torch.tensor(idx))))


def test_sgd_positional_arguments_match_torch():
    rng = np.random.default_rng(4)
    ours, theirs = nn.Linear(3, 2, rng=0), torch.nn.Linear(3, 2, dtype=T)
    ours.load_state_dict(theirs.state_dict())
    # (lr, momentum, dampening, weight_decay, nesterov) in torch's order.
    opt = nn.SGD(ours, 0.1, 0.9, 0.0, 0.01, False)
    opt_t = torch.optim.SGD(theirs.parameters(), 0.1, 0.9, 0.0, 0.01, False)
    for _ in range(3):
        x, dout = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
        ours(x)
        ours.backward(dout)
        opt.step()
        opt_t.zero_grad()
        theirs(torch.tensor(x, dtype=T)).backward(torch.tensor(dout, dtype=T))
        opt_t.step()
    for name, p in theirs.state_dict().items():
        assert rel_error(ours.params[name], to_np(p)) < TOL


# --- activations keep NaN and infinities as torch ---------------------------------------

SPECIAL = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 2.0])


@pytest.mark.parametrize("ours_cls,theirs_cls", [
    (nn.ReLU, torch.nn.ReLU), (nn.Sigmoid, torch.nn.Sigmoid), (nn.Tanh, torch.nn.Tanh),
    (nn.Identity, torch.nn.Identity),
])
def test_activations_at_nan_and_inf_match_torch(ours_cls, theirs_cls):
    ours, theirs = ours_cls(), theirs_cls()
    # Ones, then a gradient holding NaN and inf itself: threshold_backward zeroes it where x <= 0.
    for dout in [np.ones(6), np.array([2.0, -3.0, np.nan, np.inf, np.nan, 0.5])]:
        xt = torch.tensor(SPECIAL, dtype=T, requires_grad=True)
        out_t = theirs(xt)
        out_t.backward(torch.tensor(dout, dtype=T))
        out = ours(SPECIAL)
        assert np.array_equal(out, to_np(out_t), equal_nan=True)
        assert np.array_equal(ours.backward(dout), to_np(xt.grad), equal_nan=True)


def test_relu_keeps_nan_like_functional_relu():
    out = nn.ReLU()(SPECIAL)
    assert np.array_equal(out, [np.nan, np.inf, 0.0, 0.0, 0.0, 2.0], equal_nan=True)
    assert np.array_equal(out, F.relu(SPECIAL), equal_nan=True)


# --- losses: every reduction, ignore_index and label_smoothing ---------------------------

REDUCTIONS = ["mean", "sum", "none"]


def _loss_cases(rng):
    x = rng.normal(scale=2, size=(6, 4))
    return [
        (nn.MSELoss, torch.nn.MSELoss, x, rng.normal(size=x.shape), {}),
        (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss, x, rng.uniform(size=x.shape), {}),
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, x, rng.integers(0, 4, size=6), {}),
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, x, np.array([0, -100, 3, 2, -100, 1]), {}),
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, x, np.array([0, 3, 3, 2, 1, 1]), {"ignore_index": 3}),
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, x, rng.integers(0, 4, size=6), {"label_smoothing": 0.2}),
        (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, x, np.array([0, 1, -1, 2, -1, 3]),
         {"ignore_index": -1, "label_smoothing": 0.35}),
    ]


CASE_IDS = ["mse", "bce", "ce", "ce-ignore-default", "ce-ignore-3", "ce-smoothing", "ce-ignore-and-smoothing"]


def _torch_target(target):
    return torch.tensor(target) if np.issubdtype(target.dtype, np.integer) else torch.tensor(target, dtype=T)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", range(len(CASE_IDS)), ids=CASE_IDS)
def test_loss_reductions_match_torch(case, reduction):
    rng = np.random.default_rng(case)
    ours_cls, theirs_cls, x, target, options = _loss_cases(rng)[case]
    ours, theirs = ours_cls(reduction=reduction, **options), theirs_cls(reduction=reduction, **options)
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    value_t = theirs(xt, _torch_target(target))
    dout = rng.normal(size=value_t.shape)  # for 'none': a different weight for every loss
    value_t.backward(torch.tensor(dout, dtype=T))
    value = ours(x, target)
    grad = ours.backward(dout if reduction == "none" else float(dout))
    if reduction == "none":
        assert isinstance(value, np.ndarray) and value.shape == value_t.shape
    else:
        assert isinstance(value, float)
    assert rel_error(value, to_np(value_t)) < TOL
    assert rel_error(grad, to_np(xt.grad)) < TOL


def test_loss_reduction_none_checks_grad_output_shape():
    ce = nn.CrossEntropyLoss(reduction="none")
    ce(np.zeros((3, 2)), np.array([0, 1, 0]))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.backward expects grad_output of shape \(3,\)"):
        ce.backward()


def test_cross_entropy_with_every_target_ignored_is_nan_like_torch():
    x, y = np.ones((3, 4)), np.array([-100, -100, -100])
    ce = nn.CrossEntropyLoss(label_smoothing=0.1)
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    value_t = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(xt, torch.tensor(y))
    value_t.backward()
    assert np.isnan(ce(x, y)) and np.isnan(value_t.item())
    assert np.array_equal(ce.backward(), to_np(xt.grad))
    assert ce.backward().shape == (3, 4) and not ce.backward().any()


def test_cross_entropy_still_checks_the_labels_that_count():
    ce = nn.CrossEntropyLoss(ignore_index=-1)
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\)"):
        ce(np.zeros((2, 3)), np.array([-1, 3]))
    with pytest.raises(ValueError, match="integer class labels"):
        ce(np.zeros((2, 3)), np.array([True, False]))


def test_mean_losses_equal_the_chapter_functions_exactly():
    # The chapters print numbers computed both ways; they must agree to the last bit.
    rng = np.random.default_rng(7)
    x, y, t = rng.normal(size=(8, 5)), rng.integers(0, 5, size=8), rng.uniform(size=(8, 5))
    for loss, value, gradient, target in [
        (nn.MSELoss(), F.mse_loss, F.mse_loss_grad, t),
        (nn.CrossEntropyLoss(), F.cross_entropy, F.cross_entropy_grad, y),
        (nn.BCEWithLogitsLoss(), F.binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits_grad, t),
    ]:
        assert loss(x, target) == value(x, target)
        assert np.array_equal(loss.backward(), gradient(x, target))
