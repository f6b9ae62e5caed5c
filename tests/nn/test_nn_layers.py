"""Layer pairs: every backward matches centred finite differences on random shapes (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handprop.kernels.dropout import dropout_mask
from handprop.nn import layers as L

FEW = settings(max_examples=20, deadline=None)
RTOL, ATOL = 1e-6, 1e-9
sizes = st.integers(1, 6)
seeds = st.integers(0, 2**32 - 1)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@FEW
@given(n=sizes, d=sizes, m=sizes, seed=seeds)
def test_affine_backward_matches_finite_differences(n, d, m, seed, numgrad):
    rng = _rng(seed)
    x, W, b, G = (
        rng.standard_normal((n, d)),
        rng.standard_normal((d, m)),
        rng.standard_normal(m),
        rng.standard_normal((n, m)),
    )

    def f() -> float:
        return float(np.sum(L.affine_forward(x, W, b)[0] * G))

    out, cache = L.affine_forward(x, W, b)
    np.testing.assert_allclose(out, x @ W + b)
    dx, dW, db = L.affine_backward(G, cache)
    for analytic, arr in ((dx, x), (dW, W), (db, b)):
        np.testing.assert_allclose(analytic, numgrad(f, arr), rtol=RTOL, atol=ATOL)
    assert L.affine_backward(G, cache, need_dx=False)[0] is None


@FEW
@given(n=sizes, m=sizes, seed=seeds)
def test_relu_backward_matches_finite_differences(n, m, seed, numgrad):
    rng = _rng(seed)
    x = rng.standard_normal((n, m))
    x[np.abs(x) < 1e-3] = 0.5  # keep clear of the kink
    G = rng.standard_normal((n, m))
    out, cache = L.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(x, 0))
    expected = numgrad(lambda: float(np.sum(L.relu_forward(x)[0] * G)), x)
    np.testing.assert_allclose(L.relu_backward(G, cache), expected, rtol=RTOL, atol=ATOL)


@FEW
@given(n=sizes, m=sizes, seed=seeds, rate=st.sampled_from([0.0, 0.3, 0.5, 0.9]))
def test_dropout_backward_uses_the_mask(n, m, seed, rate, numgrad):
    rng = _rng(seed)
    x, G = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    mask = dropout_mask(rng, (n, m), rate, np.float64)
    out, cache = L.dropout_forward(x, mask)
    np.testing.assert_array_equal(out, x * mask)
    dx = L.dropout_backward(G, cache)
    np.testing.assert_array_equal(dx, G * mask)
    assert np.all(dx[mask == 0] == 0)
    expected = numgrad(lambda: float(np.sum(L.dropout_forward(x, mask)[0] * G)), x)
    np.testing.assert_allclose(dx, expected, rtol=RTOL, atol=ATOL)


def test_dropout_rejects_mask_of_other_shape():
    with pytest.raises(ValueError, match="mask shape"):
        L.dropout_forward(np.ones((2, 3)), np.ones((3, 2)))


@FEW
@given(n=sizes, k=st.integers(2, 6), seed=seeds)
def test_softmax_cross_entropy_backward_matches_finite_differences(n, k, seed, numgrad):
    rng = _rng(seed)
    s, y = 3 * rng.standard_normal((n, k)), rng.integers(0, k, n)
    loss, cache = L.softmax_cross_entropy_forward(s, y)
    p = L.softmax(s)
    np.testing.assert_allclose(loss, -np.mean(np.log(p[np.arange(n), y])), rtol=1e-12, atol=1e-15)
    expected = numgrad(lambda: L.softmax_cross_entropy_forward(s, y)[0], s)
    # |loss| ~ 1, so the centred differences carry ~eps / STEP ~ 1e-10 of round-off
    np.testing.assert_allclose(
        L.softmax_cross_entropy_backward(cache), expected, rtol=RTOL, atol=10 * ATOL
    )


def test_softmax_is_stable_for_huge_scores():
    s = np.array([[1000.0, 0.0, -1000.0], [5e3, 5e3, 5e3]])
    p = L.softmax(s)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    loss, _ = L.softmax_cross_entropy_forward(s, np.array([2, 0]))
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, (2000 + np.log(3)) / 2)


@FEW
@given(d=sizes, m=sizes, lam=st.floats(0, 2), seed=seeds)
def test_l2_backward_matches_finite_differences(d, m, lam, seed, numgrad):
    rng = _rng(seed)
    W1, W2 = rng.standard_normal((d, m)), rng.standard_normal((m, 3))
    assert L.l2_penalty((W1, W2), lam) == pytest.approx(lam * (np.sum(W1**2) + np.sum(W2**2)))
    expected = numgrad(lambda: L.l2_penalty((W1, W2), lam), W1)
    np.testing.assert_allclose(L.l2_backward(W1, lam), expected, rtol=RTOL, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_dtype(dtype):
    rng = _rng(0)
    x, W, b = (rng.standard_normal(s).astype(dtype) for s in ((4, 5), (5, 3), (3,)))
    out, cache = L.affine_forward(x, W, b)
    h, rc = L.relu_forward(out)
    _, xc = L.softmax_cross_entropy_forward(h, np.array([0, 1, 2, 0]))
    ds = L.softmax_cross_entropy_backward(xc)
    grads = L.affine_backward(L.relu_backward(ds, rc), cache)
    assert all(a.dtype == dtype for a in (out, h, ds, *grads))
