"""Coarse-to-fine: the rule that narrows a stage's range around its best trials."""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np

from handprop.errors import ConfigError, HandpropError
from handprop.search.space import Dimension, Space, Values, at_least


def _fraction(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"Narrowing.{attribute.name} = {value!r}: must lie in [0, 1]")


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"Narrowing.{attribute.name} = {value!r}: must be a finite number > 0")


@attrs.frozen
class Narrowing:
    """The next stage's range, per dimension, on the searched scale (log10 or linear):

    1. ``[min, max]`` of the ``top_k`` best trials' values;
    2. its span multiplied by ``widen`` about its centre;
    3. the span raised to at least ``min_fraction`` of the current stage's span
       (so coinciding top values still leave a range);
    4. clipped to the first stage's bounds.
    """

    top_k: int = attrs.field(default=3, validator=at_least(1))
    widen: float = attrs.field(default=1.0, converter=float, validator=_positive)
    min_fraction: float = attrs.field(default=0.1, converter=float, validator=_fraction)


def narrow(space: Space, best: Sequence[Values], rule: Narrowing, bounds: Space) -> Space:
    """The range of the next stage from ``best`` (trial values, best first)."""
    top = list(best[: rule.top_k])
    if not top:
        raise HandpropError("cannot narrow the search range: no trial of the stage finished")
    return Space(
        _narrow_dimension(dim, [v[dim.name] for v in top], rule, bound)
        for dim, bound in zip(space.dimensions, bounds.dimensions, strict=True)
    )


def _narrow_dimension(
    dim: Dimension, values: list[float], rule: Narrowing, bound: Dimension
) -> Dimension:
    u = dim.warp(np.asarray(values, dtype=float))
    lo, hi = dim.scaled_range()
    span = max((u.max() - u.min()) * rule.widen, rule.min_fraction * (hi - lo))
    centre = (u.max() + u.min()) / 2
    b_lo, b_hi = bound.scaled_range()
    new_lo, new_hi = centre - span / 2, centre + span / 2
    low = bound.low if new_lo <= b_lo else float(dim.unwarp(new_lo))
    high = bound.high if new_hi >= b_hi else float(dim.unwarp(new_hi))
    if dim.integer:
        low, high = float(math.floor(low)), float(math.ceil(high))
    return attrs.evolve(dim, low=low, high=high)
