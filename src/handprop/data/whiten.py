"""ZCA and PCA whitening of image rows, fitted in float64 without a float64 copy of the data.

:func:`fit_whitening` accumulates the covariance of ``X`` (n, d) from row chunks in float64
(``sum (X_c - mu)^T (X_c - mu) / n``), then takes one symmetric eigendecomposition
``C = U diag(lam) U^T``. With the regularising ``eps`` (absolute, in the units of ``C``):

- ZCA: ``M = U diag(1 / sqrt(lam + eps)) U^T`` (d, d), symmetric;
- PCA: ``M = U_k diag(1 / sqrt(lam_k + eps))`` (d, k), the ``k`` largest components first.

Rows are whitened as ``(x - mu) @ M`` by :func:`apply_whitening`, chunk by chunk. The fitted
:class:`Whitening` record saves to and loads from a NumPy ``.npz`` (no pickles).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import attrs
import numpy as np
from numpy.typing import DTypeLike, NDArray

from handprop.atomic import save_npz_atomic
from handprop.data.batches import read_only
from handprop.errors import ConfigError, DataError

Method = Literal["zca", "pca"]
METHODS: tuple[str, ...] = ("zca", "pca")
#: Rows per chunk: a float64 chunk of 3072-pixel rows is 2048 * 3072 * 8 B = 50 MB.
CHUNK = 2048
_FIELDS = ("mean", "matrix", "method", "eps")

Array64 = NDArray[np.float64]


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigError(f"whiten must be one of {METHODS}, got {method!r}")


def _check_eps(eps: float) -> None:
    if not (math.isfinite(eps) and eps > 0):
        raise ConfigError(f"whiten_eps must be finite and > 0, got {eps!r}")


def _float64(value: object) -> Array64:
    return read_only(np.asarray(value, dtype=np.float64))


@attrs.frozen
class Whitening:
    """A fitted whitening: ``mean`` (d,), ``matrix`` (d, d) for ZCA or (d, k) for PCA."""

    mean: Array64 = attrs.field(converter=_float64, repr=False)
    matrix: Array64 = attrs.field(converter=_float64, repr=False)
    method: str
    eps: float

    def __attrs_post_init__(self) -> None:
        _check_method(self.method)
        _check_eps(self.eps)
        d = self.mean.shape[0] if self.mean.ndim == 1 else -1
        if self.matrix.ndim != 2 or self.matrix.shape[0] != d:
            raise ValueError(
                f"Whitening needs mean (d,) and matrix (d, k), got {self.mean.shape} "
                f"and {self.matrix.shape}"
            )
        if self.method == "zca" and self.matrix.shape != (d, d):
            raise ValueError(f"a ZCA matrix is (d, d), got {self.matrix.shape}")

    @property
    def n_components(self) -> int:
        return self.matrix.shape[1]


def _chunks(n: int, chunk: int) -> range:
    if chunk < 1:
        raise ConfigError(f"chunk must be >= 1, got {chunk!r}")
    return range(0, n, chunk)


def covariance_eigen(X: np.ndarray, *, chunk: int = CHUNK) -> tuple[Array64, Array64, Array64]:
    """``(mean (d,), lam (d,) ascending, U (d, d))``: the column means of ``X`` (n, d) and
    the eigendecomposition ``C = U diag(lam) U^T`` of its covariance, in float64.

    Memory beyond ``X``: a few (d, d) float64 arrays and one (chunk, d) float64 chunk.
    """
    if X.ndim != 2 or len(X) < 2:
        raise ConfigError(f"whitening needs at least 2 rows (n, d), got shape {X.shape}")
    n, d = X.shape
    rows = _chunks(n, chunk)
    mean = sum((X[i : i + chunk].sum(axis=0, dtype=np.float64) for i in rows), np.zeros(d)) / n
    cov = np.zeros((d, d))
    for i in rows:
        xc = X[i : i + chunk].astype(np.float64)
        xc -= mean
        cov += xc.T @ xc
    cov /= n
    lam, U = np.linalg.eigh(cov)  # ascending eigenvalues
    return mean, lam, U


def whitening_from_eigen(
    mean: Array64,
    lam: Array64,
    U: Array64,
    method: Method = "zca",
    eps: float = 0.1,
    *,
    n_components: int | None = None,
) -> Whitening:
    """The whitening of a :func:`covariance_eigen` result (cheap: no second decomposition,
    so one decomposition serves every ``method`` and ``eps``)."""
    _check_method(method)
    _check_eps(eps)
    d = len(mean)
    k = d if n_components is None else n_components
    if not 1 <= k <= d or (method == "zca" and k != d):
        allowed = f"{d} (ZCA)" if method == "zca" else f"[1, {d}]"
        raise ConfigError(f"n_components must be {allowed}, got {n_components!r}")
    scale = 1.0 / np.sqrt(np.maximum(lam, 0.0) + eps)
    if method == "zca":
        matrix = (U * scale) @ U.T
        matrix += matrix.T  # exactly symmetric
        matrix *= 0.5
    else:
        matrix = U[:, ::-1][:, :k] * scale[::-1][:k]
    return Whitening(mean, matrix, method, float(eps))


def fit_whitening(
    X: np.ndarray,
    method: Method = "zca",
    eps: float = 0.1,
    *,
    n_components: int | None = None,
    chunk: int = CHUNK,
) -> Whitening:
    """Fit ZCA or PCA whitening to the rows of ``X`` (n, d), any float dtype.

    Memory beyond ``X``: a few (d, d) float64 arrays and one (chunk, d) float64 chunk.
    ``n_components`` (PCA only) keeps the largest components (default: all ``d``).
    """
    _check_method(method)
    _check_eps(eps)
    return whitening_from_eigen(
        *covariance_eigen(X, chunk=chunk), method, eps, n_components=n_components
    )


def apply_whitening(
    w: Whitening,
    X: np.ndarray,
    out_dtype: DTypeLike | None = None,
    *,
    out: np.ndarray | None = None,
    chunk: int = CHUNK,
) -> np.ndarray:
    """``(X - mean) @ matrix`` for ``X`` (n, d): (n, k) in ``out_dtype`` (default X's dtype).

    Computed chunk by chunk in the output dtype. ``out`` may be ``X`` itself (ZCA, same
    dtype): each chunk is finished before it is written back, so no second copy is made.
    """
    dtype = np.dtype(X.dtype if out_dtype is None else out_dtype)
    if dtype.kind != "f":
        raise ConfigError(f"whitening output dtype must be floating point, got {dtype}")
    n, d = X.shape
    if d != w.mean.shape[0]:
        raise ValueError(f"whitening was fitted on {w.mean.shape[0]} columns, X has {d}")
    shape = (n, w.n_components)
    if out is None:
        out = np.empty(shape, dtype)
    elif out.shape != shape or out.dtype != dtype:
        raise ValueError(f"out must be {dtype} {shape}, got {out.dtype} {out.shape}")
    matrix, mean = w.matrix.astype(dtype), w.mean.astype(dtype)
    for i in _chunks(n, chunk):
        out[i : i + chunk] = (X[i : i + chunk].astype(dtype, copy=False) - mean) @ matrix
    return out


def save_whitening(w: Whitening, path: str | Path) -> None:
    """Write ``w`` to ``path`` (.npz) atomically."""
    save_npz_atomic(
        path,
        {"mean": w.mean, "matrix": w.matrix, "method": np.array(w.method), "eps": np.array(w.eps)},
    )


def load_whitening(path: str | Path) -> Whitening:
    """Read a :class:`Whitening` written by :func:`save_whitening` (no pickles)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if sorted(npz.files) != sorted(_FIELDS):
                raise ValueError(f"expected arrays {sorted(_FIELDS)}, found {sorted(npz.files)}")
            mean, matrix = npz["mean"], npz["matrix"]
            method, eps = str(npz["method"]), float(npz["eps"])
    except (OSError, ValueError, KeyError, EOFError) as err:
        raise DataError(f"whitening file {path} is unreadable ({err}); fit it again") from None
    for name, a in (("mean", mean), ("matrix", matrix)):
        if a.dtype != np.float64:
            raise DataError(f"whitening file {path} is invalid: {name} is {a.dtype}, not float64")
        if not np.isfinite(a).all():
            raise DataError(f"whitening file {path} is invalid: {name} holds NaN or inf")
    try:
        return Whitening(mean, matrix, method, eps)
    except (ValueError, ConfigError) as err:
        raise DataError(f"whitening file {path} is invalid: {err}") from None
