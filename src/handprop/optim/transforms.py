"""Gradient transformations in the optax shape, and their composition.

A :class:`GradientTransformation` is a pair of pure functions over
:class:`~handprop.nn.params.Params` records:

- ``init(params) -> state``
- ``update(grads, state, params) -> (updates, state)``

The pieces here are frozen records (so that :func:`handprop.optim.fused.step` can
recognise a chain of them and run its fused kernel): :class:`AddL2`, :class:`Trace`,
:class:`ScaleByAdam`, :class:`AddDecayedWeights`, :class:`Scale`, composed left to right by
:func:`chain`; :func:`apply_updates` adds the updates to the parameters.

``lam`` is handprop's L2 strength: the cost has ``lam * sum ||W||^2`` on the weights only
(not the biases, nor the batch-norm ``gamma`` and ``beta``: the decayed fields of each
record are its layer kind's, see :func:`~handprop.nn.architecture.decayed_fields`), so
:class:`AddL2` adds ``2 lam W`` to each weight gradient (``torch.optim`` with
``weight_decay = 2 lam`` on a weights-only parameter group). :class:`AddDecayedWeights` is
AdamW's decoupled decay, also on the weights only. Every trained array is updated
(``W``, ``b``, ``gamma``, ``beta``); the running averages of batch norms
(``Params.stats``) are not trained and :func:`apply_updates` carries them over.

Scalars enter the arithmetic in the arrays' dtype, so float32 stays float32. State
records mirror the Params shape and are frozen like them; a chain's state is the tuple
of its pieces' states.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import numpy as np

from handprop.nn.architecture import decayed_arrays, decayed_fields
from handprop.nn.layers import l2_penalty
from handprop.nn.params import Params

Array = np.ndarray


class GradientTransformation(Protocol):
    """``init(params) -> state``, ``update(grads, state, params) -> (updates, state)``."""

    def init(self, params: Params) -> Any: ...

    def update(self, grads: Params, state: Any, params: Params) -> tuple[Params, Any]: ...


@attrs.frozen
class EmptyState:
    """State of a stateless transformation."""


@attrs.frozen
class TraceState:
    """Momentum buffer, one array per parameter (Params-shaped)."""

    trace: Params


@attrs.frozen
class AdamState:
    """``count`` steps taken, first and second moment estimates ``m`` and ``v`` (Params-shaped)."""

    count: int
    m: Params
    v: Params


def apply_updates(params: Params, updates: Params) -> Params:
    """``params + updates``, array by array, as new arrays (the running averages kept)."""
    return params.zip_map(updates, np.add).with_stats(params.stats)


def _zeros(params: Params) -> Params:
    return params.map(np.zeros_like)


def _scalar(x: Array, value: float) -> np.floating:
    """``value`` as a scalar of ``x``'s dtype (so float32 arithmetic stays float32)."""
    return x.dtype.type(value)


def _on_decayed(fn: Callable[[Array, Array], Array], updates: Params, params: Params) -> Params:
    """``fn(u, p)`` for every decayed array (the weights), the other updates unchanged."""
    layers = []
    for u, p in zip(updates.layers, params.layers, strict=True):
        decayed = decayed_fields(type(u))
        arrays = [
            fn(getattr(u, f.name), getattr(p, f.name)) if f.name in decayed else getattr(u, f.name)
            for f in attrs.fields(type(u))
        ]
        layers.append(type(u)(*arrays))
    return Params(layers)


@attrs.frozen
class AddL2:
    """``dW + 2 lam W`` on the weights (handprop's L2 term through the gradient)."""

    lam: float

    def init(self, params: Params) -> EmptyState:
        return EmptyState()

    def update(self, grads: Params, state: EmptyState, params: Params) -> tuple[Params, EmptyState]:
        if not self.lam:
            return grads, state
        lam = self.lam
        return _on_decayed(lambda g, p: g + _scalar(p, 2 * lam) * p, grads, params), state

    def penalty(self, params: Params) -> float:
        """The cost's term ``lam sum ||W||^2``."""
        return l2_penalty(decayed_arrays(params), self.lam)


@attrs.frozen
class Trace:
    """Momentum (``torch.optim.SGD``, ``dampening = 0``): ``buf <- momentum buf + g``,
    the update ``buf`` (``g + momentum buf`` with ``nesterov``)."""

    momentum: float
    nesterov: bool = False

    def init(self, params: Params) -> TraceState:
        return TraceState(_zeros(params))

    def update(self, grads: Params, state: TraceState, params: Params) -> tuple[Params, TraceState]:
        beta = self.momentum
        trace = state.trace.zip_map(grads, lambda buf, g: _scalar(buf, beta) * buf + g)
        if not self.nesterov:
            return trace, TraceState(trace)
        return grads.zip_map(trace, lambda g, buf: g + _scalar(buf, beta) * buf), TraceState(trace)


@attrs.frozen
class ScaleByAdam:
    """Adam's direction (``torch.optim.Adam``, ``amsgrad = False``) at step ``t``:
    ``m <- m + (1 - beta1) (g - m)``, ``v <- beta2 v + (1 - beta2) g^2``, the update
    ``m / (sqrt(v) / sqrt(1 - beta2^t) + eps) / (1 - beta1^t)``."""

    beta1: float
    beta2: float
    eps: float

    def init(self, params: Params) -> AdamState:
        return AdamState(0, _zeros(params), _zeros(params))

    def update(self, grads: Params, state: AdamState, params: Params) -> tuple[Params, AdamState]:
        count = state.count + 1
        one_beta1, one_beta2 = 1 - self.beta1, 1 - self.beta2
        root, bias1 = math.sqrt(1 - self.beta2**count), 1 - self.beta1**count
        m = state.m.zip_map(grads, lambda m_, g: m_ + _scalar(g, one_beta1) * (g - m_))
        v = state.v.zip_map(
            grads, lambda v_, g: _scalar(g, self.beta2) * v_ + _scalar(g, one_beta2) * g * g
        )

        def direction(m_: Array, v_: Array) -> Array:
            denom = np.sqrt(v_) / _scalar(v_, root) + _scalar(v_, self.eps)
            return m_ / denom / _scalar(m_, bias1)

        return m.zip_map(v, direction), AdamState(count, m, v)


@attrs.frozen
class AddDecayedWeights:
    """``u + weight_decay W`` on the weights (AdamW's decoupled decay, before the
    learning rate scales it: ``torch.optim.AdamW``)."""

    weight_decay: float

    def init(self, params: Params) -> EmptyState:
        return EmptyState()

    def update(
        self, updates: Params, state: EmptyState, params: Params
    ) -> tuple[Params, EmptyState]:
        if not self.weight_decay:
            return updates, state
        wd = self.weight_decay
        return _on_decayed(lambda u, p: u + _scalar(p, wd) * p, updates, params), state


@attrs.frozen
class Scale:
    """``step_size u`` for every array (``Scale(-eta)``: the learning rate's step)."""

    step_size: float

    def init(self, params: Params) -> EmptyState:
        return EmptyState()

    def update(
        self, updates: Params, state: EmptyState, params: Params
    ) -> tuple[Params, EmptyState]:
        return updates.map(lambda u: u * _scalar(u, self.step_size)), state


@attrs.frozen
class Chain:
    """The pieces applied in order, each to the previous one's updates; the state is the
    tuple of their states."""

    pieces: tuple[GradientTransformation, ...]

    def init(self, params: Params) -> tuple[Any, ...]:
        return tuple(p.init(params) for p in self.pieces)

    def update(
        self, grads: Params, state: tuple[Any, ...], params: Params
    ) -> tuple[Params, tuple[Any, ...]]:
        states = []
        for piece, s in zip(self.pieces, state, strict=True):
            grads, s = piece.update(grads, s, params)
            states.append(s)
        return grads, tuple(states)


def chain(*pieces: GradientTransformation) -> Chain:
    """``pieces`` composed left to right."""
    return Chain(pieces)


def state_arrays(state: Any) -> dict[str, Array]:
    """A flat ``{name: array}`` view of an optimiser state for files: Params fields as
    ``"<field>.W1"``, ``"<field>.b1"``, ..., integer fields as 0-d int64 arrays; a chain's
    state is the union of its pieces' (their field names differ)."""
    out: dict[str, Array] = {}
    if isinstance(state, tuple):
        for s in state:
            arrays = state_arrays(s)
            if arrays.keys() & out.keys():
                raise ValueError(f"the states of a chain repeat {sorted(arrays.keys() & out)}")
            out.update(arrays)
        return out
    for f in attrs.fields(type(state)):
        value = getattr(state, f.name)
        if isinstance(value, Params):
            out.update({f"{f.name}.{k}": a for k, a in value.arrays().items()})
        else:
            out[f.name] = np.asarray(value, np.int64)
    return out


def state_from_arrays(template: Any, arrays: dict[str, Array]) -> Any:
    """Inverse of :func:`state_arrays`, for a state of the same type as ``template``."""
    if isinstance(template, tuple):
        return tuple(state_from_arrays(s, arrays) for s in template)
    values: dict[str, Any] = {}
    for f in attrs.fields(type(template)):
        if isinstance(getattr(template, f.name), Params):
            prefix = f"{f.name}."
            values[f.name] = Params.from_arrays(
                {k[len(prefix) :]: a for k, a in arrays.items() if k.startswith(prefix)}
            )
        else:
            values[f.name] = int(arrays[f.name])
            if values[f.name] < 0:
                raise ValueError(f"{f.name} must be >= 0, got {values[f.name]}")
    return type(template)(**values)
