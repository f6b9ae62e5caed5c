"""Per-dimension normalisation fitted on the training split only, as pure functions."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
from numpy.typing import DTypeLike, NDArray

from handprop.data.batches import Cifar10, read_only
from handprop.data.dataset import Dataset, Scheme, Splits, check_dtype, select_batches
from handprop.data.whiten import Whitening, apply_whitening
from handprop.kernels import normalize as kernels

#: Rows per chunk when fitting: the float64 working copy stays a few MB. The pixel
#: kernels sum in the same blocks, so both paths give the same bits.
FIT_CHUNK = 2048


def column_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (two-pass, float64) of each column of ``X`` (n, d), chunk by chunk."""
    return kernels.column_stats(X, FIT_CHUNK)


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
        return cls._from_stats(*column_stats(X), X.dtype)

    @classmethod
    def fit_pixels(cls, data: NDArray[np.uint8], dtype: DTypeLike) -> Normalizer:
        """:meth:`fit_array` on the uint8 pixels ``data`` (n, d) scaled to [0, 1] in ``dtype``,
        bit for bit, in one Numba pass per moment without a float copy."""
        dtype = check_dtype(dtype)
        return cls._from_stats(*kernels.column_stats_u8(data, dtype.type(255), FIT_CHUNK), dtype)

    @classmethod
    def _from_stats(cls, mean: np.ndarray, std: np.ndarray, dtype: np.dtype) -> Normalizer:
        """From float64 statistics: a constant column gets std 1, both cast to ``dtype``."""
        std[std == 0] = 1.0
        return cls(mean.astype(dtype), std.astype(dtype))

    def apply(self, dataset: Dataset) -> Dataset:
        """A new dataset with ``X`` replaced by ``(X - mean) / std`` (same dtype)."""
        X = dataset.X - self.mean.astype(dataset.dtype, copy=False)
        return attrs.evolve(dataset, X=self._divide(X))

    def _divide(self, X: np.ndarray) -> np.ndarray:
        X /= self.std.astype(X.dtype, copy=False)
        return X

    def apply_pixels(self, data: NDArray[np.uint8]) -> np.ndarray:
        """:meth:`apply` to the uint8 pixels ``data`` (n, d) scaled to [0, 1] in this
        normaliser's dtype, bit for bit, as one Numba pass into a new array."""
        return kernels.normalize_u8(data, self.mean.dtype.type(255), self.mean, self.std)


def normalize(splits: Splits) -> Splits:
    """Normalise all three splits with the mean and std of ``splits.train``."""
    norm = Normalizer.fit(splits.train)
    return Splits(
        *(norm.apply(ds) for ds in (splits.train, splits.val, splits.test)), normalizer=norm
    )


def normalized_splits(
    cifar: Cifar10,
    scheme: Scheme = "batch1",
    *,
    n_val: int = 1000,
    n_train: int | None = None,
    dtype: DTypeLike = np.float32,
) -> Splits:
    """``normalize(make_splits(cifar, ...))``, bit for bit, straight from the uint8 pixels:
    the statistics and the normalised splits are each one pass of a Numba kernel, and the
    only float copy of the images is the result (all 50,000 training images in float32:
    about 0.6 GB instead of 3 GB at the peak)."""
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
    norm = Normalizer.fit_pixels(train.data, dtype)
    names = cifar.class_names
    X_train = norm.apply_pixels(train.data)
    whitening = None if fit is None else fit(X_train)

    def finish(X: np.ndarray) -> np.ndarray:
        return X if whitening is None else apply_whitening(whitening, X, out=X)

    splits = Splits(
        Dataset(finish(X_train), train.labels, names),
        *(Dataset(finish(norm.apply_pixels(b.data)), b.labels, names) for b in (val, test)),
        normalizer=norm,
    )
    return splits, whitening
