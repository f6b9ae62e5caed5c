"""The raw CIFAR-10 record and the validation of each batch file.

A batch is a dict with byte-string keys: ``data`` a (10000, 3072) uint8 array
(rows are images in CHW order) and ``labels`` a list of 10000 integers in
0..9. ``batches.meta`` holds ``label_names``, the ten class names.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
import numpy as np
from numpy.typing import NDArray

from handprop.data.unpickle import restricted_loads
from handprop.errors import DataError

ROWS_PER_BATCH = 10000
N_FEATURES = 3 * 32 * 32
N_CLASSES = 10
TRAIN_FILES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
FILES: tuple[str, ...] = (*TRAIN_FILES, TEST_FILE, META_FILE)
BATCH_BYTES = 40 * 2**20
"""Largest batch file read: an official one holds about 31 MB (30 MiB of pixels, labels, names)."""
META_BYTES = 16 * 2**10
"""Largest ``batches.meta`` read: the official one holds 158 bytes."""


def max_bytes(name: str) -> int:
    """The largest size file ``name`` of :data:`FILES` may have."""
    return META_BYTES if name == META_FILE else BATCH_BYTES


def read_only(arr: np.ndarray) -> np.ndarray:
    """A read-only view of ``arr`` (``arr`` itself when already read-only)."""
    if arr.flags.writeable:
        arr = arr.view()
        arr.flags.writeable = False
    return arr


@attrs.frozen
class Batch:
    """One batch file: ``data`` (10000, 3072) uint8, ``labels`` (10000,) int64, read-only."""

    data: NDArray[np.uint8] = attrs.field(converter=read_only, repr=False)
    labels: NDArray[np.int64] = attrs.field(converter=read_only, repr=False)


@attrs.frozen
class Cifar10:
    """All of CIFAR-10 as stored: five training batches, the test batch, class names."""

    train: tuple[Batch, ...]
    test: Batch
    class_names: tuple[str, ...]
    origin: str


def _field(raw: Mapping[bytes, object], key: bytes, name: str, remedy: str) -> object:
    if key not in raw:
        raise DataError(f"{name}: missing entry {key.decode()!r}. {remedy}")
    return raw[key]


def parse_batch(blob: bytes, name: str, remedy: str) -> Batch:
    """Unpickle and validate one batch: 10000 x 3072 uint8 pixels, labels in 0..9."""
    rows = ROWS_PER_BATCH
    raw = restricted_loads(blob, name, remedy)
    if not isinstance(raw, dict):
        raise DataError(f"{name}: expected a dict, found {type(raw).__name__}. {remedy}")
    data = _field(raw, b"data", name, remedy)
    if not (
        isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.shape == (rows, N_FEATURES)
    ):
        found = (
            f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        )
        raise DataError(
            f"{name}: 'data' must be a uint8 array of shape ({rows}, {N_FEATURES}), "
            f"found {found}. {remedy}"
        )
    try:
        labels = np.asarray(_field(raw, b"labels", name, remedy))
    except (TypeError, ValueError):  # ragged or otherwise not array-like
        raise DataError(f"{name}: 'labels' must be a list of integers. {remedy}") from None
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{name}: 'labels' must be integers, found {labels.dtype}. {remedy}")
    if labels.shape != (rows,):
        raise DataError(f"{name}: expected {rows} labels, found shape {labels.shape}. {remedy}")
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        raise DataError(
            f"{name}: labels must lie in 0..{N_CLASSES - 1}, found "
            f"{labels.min()}..{labels.max()}. {remedy}"
        )
    labels = labels.astype(np.int64)
    return Batch(data, labels)


def parse_meta(blob: bytes, name: str, remedy: str) -> tuple[str, ...]:
    """Unpickle ``batches.meta`` and return its ten class names."""
    raw = restricted_loads(blob, name, remedy)
    names = _field(raw, b"label_names", name, remedy) if isinstance(raw, dict) else None
    if not (
        isinstance(names, list)
        and len(names) == N_CLASSES
        and all(isinstance(n, bytes | str) for n in names)
    ):
        raise DataError(f"{name}: expected {N_CLASSES} class names in 'label_names'. {remedy}")
    try:
        return tuple(n.decode() if isinstance(n, bytes) else n for n in names)
    except UnicodeDecodeError as err:
        raise DataError(f"{name}: class names must be UTF-8 text ({err}). {remedy}") from None


def parse_cifar10(blobs: Mapping[str, bytes], origin: str, remedy: str) -> Cifar10:
    """Validate every file of ``blobs`` (file name -> bytes, names in :data:`FILES`)."""
    missing = [f for f in FILES if f not in blobs]
    if missing:
        raise DataError(f"{origin}: missing {', '.join(missing)}. {remedy}")

    def batch(f: str) -> Batch:
        return parse_batch(blobs[f], f"{origin}/{f}", remedy)

    return Cifar10(
        train=tuple(batch(f) for f in TRAIN_FILES),
        test=batch(TEST_FILE),
        class_names=parse_meta(blobs[META_FILE], f"{origin}/{META_FILE}", remedy),
        origin=origin,
    )
