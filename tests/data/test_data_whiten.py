"""ZCA / PCA whitening: identity covariance, symmetry, chunking, the plain float64 formula,
bounded memory, saving and loading, and one-line errors."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from handprop.data.whiten import (
    Whitening,
    apply_whitening,
    fit_whitening,
    load_whitening,
    save_whitening,
)
from handprop.errors import ConfigError, DataError


def _correlated(n: int = 4000, d: int = 12, seed: int = 0, dtype=np.float64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((d, d)) * np.logspace(0, -2, d)  # spread-out eigenvalues
    return (rng.standard_normal((n, d)) @ A + rng.standard_normal(d)).astype(dtype)


@pytest.mark.parametrize("method", ["zca", "pca"])
def test_whitened_covariance_is_the_identity(method):
    X = _correlated()
    w = fit_whitening(X, method, eps=1e-12, chunk=333)
    Z = apply_whitening(w, X, chunk=500)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-9)
    np.testing.assert_allclose(Z.T @ Z / len(Z), np.eye(X.shape[1]), atol=1e-6)


def test_zca_is_symmetric_and_matches_the_plain_formula():
    X = _correlated(n=500, d=9, seed=1)
    eps = 0.05
    w = fit_whitening(X, "zca", eps, chunk=64)
    np.testing.assert_array_equal(w.matrix, w.matrix.T)
    lam, U = np.linalg.eigh(np.cov(X, rowvar=False, bias=True))
    expected = U @ np.diag(1 / np.sqrt(lam + eps)) @ U.T
    err = float(np.max(np.abs(w.matrix - expected)) / np.max(np.abs(expected)))
    print(f"ZCA vs plain float64 formula: max relative error {err:.1e}")
    assert err <= 1e-12
    np.testing.assert_allclose(w.mean, X.mean(axis=0), rtol=1e-14)


def test_pca_keeps_the_largest_components_first():
    X = _correlated(d=10, seed=2)
    w = fit_whitening(X, "pca", eps=1e-3, n_components=4)
    assert w.matrix.shape == (10, 4) and w.n_components == 4
    lam = np.linalg.eigvalsh(np.cov(X, rowvar=False, bias=True))[::-1][:4]
    Z = apply_whitening(w, X)
    np.testing.assert_allclose(Z.var(axis=0), lam / (lam + 1e-3), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_chunked_equals_unchunked(dtype):
    X = _correlated(n=1000, d=16, seed=3, dtype=dtype)
    whole = fit_whitening(X, "zca", 0.01, chunk=len(X))
    parts = fit_whitening(X, "zca", 0.01, chunk=37)
    np.testing.assert_allclose(parts.matrix, whole.matrix, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(parts.mean, whole.mean, rtol=1e-12)
    one = apply_whitening(whole, X, chunk=len(X))
    many = apply_whitening(whole, X, chunk=41)
    assert many.dtype == dtype
    single = dtype == np.float32  # float32 rows: chunk-size-dependent BLAS rounding
    tol = dict(rtol=1e-5, atol=1e-5) if single else dict(rtol=1e-12, atol=0)
    np.testing.assert_allclose(many, one, **tol)


def test_apply_in_place_and_to_another_dtype():
    X = _correlated(n=300, d=8, seed=4, dtype=np.float32)
    w = fit_whitening(X, "zca", 0.01)
    expected = apply_whitening(w, X, np.float64)
    assert expected.dtype == np.float64
    Y = X.copy()
    assert apply_whitening(w, Y, out=Y, chunk=50) is Y
    np.testing.assert_allclose(Y, expected, rtol=1e-4, atol=1e-5)


def test_fit_of_float32_rows_makes_no_float64_copy():
    X = _correlated(n=20_000, d=64, seed=5, dtype=np.float32)  # 5 MB; a float64 copy is 10 MB
    tracemalloc.start()
    try:
        fit_whitening(X, "zca", 0.01, chunk=1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes


def test_save_and_load_round_trip(tmp_path):
    w = fit_whitening(_correlated(n=200, d=6, seed=6), "pca", 0.2, n_components=3)
    path = tmp_path / "whitening.npz"
    save_whitening(w, path)
    back = load_whitening(path)
    assert (back.method, back.eps) == (w.method, w.eps)
    np.testing.assert_array_equal(back.mean, w.mean)
    np.testing.assert_array_equal(back.matrix, w.matrix)
    assert [p.name for p in tmp_path.iterdir()] == ["whitening.npz"]


def test_unreadable_file_is_a_data_error(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros(2))
    with pytest.raises(DataError, match="unreadable"):
        load_whitening(bad)
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="unreadable"):
        load_whitening(bad)


@pytest.mark.parametrize("eps", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_eps_is_a_one_line_config_error(eps):
    with pytest.raises(ConfigError, match="whiten_eps must be finite and > 0") as err:
        fit_whitening(np.ones((3, 2)), "zca", eps)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="whiten_eps"):
        Whitening(np.zeros(2), np.eye(2), "zca", eps)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "pcb"}, "whiten must be one of"),
        ({"method": "zca", "n_components": 1}, "n_components must be"),
        ({"method": "pca", "n_components": 0}, "n_components must be"),
        ({"chunk": 0}, "chunk must be"),
    ],
)
def test_other_bad_settings_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        fit_whitening(np.ones((3, 2)), **kwargs)
