"""Per-dimension normalisation: fitted on the training split only, pure, dtype-preserving."""

from __future__ import annotations

import numpy as np
import pytest
from data_fakes import write_folder

from handprop.data import (
    Dataset,
    Normalizer,
    Splits,
    load_cifar10,
    make_splits,
    normalize,
    normalized_splits,
)


def random_splits(dtype, seed=0) -> Splits:
    rng = np.random.default_rng(seed)

    def ds(n: int, shift: float) -> Dataset:
        X = (rng.random((n, 6)) * 3 + shift).astype(dtype)
        return Dataset(X, rng.integers(0, 10, n), ())

    return Splits(ds(50, 0.0), ds(20, 0.5), ds(20, -0.5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fit_on_train_only_and_apply_to_all(dtype):
    splits = random_splits(dtype)
    before = [ds.X.copy() for ds in (splits.train, splits.val, splits.test)]
    out = normalize(splits)
    mean = splits.train.X.astype(np.float64).mean(axis=0)
    std = splits.train.X.astype(np.float64).std(axis=0)
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for old, new in ((splits.train, out.train), (splits.val, out.val), (splits.test, out.test)):
        assert new.dtype == np.dtype(dtype)
        np.testing.assert_allclose(new.X, (old.X - mean) / std, rtol=tol, atol=tol)
        np.testing.assert_array_equal(new.y, old.y)
        assert not new.X.flags.writeable
    np.testing.assert_allclose(out.train.X.mean(axis=0), 0, atol=tol)
    np.testing.assert_allclose(out.train.X.std(axis=0), 1, atol=tol)
    assert abs(out.val.X.mean()) > 0.1  # validation statistics were not used
    for old, kept in zip(before, (splits.train, splits.val, splits.test), strict=True):
        np.testing.assert_array_equal(old, kept.X)  # inputs untouched


def test_normalizer_records_train_statistics():
    splits = random_splits(np.float32)
    norm = Normalizer.fit(splits.train)
    assert norm.mean.dtype == np.float32 and norm.mean.shape == (6,)
    np.testing.assert_allclose(norm.mean, splits.train.X.mean(axis=0), rtol=1e-6)
    assert not norm.mean.flags.writeable and not norm.std.flags.writeable


def test_constant_dimension_becomes_zero_not_nan():
    X = np.ones((4, 3))
    X[:, 1] = [0.0, 1.0, 2.0, 3.0]
    ds = Dataset(X, [0, 1, 2, 3], ())
    out = Normalizer.fit(ds).apply(ds)
    assert np.isfinite(out.X).all()
    np.testing.assert_array_equal(out.X[:, [0, 2]], 0.0)


def test_real_splits(real_splits):
    train, val, test = real_splits.train, real_splits.val, real_splits.test
    assert train.dtype == np.float64
    assert np.abs(train.X.mean(axis=0)).max() < 1e-10
    np.testing.assert_allclose(train.X.std(axis=0), 1.0, atol=1e-10)
    assert np.abs(val.X.mean(axis=0)).max() > 1e-3
    assert np.abs(test.X.mean(axis=0)).max() > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scheme", ["batch1", "all"])
def test_normalized_splits_equal_normalize_of_make_splits_bit_for_bit(
    dtype, scheme, files, tmp_path
):
    cifar = load_cifar10(write_folder(files, tmp_path / "cifar-10-batches-py"), progress=False)
    expected = normalize(make_splits(cifar, scheme, n_val=7, n_train=20, dtype=dtype))
    got = normalized_splits(cifar, scheme, n_val=7, n_train=20, dtype=dtype)
    for x, e in ((got.train, expected.train), (got.val, expected.val), (got.test, expected.test)):
        assert x.X.dtype == np.dtype(dtype) and not x.X.flags.writeable
        np.testing.assert_array_equal(x.X, e.X)
        np.testing.assert_array_equal(x.y, e.y)


def test_column_stats_in_chunks_match_numpy(monkeypatch):
    import importlib

    module = importlib.import_module("handprop.data.normalize")

    monkeypatch.setattr(module, "FIT_CHUNK", 7)
    X = np.random.default_rng(1).random((50, 4)).astype(np.float32) * 100 + 1e4
    mean, std = module.column_stats(X)
    np.testing.assert_allclose(mean, X.astype(np.float64).mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(std, X.astype(np.float64).std(axis=0), rtol=1e-10)


@pytest.mark.slow  # minutes with NUMBA_DISABLE_JIT=1
@pytest.mark.realdata
@pytest.mark.parametrize(("scheme", "dtype"), [("all", np.float32), ("batch1", np.float64)])
def test_real_normalized_splits_equal_the_float_path_bit_for_bit(cifar10, scheme, dtype):
    """The pixel kernels give the float path's bits on the real images."""
    expected = normalize(make_splits(cifar10, scheme, n_train=8000, dtype=dtype))
    got = normalized_splits(cifar10, scheme, n_train=8000, dtype=dtype)
    for x, e in ((got.train, expected.train), (got.val, expected.val), (got.test, expected.test)):
        np.testing.assert_array_equal(x.X, e.X)
