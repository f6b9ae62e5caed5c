"""The fused softmax cross-entropy kernel against its NumPy reference and the layer pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handprop.kernels import reference as ref
from handprop.kernels.softmax import softmax_xent
from handprop.nn import layers as L


@settings(max_examples=40)
@given(
    n=st.integers(1, 40),
    k=st.integers(2, 12),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_reference_and_layer_pair(n, k, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    scores = (scale * rng.standard_normal((n, k))).astype(dtype)
    y = rng.integers(0, k, n)
    loss, dscores = softmax_xent(scores, y)
    ref_loss, ref_dscores = ref.softmax_xent(scores, y)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    assert dscores.dtype == scores.dtype
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(dscores, ref_dscores, rtol=tol, atol=tol / n)
    pair_loss, cache = L.softmax_cross_entropy_forward(scores, y)
    assert loss == pytest.approx(pair_loss, rel=tol, abs=tol)
    np.testing.assert_allclose(dscores, L.softmax_cross_entropy_backward(cache), atol=tol / n)


def test_huge_scores_stay_finite():
    loss, dscores = softmax_xent(np.array([[1e4, 0.0, -1e4]]), np.array([2]))
    assert loss == pytest.approx(2e4) and np.isfinite(dscores).all()
    np.testing.assert_allclose(dscores, [[1.0, 0.0, -1.0]])


@pytest.mark.parametrize("y", [[0, 3], [-1, 0]])
def test_labels_out_of_range_are_refused(y):
    with pytest.raises(ValueError, match="labels"):
        softmax_xent(np.zeros((2, 3)), np.array(y))


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="expected"):
        softmax_xent(np.zeros((2, 3)), np.array([0, 1, 2]))
