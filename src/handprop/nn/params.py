"""Immutable parameter records and their initialisation.

A network with hidden sizes ``(m1, ..., mk)`` has ``k + 1`` affine layers;
``hidden=()`` is the one-layer softmax classifier, ``hidden=(m,)`` the two-layer
network. Rows are images: layer ``l`` maps ``(n, d_l) -> (n, d_{l+1})`` with
``W`` of shape ``(d_l, d_{l+1})`` and ``b`` of shape ``(d_{l+1},)``.

Gradients use the same records (:data:`Grads` is :class:`Params`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import attrs
import numpy as np
from numpy.typing import NDArray

from handprop.data.batches import read_only

Array = NDArray[np.floating]
InitName = Literal["fan_in", "normal_0.01"]
INIT_NAMES: tuple[str, ...] = ("fan_in", "normal_0.01")


def _frozen_array(value: object) -> Array:
    """Return ``value`` as a read-only float array (no copy when already one)."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"parameters must be floating point arrays, got {arr.dtype}")
    return read_only(arr)


@attrs.frozen
class Layer:
    """One affine layer: ``W`` (d_in, d_out), ``b`` (d_out,)."""

    W: Array = attrs.field(converter=_frozen_array)
    b: Array = attrs.field(converter=_frozen_array)

    def __attrs_post_init__(self) -> None:
        if self.W.ndim != 2 or self.b.shape != (self.W.shape[1],):
            raise ValueError(
                f"Layer needs W (d_in, d_out) and b (d_out,), got {self.W.shape} and {self.b.shape}"
            )
        if self.W.dtype != self.b.dtype:
            raise ValueError(f"W and b dtypes differ: {self.W.dtype} vs {self.b.dtype}")


def _layer_tuple(value: Iterable[Layer]) -> tuple[Layer, ...]:
    return tuple(value)


@attrs.frozen
class Params:
    """All layers of a network, input side first. Also the gradient record."""

    layers: tuple[Layer, ...] = attrs.field(converter=_layer_tuple)

    def __attrs_post_init__(self) -> None:
        if not self.layers:
            raise ValueError("Params needs at least one layer")
        for i, (a, b) in enumerate(itertools.pairwise(self.layers)):
            if a.W.shape[1] != b.W.shape[0]:
                raise ValueError(
                    f"layer {i} outputs {a.W.shape[1]} units but layer {i + 1} "
                    f"expects {b.W.shape[0]}"
                )

    @property
    def dtype(self) -> np.dtype:
        return self.layers[0].W.dtype

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(d_in, m1, ..., mk, n_classes)``."""
        return (self.layers[0].W.shape[0], *(layer.W.shape[1] for layer in self.layers))

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.sizes[1:-1]

    def arrays(self) -> dict[str, Array]:
        """Flat ``{"W1": ..., "b1": ..., "W2": ...}`` view, 1-based like the seeds."""
        out: dict[str, Array] = {}
        for i, layer in enumerate(self.layers, start=1):
            out[f"W{i}"] = layer.W
            out[f"b{i}"] = layer.b
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Params:
        """Inverse of :meth:`arrays`."""
        n = len(arrays) // 2
        try:
            return cls(tuple(Layer(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(1, n + 1)))
        except KeyError as err:
            raise ValueError(f"missing parameter array {err.args[0]!r}") from None

    def map(self, fn: Callable[[Array], Array]) -> Params:
        """Apply ``fn`` to every array."""
        return Params(tuple(_record_map(fn, layer) for layer in self.layers))

    def zip_map(self, other: Params, fn: Callable[[Array, Array], Array]) -> Params:
        """Combine two records of the same shape array by array."""
        return Params(
            tuple(_record_map(fn, a, b) for a, b in zip(self.layers, other.layers, strict=True))
        )

    def astype(self, dtype: np.dtype | type | str) -> Params:
        return self.map(lambda a: a.astype(dtype))


Grads = Params


def _record_map(fn: Callable[..., Array], first: Any, *rest: Any) -> Any:
    """``fn`` applied field by field to parameter records of one type (Layer, ...)."""
    names = [f.name for f in attrs.fields(type(first))]
    return type(first)(*(fn(*(getattr(r, n) for r in (first, *rest))) for n in names))


def init_params(
    d_in: int,
    hidden: int | Sequence[int],
    n_classes: int,
    *,
    seed: int | np.random.Generator = 0,
    dtype: np.dtype | type | str = np.float32,
    init: InitName = "fan_in",
) -> Params:
    """Random weights, zero biases.

    ``init="fan_in"``: ``W ~ N(0, 1/d_in)`` per layer (first seed).
    ``init="normal_0.01"``: ``W, b ~ N(0, 0.01^2)`` (second seed).
    Weights are drawn in float64 and cast, so float32 and float64 networks from
    the same seed hold the same values up to rounding.
    """
    hidden_sizes: tuple[int, ...] = (hidden,) if isinstance(hidden, int) else tuple(hidden)
    sizes = (d_in, *hidden_sizes, n_classes)
    if any(int(s) < 1 for s in sizes):
        raise ValueError(f"layer sizes must be positive, got {sizes}")
    if init not in INIT_NAMES:
        raise ValueError(f"init must be one of {INIT_NAMES}, got {init!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        if init == "fan_in":
            W = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
            b = np.zeros(fan_out)
        else:
            W = 0.01 * rng.standard_normal((fan_in, fan_out))
            b = 0.01 * rng.standard_normal(fan_out)
        layers.append(Layer(W.astype(dtype), b.astype(dtype)))
    return Params(tuple(layers))


def params_allclose(a: Params, b: Params, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """``np.allclose`` over every array of two records."""
    return all(np.allclose(x, y, rtol=rtol, atol=atol) for x, y in _pairs(a, b))


def params_equal(a: Params, b: Params) -> bool:
    """Bit-for-bit equality of two records (same shapes, dtypes, values)."""
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in _pairs(a, b))


def _pairs(a: Params, b: Params) -> Iterable[tuple[Array, Array]]:
    if a.sizes != b.sizes:
        return [(np.zeros(1), np.ones(1))]
    xs, ys = a.arrays(), b.arrays()
    return [(xs[k], ys[k]) for k in xs]
