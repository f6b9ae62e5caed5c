"""The network: forward pass, cost and hand-written backpropagation.

The network is a sequence of layer records (:mod:`handprop.nn.architecture`), by
default ``(Affine -> [BatchNorm] -> ReLU -> [Dropout]) * k -> Affine`` for ``k`` hidden
layers (batch norm if the parameters have :class:`~handprop.nn.params.NormParams` records);
:func:`forward` and :func:`backward` fold the registered forward/backward pairs over
it. Softmax and ``cost = mean cross-entropy + lam * sum_l ||W_l||^2`` close it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from handprop.kernels.softmax import softmax_xent
from handprop.nn import layers as L
from handprop.nn.architecture import (
    BatchNorm,
    check_sequence,
    decayed_arrays,
    kind_of,
    mlp,
    running_stats,
)
from handprop.nn.params import Grads, Params, Stats

Array = np.ndarray
Masks = Array | Sequence[Array] | None
#: What :func:`forward` records for :func:`backward`: ``(layer record, its parameter
#: record or None, cache)`` per layer, input side first.
Tape = list[tuple[Any, Any, Any]]

#: Rows per chunk when evaluating large sets (bounds memory for wide networks).
EVAL_CHUNK = 5000


def mask_tuple(mask: Masks) -> tuple[Array, ...]:
    """The dropout masks as a tuple: ``None`` is none, one array is one hidden layer's."""
    if mask is None:
        return ()
    return (mask,) if isinstance(mask, np.ndarray) else tuple(mask)


def default_sequence(
    params: Params, *, dropout: bool = False, training: bool = True, momentum: float = 0.1
) -> tuple[object, ...]:
    """:func:`~handprop.nn.architecture.mlp` for the parameters' depth, with a batch norm
    in ``training`` mode (running averages moved by ``momentum``) if they have any."""
    norm = BatchNorm(training, momentum) if params.norms else None
    return mlp(len(params.affine) - 1, dropout=dropout, batchnorm=norm)


def forward(
    params: Params,
    X: Array,
    mask: Masks = None,
    sequence: Sequence[Any] | None = None,
    *,
    training: bool = True,
) -> tuple[Array, Tape]:
    """Scores (n, K) for images X (n, d), and the tape for :func:`backward`.

    ``sequence`` defaults to :func:`default_sequence`, with dropout if ``mask`` (one
    multiplier per hidden layer) is given and batch norms in ``training`` mode (batch
    statistics; else the running averages ``params.stats``). Layers that take per-step
    inputs (dropout masks) take them from ``mask`` in order; the new running averages are
    :func:`~handprop.nn.architecture.running_stats` of the tape.
    """
    masks = mask_tuple(mask)
    if sequence is None:
        n_hidden = len(params.affine) - 1
        if mask is not None and len(masks) != n_hidden:
            raise ValueError(f"got {len(masks)} dropout masks for {n_hidden} hidden layers")
        sequence = default_sequence(params, dropout=mask is not None, training=training)
    check_sequence(sequence, len(params.layers))
    feed, layer_params, layer_stats = iter(masks), iter(params.layers), iter(params.stats)
    tape: Tape = []
    h = X
    try:
        for spec in sequence:
            kind = kind_of(spec)
            p = next(layer_params) if kind.params is not None else None
            stats = (next(layer_stats),) if kind.stats else ()
            h, cache = kind.forward(spec, p, h, feed, *stats)
            tape.append((spec, p, cache))
    except StopIteration:
        raise ValueError(
            f"got {len(masks)} masks and {len(params.stats)} running averages, too few for "
            "the layer sequence"
        ) from None
    if next(feed, None) is not None:
        raise ValueError(f"got {len(masks)} masks, more than the layer sequence takes")
    return h, tape


def backward(params: Params, dscores: Array, tape: Tape, lam: float) -> Grads:
    """Gradients of the cost for every parameter, given ``d loss / d scores``.

    ``params`` are those of the forward pass (the tape holds them layer by layer).
    """
    grads = []
    dh: Array | None = dscores
    for i in range(len(tape) - 1, -1, -1):
        assert dh is not None  # only the input layer skips dx
        spec, p, cache = tape[i]
        kind = kind_of(spec)
        dh, arrays = kind.backward(spec, p, dh, cache, i > 0)
        if kind.params is not None:
            if lam:
                names = [f.name for f in attrs.fields(kind.params)]
                for name in kind.decayed:
                    arrays[names.index(name)][...] += L.l2_backward(getattr(p, name), lam)
            grads.append(kind.params(*arrays))
    return Params(grads[::-1])


@attrs.frozen
class Evaluation:
    """Loss, cost and accuracy of a network on a labelled set."""

    loss: float
    cost: float
    accuracy: float


def training_gradients(
    params: Params,
    X: Array,
    y: Array,
    lam: float = 0.0,
    mask: Masks = None,
    smoothing: float = 0.0,
    sequence: Sequence[Any] | None = None,
) -> tuple[float, Grads, tuple[Stats, ...]]:
    """Mean cross-entropy on one batch, the gradients of ``loss + lam sum ||W||^2`` and the
    running averages after the batch (``()`` without batch norm).

    With ``lam = 0`` these are the data-term gradients alone: the training step adds the
    L2 term in its update (:func:`handprop.kernels.sgd_l2_update`, :mod:`handprop.optim`).
    ``smoothing`` is label smoothing of the targets (0: none); ``sequence`` as for
    :func:`forward` (default: training mode).
    """
    scores, tape = forward(params, X, mask, sequence)
    loss, dscores = softmax_xent(scores, y, smoothing)  # the fused softmax cross-entropy pair
    return loss, backward(params, dscores, tape, lam), running_stats(tape)


def cross_entropy_and_gradients(
    params: Params,
    X: Array,
    y: Array,
    lam: float = 0.0,
    mask: Masks = None,
    smoothing: float = 0.0,
) -> tuple[float, Grads]:
    """:func:`training_gradients` without the running averages."""
    return training_gradients(params, X, y, lam, mask, smoothing)[:2]


def loss_and_gradients(
    params: Params, X: Array, y: Array, lam: float, mask: Masks = None, smoothing: float = 0.0
) -> tuple[float, float, Grads]:
    """``(loss, cost, grads)`` on one batch (``smoothing``: label smoothing of the loss)."""
    loss, grads = cross_entropy_and_gradients(params, X, y, lam, mask, smoothing)
    return loss, loss + L.l2_penalty(decayed_arrays(params), lam), grads


def gradients(
    params: Params, X: Array, y: Array, lam: float, mask: Masks = None, smoothing: float = 0.0
) -> Grads:
    """Gradient record of ``cost(params, X, y, lam)`` (with a fixed dropout mask, if given,
    and label smoothing ``smoothing``)."""
    return loss_and_gradients(params, X, y, lam, mask, smoothing)[2]


def scores(params: Params, X: Array) -> Array:
    """Class scores (n, K) without dropout, batch norms on their running averages,
    computed in chunks of rows."""
    parts = [
        forward(params, X[i : i + EVAL_CHUNK], training=False)[0]
        for i in range(0, len(X), EVAL_CHUNK)
    ]
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
    penalty = L.l2_penalty(decayed_arrays(params), lam)
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
