"""Whitening in training: fitted on the training split in place, cached on disk, validated,
stored with the run."""

from __future__ import annotations

import numpy as np
import pytest

from handprop.data import normalized_splits
from handprop.data.batches import Batch, Cifar10
from handprop.data.whiten import (
    Whitening,
    apply_whitening,
    fit_whitening,
    load_whitening,
    whitening_from_eigen,
)
from handprop.errors import ConfigError
from handprop.runs import run_experiment
from handprop.train import config_from_dict
from handprop.train import data as data_module

D = 3072


def small_cifar(rows: int = 12) -> Cifar10:
    rng = np.random.default_rng(5)

    def batch() -> Batch:
        return Batch(rng.integers(0, 256, (rows, D), dtype=np.uint8), rng.integers(0, 10, rows))

    return Cifar10(tuple(batch() for _ in range(5)), batch(), tuple("abcdefghij"), "fake")


def cheap_whitening(X: np.ndarray) -> Whitening:
    """A full-rank (d, d) whitening without a 3072 x 3072 eigendecomposition."""
    scale = np.linspace(0.5, 2.0, X.shape[1])
    matrix = np.diag(scale) + 0.01 * np.eye(X.shape[1], k=1)
    return Whitening(X.mean(axis=0, dtype=np.float64), matrix, "zca", 0.1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_whitened_splits_equal_whitening_the_normalised_splits(dtype):
    from handprop.data.normalize import whitened_splits

    cifar = small_cifar()
    plain = normalized_splits(cifar, "all", n_val=10, dtype=dtype)
    seen = []

    def fit(X):
        seen.append(X.copy())
        return cheap_whitening(X)

    whitened, w = whitened_splits(cifar, "all", fit, n_val=10, dtype=dtype)
    np.testing.assert_array_equal(seen[0], plain.train.X)  # fitted on the training split only
    for a, b in zip(
        (plain.train, plain.val, plain.test),
        (whitened.train, whitened.val, whitened.test),
        strict=True,
    ):
        np.testing.assert_array_equal(b.X, apply_whitening(w, a.X))
        assert b.X.dtype == np.dtype(dtype) and not b.X.flags.writeable


def test_eigendecomposition_is_cached_and_a_damaged_cache_is_refitted(tmp_path, monkeypatch):
    monkeypatch.setenv("HANDPROP_CACHE", str(tmp_path))
    X = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    mean, lam, U = data_module.eigen_cached(X)
    (path,) = (tmp_path / "whitening").glob("eigen-*.npz")
    w = whitening_from_eigen(mean, lam, U, "zca", 0.1)
    np.testing.assert_allclose(w.matrix, fit_whitening(X, "zca", 0.1).matrix, rtol=1e-12)

    calls = []
    monkeypatch.setattr(data_module, "covariance_eigen", lambda X: calls.append(1) or (0, 0, 0))
    again = data_module.eigen_cached(X)
    assert not calls and all(
        np.array_equal(a, b) for a, b in zip(again, (mean, lam, U), strict=True)
    )
    assert not list((tmp_path / "whitening").glob("eigen-*.npz"))[1:]  # one file per input

    other = X.copy()
    other[0, 0] += 1
    monkeypatch.undo()
    monkeypatch.setenv("HANDPROP_CACHE", str(tmp_path))
    data_module.eigen_cached(other)  # another training split: another cache entry
    assert len(list((tmp_path / "whitening").glob("eigen-*.npz"))) == 2

    for damage in (b"not a zip", None):
        if damage is None:
            np.savez(path, mean=mean, lam=lam, U=U[:, :3])  # wrong shape
        else:
            path.write_bytes(damage)
        refit = data_module.eigen_cached(X)
        assert all(np.allclose(a, b) for a, b in zip(refit, (mean, lam, U), strict=True))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"data.whiten_eps": 0.0}, r"data\.whiten_eps must be a number in \(0, inf\), got 0\.0"),
        ({"data.whiten_eps": -1e-2}, r"data\.whiten_eps must be a number in \(0, inf\)"),
        ({"data.whiten": "sphere"}, r"data\.whiten must be one of none, zca, pca, got 'sphere'"),
        ({"data.whiten": "pca", "flip": True}, r"data\.whiten = pca cannot be combined"),
    ],
)
def test_bad_whitening_settings_are_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message) as err:
        config_from_dict(values)
    assert "\n" not in str(err.value)


def test_run_folder_stores_the_whitening(splits32, tmp_path, monkeypatch):
    config = config_from_dict({"hidden": [4], "n_s": 3, "whiten": "zca", "whiten_eps": 0.05})
    w = cheap_whitening(splits32.train.X)
    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits32, w))
    run_experiment(config, tmp_path / "run", progress=False, figures=())
    stored = load_whitening(tmp_path / "run" / "whitening.npz")
    assert np.array_equal(stored.matrix, w.matrix) and stored.method == "zca"


def test_a_run_without_whitening_writes_no_whitening_file(splits32, tmp_path):
    config = config_from_dict({"hidden": [4], "n_s": 3})
    run_experiment(config, tmp_path / "run", data=splits32, progress=False, figures=())
    assert not (tmp_path / "run" / "whitening.npz").exists()
