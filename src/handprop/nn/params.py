"""Immutable parameter records.

A network with hidden sizes ``(m1, ..., mk)`` has ``k + 1`` affine layers;
``hidden=()`` is the one-layer softmax classifier, ``hidden=(m,)`` the two-layer
network. Rows are images: layer ``l`` maps ``(n, d_l) -> (n, d_{l+1})`` with
``W`` of shape ``(d_l, d_{l+1})`` and ``b`` of shape ``(d_{l+1},)``. A batch-normalised
network has a :class:`NormParams` record (``gamma``, ``beta``) after each hidden affine layer,
and its running averages (:class:`Stats`) beside the trained records, in ``Params.stats``.

Gradients use the same records (:data:`Grads` is :class:`Params`, without ``stats``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import numpy as np
from numpy.typing import NDArray

from handprop.data.batches import read_only

Array = NDArray[np.floating]


def _frozen_array(value: object) -> Array:
    """Return ``value`` as a read-only float array (no copy when already one)."""
    arr = np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"parameters must be floating point arrays, got {arr.dtype}")
    return read_only(arr)


@attrs.frozen
class AffineParams:
    """One affine layer: ``W`` (d_in, d_out), ``b`` (d_out,)."""

    W: Array = attrs.field(converter=_frozen_array)
    b: Array = attrs.field(converter=_frozen_array)

    def __attrs_post_init__(self) -> None:
        if self.W.ndim != 2 or self.b.shape != (self.W.shape[1],):
            raise ValueError(
                "AffineParams needs W (d_in, d_out) and b (d_out,), "
                f"got {self.W.shape} and {self.b.shape}"
            )
        if self.W.dtype != self.b.dtype:
            raise ValueError(f"W and b dtypes differ: {self.W.dtype} vs {self.b.dtype}")


@attrs.frozen
class NormParams:
    """Batch-norm scale ``gamma`` (m,) and shift ``beta`` (m,), both trained."""

    gamma: Array = attrs.field(converter=_frozen_array)
    beta: Array = attrs.field(converter=_frozen_array)

    def __attrs_post_init__(self) -> None:
        if self.gamma.ndim != 1 or self.beta.shape != self.gamma.shape:
            raise ValueError(
                "NormParams needs gamma (m,) and beta (m,), "
                f"got {self.gamma.shape} and {self.beta.shape}"
            )


@attrs.frozen
class Stats:
    """Running averages of one batch norm, not trained: ``mean`` (m,), ``var`` (m,), and
    its ``eps`` (a 0-d array of the parameters' dtype), which evaluation needs too."""

    mean: Array = attrs.field(converter=_frozen_array)
    var: Array = attrs.field(converter=_frozen_array)
    eps: Array = attrs.field(converter=_frozen_array)

    def __attrs_post_init__(self) -> None:
        if self.mean.ndim != 1 or self.var.shape != self.mean.shape or self.eps.shape != ():
            raise ValueError(
                f"Stats needs mean (m,), var (m,) and eps (), got {self.mean.shape}, "
                f"{self.var.shape} and {self.eps.shape}"
            )


Record = AffineParams | NormParams


def _layer_tuple(value: Iterable[Record]) -> tuple[Record, ...]:
    return tuple(value)


def _stats_tuple(value: Iterable[Stats]) -> tuple[Stats, ...]:
    return tuple(value)


def _width(record: Record) -> int:
    return record.W.shape[1] if isinstance(record, AffineParams) else record.gamma.shape[0]


@attrs.frozen
class Params:
    """All trained records of a network, input side first (:class:`AffineParams`, and a
    :class:`NormParams` after each hidden layer of a batch-normalised network), and the
    running averages of its batch norms in order (``stats``: one per NormParams, or none in
    gradient and optimiser records). Also the gradient record."""

    layers: tuple[Record, ...] = attrs.field(converter=_layer_tuple)
    stats: tuple[Stats, ...] = attrs.field(default=(), converter=_stats_tuple)

    def __attrs_post_init__(self) -> None:
        if not self.layers or not isinstance(self.layers[0], AffineParams):
            raise ValueError("Params needs at least one layer, an affine one first")
        for i, (a, b) in enumerate(itertools.pairwise(self.layers)):
            d_in = b.W.shape[0] if isinstance(b, AffineParams) else b.gamma.shape[0]
            if _width(a) != d_in or (isinstance(a, NormParams) and isinstance(b, NormParams)):
                raise ValueError(
                    f"layer {i} outputs {_width(a)} units but layer {i + 1} expects {d_in}"
                )
        if isinstance(self.layers[-1], NormParams):
            raise ValueError("the output layer must be affine, not a batch norm")
        norms = self.norms
        if self.stats and [s.mean.shape for s in self.stats] != [n.gamma.shape for n in norms]:
            raise ValueError(
                f"Params has {len(norms)} batch norms but {len(self.stats)} running averages "
                "of other shapes"
            )

    @property
    def dtype(self) -> np.dtype:
        return self.affine[0].W.dtype

    @property
    def affine(self) -> tuple[AffineParams, ...]:
        """The affine layers, input side first."""
        return tuple(r for r in self.layers if isinstance(r, AffineParams))

    @property
    def norms(self) -> tuple[NormParams, ...]:
        """The batch norms, input side first (none without batch normalisation)."""
        return tuple(r for r in self.layers if isinstance(r, NormParams))

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(d_in, m1, ..., mk, n_classes)``."""
        return (self.affine[0].W.shape[0], *(layer.W.shape[1] for layer in self.affine))

    @property
    def hidden(self) -> tuple[int, ...]:
        return self.sizes[1:-1]

    def arrays(self) -> dict[str, Array]:
        """Flat ``{"W1": ..., "b1": ..., "W2": ...}`` view, 1-based like the seeds; a batch
        norm after affine layer ``i`` adds ``gamma<i>, beta<i>`` and its running averages
        ``mean<i>, var<i>, eps<i>``."""
        out: dict[str, Array] = {}
        stats, i = iter(self.stats), 0
        for record in self.layers:
            if isinstance(record, AffineParams):
                i += 1
                out[f"W{i}"], out[f"b{i}"] = record.W, record.b
                continue
            out[f"gamma{i}"], out[f"beta{i}"] = record.gamma, record.beta
            s = next(stats, None)
            if s is not None:
                out[f"mean{i}"], out[f"var{i}"], out[f"eps{i}"] = s.mean, s.var, s.eps
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Params:
        """Inverse of :meth:`arrays`."""
        n = max((int(k[1:]) for k in arrays if k[:1] in "Wb" and k[1:].isdigit()), default=0)
        layers: list[Record] = []
        stats = []
        try:
            for i in range(1, n + 1):
                layers.append(AffineParams(arrays[f"W{i}"], arrays[f"b{i}"]))
                if f"gamma{i}" in arrays:
                    layers.append(NormParams(arrays[f"gamma{i}"], arrays[f"beta{i}"]))
                    if f"mean{i}" in arrays:
                        stats.append(
                            Stats(arrays[f"mean{i}"], arrays[f"var{i}"], arrays[f"eps{i}"])
                        )
        except KeyError as err:
            raise ValueError(f"missing parameter array {err.args[0]!r}") from None
        params = cls(tuple(layers), tuple(stats))
        extra = set(arrays) - set(params.arrays())
        if extra:
            raise ValueError(f"unexpected parameter array {sorted(extra)[0]!r}")
        return params

    def map(self, fn: Callable[[Array], Array]) -> Params:
        """Apply ``fn`` to every trained array (the result has no ``stats``)."""
        return Params(tuple(_record_map(fn, layer) for layer in self.layers))

    def zip_map(self, other: Params, fn: Callable[[Array, Array], Array]) -> Params:
        """Combine the trained arrays of two records of the same shape (no ``stats``)."""
        return Params(
            tuple(_record_map(fn, a, b) for a, b in zip(self.layers, other.layers, strict=True))
        )

    def with_stats(self, stats: Iterable[Stats]) -> Params:
        """The same trained records with running averages ``stats``."""
        return Params(self.layers, stats)

    def astype(self, dtype: np.dtype | type | str) -> Params:
        cast = self.map(lambda a: a.astype(dtype))
        return cast.with_stats(_record_map(lambda a: a.astype(dtype), s) for s in self.stats)


Grads = Params


def _record_map(fn: Callable[..., Array], first: Any, *rest: Any) -> Any:
    """``fn`` applied field by field to parameter records of one type (AffineParams, ...)."""
    names = [f.name for f in attrs.fields(type(first))]
    return type(first)(*(fn(*(getattr(r, n) for r in (first, *rest))) for n in names))


def params_allclose(a: Params, b: Params, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """``np.allclose`` over every array of two records."""
    return all(np.allclose(x, y, rtol=rtol, atol=atol) for x, y in _pairs(a, b))


def params_equal(a: Params, b: Params) -> bool:
    """Bit-for-bit equality of two records (same shapes, dtypes, values)."""
    return all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in _pairs(a, b))


def _pairs(a: Params, b: Params) -> Iterable[tuple[Array, Array]]:
    xs, ys = a.arrays(), b.arrays()
    if a.sizes != b.sizes or xs.keys() != ys.keys():
        return [(np.zeros(1), np.ones(1))]
    return [(xs[k], ys[k]) for k in xs]
