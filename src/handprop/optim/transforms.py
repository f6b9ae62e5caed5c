"""Optimisers as pure gradient transformations (the optax shape).

A :class:`GradientTransformation` holds pure functions over
:class:`~handprop.nn.params.Params` records:

- ``init(params) -> state``
- ``update(grads, state, params, eta) -> (updates, state)``

and :func:`apply_updates` adds the updates to the parameters; ``step`` does both in one
fused pass per array (Numba kernels, same bits). The learning rate is an
argument of every ``update`` (not part of the state): the schedule is a function of the
step (``schedule(t)``, :mod:`handprop.train.schedules`) that the training step already
evaluates, so the optimiser state holds only what the optimiser itself accumulates.

``grads`` are the data-term gradients. ``lam`` is handprop's L2 strength: the cost has
``lam * sum ||W||^2`` on the weights only (not the biases, nor the batch-norm ``gamma`` and
``beta``: the decayed fields of each record are its layer kind's, see
:func:`~handprop.nn.architecture.decayed_fields`), so ``2 lam W`` is added to each
weight gradient before the optimiser sees it (``torch.optim`` with ``weight_decay = 2 lam``
on a weights-only parameter group). AdamW's ``weight_decay`` is decoupled instead
(``W <- W (1 - eta weight_decay)``, as in ``torch.optim.AdamW``), also on weights only.
Every trained array is updated (``W``, ``b``, ``gamma``, ``beta``); the running averages
of batch norms (``Params.stats``) are not trained: the results carry none, and the
training step attaches those of its forward pass.

The updates follow ``torch.optim.SGD`` (``momentum``, ``nesterov=True``, ``dampening=0``),
``torch.optim.Adam`` and ``torch.optim.AdamW`` (``amsgrad=False``) operation by operation.
State records mirror the Params shape and are frozen like them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import numpy as np

from handprop.errors import ConfigError
from handprop.kernels.optim import adam_constants, adam_update, momentum_update
from handprop.kernels.sgd import sgd_l2_update
from handprop.nn.architecture import decayed_fields
from handprop.nn.params import Params

Array = np.ndarray

OPTIMIZER_NAMES: tuple[str, ...] = ("sgd", "momentum", "nesterov", "adam", "adamw")


class Init(Protocol):
    def __call__(self, params: Params) -> Any: ...


class Update(Protocol):
    def __call__(
        self, grads: Params, state: Any, params: Params, eta: float
    ) -> tuple[Params, Any]: ...


@attrs.frozen
class GradientTransformation:
    """``init(params) -> state``, ``update(grads, state, params, eta) -> (updates, state)``.

    ``step(grads, state, params, eta) -> (new_params, state)`` is ``update`` followed by
    :func:`apply_updates`, fused into one pass over each array by the Numba kernels of
    :mod:`handprop.kernels.optim` (same bits, none of the temporaries).
    """

    init: Init
    update: Update
    step: Update


@attrs.frozen
class EmptyState:
    """State of a stateless optimiser (plain SGD)."""


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
    """``params + updates``, array by array, as new arrays."""
    return params.zip_map(updates, np.add)


def _zeros(params: Params) -> Params:
    return params.map(np.zeros_like)


def _scalar(x: Array, value: float) -> np.floating:
    """``value`` as a scalar of ``x``'s dtype (so float32 arithmetic stays float32)."""
    return x.dtype.type(value)


def _fields(record: Any) -> list[tuple[str, bool]]:
    """``(name, decayed)`` for every array field of a parameter record."""
    decayed = decayed_fields(type(record))
    return [(f.name, f.name in decayed) for f in attrs.fields(type(record))]


def _per_array(fn: Callable[..., tuple[Array, ...]], *records: Params) -> tuple[Params, ...]:
    """``fn(decayed, *arrays) -> (new arrays)`` applied to the matching arrays of Params-shaped
    records; returns one Params per output of ``fn``."""
    outs: list[list[Any]] = []
    for group in zip(*(r.layers for r in records), strict=True):
        per_field = [fn(d, *(getattr(r, name) for r in group)) for name, d in _fields(group[0])]
        outs.append([type(group[0])(*arrays) for arrays in zip(*per_field, strict=True)])
    return tuple(Params(layers) for layers in zip(*outs, strict=True))


def _with_l2(grads: Params, params: Params, lam: float) -> Params:
    """``dW + 2 lam W`` for every decayed array, the others unchanged (handprop's L2 term)."""
    if not lam:
        return grads
    return _per_array(
        lambda decayed, g, p: (g + _scalar(p, 2 * lam) * p if decayed else g,), grads, params
    )[0]


def _check(name: str, value: float, low: float, high: float) -> None:
    """``low <= value < high`` (and not NaN), else a one-line ConfigError."""
    if not low <= value < high:
        raise ConfigError(f"{name} must be in [{low}, {high}), got {value!r}")


def _check_lam(lam: float) -> None:
    _check("lam", lam, 0.0, math.inf)


def sgd(lam: float = 0.0) -> GradientTransformation:
    """Plain SGD: ``W <- W - eta (dW + 2 lam W)``, ``b <- b - eta db``.

    With :func:`apply_updates` the arrays are bit-identical to the fused
    :func:`handprop.train.loop.sgd_l2_step` (same operations in the same dtype).
    """
    _check_lam(lam)

    def init(params: Params) -> EmptyState:
        return EmptyState()

    def update(
        grads: Params, state: EmptyState, params: Params, eta: float
    ) -> tuple[Params, EmptyState]:
        def delta(decayed: bool, g: Array, p: Array) -> tuple[Array]:
            if decayed:
                return (-((g + _scalar(p, 2 * lam) * p) * _scalar(p, eta)),)
            return (-(eta * g),)

        return _per_array(delta, grads, params)[0], state

    def step(
        grads: Params, state: EmptyState, params: Params, eta: float
    ) -> tuple[Params, EmptyState]:
        def new(decayed: bool, g: Array, p: Array) -> tuple[Array]:
            return (sgd_l2_update(p, g, eta, lam)[0] if decayed else p - eta * g,)

        return _per_array(new, grads, params)[0], state

    return GradientTransformation(init, update, step)


def _trace(lam: float, beta: float, nesterov: bool) -> GradientTransformation:
    _check_lam(lam)
    _check("momentum", beta, 0.0, 1.0)

    def init(params: Params) -> TraceState:
        return TraceState(_zeros(params))

    def update(
        grads: Params, state: TraceState, params: Params, eta: float
    ) -> tuple[Params, TraceState]:
        g = _with_l2(grads, params, lam)
        trace = state.trace.zip_map(g, lambda buf, d: _scalar(buf, beta) * buf + d)
        direction = (
            g.zip_map(trace, lambda d, buf: d + _scalar(buf, beta) * buf) if nesterov else trace
        )
        return direction.map(lambda d: -(_scalar(d, eta) * d)), TraceState(trace)

    def step(
        grads: Params, state: TraceState, params: Params, eta: float
    ) -> tuple[Params, TraceState]:
        def new(decayed: bool, g: Array, p: Array, buf: Array) -> tuple[Array, Array]:
            return momentum_update(p, g, buf, eta, lam if decayed else 0.0, beta, nesterov)

        new_params, trace = _per_array(new, grads, params, state.trace)
        return new_params, TraceState(trace)

    return GradientTransformation(init, update, step)


def momentum(momentum: float = 0.9, lam: float = 0.0) -> GradientTransformation:
    """Heavy-ball momentum (``torch.optim.SGD(momentum=momentum)``):
    ``buf <- momentum buf + g``, ``p <- p - eta buf``, with ``g = dp (+ 2 lam W)``."""
    return _trace(lam, momentum, nesterov=False)


def nesterov(momentum: float = 0.9, lam: float = 0.0) -> GradientTransformation:
    """Nesterov momentum (``torch.optim.SGD(momentum=momentum, nesterov=True)``):
    ``buf <- momentum buf + g``, ``p <- p - eta (g + momentum buf)``."""
    return _trace(lam, momentum, nesterov=True)


def _adam(
    beta1: float, beta2: float, eps: float, lam: float, weight_decay: float
) -> GradientTransformation:
    _check("beta1", beta1, 0.0, 1.0)
    _check("beta2", beta2, 0.0, 1.0)
    _check_lam(lam)
    _check("weight_decay", weight_decay, 0.0, math.inf)
    if not (math.isfinite(eps) and eps > 0):
        raise ConfigError(f"eps must be finite and > 0, got {eps!r}")

    def init(params: Params) -> AdamState:
        return AdamState(0, _zeros(params), _zeros(params))

    def update(
        grads: Params, state: AdamState, params: Params, eta: float
    ) -> tuple[Params, AdamState]:
        count = state.count + 1
        c = adam_constants(eta, count, beta1, beta2, eps, lam, weight_decay)
        one_beta1, beta2_, one_beta2, neg_step, root, eps_, decay = c[1:]
        g = _with_l2(grads, params, lam)
        m = state.m.zip_map(g, lambda m_, d: m_ + _scalar(d, one_beta1) * (d - m_))
        v = state.v.zip_map(
            g, lambda v_, d: _scalar(d, beta2_) * v_ + _scalar(d, one_beta2) * d * d
        )

        def delta(m_: Array, v_: Array) -> Array:
            return _scalar(m_, neg_step) * (
                m_ / (np.sqrt(v_) / _scalar(v_, root) + _scalar(v_, eps_))
            )

        updates = m.zip_map(v, delta)
        if weight_decay:
            updates = _per_array(
                lambda decayed, u, p: (u - _scalar(p, decay) * p if decayed else u,),
                updates,
                params,
            )[0]
        return updates, AdamState(count, m, v)

    def step(
        grads: Params, state: AdamState, params: Params, eta: float
    ) -> tuple[Params, AdamState]:
        count = state.count + 1
        consts = adam_constants(eta, count, beta1, beta2, eps, lam, weight_decay)
        bias_consts = adam_constants(eta, count, beta1, beta2, eps, 0.0, 0.0)

        def new(
            decayed: bool, g: Array, p: Array, m: Array, v: Array
        ) -> tuple[Array, Array, Array]:
            return adam_update(p, g, m, v, consts if decayed else bias_consts)

        new_params, m, v = _per_array(new, grads, params, state.m, state.v)
        return new_params, AdamState(count, m, v)

    return GradientTransformation(init, update, step)


def adam(
    beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, lam: float = 0.0
) -> GradientTransformation:
    """Adam (``torch.optim.Adam``) with bias correction; ``eps`` is added to
    ``sqrt(v) / sqrt(1 - beta2^t)``, L2 (``lam``) enters through the gradient."""
    return _adam(beta1, beta2, eps, lam, 0.0)


def adamw(
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    lam: float = 0.0,
) -> GradientTransformation:
    """AdamW (``torch.optim.AdamW``): Adam plus decoupled decay ``W <- W (1 - eta wd)``
    of the weights (biases are not decayed)."""
    return _adam(beta1, beta2, eps, lam, weight_decay)


def state_arrays(state: Any) -> dict[str, Array]:
    """A flat ``{name: array}`` view of an optimiser state for files: Params fields as
    ``"<field>.W1"``, ``"<field>.b1"``, ..., integer fields as 0-d int64 arrays."""
    out: dict[str, Array] = {}
    for f in attrs.fields(type(state)):
        value = getattr(state, f.name)
        if isinstance(value, Params):
            out.update({f"{f.name}.{k}": a for k, a in value.arrays().items()})
        else:
            out[f.name] = np.asarray(value, np.int64)
    return out


def state_from_arrays(template: Any, arrays: dict[str, Array]) -> Any:
    """Inverse of :func:`state_arrays`, for a state of the same type as ``template``."""
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


_FACTORIES: dict[str, Callable[..., GradientTransformation]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adam": adam,
    "adamw": adamw,
}


def make_optimizer(name: str, **kwargs: float) -> GradientTransformation:
    """The optimiser ``name`` (one of :data:`OPTIMIZER_NAMES`) with its hyperparameters."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ConfigError(f"optimizer must be one of {OPTIMIZER_NAMES}, got {name!r}")
    options = inspect.signature(factory).parameters
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise ConfigError(
            f"optimizer {name!r} has no option {unknown[0]!r} (options: {', '.join(options)})"
        )
    return factory(**kwargs)
