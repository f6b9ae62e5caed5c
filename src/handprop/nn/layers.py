"""Layers as pure forward/backward pairs (cs231n style).

Each ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the
upstream gradient and that cache and returns the gradients of its inputs.
Shapes: ``n`` rows (images), ``d`` inputs, ``m`` outputs, ``K`` classes.
"""

from __future__ import annotations

import numpy as np

from handprop.errors import ConfigError
from handprop.kernels.relu import relu_backward as _relu_backward_kernel
from handprop.kernels.relu import relu_forward as _relu_forward_kernel
from handprop.kernels.softmax import check_smoothing

Array = np.ndarray


def affine_forward(x: Array, W: Array, b: Array) -> tuple[Array, tuple[Array, Array]]:
    """``out = x @ W + b``: x (n, d), W (d, m), b (m,) -> out (n, m)."""
    out = x @ W
    out += b
    return out, (x, W)


def affine_backward(
    dout: Array, cache: tuple[Array, Array], *, need_dx: bool = True
) -> tuple[Array | None, Array, Array]:
    """Gradients of ``x @ W + b``: ``dx = dout W^T``, ``dW = x^T dout``, ``db = sum_n dout``.

    ``need_dx=False`` skips ``dx`` (returned as ``None``) for the input layer.
    """
    x, W = cache
    dx = dout @ W.T if need_dx else None
    return dx, x.T @ dout, dout.sum(axis=0)


def relu_forward(x: Array) -> tuple[Array, Array]:
    """``max(x, 0)``; the cache is the output (its sign is all backward needs)."""
    out = _relu_forward_kernel(x)
    return out, out


def relu_backward(dout: Array, cache: Array) -> Array:
    """``dout * (x > 0)``."""
    return _relu_backward_kernel(dout, cache)


def dropout_forward(x: Array, mask: Array) -> tuple[Array, Array]:
    """Inverted dropout with a given multiplier ``mask`` (0 or ``1/keep``), same shape as x."""
    if mask.shape != x.shape:
        raise ValueError(f"dropout mask shape {mask.shape} != activation shape {x.shape}")
    return x * mask, mask


def dropout_backward(dout: Array, cache: Array) -> Array:
    """The mask scales the gradient exactly as it scaled the activation."""
    return dout * cache


def softmax(scores: Array) -> Array:
    """Row-wise softmax of scores (n, K), shifted by the row max for stability."""
    z = scores - scores.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def softmax_cross_entropy_forward(
    scores: Array, y: Array, smoothing: float = 0.0
) -> tuple[float, tuple[Array, Array, float]]:
    """Mean cross-entropy of softmax(scores) against integer labels y (n,).

    With ``smoothing = s`` the target of each row is ``(1 - s) onehot(y) + s / K``
    (``torch.nn.functional.cross_entropy(label_smoothing=s)``); ``s = 0`` is the plain loss.
    Computed via log-sum-exp, so it stays finite for any finite scores.
    """
    check_smoothing(smoothing)
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    z = probs.sum(axis=1, keepdims=True)
    probs /= z
    picked = shifted[np.arange(n), y]
    if smoothing:
        picked = (1 - smoothing) * picked + smoothing * shifted.mean(axis=1)
    loss = float(np.mean(np.log(z[:, 0]) - picked))
    return loss, (probs, y, smoothing)


def softmax_cross_entropy_backward(cache: tuple[Array, Array, float]) -> Array:
    """``d loss / d scores = (P - target) / n``, ``target = (1 - s) onehot(y) + s / K``."""
    probs, y, smoothing = cache
    n, k = probs.shape
    dscores = probs.copy()
    if smoothing:
        dscores -= smoothing / k
    dscores[np.arange(n), y] -= 1 - smoothing
    dscores /= n
    return dscores


def l2_penalty(Ws: tuple[Array, ...], lam: float) -> float:
    """``lam * sum_l ||W_l||_F^2`` (biases are not penalised)."""
    return float(lam * sum(np.vdot(W, W) for W in Ws))


def l2_backward(W: Array, lam: float) -> Array:
    """``d/dW lam ||W||^2 = 2 lam W``."""
    return (2 * lam) * W


BatchNormCache = tuple[Array, Array, Array, bool]


def batchnorm_forward(
    x: Array,
    gamma: Array,
    beta: Array,
    running_mean: Array,
    running_var: Array,
    *,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[Array, BatchNormCache, Array, Array]:
    """Batch normalisation of x (n, m) per column: ``gamma * (x - mu) / sqrt(var + eps) + beta``.

    Training: ``mu``, ``var`` are the batch mean and biased variance, and the running averages
    move towards the batch mean and *unbiased* variance by ``momentum`` (torch.nn.BatchNorm1d).
    Evaluation: the running averages are ``mu`` and ``var`` and stay as they are.
    Returns ``(out, cache, new_running_mean, new_running_var)``; no input is modified.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ConfigError(f"batch norm momentum must be in [0, 1], got {momentum!r}")
    if not (np.isfinite(eps) and eps > 0):
        raise ConfigError(f"batch norm eps must be finite and > 0, got {eps!r}")
    n = x.shape[0]
    if training:
        if n < 2:
            raise ConfigError(f"batch norm in training mode needs a batch of at least 2, got {n}")
        mu = x.mean(axis=0)
        xc = x - mu
        var = np.mean(xc * xc, axis=0)
        new_mean = (1 - momentum) * running_mean + momentum * mu
        new_var = (1 - momentum) * running_var + momentum * (var * (n / (n - 1)))
    else:
        xc = x - running_mean
        var, new_mean, new_var = running_var, running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = xc * inv_std
    return gamma * xhat + beta, (xhat, gamma, inv_std, training), new_mean, new_var


def batchnorm_backward(dout: Array, cache: BatchNormCache) -> tuple[Array, Array, Array]:
    """``(dx, dgamma, dbeta)`` of :func:`batchnorm_forward`, dout (n, m).

    Training mode also differentiates through the batch statistics:
    ``dx = inv_std (dxhat - mean(dxhat) - xhat mean(dxhat xhat))`` with ``dxhat = gamma dout``.
    """
    xhat, gamma, inv_std, training = cache
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = dout * gamma
    if not training:
        return dxhat * inv_std, dgamma, dbeta
    dx = dxhat - dxhat.mean(axis=0) - xhat * np.mean(dxhat * xhat, axis=0)
    dx *= inv_std
    return dx, dgamma, dbeta
