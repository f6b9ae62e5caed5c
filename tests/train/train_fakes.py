"""Small synthetic CIFAR-shaped splits so training tests run in milliseconds."""

from __future__ import annotations

import numpy as np

from handprop.data import Batch, Cifar10, Dataset, Splits, normalized_splits

CLASS_NAMES = tuple(f"class{k}" for k in range(10))


def synthetic_splits(
    n_train: int = 300, n_val: int = 100, n_test: int = 100, *, dtype=np.float32, seed: int = 0
) -> Splits:
    """Normal 'images' (n, 3072) whose labels depend on them linearly (learnable)."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((3072, 10))

    def dataset(n: int) -> Dataset:
        X = rng.standard_normal((n, 3072))
        y = (X @ W + 3 * rng.standard_normal((n, 10))).argmax(axis=1)
        return Dataset(X.astype(dtype), y, CLASS_NAMES)

    return Splits(dataset(n_train), dataset(n_val), dataset(n_test))


def interrupting_make_step(make_step, at: int):
    """A ``make_step`` whose steps raise KeyboardInterrupt (Ctrl-C) at step ``at``."""

    def make(config, data):
        step = make_step(config, data)

        def wrapped(state, t):
            if t == at:
                raise KeyboardInterrupt
            return step(state, t)

        return wrapped

    return make


def pixel_cifar(rows: int = 300, seed: int = 0) -> Cifar10:
    """A small CIFAR-10 record of random uint8 pixels whose labels depend on them
    linearly: five training batches and a test batch of ``rows`` images each."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((3072, 10))

    def batch() -> Batch:
        data = rng.integers(0, 256, (rows, 3072), dtype=np.uint8)
        centred = data.astype(np.float64) - 127.5
        labels = (centred @ W + 200 * rng.standard_normal((rows, 10))).argmax(axis=1)
        return Batch(data, labels)

    return Cifar10(tuple(batch() for _ in range(5)), batch(), CLASS_NAMES, "fake")


def pixel_splits(cifar: Cifar10, *, dtype=np.float32) -> Splits:
    """``batch1`` splits of ``cifar``, normalised as ``load_data`` does (with the normaliser)."""
    return normalized_splits(cifar, "batch1", dtype=dtype)
