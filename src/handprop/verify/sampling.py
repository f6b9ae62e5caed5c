"""What the gradient checks run on: input rows, fixed dropout masks, sampled coordinates."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from handprop.kernels.dropout import dropout_mask
from handprop.nn.params import Params

if TYPE_CHECKING:
    from handprop.verify.checks import CheckCase

Array = np.ndarray


def sample_coords(params: Params, k: int, rng: np.random.Generator) -> dict[str, Array]:
    """Sorted flat indices of ``min(k, size)`` distinct coordinates of every trained
    parameter (not the running averages of batch norms)."""
    return {
        name: np.sort(rng.choice(a.size, size=min(k, a.size), replace=False))
        for name, a in Params(params.layers).arrays().items()
    }


def random_rows(
    n: int, *, d: int = 3072, n_classes: int = 10, seed: int = 0
) -> tuple[Array, Array]:
    """``(X, y)``: n standard-normal float64 rows (like normalised images) and random labels."""
    rng = np.random.default_rng((seed, 0))
    return rng.standard_normal((n, d)), rng.integers(0, n_classes, size=n)


def real_rows(n: int, *, progress: bool = False) -> tuple[Array, Array]:
    """The first n normalised float64 training rows of CIFAR-10 (``batch1`` split).

    The data comes from ``HANDPROP_DATA``, the cache or a download (see
    :func:`handprop.data.load_cifar10`).
    """
    from handprop.data import load_cifar10, make_splits, normalize

    splits = normalize(make_splits(load_cifar10(progress=progress), "batch1", dtype=np.float64))
    return splits.train.X[:n], splits.train.y[:n]


def fixed_masks(case: CheckCase, n: int, rng: np.random.Generator) -> tuple[Array, ...] | None:
    """One inverted-dropout multiplier (n, m) per hidden layer (0 or 1/keep), or None.

    Drawn by the training kernel :func:`handprop.kernels.dropout.dropout_mask`.
    """
    if not case.dropout:
        return None
    return tuple(dropout_mask(rng, (n, m), case.dropout, np.float64) for m in case.hidden)
