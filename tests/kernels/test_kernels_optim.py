"""Fused momentum and Adam kernels bit for bit against their NumPy references (the chains'
fused step against the plain composition: tests/optim/test_optim_fused.py)."""

from __future__ import annotations

import platform
import re

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handprop.kernels import reference as ref
from handprop.kernels.optim import _adam, adam_constants, adam_update, momentum_update

dtypes = st.sampled_from([np.float32, np.float64])
lams = st.sampled_from([0.0, 1e-3, 0.5])


@st.composite
def arrays(draw, n: int):
    dtype = draw(dtypes)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=20))
    elements = st.floats(-1e3, 1e3, width=32)
    return [draw(hnp.arrays(dtype, shape, elements=elements)) for _ in range(n)]


@settings(max_examples=40, deadline=None)
@given(
    a=arrays(3),
    eta=st.floats(1e-6, 1.0),
    lam=lams,
    beta=st.floats(0.0, 0.99),
    nesterov=st.booleans(),
)
def test_momentum_update_matches_reference_bit_for_bit(a, eta, lam, beta, nesterov):
    W, G, buf = a
    out = momentum_update(W, G, buf, eta, lam, beta, nesterov)
    expected = ref.momentum_update(W, G, buf, eta, lam, beta, nesterov)
    for x, y in zip(out, expected, strict=True):
        assert x.dtype == W.dtype
        np.testing.assert_array_equal(x, y)


@settings(max_examples=40, deadline=None)
@given(
    a=arrays(3),
    eta=st.floats(1e-6, 1.0),
    count=st.integers(1, 1000),
    lam=lams,
    decay=st.sampled_from([0.0, 0.01, 0.5]),
    eps=st.sampled_from([1e-8, 1e-3]),
)
def test_adam_update_matches_reference_bit_for_bit(a, eta, count, lam, decay, eps):
    W, G, m = a
    v = np.abs(m)  # second moments are never negative
    constants = adam_constants(eta, count, 0.9, 0.999, eps, lam, decay)
    out = adam_update(W, G, m, v, constants)
    expected = ref.adam_update(W, G, m, v, constants)
    for x, y in zip(out, expected, strict=True):
        assert x.dtype == W.dtype
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update_of_a_layer_matches_reference_bit_for_bit(dtype):
    """A whole layer (3072 x 17: the vectorised loop and its remainder), weight decay on."""
    rng = np.random.default_rng(3)
    W, G, m = (rng.standard_normal((3072, 17)).astype(dtype) for _ in range(3))
    v = np.abs(rng.standard_normal((3072, 17))).astype(dtype) * 1e-6
    constants = adam_constants(1e-3, 7, 0.9, 0.999, 1e-8, 1e-3, 0.01)
    out, expected = adam_update(W, G, m, v, constants), ref.adam_update(W, G, m, v, constants)
    for x, y in zip(out, expected, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="a compiled kernel's options")
def test_adam_kernel_uses_numpys_error_model():
    """No zero-divisor check per division (the divisor is ``sqrt(v) / root + eps``, eps > 0):
    with the check, the loop cannot be vectorised."""
    assert _adam.targetoptions["error_model"] == "numpy"


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64")
    or numba.config.DISABLE_JIT
    or tuple(int(x) for x in numba.__version__.split(".")[:2]) < (0, 68),
    reason="x86 vector instructions of the kernel as compiled by Numba 0.68 (0.59 keeps the "
    "loop scalar with either error model)",
)
def test_adam_kernel_is_vectorised():
    """Its square roots and divisions compile to packed instructions (Python's error model,
    which checks each divisor, keeps them scalar, at over twice the time per update)."""
    options = {k: v for k, v in _adam.targetoptions.items() if k != "nopython"}
    kernel = numba.njit(**options)(_adam.py_func)  # a fresh compile, not the cache
    a = np.ones(64, np.float32)
    kernel(a, a, a, a, np.ones(8, np.float32), a.copy(), a.copy(), a.copy())
    (asm,) = kernel.inspect_asm().values()
    assert re.search(r"\bv?sqrtp[sd]\b", asm) and re.search(r"\bv?divp[sd]\b", asm)


def test_kernels_refuse_mismatched_arrays():
    with pytest.raises(ValueError, match="must match"):
        momentum_update(np.zeros(3), np.zeros(3), np.zeros(3, np.float32), 0.1, 0.0, 0.9, False)
