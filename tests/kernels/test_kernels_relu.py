"""ReLU kernels: exact agreement with the NumPy reference."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handprop.kernels import reference as ref
from handprop.kernels.relu import relu_backward, relu_forward

FEW = settings(max_examples=30, deadline=None)


@st.composite
def pairs(draw):
    """Two float arrays of one random 2-D shape and dtype, with zeros and infinities."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=20))
    elements = st.floats(width=32, allow_nan=False)  # width 32 fits both dtypes
    return tuple(draw(hnp.arrays(dtype, shape, elements=elements)) for _ in range(2))


@FEW
@given(pair=pairs())
def test_relu_matches_reference(pair):
    x, dout = pair
    out = relu_forward(x)
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out, ref.relu_forward(x))
    np.testing.assert_array_equal(relu_backward(dout, out), ref.relu_backward(dout, out))


def test_relu_values():
    x = np.array([[-2.0, -0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(relu_forward(x), [[0, 0, 0, 3]])
    np.testing.assert_array_equal(relu_backward(np.ones_like(x), relu_forward(x)), [[0, 0, 0, 1]])


def test_relu_handles_non_contiguous_input():
    x = np.random.default_rng(0).standard_normal((6, 8))[:, ::2]
    np.testing.assert_array_equal(relu_forward(x), np.maximum(x, 0))
