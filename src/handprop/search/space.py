"""Search spaces: numeric config fields on a log or linear scale, sampled per stage.

A :class:`Space` is a tuple of :class:`Dimension` ranges. A :class:`Stage` says how one
stage samples its space: ``"grid"`` puts ``n`` evenly spaced points per dimension on the
searched scale (endpoints included; several dimensions give the Cartesian product),
``"random"`` draws ``n`` points uniformly on the searched scale from a seeded
``numpy.random.Generator``; ``"halving"`` draws its ``n`` starting points the same way and
runs them by successive halving (:mod:`handprop.search.halving`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np

from handprop.errors import ConfigError

SCALES: tuple[str, ...] = ("log", "linear")
METHODS: tuple[str, ...] = ("grid", "random", "halving")

Values = dict[str, Any]  # numbers; an Optuna categorical may also be a bool or a string


def one_of(allowed: tuple[str, ...]) -> Any:
    def check(instance: object, attribute: attrs.Attribute, value: object) -> None:
        if value not in allowed:
            raise ConfigError(
                f"{type(instance).__name__}.{attribute.name} = {value!r}: must be one of {allowed}"
            )

    return check


def at_least(minimum: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ConfigError(
                f"{type(instance).__name__}.{attribute.name} = {value!r}: "
                f"must be an integer >= {minimum}"
            )

    return check


def _finite(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not math.isfinite(value):
        raise ConfigError(f"{type(instance).__name__}.{attribute.name} = {value!r}: must be finite")


@attrs.frozen
class Dimension:
    """One searched config field ``name`` with values in ``[low, high]`` on ``scale``.

    ``integer`` rounds sampled values to whole numbers (e.g. a hidden layer width).
    """

    name: str
    low: float = attrs.field(converter=float, validator=_finite)
    high: float = attrs.field(converter=float, validator=_finite)
    scale: str = attrs.field(default="log", validator=one_of(SCALES))
    integer: bool = False

    def __attrs_post_init__(self) -> None:
        if self.low > self.high:
            raise ConfigError(
                f"dimension {self.name}: low = {self.low:g} must not exceed high = {self.high:g}"
            )
        if self.scale == "log" and self.low <= 0:
            raise ConfigError(
                f"dimension {self.name}: a log scale needs low > 0, got low = {self.low:g}"
            )

    def warp(self, values: np.ndarray) -> np.ndarray:
        """Map values to the searched scale (log10 or identity)."""
        return np.log10(values) if self.scale == "log" else np.asarray(values, dtype=float)

    def unwarp(self, u: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`warp`."""
        return np.power(10.0, u) if self.scale == "log" else np.asarray(u, dtype=float)

    def scaled_range(self) -> tuple[float, float]:
        """``(low, high)`` on the searched scale."""
        lo, hi = self.warp(np.array([self.low, self.high]))
        return float(lo), float(hi)

    def points(self, u: np.ndarray) -> list[float] | list[int]:
        """Values at scaled positions ``u``, clipped to ``[low, high]`` (ints if integer)."""
        values = np.clip(self.unwarp(u), self.low, self.high)
        if self.integer:
            return [round(v) for v in values]
        return [float(v) for v in values]


def _as_dimensions(dimensions: Iterable[Dimension]) -> tuple[Dimension, ...]:
    return tuple(dimensions)


@attrs.frozen
class Space:
    """The searched dimensions, in order; names are unique."""

    dimensions: tuple[Dimension, ...] = attrs.field(converter=_as_dimensions)

    def __attrs_post_init__(self) -> None:
        if not self.dimensions:
            raise ConfigError("search space: needs at least one dimension")
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ConfigError(f"search space: dimension names must be unique, got {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)


@attrs.frozen
class Stage:
    """How one stage samples: ``method`` in {"grid", "random", "halving"}, ``n`` points (per
    dimension for a grid), ``seed`` for random draws. Successive halving starts with
    ``min_cycles`` cycles and multiplies the budget by ``eta`` per rung, keeping the best
    ``1/eta`` of the points."""

    method: str = attrs.field(default="grid", validator=one_of(METHODS))
    n: int = attrs.field(default=8, validator=at_least(1))
    seed: int = attrs.field(default=0, validator=at_least(0))
    eta: int = attrs.field(default=3, validator=at_least(2))
    min_cycles: int = attrs.field(default=1, validator=at_least(1))


def sample(space: Space, stage: Stage, number: int) -> list[Values]:
    """The points stage ``number`` evaluates: dicts ``{name: value}``, no duplicates."""
    if stage.method == "grid":
        axes = [_grid_axis(d, stage.n) for d in space.dimensions]
        rows = [dict(zip(space.names, combo, strict=True)) for combo in itertools.product(*axes)]
    else:
        rng = np.random.default_rng([stage.seed, number])
        u = rng.random((stage.n, len(space.dimensions)))
        ranges = [d.scaled_range() for d in space.dimensions]
        columns = [
            d.points(lo + u[:, j] * (hi - lo))
            for j, (d, (lo, hi)) in enumerate(zip(space.dimensions, ranges, strict=True))
        ]
        rows = [dict(zip(space.names, combo, strict=True)) for combo in zip(*columns, strict=True)]
    unique: dict[tuple[float, ...], Values] = {}
    for row in rows:
        unique.setdefault(tuple(row.values()), row)
    return list(unique.values())


def _grid_axis(dim: Dimension, n: int) -> list[float] | list[int]:
    """``n`` evenly spaced values on the dimension's scale, endpoints exact (n = 1: centre)."""
    lo, hi = dim.scaled_range()
    if n == 1:
        return dim.points(np.array([(lo + hi) / 2]))
    values = dim.points(np.linspace(lo, hi, n))
    return values if dim.integer else [dim.low, *values[1:-1], dim.high]
