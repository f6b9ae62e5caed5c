"""A chain's update and :func:`~handprop.optim.transforms.apply_updates` in one pass.

:func:`step` recognises the chains of :mod:`handprop.optim.optimizers` and runs their
fused Numba kernels (:mod:`handprop.kernels.sgd`, :mod:`handprop.kernels.optim`): one
pass over each array instead of NumPy's many, and no temporaries. Any other chain runs
as the plain composition (``update`` then ``apply_updates``), the reference the fused
kernels are tested against: bit for bit for SGD and momentum, to rounding for Adam, whose
kernel folds the learning rate into the bias correction (``-eta / (1 - beta1^t)``, as
``torch.optim.Adam`` does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from handprop.kernels.optim import adam_constants, adam_update, momentum_update
from handprop.kernels.sgd import sgd_l2_update
from handprop.nn.architecture import decayed_fields
from handprop.nn.params import Params
from handprop.optim.transforms import (
    AdamState,
    AddDecayedWeights,
    AddL2,
    Chain,
    GradientTransformation,
    Scale,
    ScaleByAdam,
    Trace,
    TraceState,
    apply_updates,
)

Array = np.ndarray


def _per_array(
    fn: Callable[..., tuple[Array, ...]], params: Params, *records: Params
) -> tuple[Params, ...]:
    """``fn(decayed, p, *arrays) -> (new arrays)`` over the matching arrays of ``params``
    and Params-shaped ``records``; one Params per output of ``fn``, the first with the
    running averages of ``params``."""
    outs: list[list[Any]] = []
    for group in zip(params.layers, *(r.layers for r in records), strict=True):
        decayed = decayed_fields(type(group[0]))
        per_field = [
            fn(f.name in decayed, *(getattr(r, f.name) for r in group))
            for f in attrs.fields(type(group[0]))
        ]
        outs.append([type(group[0])(*arrays) for arrays in zip(*per_field, strict=True)])
    first, *rest = (Params(layers) for layers in zip(*outs, strict=True))
    return (first.with_stats(params.stats), *rest)


def _sgd(lam: float, eta: float, grads: Params, params: Params) -> tuple[Params, float]:
    squares = 0.0

    def new(decayed: bool, p: Array, g: Array) -> tuple[Array]:
        nonlocal squares
        if not decayed:
            return (p - eta * g,)
        out, s = sgd_l2_update(p, g, eta, lam)
        squares += s
        return (out,)

    (new_params,) = _per_array(new, params, grads)
    return new_params, lam * squares


def _momentum(
    lam: float,
    beta: float,
    nesterov: bool,
    eta: float,
    grads: Params,
    state: TraceState,
    params: Params,
) -> tuple[Params, TraceState]:
    def new(decayed: bool, p: Array, g: Array, buf: Array) -> tuple[Array, Array]:
        return momentum_update(p, g, buf, eta, lam if decayed else 0.0, beta, nesterov)

    new_params, trace = _per_array(new, params, grads, state.trace)
    return new_params, TraceState(trace)


def _adam(
    lam: float,
    adam: ScaleByAdam,
    weight_decay: float,
    eta: float,
    grads: Params,
    state: AdamState,
    params: Params,
) -> tuple[Params, AdamState]:
    count = state.count + 1
    b1, b2, eps = adam.beta1, adam.beta2, adam.eps
    consts = adam_constants(eta, count, b1, b2, eps, lam, weight_decay)
    bias_consts = adam_constants(eta, count, b1, b2, eps, 0.0, 0.0)

    def new(decayed: bool, p: Array, g: Array, m: Array, v: Array) -> tuple[Array, Array, Array]:
        return adam_update(p, g, m, v, consts if decayed else bias_consts)

    new_params, m, v = _per_array(new, params, grads, state.m, state.v)
    return new_params, AdamState(count, m, v)


def _penalty(transform: GradientTransformation, params: Params) -> float:
    pieces = transform.pieces if isinstance(transform, Chain) else (transform,)
    return sum((p.penalty(params) for p in pieces if isinstance(p, AddL2)), 0.0)


def step(
    transform: GradientTransformation, grads: Params, state: Any, params: Params
) -> tuple[Params, Any, float]:
    """``(new params, new state, penalty)`` of one update: ``transform.update`` then
    :func:`~handprop.optim.transforms.apply_updates`, fused for the known chains.

    ``penalty`` is the cost's L2 term ``lam sum ||W||^2`` of the old weights (0 without
    :class:`~handprop.optim.transforms.AddL2`); the SGD kernel reads it in its pass.
    """
    match transform:
        case Chain((AddL2(lam), Scale(s))):
            new_params, penalty = _sgd(lam, -s, grads, params)
            return new_params, state, penalty
        case Chain((AddL2(lam) as l2, Trace(beta, nesterov), Scale(s))):
            new_params, trace = _momentum(lam, beta, nesterov, -s, grads, state[1], params)
            return new_params, (state[0], trace, *state[2:]), l2.penalty(params)
        case Chain((AddL2(lam) as l2, ScaleByAdam() as adam, Scale(s))):
            new_params, moments = _adam(lam, adam, 0.0, -s, grads, state[1], params)
            return new_params, (state[0], moments, *state[2:]), l2.penalty(params)
        case Chain((AddL2(lam) as l2, ScaleByAdam() as adam, AddDecayedWeights(wd), Scale(s))):
            new_params, moments = _adam(lam, adam, wd, -s, grads, state[1], params)
            return new_params, (state[0], moments, *state[2:]), l2.penalty(params)
    updates, state = transform.update(grads, state, params)
    return apply_updates(params, updates), state, _penalty(transform, params)
