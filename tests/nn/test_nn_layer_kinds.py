"""The network is a fold over registered layer kinds: a new kind defined here, in the
test alone (record + forward/backward pair + register), runs through the unchanged
network and its gradients match PyTorch in float64."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from handprop.kernels.dropout import dropout_mask
from handprop.nn import network as N
from handprop.nn.architecture import (
    KINDS,
    Affine,
    Dropout,
    Kind,
    ReLU,
    kind_of,
    mlp,
    register,
)
from handprop.train import config_from_dict, init_params

torch = pytest.importorskip("torch")


@attrs.frozen
class LeakyReLU:
    """``max(x, slope x)``."""

    slope: float = 0.1


def leaky_relu_forward(x, slope):
    return np.where(x > 0, x, slope * x), (x > 0, slope)


def leaky_relu_backward(dout, cache):
    positive, slope = cache
    return np.where(positive, dout, slope * dout)


@pytest.fixture
def leaky():
    register(
        LeakyReLU,
        Kind(
            lambda spec, p, x, feed: leaky_relu_forward(x, spec.slope),
            lambda spec, p, dout, cache, need_dx: (leaky_relu_backward(dout, cache), ()),
        ),
    )
    yield LeakyReLU
    del KINDS[LeakyReLU]


def torch_cost_and_grads(params, X, y, lam, slope, mask):
    """The same network in PyTorch autograd: Affine, LeakyReLU, Dropout, Affine, LeakyReLU,
    Affine; cross-entropy plus ``lam sum ||W||^2``."""
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in params.arrays().items()}
    h = torch.tensor(X)
    h = torch.nn.functional.leaky_relu(h @ leaves["W1"] + leaves["b1"], slope)
    h = h * torch.tensor(mask)
    h = torch.nn.functional.leaky_relu(h @ leaves["W2"] + leaves["b2"], slope)
    h = h @ leaves["W3"] + leaves["b3"]
    loss = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    cost = loss + lam * sum((leaves[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    cost.backward()
    return cost.item(), {k: v.grad.numpy() for k, v in leaves.items()}


def test_a_kind_registered_in_a_test_passes_the_torch_gradient_check(leaky):
    rng = np.random.default_rng(5)
    params = init_params(config_from_dict(dict(hidden=(7, 5), dtype="float64")), 12, 4, seed=2)
    X, y = rng.standard_normal((9, 12)), rng.integers(0, 4, 9)
    mask = dropout_mask(rng, (9, 7), 0.3, np.float64)
    sequence = (Affine(), leaky(0.2), Dropout(), Affine(), leaky(0.2), Affine())
    scores, tape = N.forward(params, X, [mask], sequence)
    assert [type(spec) for spec, _, _ in tape] == [type(s) for s in sequence]
    dscores = N.L.softmax_cross_entropy_backward(N.L.softmax_cross_entropy_forward(scores, y)[1])
    grads = N.backward(params, dscores, tape, 0.05)
    cost, expected = torch_cost_and_grads(params, X, y, 0.05, 0.2, mask)
    for name, g in grads.arrays().items():
        np.testing.assert_allclose(g, expected[name], rtol=1e-10, atol=1e-12)
    penalty = N.L.l2_penalty(tuple(p.W for p in params.layers), 0.05)
    assert N.L.softmax_cross_entropy_forward(scores, y)[0] + penalty == pytest.approx(cost)


def test_the_default_sequence_is_the_classifier():
    assert mlp(2, dropout=True) == (
        Affine(),
        ReLU(),
        Dropout(),
        Affine(),
        ReLU(),
        Dropout(),
        Affine(),
    )
    assert mlp(0) == (Affine(),)


def test_unregistered_kinds_and_mismatched_sequences_are_rejected():
    params = init_params(config_from_dict(dict(hidden=(3,), dtype="float64")), 4, 2, seed=0)
    X = np.zeros((2, 4))
    with pytest.raises(TypeError, match="no layer kind registered for LeakyReLU"):
        kind_of(LeakyReLU())
    with pytest.raises(ValueError, match="3 parametrised layers, the parameters 2"):
        N.forward(params, X, sequence=(Affine(), ReLU(), Affine(), Affine()))
    with pytest.raises(ValueError, match="too few"):
        N.forward(params, X, sequence=(Affine(), Dropout(), Affine()))
    with pytest.raises(ValueError, match="more than the layer sequence takes"):
        N.forward(params, X, [np.ones((2, 3))], sequence=(Affine(), ReLU(), Affine()))
