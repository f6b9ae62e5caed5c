"""The SGD update with the L2 term folded in, as one pass over memory.

``W - eta * (G + 2 lam W)`` for a weight matrix ``W`` and its data-term gradient ``G``
(both (d, m)). NumPy needs four passes and three temporaries of the size of ``W`` for
this; for wide layers those passes cost more than the matrix products of a step.
The arithmetic is the reference's, operation by operation, in the arrays' dtype, so
both give the same bits.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _sgd_l2_update(W: np.ndarray, G: np.ndarray, eta: np.ndarray, two_lam: np.ndarray,
                   out: np.ndarray) -> None:  # fmt: skip
    w, g, o = W.ravel(), G.ravel(), out.ravel()
    e, c = eta[0], two_lam[0]
    for i in range(w.size):
        o[i] = w[i] - (g[i] + c * w[i]) * e


def sgd_l2_update(W: np.ndarray, G: np.ndarray, eta: float, lam: float) -> np.ndarray:
    """``W - eta * (G + 2 lam W)`` as a new array; W and G C-contiguous, same shape/dtype."""
    if W.shape != G.shape or W.dtype != G.dtype:
        raise ValueError(f"W {W.dtype} {W.shape} and G {G.dtype} {G.shape} must match")
    W, G = np.ascontiguousarray(W), np.ascontiguousarray(G)
    out = np.empty_like(W)
    _sgd_l2_update(W, G, np.array([eta], W.dtype), np.array([2 * lam], W.dtype), out)
    return out
