"""The network as a sequence of layer records, and the registry of layer kinds.

A layer record (:class:`Affine`, :class:`ReLU`, :class:`Dropout`) says what a layer
is; its :class:`Kind` says how it runs: the forward/backward pair from
:mod:`handprop.nn.layers` and the record type of its parameters, if any. The network's
forward and backward passes (:mod:`handprop.nn.network`) are folds over the sequence,
so a new layer kind is one pair in ``layers.py`` plus one record registered here
(or anywhere, with :func:`register`) -- the network is unchanged.

Uniform signatures (``spec`` is the layer record, ``param`` its parameter record or
None, ``feed`` an iterator over the step's per-layer inputs such as dropout masks)::

    forward(spec, param, x, feed) -> (out, cache)
    backward(spec, param, dout, cache, need_dx) -> (dx or None, grad arrays)

The grad arrays are in the field order of the parameter record (``()`` without one).
A kind with running averages (``stats=True``: batch norm) takes its
:class:`~handprop.nn.params.Stats` as a fifth forward argument and returns
``(out, (cache, new_stats))``; :func:`running_stats` collects the new ones from a tape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from handprop.nn import layers as L
from handprop.nn.params import AffineParams, NormParams, Params, Stats

Array = np.ndarray
Feed = Iterator[Array]
Forward = Callable[[Any, Any, Array, Feed], tuple[Array, Any]]
Backward = Callable[[Any, Any, Array, Any, bool], tuple[Array | None, tuple[Array, ...]]]


@attrs.frozen
class Kind:
    """How one layer record runs: its pair, its parameter record type (None = no
    parameters), the parameter fields under the L2 penalty, and whether it keeps
    running averages (:class:`~handprop.nn.params.Stats`, not trained)."""

    forward: Forward
    backward: Backward
    params: type | None = None
    decayed: tuple[str, ...] = ()
    stats: bool = False


KINDS: dict[type, Kind] = {}


def register(record: type, kind: Kind) -> None:
    """Make layer records of type ``record`` run as ``kind``."""
    KINDS[record] = kind


def kind_of(spec: object) -> Kind:
    """The registered kind of a layer record."""
    try:
        return KINDS[type(spec)]
    except KeyError:
        raise TypeError(f"no layer kind registered for {type(spec).__name__}") from None


@attrs.frozen
class Affine:
    """``x @ W + b``; parameters :class:`~handprop.nn.params.AffineParams` (``W`` decayed)."""


@attrs.frozen
class ReLU:
    """``max(x, 0)``."""


@attrs.frozen
class Dropout:
    """Inverted dropout; takes the next mask (0 or ``1/keep``, shape of x) from the feed."""


@attrs.frozen
class BatchNorm:
    """Batch normalisation (:func:`~handprop.nn.layers.batchnorm_forward`); parameters
    :class:`~handprop.nn.params.NormParams` (not decayed), running averages in
    :class:`~handprop.nn.params.Stats`. ``training``: batch statistics (and running
    averages moved by ``momentum``), else the running averages."""

    training: bool = True
    momentum: float = 0.1


def _batchnorm_forward(
    spec: BatchNorm, p: NormParams, x: Array, feed: Feed, s: Stats
) -> tuple[Array, Any]:
    eps = float(s.eps)
    out, cache, mean, var = L.batchnorm_forward(
        x, p.gamma, p.beta, s.mean, s.var, training=spec.training, momentum=spec.momentum, eps=eps
    )
    return out, (
        cache,
        Stats(mean.astype(s.mean.dtype, copy=False), var.astype(s.var.dtype, copy=False), s.eps),
    )


def _batchnorm_backward(
    spec: BatchNorm, p: NormParams, dout: Array, cache: Any, need_dx: bool
) -> tuple[Array | None, tuple[Array, ...]]:
    dx, dgamma, dbeta = L.batchnorm_backward(dout, cache[0])
    return dx, (dgamma, dbeta)


def _affine_forward(spec: Affine, p: AffineParams, x: Array, feed: Feed) -> tuple[Array, Any]:
    return L.affine_forward(x, p.W, p.b)


def _affine_backward(
    spec: Affine, p: AffineParams, dout: Array, cache: Any, need_dx: bool
) -> tuple[Array | None, tuple[Array, ...]]:
    dx, dW, db = L.affine_backward(dout, cache, need_dx=need_dx)
    return dx, (dW, db)


register(Affine, Kind(_affine_forward, _affine_backward, AffineParams, decayed=("W",)))
register(
    ReLU,
    Kind(
        lambda spec, p, x, feed: L.relu_forward(x),
        lambda spec, p, dout, cache, need_dx: (L.relu_backward(dout, cache), ()),
    ),
)
register(
    Dropout,
    Kind(
        lambda spec, p, x, feed: L.dropout_forward(x, next(feed)),
        lambda spec, p, dout, cache, need_dx: (L.dropout_backward(dout, cache), ()),
    ),
)


register(
    BatchNorm,
    Kind(_batchnorm_forward, _batchnorm_backward, NormParams, decayed=(), stats=True),  # type: ignore[arg-type]
)


def mlp(
    n_hidden: int, *, dropout: bool = False, batchnorm: BatchNorm | None = None
) -> tuple[object, ...]:
    """``(Affine -> [BatchNorm] -> ReLU -> [Dropout]) * n_hidden -> Affine``: the classifier."""
    norm: tuple[object, ...] = () if batchnorm is None else (batchnorm,)
    block: tuple[object, ...] = (Affine(), *norm, ReLU(), *((Dropout(),) if dropout else ()))
    return (*block * n_hidden, Affine())


def running_stats(tape: Sequence[tuple[Any, Any, Any]]) -> tuple[Stats, ...]:
    """The running averages after a forward pass, from its tape (one per stats layer)."""
    return tuple(cache[1] for spec, _, cache in tape if kind_of(spec).stats)


def decayed_fields(record: type) -> tuple[str, ...]:
    """The fields of parameter record type ``record`` under the L2 penalty (``("W",)``)."""
    for kind in KINDS.values():
        if kind.params is record:
            return kind.decayed
    raise TypeError(f"no layer kind has parameters of type {record.__name__}")


def check_sequence(sequence: Sequence[object], n_params: int) -> None:
    """Raise ValueError unless the sequence's parametrised layers match ``n_params``."""
    wanted = sum(kind_of(spec).params is not None for spec in sequence)
    if wanted != n_params:
        raise ValueError(
            f"the layer sequence has {wanted} parametrised layers, the parameters {n_params}"
        )


def decayed_arrays(params: Params) -> tuple[Array, ...]:
    """The parameter arrays under the L2 penalty (every ``W``), input side first."""
    return tuple(getattr(p, name) for p in params.layers for name in decayed_fields(type(p)))
