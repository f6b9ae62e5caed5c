"""Datasets and the seeds' splits: sizes, contents, dtypes, immutability, bad arguments."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from data_fakes import SMALL_ROWS, fake_labels, fake_pixels, write_folder

from handprop.data import Dataset, load_cifar10, make_splits
from handprop.errors import ConfigError

N = SMALL_ROWS


@pytest.fixture
def fake(files, tmp_path):
    """Synthetic CIFAR-10 with batches of N images (batch k has fake pixels k)."""
    return load_cifar10(write_folder(files, tmp_path / "cifar-10-batches-py"), progress=False)


def pixels(k: int) -> np.ndarray:
    return fake_pixels(k, N) / 255


def test_batch1_scheme(fake):
    splits = make_splits(fake, "batch1", dtype=np.float64)
    for ds, k in ((splits.train, 0), (splits.val, 1), (splits.test, 5)):
        np.testing.assert_array_equal(ds.X, pixels(k))
        np.testing.assert_array_equal(ds.y, fake_labels(k, N))
        assert ds.class_names == fake.class_names


def test_all_scheme_keeps_the_last_images_for_validation(fake):
    splits = make_splits(fake, "all", n_val=7, dtype=np.float64)
    everything = np.concatenate([pixels(k) for k in range(5)])
    np.testing.assert_array_equal(splits.train.X, everything[:-7])
    np.testing.assert_array_equal(splits.val.X, everything[-7:])
    np.testing.assert_array_equal(splits.test.X, pixels(5))
    labels = np.concatenate([fake_labels(k, N) for k in range(5)])
    np.testing.assert_array_equal(splits.train.y, labels[:-7])


@pytest.mark.parametrize("scheme", ["batch1", "all"])
def test_n_train_keeps_the_first_images(fake, scheme):
    splits = make_splits(fake, scheme, n_val=5, n_train=3)
    full = make_splits(fake, scheme, n_val=5)
    assert len(splits.train) == 3
    np.testing.assert_array_equal(splits.train.X, full.train.X[:3])
    np.testing.assert_array_equal(splits.val.X, full.val.X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, "float32"])
def test_dtype_and_pixel_range(fake, dtype):
    splits = make_splits(fake, dtype=dtype)
    for ds in (splits.train, splits.val, splits.test):
        assert ds.dtype == np.dtype(dtype) and ds.y.dtype == np.int64
        assert ds.X.min() >= 0.0 and ds.X.max() <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scheme": "batch2"}, r"scheme must be one of \('batch1', 'all'\), got 'batch2'"),
        ({"scheme": "all", "n_val": 0}, rf"n_val must be in \[1, {5 * N - 1}\], got 0"),
        ({"scheme": "all", "n_val": 5 * N}, "n_val must be in"),
        ({"n_train": 0}, rf"n_train must be in \[1, {N}\], got 0"),
        ({"n_train": N + 1}, "n_train must be in"),
        ({"dtype": np.int32}, r"dtype must be one of \('float32', 'float64'\), got int32"),
    ],
)
def test_bad_arguments_raise_config_error(fake, kwargs, field):
    with pytest.raises(ConfigError, match=field):
        make_splits(fake, **kwargs)


def test_datasets_are_immutable(fake):
    ds = make_splits(fake).train
    with pytest.raises(ValueError, match="read-only"):
        ds.X[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        ds.y[0] = 1
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        ds.X = ds.X  # type: ignore[misc]


def test_dataset_copies_nothing_and_freezes_a_view():
    X, y = np.zeros((3, 4)), np.array([0, 1, 2])
    ds = Dataset(X, y, ["a", "b", "c"])
    assert np.shares_memory(ds.X, X) and X.flags.writeable
    assert ds.class_names == ("a", "b", "c") and len(ds) == 3


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((3, 4), np.uint8), [0, 1, 2], "X must be a 2-D float32 or float64 array"),
        (np.zeros(4), [0], "X must be a 2-D"),
        (np.zeros((3, 4)), [0.0, 1.0, 2.0], "y must be a 1-D integer array"),
        (np.zeros((3, 4)), [0, 1], "X has 3 rows but y has 2 labels"),
    ],
)
def test_dataset_validation(X, y, message):
    with pytest.raises(ValueError, match=message):
        Dataset(X, y, ())


def test_real_batch1_sizes(cifar10):
    splits = make_splits(cifar10, "batch1")
    assert [len(ds) for ds in (splits.train, splits.val, splits.test)] == [10000] * 3
    assert splits.train.X.shape == (10000, 3072)
    np.testing.assert_array_equal(splits.val.y, cifar10.train[1].labels)
    assert cifar10.class_names[0] == "airplane" and cifar10.class_names[-1] == "truck"


@pytest.mark.parametrize(("n_val", "n_train"), [(5000, 45000), (1000, 49000)])
def test_real_all_sizes(cifar10, n_val, n_train):
    splits = make_splits(cifar10, "all", n_val=n_val)
    assert [len(ds) for ds in (splits.train, splits.val, splits.test)] == [n_train, n_val, 10000]
    np.testing.assert_array_equal(splits.val.y, cifar10.train[4].labels[-n_val:])
