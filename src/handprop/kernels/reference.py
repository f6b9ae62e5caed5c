"""Plain-NumPy references of every kernel: same signatures, same results bit for bit
(reductions accumulated in another order agree to rounding).

The tests compare each kernel with its reference here; the speed suite times both.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from handprop.kernels.augment import CHANNELS, SIDE, Augmentation, Fill
from handprop.kernels.dropout import draw_uniforms
from handprop.kernels.normalize import column_stats


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


def softmax_xent(
    scores: np.ndarray, y: np.ndarray, smoothing: float = 0.0
) -> tuple[float, np.ndarray]:
    """``(mean cross-entropy, (softmax(scores) - target) / n)`` with NumPy (loss in float64),
    ``target = (1 - smoothing) onehot(y) + smoothing / K``."""
    n, k = scores.shape
    shifted = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)
    z = np.exp(shifted).sum(axis=1)
    picked = shifted[np.arange(n), y]
    if smoothing:
        picked = (1 - smoothing) * picked + smoothing * shifted.mean(axis=1)
    loss = float(np.mean(np.log(z) - picked))
    dscores = np.exp(shifted) / z[:, None]
    if smoothing:
        dscores -= smoothing / k
    dscores[np.arange(n), y] -= 1 - smoothing
    return loss, (dscores / n).astype(scores.dtype)


def momentum_update(
    W: np.ndarray,
    G: np.ndarray,
    buf: np.ndarray,
    eta: float,
    lam: float,
    momentum: float,
    nesterov: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """``(W - eta t, buf')`` with ``d = G + 2 lam W``, ``buf' = momentum buf + d`` and
    ``t = buf'`` (``d + momentum buf'`` with ``nesterov``); scalars in W's dtype."""
    eta_, two_lam, beta = (W.dtype.type(c) for c in (eta, 2 * lam, momentum))
    d = G + two_lam * W if two_lam else G
    new_buf = beta * buf + d
    t = d + beta * new_buf if nesterov else new_buf
    return W + -(eta_ * t), new_buf


def adam_update(
    W: np.ndarray, G: np.ndarray, m: np.ndarray, v: np.ndarray, constants: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One Adam(W) step with :func:`handprop.kernels.optim.adam_constants`, in W's dtype."""
    two_lam, one_beta1, beta2, one_beta2, neg_step, root, eps, decay = (
        W.dtype.type(c) for c in constants
    )
    d = G + two_lam * W if two_lam else G
    new_m = m + one_beta1 * (d - m)
    new_v = beta2 * v + one_beta2 * d * d
    u = neg_step * (new_m / (np.sqrt(new_v) / root + eps))
    return W + (u - decay * W if decay else u), new_m, new_v


def _scaled(data: np.ndarray, scale: np.floating) -> np.ndarray:
    """uint8 ``data`` as a new array in the dtype of ``scale``, divided by it."""
    X = data.astype(type(scale))
    X /= scale
    return X


def column_stats_u8(
    data: np.ndarray, scale: np.floating, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~handprop.kernels.normalize.column_stats` of the scaled pixels ``data / scale``
    (a float copy): the float path the kernel repeats."""
    return column_stats(_scaled(data, scale), chunk)


def normalize_u8(data: np.ndarray, scale: np.floating, mean: np.ndarray, std: np.ndarray):
    """``(data / scale - mean) / std`` with NumPy temporaries, in the dtype of ``scale``."""
    X = _scaled(data, scale)
    X -= mean
    X /= std
    return X
