"""How the book.nn tests run the same computation in torch and compare (float64 on torch's default device)."""
import numpy as np
import torch

from book.gradcheck import numerical_gradient, rel_error

T = torch.float64
TOL = 1e-7
FD_TOL = 1e-6  # central differences carry about 1e-10 of absolute noise


def to_np(t):
    """A torch tensor as a NumPy array, wherever it lives."""
    return t.detach().cpu().numpy()


def torch_run(module, x, grad_output):
    """torch forward and backward: output, dLoss/dx and {name: grad}."""
    xt = torch.tensor(x, dtype=T, requires_grad=True)
    out = module(xt)
    out.backward(torch.tensor(grad_output, dtype=T))
    return to_np(out), to_np(xt.grad), {name: to_np(p.grad) for name, p in module.named_parameters()}


def assert_matches_torch(ours, theirs, x, rng):
    """Forward, input gradient and every parameter gradient agree to TOL; returns the largest error seen."""
    out = ours(x)
    dout = rng.normal(size=out.shape)
    dx = ours.backward(dout)
    t_out, t_dx, t_grads = torch_run(theirs, x, dout)
    assert out.dtype == np.float64 and dx.dtype == np.float64
    assert set(ours.grads) == set(t_grads)
    errors = {"output": rel_error(out, t_out), "input gradient": rel_error(dx, t_dx)}
    errors.update({name: rel_error(ours.grads[name], g) for name, g in t_grads.items()})
    assert max(errors.values()) < TOL, errors
    return max(errors.values())


def assert_matches_finite_differences(layer, x, w_out, names=("weight", "bias")):
    """The layer's input gradient and the gradients of ``names`` agree with central differences of
    ``sum(w_out * layer(x))`` to FD_TOL (so dLoss/dy = w_out)."""
    def loss(_):
        return np.sum(w_out * layer(x))

    layer(x)
    dx = layer.backward(w_out)
    assert rel_error(dx, numerical_gradient(loss, x)) < FD_TOL
    for name in names:
        layer(x)
        layer.backward(w_out)
        analytic = layer.grads[name].copy()
        assert rel_error(analytic, numerical_gradient(loss, layer.params[name])) < FD_TOL
