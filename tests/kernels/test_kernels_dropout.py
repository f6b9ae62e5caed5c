"""Dropout masks: exact agreement with the NumPy reference, values, keep rate, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handprop.errors import ConfigError
from handprop.kernels import reference as ref
from handprop.kernels.dropout import dropout_mask

FEW = settings(max_examples=30, deadline=None)
rates = st.floats(0.0, 0.99).filter(lambda r: r < 1.0)
shapes = st.tuples(st.integers(1, 40), st.integers(1, 40))
dtypes = st.sampled_from([np.float32, np.float64])


@FEW
@given(seed=st.integers(0, 2**32 - 1), shape=shapes, rate=rates, dtype=dtypes)
def test_matches_reference_and_takes_two_values(seed, shape, rate, dtype):
    mask = dropout_mask(np.random.default_rng(seed), shape, rate, dtype)
    np.testing.assert_array_equal(
        mask, ref.dropout_mask(np.random.default_rng(seed), shape, rate, dtype)
    )
    assert mask.shape == shape and mask.dtype == dtype
    scale = np.dtype(dtype).type(1 / (1 - rate))
    assert np.all((mask == 0) | (mask == scale))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_keep_rate_and_mean_are_within_tolerance(rate, dtype):
    n = 100 * 256
    mask = dropout_mask(np.random.default_rng(3), (100, 256), rate, dtype)
    keep = 1 - rate
    tol = 5 * np.sqrt(keep * rate / n)  # five standard deviations
    assert abs(np.mean(mask > 0) - keep) < tol
    assert abs(mask.mean() - 1) < tol / keep  # inverted scaling keeps the expectation


def test_rate_zero_keeps_everything():
    mask = dropout_mask(np.random.default_rng(0), (7, 9), 0.0, np.float32)
    np.testing.assert_array_equal(mask, np.ones((7, 9), np.float32))


def test_same_seed_same_bits_other_seed_other_bits():
    def draw(seed):
        return dropout_mask(np.random.default_rng(seed), (50, 20), 0.5, np.float64)

    assert draw(5).tobytes() == draw(5).tobytes()
    assert not np.array_equal(draw(5), draw(6))


def test_draws_advance_the_generator():
    rng = np.random.default_rng(0)
    assert not np.array_equal(dropout_mask(rng, 100, 0.5), dropout_mask(rng, 100, 0.5))


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_rejects_rates_outside_unit_interval(rate):
    with pytest.raises(ConfigError, match=r"rate must be in \[0, 1\)"):
        dropout_mask(np.random.default_rng(0), (2, 2), rate, np.float32)


def test_rejects_non_float_dtype():
    with pytest.raises(ConfigError, match="dtype"):
        dropout_mask(np.random.default_rng(0), (2, 2), 0.5, np.int32)
