"""Fused optimiser steps: momentum (heavy-ball or Nesterov) and Adam/AdamW, one pass each.

Each kernel reads a parameter array, its data-term gradient and the optimiser's buffers and
writes the new parameters and buffers: the fused implementation of the momentum and Adam
chains of :mod:`handprop.optim.optimizers` (:func:`handprop.optim.fused.step`), in the
arrays' dtype. Momentum does the chain's arithmetic operation by operation (the same
bits); Adam folds the learning rate into the bias correction (``-eta / (1 - beta1^t)``,
as ``torch.optim.Adam`` does), so it agrees with the chain to rounding. NumPy needs about
ten passes and as many temporaries of the array's size for one such step. Constants are
passed as one-element arrays of the dtype so that float32 arithmetic stays float32.
"""

from __future__ import annotations

import math

import numba
import numpy as np

Array = np.ndarray


@numba.njit(cache=True)
def _momentum(W: Array, G: Array, buf: Array, c: Array, out_w: Array, out_buf: Array) -> None:
    # c = [eta, 2 lam, momentum, nesterov (0 or 1)]
    w, g, b, ow, ob = W.ravel(), G.ravel(), buf.ravel(), out_w.ravel(), out_buf.ravel()
    eta, two_lam, beta, nesterov = c[0], c[1], c[2], c[3] != 0
    for i in range(w.size):
        v = w[i]
        d = g[i] + two_lam * v if two_lam != 0 else g[i]
        t = beta * b[i] + d
        ob[i] = t
        if nesterov:
            t = d + beta * t
        ow[i] = v + -(eta * t)


# NumPy's error model: Python's checks each division for a zero divisor (here never zero:
# eps > 0), a branch that kept the loop scalar; without it the loop is vectorised, 2.4x
# faster, same bits.
@numba.njit(cache=True, error_model="numpy")
def _adam(W: Array, G: Array, m: Array, v: Array, c: Array,
          out_w: Array, out_m: Array, out_v: Array) -> None:  # fmt: skip
    # c = [2 lam, 1 - beta1, beta2, 1 - beta2, -step_size, root, eps, eta * weight_decay]
    w, g, m_, v_ = W.ravel(), G.ravel(), m.ravel(), v.ravel()
    ow, om, ov = out_w.ravel(), out_m.ravel(), out_v.ravel()
    two_lam, one_beta1, beta2, one_beta2, neg_step, root, eps, decay = (
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]
    )  # fmt: skip
    for i in range(w.size):
        p = w[i]
        d = g[i] + two_lam * p if two_lam != 0 else g[i]
        mi = m_[i] + one_beta1 * (d - m_[i])
        vi = beta2 * v_[i] + one_beta2 * d * d
        om[i] = mi
        ov[i] = vi
        u = neg_step * (mi / (np.sqrt(vi) / root + eps))
        ow[i] = p + (u - decay * p if decay != 0 else u)


def _same(*arrays: Array) -> tuple[Array, ...]:
    first = arrays[0]
    for a in arrays[1:]:
        if a.shape != first.shape or a.dtype != first.dtype:
            raise ValueError(
                f"arrays must match: {first.dtype} {first.shape} vs {a.dtype} {a.shape}"
            )
    return tuple(np.ascontiguousarray(a) for a in arrays)


def momentum_update(
    W: Array, G: Array, buf: Array, eta: float, lam: float, momentum: float, nesterov: bool
) -> tuple[Array, Array]:
    """``(W_new, buf_new)``: ``d = G + 2 lam W``, ``buf_new = momentum buf + d``,
    ``W_new = W - eta buf_new`` (``W - eta (d + momentum buf_new)`` with ``nesterov``)."""
    W, G, buf = _same(W, G, buf)
    c = np.array([eta, 2 * lam, momentum, float(nesterov)], W.dtype)
    out_w, out_buf = np.empty_like(W), np.empty_like(W)
    _momentum(W, G, buf, c, out_w, out_buf)
    return out_w, out_buf


def adam_update(
    W: Array, G: Array, m: Array, v: Array, constants: tuple[float, ...]
) -> tuple[Array, Array, Array]:
    """``(W_new, m_new, v_new)`` of one Adam step with the :func:`adam_constants` of that
    step: bias correction, L2 ``lam`` through the gradient, decoupled ``weight_decay``."""
    W, G, m, v = _same(W, G, m, v)
    c = np.array(constants, W.dtype)
    out_w, out_m, out_v = np.empty_like(W), np.empty_like(W), np.empty_like(W)
    _adam(W, G, m, v, c, out_w, out_m, out_v)
    return out_w, out_m, out_v


def adam_constants(
    eta: float, count: int, beta1: float, beta2: float, eps: float, lam: float, weight_decay: float
) -> tuple[float, ...]:
    """Constants of Adam step ``count`` (1-based): ``(2 lam, 1 - beta1, beta2, 1 - beta2,
    -eta / (1 - beta1^count), sqrt(1 - beta2^count), eps, eta weight_decay)``."""
    return (
        2 * lam,
        1 - beta1,
        beta2,
        1 - beta2,
        -(eta / (1 - beta1**count)),
        math.sqrt(1 - beta2**count),
        eps,
        eta * weight_decay,
    )
