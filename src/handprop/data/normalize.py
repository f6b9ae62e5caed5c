"""Per-dimension normalisation fitted on the training split only, as pure functions."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
from numpy.typing import DTypeLike, NDArray

from handprop.data.batches import Cifar10, read_only
from handprop.data.dataset import (
    Dataset,
    Scheme,
    Splits,
    check_dtype,
    scaled,
    select_batches,
)
from handprop.data.whiten import Whitening, apply_whitening

#: Rows per chunk when fitting: the float64 working copy stays a few MB.
FIT_CHUNK = 2048


def column_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (two-pass, float64) of each column of ``X`` (n, d), chunk by chunk."""
    n, d = X.shape
    chunks = [slice(i, i + FIT_CHUNK) for i in range(0, n, FIT_CHUNK)]
    total = np.zeros(d)
    for rows in chunks:
        total += X[rows].sum(axis=0, dtype=np.float64)
    mean = total / n
    squares = np.zeros(d)
    for rows in chunks:
        dev = X[rows].astype(np.float64) - mean
        squares += np.einsum("ij,ij->j", dev, dev)
    return mean, np.sqrt(squares / n)


@attrs.frozen
class Normalizer:
    """Per-dimension ``mean`` and ``std`` (d,), in the dtype of the data they were fitted on."""

    mean: NDArray[np.floating] = attrs.field(converter=read_only, repr=False)
    std: NDArray[np.floating] = attrs.field(converter=read_only, repr=False)

    @classmethod
    def fit(cls, train: Dataset) -> Normalizer:
        """Mean and std of each column of ``train.X`` (computed in float64, in chunks).

        A constant column gets std 1, so it normalises to zero instead of NaN.
        """
        return cls.fit_array(train.X)

    @classmethod
    def fit_array(cls, X: np.ndarray) -> Normalizer:
        """:meth:`fit` on the images ``X`` (n, d) themselves."""
        mean, std = column_stats(X)
        std[std == 0] = 1.0
        return cls(mean.astype(X.dtype), std.astype(X.dtype))

    def apply(self, dataset: Dataset) -> Dataset:
        """A new dataset with ``X`` replaced by ``(X - mean) / std`` (same dtype)."""
        X = dataset.X - self.mean.astype(dataset.dtype, copy=False)
        return attrs.evolve(dataset, X=self._divide(X))

    def _divide(self, X: np.ndarray) -> np.ndarray:
        X /= self.std.astype(X.dtype, copy=False)
        return X

    def _apply_owned(self, X: np.ndarray) -> np.ndarray:
        """:meth:`apply` on an array nobody else holds, in place (same bits)."""
        X -= self.mean.astype(X.dtype, copy=False)
        return self._divide(X)


def normalize(splits: Splits) -> Splits:
    """Normalise all three splits with the mean and std of ``splits.train``."""
    norm = Normalizer.fit(splits.train)
    return Splits(*(norm.apply(ds) for ds in (splits.train, splits.val, splits.test)))


def normalized_splits(
    cifar: Cifar10,
    scheme: Scheme = "batch1",
    *,
    n_val: int = 1000,
    n_train: int | None = None,
    dtype: DTypeLike = np.float32,
) -> Splits:
    """``normalize(make_splits(cifar, ...))``, bit for bit, holding one float copy of the
    images instead of three: each split is scaled and normalised in place as it is made
    (all 50,000 training images in float32: about 0.6 GB instead of 3 GB at the peak)."""
    return whitened_splits(cifar, scheme, None, n_val=n_val, n_train=n_train, dtype=dtype)[0]


def whitened_splits(
    cifar: Cifar10,
    scheme: Scheme,
    fit: Callable[[np.ndarray], Whitening] | None,
    *,
    n_val: int = 1000,
    n_train: int | None = None,
    dtype: DTypeLike = np.float32,
) -> tuple[Splits, Whitening | None]:
    """:func:`normalized_splits`, then whitened by ``fit(normalised training images)``
    (None: not whitened), each split in place, so the peak memory stays that of
    :func:`normalized_splits` plus the whitening's (d, d) float64 arrays.

    The whitening must keep all ``d`` columns (ZCA, or PCA with every component).
    """
    dtype = check_dtype(dtype)
    train, val, test = select_batches(cifar, scheme, n_val=n_val, n_train=n_train)
    names = cifar.class_names
    X_train = scaled(train.data, dtype)
    norm = Normalizer.fit_array(X_train)
    X_train = norm._apply_owned(X_train)
    whitening = None if fit is None else fit(X_train)

    def finish(X: np.ndarray) -> np.ndarray:
        return X if whitening is None else apply_whitening(whitening, X, out=X)

    splits = Splits(
        Dataset(finish(X_train), train.labels, names),
        *(
            Dataset(finish(norm._apply_owned(scaled(b.data, dtype))), b.labels, names)
            for b in (val, test)
        ),
    )
    return splits, whitening
