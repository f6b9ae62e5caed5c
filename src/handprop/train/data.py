"""Data and initial parameters for a config."""

from __future__ import annotations

import functools
import os

import numpy as np

from handprop.data import Cifar10, Splits, load_cifar10, normalized_splits
from handprop.data.dataset import Scheme
from handprop.nn.params import Params, init_params
from handprop.train.config import TrainConfig
from handprop.train.state import INIT, stream

DATA_ENV = "HANDPROP_DATA"


@functools.lru_cache(maxsize=1)
def _cifar10(source: str | None) -> Cifar10:
    return load_cifar10(source, progress=True)


@functools.lru_cache(maxsize=2)
def _splits(source: str | None, split: Scheme, n_val: int, n_train: int, dtype: str) -> Splits:
    cifar = _cifar10(source)
    return normalized_splits(cifar, split, n_val=n_val, n_train=n_train or None, dtype=dtype)


def load_data(config: TrainConfig) -> Splits:
    """Normalised train / validation / test splits in the config's dtype.

    Reads ``HANDPROP_DATA`` (see :func:`handprop.data.load_cifar10`); the archive
    and the last splits are cached for the life of the process.
    """
    return _splits(
        os.environ.get(DATA_ENV),
        config.data.split,
        config.data.n_val,
        config.data.n_train,
        config.model.dtype,
    )


def initial_params(config: TrainConfig, d_in: int = 3072, n_classes: int = 10) -> Params:
    """Fresh parameters for ``config`` (its hidden sizes, init, dtype and seed)."""
    return init_params(
        d_in,
        config.model.hidden,
        n_classes,
        seed=stream(config.run.seed, INIT),
        dtype=np.dtype(config.model.dtype),
        init=config.model.init,
    )
