"""Plain-NumPy references of every kernel: same signatures, same results bit for bit
(reductions accumulated in another order agree to rounding).

The tests compare each kernel with its reference here; the speed suite times both.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from handprop.kernels.augment import CHANNELS, SIDE, Augmentation, Fill
from handprop.kernels.dropout import draw_uniforms


def relu_forward(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)``."""
    return np.where(x > 0, x, 0).astype(x.dtype, copy=False)


def relu_backward(dout: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``dout * (out > 0)`` (as a selection, so 0 stays +0)."""
    return np.where(out > 0, dout, 0).astype(dout.dtype, copy=False)


def dropout_mask(
    rng: np.random.Generator,
    shape: int | tuple[int, ...],
    rate: float,
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """``1 / (1 - rate)`` where the uniform is below ``1 - rate``, else 0."""
    u, keep, scale = draw_uniforms(rng, shape, rate, dtype)
    return np.where(u < keep, scale, u.dtype.type(0))


def _images(X: np.ndarray) -> np.ndarray:
    """(n, 3072) -> (n, 3, 32, 32) view."""
    return X.reshape(len(X), CHANNELS, SIDE, SIDE)


def hflip(X: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Mirror left-right the rows of ``X`` (n, 3072) where ``flip`` (n,) is True."""
    out = X.copy()
    _images(out)[flip] = _images(X)[flip][..., ::-1]
    return out


def translate(X: np.ndarray, shift: np.ndarray, fill: Fill = "zero") -> np.ndarray:
    """Move image content by ``shift`` (n, 2) of ``(dx, dy)`` (right, down) via an index gather."""
    n = len(X)
    pos = np.arange(SIDE)
    rows = pos[None, :, None] - shift[:, 1, None, None]  # (n, 32, 1) source rows
    cols = pos[None, None, :] - shift[:, 0, None, None]  # (n, 1, 32) source columns
    inside = (rows >= 0) & (rows < SIDE) & (cols >= 0) & (cols < SIDE)  # (n, 32, 32)
    source = np.clip(rows, 0, SIDE - 1) * SIDE + np.clip(cols, 0, SIDE - 1)
    planes = X.reshape(n, CHANNELS, SIDE * SIDE)
    moved = np.take_along_axis(planes, source.reshape(n, 1, -1), axis=2)
    vacated = planes if fill == "keep" else np.zeros((), X.dtype)
    return np.where(inside.reshape(n, 1, -1), moved, vacated).reshape(n, -1)


def gather_augment(
    X_all: np.ndarray, idx: np.ndarray, aug: Augmentation, fill: Fill = "zero"
) -> np.ndarray:
    """Gather rows ``idx``, flip, then translate: three NumPy passes."""
    return translate(hflip(X_all[idx], aug.flip), aug.shift, fill)


def sgd_l2_update(W: np.ndarray, G: np.ndarray, eta: float, lam: float) -> tuple[np.ndarray, float]:
    """``(W - eta * (G + 2 lam W), ||W||^2)`` with NumPy temporaries (scalars in W's dtype;
    the norm in float64, summed pairwise, so it agrees with the kernel to rounding)."""
    eta_, two_lam = W.dtype.type(eta), W.dtype.type(2 * lam)
    W64 = W.astype(np.float64)
    return W - (G + two_lam * W) * eta_, float(np.vdot(W64, W64))


def softmax_xent(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """``(mean cross-entropy, (softmax(scores) - onehot(y)) / n)`` with NumPy (loss in float64)."""
    n = len(y)
    shifted = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    z = np.exp(shifted).sum(axis=1)
    loss = float(np.mean(np.log(z) - shifted[np.arange(n), y]))
    dscores = np.exp(shifted) / z[:, None]
    dscores[np.arange(n), y] -= 1
    return loss, (dscores / n).astype(scores.dtype)


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


def _scaled(data: np.ndarray, scale: np.floating) -> np.ndarray:
    """uint8 ``data`` as a new array in the dtype of ``scale``, divided by it."""
    X = data.astype(type(scale))
    X /= scale
    return X


def column_stats_u8(
    data: np.ndarray, scale: np.floating, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`column_stats` of the scaled pixels ``data / scale`` (a float copy)."""
    return column_stats(_scaled(data, scale), chunk)


def normalize_u8(data: np.ndarray, scale: np.floating, mean: np.ndarray, std: np.ndarray):
    """``(data / scale - mean) / std`` with NumPy temporaries, in the dtype of ``scale``."""
    X = _scaled(data, scale)
    X -= mean
    X /= std
    return X
