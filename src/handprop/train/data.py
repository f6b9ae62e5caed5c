"""Data and initial parameters for a config."""

from __future__ import annotations

import functools
import itertools
import os

import numpy as np

from handprop.data import Cifar10, Splits, load_cifar10, normalized_splits
from handprop.data.dataset import Scheme
from handprop.errors import ConfigError
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


def training_bytes(config: TrainConfig, d_in: int = 3072, n_classes: int = 10) -> int:
    """Rough memory for the network of ``config``: parameters, gradients and the new
    parameters in the config's dtype, plus the float64 draw of the initial weights."""
    sizes = (d_in, *config.model.hidden, n_classes)
    count = sum(a * b + b for a, b in itertools.pairwise(sizes))
    return count * (3 * np.dtype(config.model.dtype).itemsize + 8)


def _physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def initial_params(config: TrainConfig, d_in: int = 3072, n_classes: int = 10) -> Params:
    """Fresh parameters for ``config`` (its hidden sizes, init, dtype and seed).

    A network that cannot fit in this machine's memory is a :class:`ConfigError`
    saying how much it needs.
    """
    need, have = training_bytes(config, d_in, n_classes), _physical_memory()
    message = (
        f"hidden = {list(config.model.hidden)} needs about {need / 1e9:.3g} GB of memory for its "
        f"parameters and gradients ({config.model.dtype}); this machine has {have / 1e9:.3g} GB"
    )
    if need > have:
        raise ConfigError(message)
    try:
        return init_params(
            d_in,
            config.model.hidden,
            n_classes,
            seed=stream(config.run.seed, INIT),
            dtype=np.dtype(config.model.dtype),
            init=config.model.init,
        )
    except MemoryError:
        raise ConfigError(message) from None
