"""Per-feature statistics of float images (:func:`column_stats`, NumPy), and normalisation
straight from uint8 pixels, as Numba kernels.

Both pixel kernels scale each pixel as the float path does, ``x / 255`` in the dtype of
``scale`` (255 as a float32 or float64 scalar), and repeat that path's arithmetic in its
order: the statistics are bit for bit those of :func:`column_stats` on the scaled images,
the normalised values those of ``(X - mean) / std``. No float copy of the pixels is made.
"""

from __future__ import annotations

import math
import mmap

import numba
import numpy as np


def column_stats(X: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (two-pass, float64) of each column of ``X`` (n, d), ``chunk`` rows at a
    time (rows summed in order within a chunk, chunk sums in order)."""
    n, d = X.shape
    blocks = [slice(i, i + chunk) for i in range(0, n, chunk)]
    total = np.zeros(d)
    for rows in blocks:
        total += X[rows].sum(axis=0, dtype=np.float64)
    mean = total / n
    squares = np.zeros(d)
    for rows in blocks:
        dev = X[rows].astype(np.float64) - mean
        squares += np.einsum("ij,ij->j", dev, dev)
    return mean, np.sqrt(squares / n)


@numba.njit(cache=True, error_model="numpy")
def _moment(
    data: np.ndarray, scale: np.floating, chunk: int, shift: np.ndarray, square: bool
) -> np.ndarray:
    """Column sums of ``v = data / scale - shift`` (``v * v`` with ``square``) in float64,
    rows summed in order within blocks of ``chunk`` rows, block sums in order."""
    n, d = data.shape
    total = np.zeros(d)
    part = np.empty(d)
    for start in range(0, n, chunk):
        part[:] = 0.0
        for i in range(start, min(start + chunk, n)):
            for j in range(d):
                v = np.float64(data[i, j] / scale) - shift[j]
                part[j] += v * v if square else v
        total += part
    return total


def column_stats_u8(
    data: np.ndarray, scale: np.floating, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (float64, two passes) of each column of ``data / scale`` for ``data``
    (n, d) uint8; rows are summed in order within blocks of ``chunk`` rows, block sums in
    order."""
    n, d = data.shape
    mean = _moment(data, scale, chunk, np.zeros(d), False) / n
    return mean, np.sqrt(_moment(data, scale, chunk, mean, True) / n)


@numba.njit(cache=True, error_model="numpy")
def _normalize_u8(
    data: np.ndarray, scale: np.floating, mean: np.ndarray, std: np.ndarray, out: np.ndarray
) -> None:
    n, d = data.shape
    for i in range(n):
        for j in range(d):
            out[i, j] = (data[i, j] / scale - mean[j]) / std[j]


def normalize_u8(
    data: np.ndarray, scale: np.floating, mean: np.ndarray, std: np.ndarray
) -> np.ndarray:
    """``(data / scale - mean) / std`` for ``data`` (n, d) uint8, in the dtype of ``scale``,
    ``mean`` and ``std`` (d,) (all three one dtype); returns a new array."""
    out = unadvised_empty(data.shape, mean.dtype)
    _normalize_u8(data, scale, mean, std, out)
    return out


def unadvised_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """``np.empty(shape, dtype)`` in fresh anonymous pages, without the huge-page advice
    NumPy gives large arrays: private pages, mapped in one call (``MAP_POPULATE`` where
    the system has it) because the caller writes every element.

    With that advice, Linux may compact memory on the first touch of each huge page, a
    stall of unpredictable length; private pages populated up front cost no page fault per
    4 KiB page while the kernel writes them. The memory is freed with the array.
    """
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes == 0:
        return np.empty(shape, dtype)
    if hasattr(mmap, "MAP_PRIVATE"):  # not on Windows
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
        return np.frombuffer(mmap.mmap(-1, nbytes, flags=flags), dtype).reshape(shape)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype).reshape(shape)
