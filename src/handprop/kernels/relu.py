"""ReLU forward and backward as Numba kernels over 2-D float arrays.

Serial on purpose: for batch-sized activations (100 x m) a thread pool costs more than
it saves, and it competes with BLAS for the same cores.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _relu_forward(x: np.ndarray, out: np.ndarray) -> None:
    n, m = x.shape
    for i in range(n):
        for j in range(m):
            v = x[i, j]
            out[i, j] = v if v > 0 else 0


@numba.njit(cache=True)
def _relu_backward(dout: np.ndarray, out: np.ndarray, dx: np.ndarray) -> None:
    n, m = dout.shape
    for i in range(n):
        for j in range(m):
            dx[i, j] = dout[i, j] if out[i, j] > 0 else 0


def relu_forward(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` for ``x`` (n, m); returns a new array."""
    out = np.empty_like(x)
    _relu_forward(x, out)
    return out


def relu_backward(dout: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Gradient through ReLU given its output ``out``: ``dout * (out > 0)``."""
    dx = np.empty_like(dout)
    _relu_backward(dout, out, dx)
    return dx
