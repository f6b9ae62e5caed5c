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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from handprop.nn import layers as L
from handprop.nn.params import Layer, Params

Array = np.ndarray
Feed = Iterator[Array]
Forward = Callable[[Any, Any, Array, Feed], tuple[Array, Any]]
Backward = Callable[[Any, Any, Array, Any, bool], tuple[Array | None, tuple[Array, ...]]]


@attrs.frozen
class Kind:
    """How one layer record runs: its pair, its parameter record type (None = no
    parameters) and the parameter fields under the L2 penalty."""

    forward: Forward
    backward: Backward
    params: type | None = None
    decayed: tuple[str, ...] = ()


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
    """``x @ W + b``; parameters :class:`~handprop.nn.params.Layer` (``W`` decayed)."""


@attrs.frozen
class ReLU:
    """``max(x, 0)``."""


@attrs.frozen
class Dropout:
    """Inverted dropout; takes the next mask (0 or ``1/keep``, shape of x) from the feed."""


def _affine_forward(spec: Affine, p: Layer, x: Array, feed: Feed) -> tuple[Array, Any]:
    return L.affine_forward(x, p.W, p.b)


def _affine_backward(
    spec: Affine, p: Layer, dout: Array, cache: Any, need_dx: bool
) -> tuple[Array | None, tuple[Array, ...]]:
    dx, dW, db = L.affine_backward(dout, cache, need_dx=need_dx)
    return dx, (dW, db)


register(Affine, Kind(_affine_forward, _affine_backward, Layer, decayed=("W",)))
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


def mlp(n_hidden: int, *, dropout: bool = False) -> tuple[object, ...]:
    """``(Affine -> ReLU -> [Dropout]) * n_hidden -> Affine``: today's classifier."""
    block: tuple[object, ...] = (Affine(), ReLU(), Dropout()) if dropout else (Affine(), ReLU())
    return (*block * n_hidden, Affine())


def check_sequence(sequence: Sequence[object], n_params: int) -> None:
    """Raise ValueError unless the sequence's parametrised layers match ``n_params``."""
    wanted = sum(kind_of(spec).params is not None for spec in sequence)
    if wanted != n_params:
        raise ValueError(
            f"the layer sequence has {wanted} parametrised layers, the parameters {n_params}"
        )


def decayed_arrays(params: Params) -> tuple[Array, ...]:
    """The parameter arrays under the L2 penalty (every ``W``), input side first."""
    decayed = {kind.params: kind.decayed for kind in KINDS.values() if kind.params is not None}
    return tuple(getattr(p, name) for p in params.layers for name in decayed[type(p)])
