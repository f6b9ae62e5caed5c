"""Points: the repeats of one searched setting, their mean ± standard error, and selection.

A point is one ``values`` setting of one stage (and, for successive halving, one rung)
trained with ``repeats`` seeds. Its score is the mean of the repeats' metric over those
that completed; its standard error is ``std(ddof=1) / sqrt(n)`` (``None`` below two).

Selection rules (``select``):

- ``"best_mean"``: the point with the highest mean;
- ``"one_se"``: the one-standard-error rule: of the points whose mean is within one
  standard error of the best mean, the most regularised one. The standard error is that
  of the difference of two means of ``n`` repeats (the best point's and a candidate's,
  each as noisy as the other: ``sqrt(2)`` times :func:`pooled_se`), with the variance
  pooled over all points, as three repeats alone give a very noisy variance. Only
  dimensions with a known direction count (:data:`REGULARISING`: larger ``lam``,
  ``dropout`` regularise more, smaller ``hidden`` does), compared in the space's order;
  a space without any such dimension is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import attrs
import numpy as np

from handprop.errors import ConfigError
from handprop.search.results import TrialRecord
from handprop.search.space import Space, Values

SELECTS: tuple[str, ...] = ("best_mean", "one_se")
#: +1: a larger value regularises more; -1: a smaller one does.
REGULARISING: dict[str, int] = {"lam": 1, "dropout": 1, "hidden": -1}


@attrs.frozen
class Point:
    """The repeats (``records``, repeat order) of ``values`` in ``stage`` (and ``rung``)."""

    stage: int
    rung: int
    trial: int
    values: Values
    records: tuple[TrialRecord, ...]
    scores: tuple[float, ...]

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.scores)) if self.scores else None

    @property
    def se(self) -> float | None:
        if len(self.scores) < 2:
            return None
        return float(np.std(self.scores, ddof=1) / math.sqrt(len(self.scores)))


def group(records: Iterable[TrialRecord], metric: str) -> list[Point]:
    """Records grouped into points, in order of first appearance."""
    groups: dict[tuple[int, int, tuple[tuple[str, float], ...]], list[TrialRecord]] = {}
    for r in records:
        groups.setdefault((r.stage, r.rung, tuple(sorted(r.values.items()))), []).append(r)
    points = []
    for (stage, rung, _), members in groups.items():
        members.sort(key=lambda r: r.repeat)
        scores = tuple(s for s in (r.score(metric) for r in members) if s is not None)
        trial = members[0].trial
        points.append(Point(stage, rung, trial, members[0].values, tuple(members), scores))
    return points


def rank_points(points: Iterable[Point]) -> list[Point]:
    """Points with a mean, best mean first (ties: earlier stage, rung and trial first)."""
    scored = [p for p in points if p.mean is not None]
    return sorted(scored, key=lambda p: (-(p.mean or 0.0), p.stage, -p.rung, p.trial))


def check_select(select: str, space: Space) -> None:
    """Raise ConfigError unless ``select`` is a rule that applies to ``space``."""
    if select not in SELECTS:
        raise ConfigError(f"select = {select!r}: must be one of {SELECTS}")
    if select == "one_se" and not any(n in REGULARISING for n in space.names):
        raise ConfigError(
            f"select = 'one_se' needs a searched dimension with a known regularisation "
            f"direction ({', '.join(REGULARISING)}); the space searches {list(space.names)}"
        )


def pooled_se(points: Sequence[Point], n: int) -> float:
    """Standard error of a mean of ``n`` repeats, the variance pooled over ``points``
    (0 if no point has two scored repeats)."""
    dof = sum(len(p.scores) - 1 for p in points if len(p.scores) > 1)
    if dof == 0:
        return 0.0
    squares = sum(float(np.var(p.scores) * len(p.scores)) for p in points if len(p.scores) > 1)
    return math.sqrt(squares / dof / n)


def difference_se(points: Sequence[Point], n: int) -> float:
    """Standard error of the difference of two means of ``n`` repeats, the variance pooled
    over ``points``: ``sqrt(2) * pooled_se(points, n)``."""
    return math.sqrt(2.0) * pooled_se(points, n)


def choose(points: Sequence[Point], select: str, space: Space) -> Point | None:
    """The point ``select`` picks among ``points`` (``None`` if none has a score)."""
    ranked = rank_points(points)
    if not ranked:
        return None
    best = ranked[0]
    if select == "best_mean":
        return best
    floor = (best.mean or 0.0) - difference_se(ranked, len(best.scores))
    within = [p for p in ranked if (p.mean or 0.0) >= floor]
    names = [n for n in space.names if n in REGULARISING]
    return max(within, key=lambda p: tuple(REGULARISING[n] * p.values[n] for n in names))
