"""The SGD update with the L2 term folded in, as one pass over memory.

``W - eta * (G + 2 lam W)`` for a weight matrix ``W`` and its data-term gradient ``G``
(both (d, m)), and on the way the squared norm ``||W||^2`` the step's cost needs.
NumPy needs five passes and three temporaries of the size of ``W`` for this; for wide
layers those passes cost more than the matrix products of a step. The update is the
reference's arithmetic, operation by operation, in the arrays' dtype, so both give the
same bits; the norm is accumulated in float64.
"""

from __future__ import annotations

import numba
import numpy as np


# ``reassoc`` lets LLVM vectorise the norm's running sum (it may add in another order);
# the update itself has no reassociable chain, and the tests pin its bits.
@numba.njit(cache=True, fastmath={"reassoc"})
def _sgd_l2_update(W: np.ndarray, G: np.ndarray, eta: np.ndarray, two_lam: np.ndarray,
                   out: np.ndarray) -> float:  # fmt: skip
    w, g, o = W.ravel(), G.ravel(), out.ravel()
    e, c = eta[0], two_lam[0]
    squares = 0.0
    for i in range(w.size):
        v = w[i]
        squares += np.float64(v) * np.float64(v)
        o[i] = v - (g[i] + c * v) * e
    return squares


def sgd_l2_update(W: np.ndarray, G: np.ndarray, eta: float, lam: float) -> tuple[np.ndarray, float]:
    """``(W - eta * (G + 2 lam W), ||W||^2)``: the updated weights as a new array and the
    squared Frobenius norm of the old ones. ``W`` and ``G`` have the same shape and dtype."""
    if W.shape != G.shape or W.dtype != G.dtype:
        raise ValueError(f"W {W.dtype} {W.shape} and G {G.dtype} {G.shape} must match")
    W, G = np.ascontiguousarray(W), np.ascontiguousarray(G)
    out = np.empty_like(W)
    squares = _sgd_l2_update(W, G, np.array([eta], W.dtype), np.array([2 * lam], W.dtype), out)
    return out, float(squares)
