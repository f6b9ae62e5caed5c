"""Softmax cross-entropy and its gradient in one Numba pass over the scores.

For a batch the scores are small ((n, K), K = 10) and the NumPy version is a dozen calls
of a few microseconds each; this kernel does the same arithmetic in one call. It is the
fused form of :func:`handprop.nn.layers.softmax_cross_entropy_forward` and ``_backward``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from handprop.errors import ConfigError


def check_smoothing(smoothing: float) -> None:
    """Label smoothing must lie in [0, 1] (one-line ConfigError otherwise)."""
    if not 0.0 <= smoothing <= 1.0:
        raise ConfigError(f"label smoothing must be in [0, 1], got {smoothing!r}")


@numba.njit(cache=True)
def _softmax_xent(
    scores: np.ndarray, y: np.ndarray, smoothing: float, dscores: np.ndarray
) -> float:
    n, k = scores.shape
    spread = smoothing / k / n  # the uniform part of the smoothed target, per row and class
    total = 0.0
    for i in range(n):
        if not 0 <= y[i] < k:
            raise ValueError("labels must lie in [0, K)")
        top = np.float64(scores[i, 0])
        for j in range(1, k):
            top = max(top, np.float64(scores[i, j]))
        z = 0.0
        for j in range(k):
            e = math.exp(np.float64(scores[i, j]) - top)
            dscores[i, j] = e
            z += e
        picked = scores[i, y[i]] - top
        if smoothing != 0:
            shifted = 0.0
            for j in range(k):
                shifted += np.float64(scores[i, j]) - top
            picked = (1 - smoothing) * picked + smoothing * (shifted / k)
            for j in range(k):
                dscores[i, j] = dscores[i, j] / z / n - spread
            dscores[i, y[i]] -= (1 - smoothing) / n
        else:
            for j in range(k):
                dscores[i, j] = dscores[i, j] / z / n
            dscores[i, y[i]] -= 1.0 / n
        total += math.log(z) - picked
    return total / n


def softmax_xent(
    scores: np.ndarray, y: np.ndarray, smoothing: float = 0.0
) -> tuple[float, np.ndarray]:
    """``(mean cross-entropy, d loss / d scores)`` for scores (n, K) and labels y (n,), against
    the target ``(1 - smoothing) onehot(y) + smoothing / K`` (label smoothing; 0: none).

    Computed in float64 (exponentials included); ``dscores = (softmax(scores) - onehot(y)) / n`` has
    the scores' dtype (``(softmax(scores) - target) / n`` with smoothing).
    """
    check_smoothing(smoothing)
    if scores.ndim != 2 or y.shape != (scores.shape[0],):
        raise ValueError(f"scores (n, K) and y (n,) expected, got {scores.shape} and {y.shape}")
    dscores = np.empty_like(scores)
    loss = _softmax_xent(
        np.ascontiguousarray(scores), np.asarray(y, np.int64), float(smoothing), dscores
    )
    return float(loss), dscores
