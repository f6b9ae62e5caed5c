"""The network: forward pass, cost and hand-written backpropagation.

Composed from the layer pairs in :mod:`handprop.nn.layers`. For ``k`` hidden
layers the forward pass is ``(affine -> ReLU -> [dropout]) * k -> affine ->
softmax``; ``cost = mean cross-entropy + lam * sum_l ||W_l||^2``.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from handprop.kernels.softmax import softmax_xent
from handprop.nn import layers as L
from handprop.nn.params import Grads, Layer, Params

Array = np.ndarray
Masks = Array | Sequence[Array] | None

#: Rows per chunk when evaluating large sets (bounds memory for wide networks).
EVAL_CHUNK = 5000


def _masks(params: Params, mask: Masks) -> tuple[Array | None, ...]:
    """One dropout multiplier (or None) per hidden layer."""
    n_hidden = len(params.layers) - 1
    if mask is None:
        return (None,) * n_hidden
    if isinstance(mask, np.ndarray):
        mask = (mask,)
    masks = tuple(mask)
    if len(masks) != n_hidden:
        raise ValueError(f"got {len(masks)} dropout masks for {n_hidden} hidden layers")
    return masks


def forward(params: Params, X: Array, mask: Masks = None) -> tuple[Array, list[tuple]]:
    """Scores (n, K) for images X (n, d), and the per-layer caches for :func:`backward`."""
    caches: list[tuple] = []
    h = X
    for layer, m in zip(params.layers[:-1], _masks(params, mask), strict=True):
        a, affine_cache = L.affine_forward(h, layer.W, layer.b)
        h, relu_cache = L.relu_forward(a)
        drop_cache = None
        if m is not None:
            h, drop_cache = L.dropout_forward(h, m)
        caches.append((affine_cache, relu_cache, drop_cache))
    last = params.layers[-1]
    scores, affine_cache = L.affine_forward(h, last.W, last.b)
    caches.append((affine_cache, None, None))
    return scores, caches


def backward(params: Params, dscores: Array, caches: list[tuple], lam: float) -> Grads:
    """Gradients of the cost for every parameter, given ``d loss / d scores``."""
    grads: list[Layer] = []
    dh: Array | None = dscores
    for i in range(len(params.layers) - 1, -1, -1):
        assert dh is not None  # only the input layer skips dx
        affine_cache, relu_cache, drop_cache = caches[i]
        if relu_cache is not None:
            if drop_cache is not None:
                dh = L.dropout_backward(dh, drop_cache)
            dh = L.relu_backward(dh, relu_cache)
        dh, dW, db = L.affine_backward(dh, affine_cache, need_dx=i > 0)
        if lam:
            dW += L.l2_backward(params.layers[i].W, lam)
        grads.append(Layer(dW, db))
    return Params(grads[::-1])


@attrs.frozen
class Evaluation:
    """Loss, cost and accuracy of a network on a labelled set."""

    loss: float
    cost: float
    accuracy: float


def cross_entropy_and_gradients(
    params: Params, X: Array, y: Array, lam: float = 0.0, mask: Masks = None
) -> tuple[float, Grads]:
    """Mean cross-entropy on one batch and the gradients of ``loss + lam sum ||W||^2``.

    With ``lam = 0`` these are the data-term gradients alone: the training step adds the
    L2 term in its fused update (:func:`handprop.kernels.sgd_l2_update`).
    """
    scores, caches = forward(params, X, mask)
    loss, dscores = softmax_xent(scores, y)  # the fused softmax cross-entropy pair
    return loss, backward(params, dscores, caches, lam)


def loss_and_gradients(
    params: Params, X: Array, y: Array, lam: float, mask: Masks = None
) -> tuple[float, float, Grads]:
    """``(loss, cost, grads)`` on one batch."""
    loss, grads = cross_entropy_and_gradients(params, X, y, lam, mask)
    return loss, loss + L.l2_penalty(tuple(layer.W for layer in params.layers), lam), grads


def gradients(params: Params, X: Array, y: Array, lam: float, mask: Masks = None) -> Grads:
    """Gradient record of ``cost(params, X, y, lam)`` (with a fixed dropout mask, if given)."""
    return loss_and_gradients(params, X, y, lam, mask)[2]


def scores(params: Params, X: Array) -> Array:
    """Class scores (n, K) without dropout, computed in chunks of rows."""
    parts = [forward(params, X[i : i + EVAL_CHUNK])[0] for i in range(0, len(X), EVAL_CHUNK)]
    if not parts:
        return np.empty((0, params.sizes[-1]), dtype=params.dtype)
    return np.concatenate(parts)


def predict(params: Params, X: Array) -> Array:
    """Class probabilities (n, K)."""
    return L.softmax(scores(params, X))


def evaluate(params: Params, X: Array, y: Array, lam: float = 0.0) -> Evaluation:
    """Loss, cost and accuracy in one forward pass."""
    s = scores(params, X)
    loss, _ = L.softmax_cross_entropy_forward(s, y)
    penalty = L.l2_penalty(tuple(layer.W for layer in params.layers), lam)
    return Evaluation(loss=loss, cost=loss + penalty, accuracy=float(np.mean(s.argmax(1) == y)))


def loss(params: Params, X: Array, y: Array) -> float:
    """Mean cross-entropy."""
    return evaluate(params, X, y).loss


def cost(params: Params, X: Array, y: Array, lam: float) -> float:
    """Mean cross-entropy plus ``lam * sum ||W||^2``."""
    return evaluate(params, X, y, lam).cost


def accuracy(params: Params, X: Array, y: Array) -> float:
    """Fraction of rows whose highest score is the label."""
    return evaluate(params, X, y).accuracy
