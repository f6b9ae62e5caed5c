"""Immutable datasets and the train / validation / test splits the seeds use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

import attrs
import numpy as np
from numpy.typing import DTypeLike, NDArray

from handprop.data.batches import Batch, Cifar10, read_only
from handprop.errors import ConfigError

if TYPE_CHECKING:
    from handprop.data.normalize import Normalizer

Scheme = Literal["batch1", "all"]
SCHEMES: tuple[str, ...] = ("batch1", "all")
DTYPES: tuple[str, ...] = ("float32", "float64")


def _images(value: object) -> NDArray[np.floating]:
    X = np.asarray(value)
    if X.ndim != 2 or X.dtype.name not in DTYPES:
        raise ValueError(f"X must be a 2-D float32 or float64 array, got {X.dtype} {X.shape}")
    return read_only(X)


def _labels(value: object) -> NDArray[np.int64]:
    y = np.asarray(value)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D integer array, got {y.dtype} {y.shape}")
    return read_only(y.astype(np.int64, copy=False))


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class Dataset:
    """Images ``X`` (n, d) float32/float64 (d = 3072 for CIFAR-10), labels ``y`` (n,) int64.

    Both arrays are read-only; derive new datasets instead of editing one.
    """

    X: NDArray[np.floating] = attrs.field(converter=_images, repr=False)
    y: NDArray[np.int64] = attrs.field(converter=_labels, repr=False)
    class_names: tuple[str, ...] = attrs.field(converter=_names)

    def __attrs_post_init__(self) -> None:
        if len(self.y) != len(self.X):
            raise ValueError(f"X has {len(self.X)} rows but y has {len(self.y)} labels")

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype


@attrs.frozen
class Splits:
    """The training, validation and test datasets, and the :class:`Normalizer` fitted on
    the training split if the splits were normalised by it (``None`` otherwise)."""

    train: Dataset
    val: Dataset
    test: Dataset
    normalizer: Normalizer | None = attrs.field(default=None, kw_only=True, eq=False)


def scaled(data: np.ndarray, dtype: DTypeLike) -> np.ndarray:
    """uint8 pixels (n, 3072) as a new ``dtype`` array scaled to [0, 1]."""
    X = data.astype(dtype)
    X /= 255
    return X


def _owner(arr: np.ndarray) -> np.ndarray:
    """The array whose memory ``arr`` views (``arr`` itself if it owns it)."""
    while isinstance(arr.base, np.ndarray):
        arr = arr.base
    return arr


def stacked(arrays: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate(arrays)``, as a read-only view without a copy when the arrays are
    C-contiguous and lie back to back in one array's memory (as the decoded cache maps the
    batches)."""
    first, owner = arrays[0], _owner(arrays[0])
    if owner.flags.c_contiguous and all(
        _owner(a) is owner
        and a.flags.c_contiguous
        and a.dtype == first.dtype
        and a.shape[1:] == first.shape[1:]
        for a in arrays
    ):
        address = owner.__array_interface__["data"][0]
        starts = [a.__array_interface__["data"][0] - address for a in arrays]
        ends = [s + a.nbytes for s, a in zip(starts, arrays, strict=True)]
        if starts[1:] == ends[:-1]:
            shape = (sum(len(a) for a in arrays), *first.shape[1:])
            view = np.ndarray(shape, first.dtype, buffer=owner, offset=starts[0])
            return read_only(view)
    return np.concatenate(arrays)


def check_dtype(dtype: DTypeLike) -> np.dtype:
    """``dtype`` as a NumPy dtype, if it is float32 or float64."""
    dtype = np.dtype(dtype)
    if dtype.name not in DTYPES:
        raise ConfigError(f"dtype must be one of {DTYPES}, got {dtype.name}")
    return dtype


def select_batches(
    cifar: Cifar10, scheme: Scheme = "batch1", *, n_val: int = 1000, n_train: int | None = None
) -> tuple[Batch, Batch, Batch]:
    """The raw (uint8) train / validation / test batches of a split scheme (see
    :func:`make_splits`)."""
    if scheme not in SCHEMES:
        raise ConfigError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    total = sum(len(b.labels) for b in cifar.train)
    if scheme == "all" and not 1 <= n_val < total:
        raise ConfigError(f"n_val must be in [1, {total - 1}], got {n_val}")
    if scheme == "batch1":
        train, val = cifar.train[0], cifar.train[1]
    else:
        data = stacked([b.data for b in cifar.train])
        labels = stacked([b.labels for b in cifar.train])
        train = Batch(data[:-n_val], labels[:-n_val])
        val = Batch(data[-n_val:], labels[-n_val:])
    if n_train is not None:
        if not 1 <= n_train <= len(train.labels):
            raise ConfigError(f"n_train must be in [1, {len(train.labels)}], got {n_train}")
        train = Batch(train.data[:n_train], train.labels[:n_train])
    return train, val, cifar.test


def make_splits(
    cifar: Cifar10,
    scheme: Scheme = "batch1",
    *,
    n_val: int = 1000,
    n_train: int | None = None,
    dtype: DTypeLike = np.float32,
) -> Splits:
    """Split CIFAR-10 into train / validation / test datasets, pixels scaled to [0, 1].

    ``scheme="batch1"``: data_batch_1 / data_batch_2 / test_batch (``n_val`` unused).
    ``scheme="all"``: the five training batches, the last ``n_val`` images as
    validation. ``n_train`` keeps only the first ``n_train`` training images.
    """
    dtype = check_dtype(dtype)
    batches = select_batches(cifar, scheme, n_val=n_val, n_train=n_train)
    names = cifar.class_names
    return Splits(*(Dataset(scaled(b.data, dtype), b.labels, names) for b in batches))
