"""The network's backpropagation against centred finite differences, for any depth."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handprop.kernels.dropout import dropout_mask
from handprop.nn import network as N
from handprop.nn.params import AffineParams, Params
from handprop.train import config_from_dict, init_params

FEW = settings(max_examples=15, deadline=None)
hidden_sizes = st.sampled_from([(), (4,), (3, 5)])


def _writable_params(
    sizes: tuple[int, ...], rng: np.random.Generator
) -> tuple[Params, list[np.ndarray]]:
    """A float64 record whose arrays are read-only views of the returned writable bases."""
    bases = []
    for a, b in itertools.pairwise(sizes):
        bases += [rng.standard_normal((a, b)) / np.sqrt(a), 0.1 * rng.standard_normal(b)]
    layers = [AffineParams(bases[i], bases[i + 1]) for i in range(0, len(bases), 2)]
    return Params(layers), bases


@FEW
@given(
    hidden=hidden_sizes,
    n=st.integers(1, 5),
    d=st.integers(1, 6),
    k=st.integers(2, 5),
    lam=st.sampled_from([0.0, 0.3]),
    rate=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_gradients_match_finite_differences(hidden, n, d, k, lam, rate, seed, numgrad):
    rng = np.random.default_rng(seed)
    params, bases = _writable_params((d, *hidden, k), rng)
    X, y = rng.standard_normal((n, d)), rng.integers(0, k, n)
    mask = [dropout_mask(rng, (n, m), rate, np.float64) for m in hidden] if rate else None
    grads = N.gradients(params, X, y, lam, mask)
    analytic = [a for layer in grads.layers for a in (layer.W, layer.b)]

    def cost() -> float:
        return N.loss_and_gradients(params, X, y, lam, mask)[1]

    for g, base in zip(analytic, bases, strict=True):
        np.testing.assert_allclose(g, numgrad(cost, base), rtol=1e-6, atol=1e-8)


def test_cost_is_loss_plus_penalty_and_matches_evaluate():
    rng = np.random.default_rng(0)
    params = init_params(config_from_dict(dict(hidden=(5,), dtype="float64")), 7, 3, seed=1)
    X, y = rng.standard_normal((9, 7)), rng.integers(0, 3, 9)
    loss, cost, _ = N.loss_and_gradients(params, X, y, 0.2)
    penalty = 0.2 * sum(np.sum(layer.W**2) for layer in params.layers)
    assert cost == pytest.approx(loss + penalty, rel=1e-12)
    ev = N.evaluate(params, X, y, 0.2)
    assert (ev.loss, ev.cost) == pytest.approx((loss, cost), rel=1e-12)
    assert N.cost(params, X, y, 0.2) == pytest.approx(cost, rel=1e-12)
    assert N.loss(params, X, y) == pytest.approx(loss, rel=1e-12)
    P = N.predict(params, X)
    np.testing.assert_allclose(P.sum(axis=1), 1)
    assert N.accuracy(params, X, y) == np.mean(P.argmax(1) == y)


def test_dropout_mask_changes_the_gradients_through_it():
    rng = np.random.default_rng(0)
    params = init_params(config_from_dict(dict(hidden=(8,), dtype="float64")), 6, 3, seed=0)
    X, y = rng.standard_normal((5, 6)), rng.integers(0, 3, 5)
    mask = dropout_mask(rng, (5, 8), 0.5, np.float64)
    with_mask = N.gradients(params, X, y, 0.0, mask)
    without = N.gradients(params, X, y, 0.0)
    assert not np.allclose(with_mask.layers[0].W, without.layers[0].W)
    dead = np.flatnonzero((mask == 0).all(axis=0))  # hidden units dropped for every row
    np.testing.assert_array_equal(with_mask.layers[0].W[:, dead], 0)


def test_wrong_number_of_masks_is_rejected():
    params = init_params(config_from_dict(dict(hidden=(3, 3))), 4, 2, seed=0)
    X = np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match="2 hidden layers"):
        N.forward(params, X, np.ones((2, 3), np.float32))


@pytest.mark.parametrize("hidden", [(), (6,), (5, 4)])
def test_float32_gradients_are_float32_and_close_to_float64(hidden):
    rng = np.random.default_rng(2)
    p64 = init_params(config_from_dict(dict(hidden=hidden, dtype="float64")), 10, 4, seed=3)
    X, y = rng.standard_normal((8, 10)), rng.integers(0, 4, 8)
    g64 = N.gradients(p64, X, y, 0.01)
    g32 = N.gradients(p64.astype(np.float32), X.astype(np.float32), y, 0.01)
    assert g32.dtype == np.float32 and g32.sizes == g64.sizes
    for a, b in zip(g32.arrays().values(), g64.arrays().values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_scores_of_empty_input():
    params = init_params(config_from_dict(dict(hidden=(3,))), 4, 2, seed=0)
    assert N.scores(params, np.zeros((0, 4), np.float32)).shape == (0, 2)
