"""Validation of each batch file and of batches.meta."""

from __future__ import annotations

import numpy as np
import pytest
from data_fakes import (
    CLASS_NAMES,
    ROWS,
    SMALL_ROWS,
    batch_bytes,
    fake_labels,
    fake_pixels,
    meta_bytes,
    python2_pickle,
)

from handprop.data.batches import parse_batch, parse_cifar10, parse_meta
from handprop.errors import DataError


def test_valid_full_size_batch_is_read_only_uint8_and_int64():
    batch = parse_batch(batch_bytes(3), "data_batch_4", "fix")
    np.testing.assert_array_equal(batch.data, fake_pixels(3))
    np.testing.assert_array_equal(batch.labels, fake_labels(3))
    assert batch.data.dtype == np.uint8 and batch.labels.dtype == np.int64
    assert not batch.data.flags.writeable and not batch.labels.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        batch.data[0, 0] = 1


def test_full_size_batch_with_a_missing_row():
    blob = batch_bytes(0, data=np.zeros((ROWS - 1, 3072), np.uint8))
    with pytest.raises(DataError, match=r"shape \(10000, 3072\), found uint8 \(9999, 3072\)"):
        parse_batch(blob, "data_batch_1", "fix")


N = SMALL_ROWS


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": np.zeros((N, 3071), np.uint8)}, rf"uint8 array of shape \({N}, 3072\)"),
        ({"data": np.zeros((N - 1, 3072), np.uint8)}, rf"found uint8 \({N - 1}, 3072\)"),
        ({"data": np.zeros((N, 3072), np.float32)}, "found float32"),
        ({"data": [[0] * 3072] * 3}, "found list"),
        ({"labels": [0] * (N - 1)}, f"expected {N} labels"),
        ({"labels": [10] + [0] * (N - 1)}, r"labels must lie in 0\.\.9, found 0\.\.10"),
        ({"labels": [-1] + [0] * (N - 1)}, r"found -1\.\.0"),
        ({"labels": ["cat"] * N}, "'labels' must be integers"),
        ({"labels": [2.5] * N}, "'labels' must be integers, found float64"),
        ({"labels": [3] * (N - 1) + [2.5]}, "'labels' must be integers, found float64"),
        ({"labels": np.full(N, 2.0)}, "'labels' must be integers, found float64"),
        ({"labels": [True] * N}, "'labels' must be integers, found bool"),
        ({"labels": [2**70] * N}, "'labels' must be integers, found object"),
        ({"labels": [[1], [2, 3]] + [[0]] * (N - 2)}, "'labels' must be a list of integers"),
    ],
)
def test_bad_batches_raise_data_error_naming_the_file(files, kwargs, message):
    with pytest.raises(DataError, match=rf"^dir/data_batch_2: .*{message}.*re-download$"):
        parse_batch(batch_bytes(1, rows=N, **kwargs), "dir/data_batch_2", "re-download")


@pytest.mark.parametrize(
    ("record", "message"),
    [([1, 2], "expected a dict, found list"), ({b"labels": [0]}, "missing entry 'data'")],
)
def test_wrong_structure_raises_data_error(files, record, message):
    with pytest.raises(DataError, match=message):
        parse_batch(python2_pickle(record), "data_batch_1", "fix")


def test_integer_label_arrays_of_any_width_are_accepted(files):
    labels = np.arange(N, dtype=np.uint8) % 10
    batch = parse_batch(batch_bytes(1, rows=N, labels=labels), "data_batch_2", "fix")
    np.testing.assert_array_equal(batch.labels, labels)
    assert batch.labels.dtype == np.int64


def test_meta_gives_class_names():
    assert parse_meta(meta_bytes(), "batches.meta", "fix") == CLASS_NAMES


@pytest.mark.parametrize("names", [[b"a"] * 9, [1] * 10, None])
def test_bad_meta_raises_data_error(names):
    with pytest.raises(DataError, match=r"^batches.meta: expected 10 class names"):
        parse_meta(meta_bytes(names), "batches.meta", "fix")


def test_class_names_that_are_not_utf8():
    names = [b"cat"] * 9 + [b"\xffdog"]
    with pytest.raises(DataError, match=r"^batches.meta: class names must be UTF-8 text .*fix$"):
        parse_meta(meta_bytes(names), "batches.meta", "fix")


def test_missing_files_are_named(files):
    partial = {k: v for k, v in files.items() if k not in ("test_batch", "batches.meta")}
    with pytest.raises(DataError, match=r"^here: missing test_batch, batches\.meta\. fix$"):
        parse_cifar10(partial, "here", "fix")
