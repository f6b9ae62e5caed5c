"""The fused SGD + L2 update: exact agreement with the NumPy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handprop.kernels import reference as ref
from handprop.kernels.sgd import sgd_l2_update


@st.composite
def updates(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=30))
    elements = st.floats(-1e3, 1e3, width=32)
    W, G = (draw(hnp.arrays(dtype, shape, elements=elements)) for _ in range(2))
    eta = draw(st.floats(1e-6, 1.0))
    lam = draw(st.sampled_from([0.0, 1e-3, 0.1, 1.0]))
    return W, G, eta, lam


@settings(max_examples=40, deadline=None)
@given(case=updates())
def test_sgd_l2_update_matches_reference_bit_for_bit(case):
    W, G, eta, lam = case
    out, squares = sgd_l2_update(W, G, eta, lam)
    expected, expected_squares = ref.sgd_l2_update(W, G, eta, lam)
    assert out.dtype == W.dtype and out is not W
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(squares, expected_squares, rtol=1e-12)


def test_sgd_l2_update_is_the_gradient_step_of_the_cost():
    W = np.array([[1.0, -2.0]])
    G = np.array([[0.5, 0.5]])
    out, squares = sgd_l2_update(W, G, 0.1, 0.25)
    np.testing.assert_allclose(out, W - 0.1 * (G + 0.5 * W))
    assert squares == 5.0


def test_sgd_l2_update_reads_non_contiguous_inputs_and_leaves_them_alone():
    W = np.arange(12.0).reshape(3, 4)
    G = np.ones((4, 3)).T
    before = W.copy()
    np.testing.assert_array_equal(sgd_l2_update(W.T, G.T, 1.0, 0.0)[0], W.T - 1.0)
    np.testing.assert_array_equal(W, before)


def test_sgd_l2_update_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="must match"):
        sgd_l2_update(np.zeros((2, 3)), np.zeros((3, 2)), 0.1, 0.0)
