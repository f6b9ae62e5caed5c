"""Per-dimension normalisation fitted on the training split only, as pure functions."""

from __future__ import annotations

import attrs
import numpy as np
from numpy.typing import NDArray

from handprop.data.batches import read_only
from handprop.data.dataset import Dataset, Splits


@attrs.frozen
class Normalizer:
    """Per-dimension ``mean`` and ``std`` (d,), in the dtype of the data they were fitted on."""

    mean: NDArray[np.floating] = attrs.field(converter=read_only, repr=False)
    std: NDArray[np.floating] = attrs.field(converter=read_only, repr=False)

    @classmethod
    def fit(cls, train: Dataset) -> Normalizer:
        """Mean and std of each column of ``train.X`` (computed in float64).

        A constant column gets std 1, so it normalises to zero instead of NaN.
        """
        X = train.X.astype(np.float64, copy=False)
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        std[std == 0] = 1.0
        return cls(mean.astype(train.dtype), std.astype(train.dtype))

    def apply(self, dataset: Dataset) -> Dataset:
        """A new dataset with ``X`` replaced by ``(X - mean) / std`` (same dtype)."""
        X = dataset.X - self.mean.astype(dataset.dtype, copy=False)
        X /= self.std.astype(dataset.dtype, copy=False)
        return attrs.evolve(dataset, X=X)


def normalize(splits: Splits) -> Splits:
    """Normalise all three splits with the mean and std of ``splits.train``."""
    norm = Normalizer.fit(splits.train)
    return Splits(*(norm.apply(ds) for ds in (splits.train, splits.val, splits.test)))
