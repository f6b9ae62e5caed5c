"""Parameter records: initialisation options, seeding, dtypes, depth, immutability."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handprop.nn.params import AffineParams, Params, params_allclose, params_equal
from handprop.train import config_from_dict, init_params


def test_fan_in_init_statistics():
    p = init_params(
        config_from_dict(dict(hidden=(400,), dtype="float64", init="fan_in")), 3072, 10, seed=0
    )
    W1, W2 = p.layers[0].W, p.layers[1].W
    assert W1.std() == pytest.approx(1 / np.sqrt(3072), rel=0.02)
    assert W2.std() == pytest.approx(1 / np.sqrt(400), rel=0.05)
    assert abs(W1.mean()) < 1e-3
    assert all(not layer.b.any() for layer in p.layers)


def test_normal_001_init_statistics():
    p = init_params(
        config_from_dict(dict(hidden=(), dtype="float64", init="normal_0.01")), 3072, 10, seed=0
    )
    layer = p.layers[0]
    assert layer.W.std() == pytest.approx(0.01, rel=0.02)
    assert layer.b.shape == (10,) and layer.b.any()


@settings(max_examples=20, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 6), max_size=3).map(tuple),
    seed=st.integers(0, 2**32 - 1),
    init=st.sampled_from(["fan_in", "normal_0.01"]),
)
def test_seeded_reproducible_any_depth(hidden, seed, init):
    a = init_params(config_from_dict(dict(hidden=hidden, init=init)), 5, 3, seed=seed)
    b = init_params(config_from_dict(dict(hidden=hidden, init=init)), 5, 3, seed=seed)
    assert params_equal(a, b)
    assert a.sizes == (5, *hidden, 3) and a.hidden == hidden
    assert len(a.layers) == len(hidden) + 1
    assert not params_equal(
        a, init_params(config_from_dict(dict(hidden=hidden, init=init)), 5, 3, seed=seed + 1)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32"])
def test_dtype_and_same_values_across_dtypes(dtype):
    p = init_params(config_from_dict(dict(hidden=7, dtype=np.dtype(dtype).name)), 20, 4, seed=3)
    assert p.dtype == np.dtype(dtype)
    assert all(a.dtype == np.dtype(dtype) for a in p.arrays().values())
    assert params_allclose(
        p.astype(np.float64),
        init_params(config_from_dict(dict(hidden=(7,), dtype="float64")), 20, 4, seed=3),
        rtol=1e-6,
    )


def test_generator_seed_is_accepted():
    a = init_params(config_from_dict(dict(hidden=(3,))), 4, 2, seed=np.random.default_rng(9))
    assert params_equal(
        a, init_params(config_from_dict(dict(hidden=(3,))), 4, 2, seed=np.random.default_rng(9))
    )


def test_records_are_immutable():
    p = init_params(config_from_dict(dict(hidden=(3,))), 4, 2, seed=0)
    with pytest.raises(ValueError, match="read-only"):
        p.layers[0].W[0, 0] = 1.0
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        p.layers[0].W = np.zeros((4, 3))  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        p.layers = ()  # type: ignore[misc]
    evolved = attrs.evolve(p.layers[0], b=np.ones(3, np.float32))
    assert evolved.b[0] == 1 and p.layers[0].b[0] == 0


def test_arrays_round_trip_and_map():
    p = init_params(config_from_dict(dict(hidden=(3, 2))), 4, 5, seed=0)
    assert list(p.arrays()) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert params_equal(Params.from_arrays(p.arrays()), p)
    doubled = p.map(lambda a: 2 * a)
    assert params_allclose(doubled, p.zip_map(p, lambda a, b: a + b))
    with pytest.raises(ValueError, match="W2"):
        Params.from_arrays({"W1": p.layers[0].W, "b1": p.layers[0].b, "b2": p.layers[1].b, "x": 0})


def test_invalid_records_and_options_are_rejected():
    with pytest.raises(ValueError, match="expects"):
        Params(
            (
                AffineParams(np.zeros((4, 3)), np.zeros(3)),
                AffineParams(np.zeros((2, 2)), np.zeros(2)),
            )
        )
    with pytest.raises(ValueError, match="AffineParams needs"):
        AffineParams(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(TypeError, match="floating"):
        AffineParams(np.zeros((2, 2), int), np.zeros(2, int))
    assert not params_equal(
        init_params(config_from_dict(dict(hidden=(3,))), 4, 2, seed=0),
        init_params(config_from_dict(dict(hidden=(2,))), 4, 2, seed=0),
    )
