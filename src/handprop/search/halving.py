"""Successive halving with training cycles as the budget.

A ``method = "halving"`` stage draws ``n`` random points and trains them for ``min_cycles``
cycles (rung 1); each later rung keeps the best ``1/eta`` of the previous rung's points by
mean score and trains them for ``eta`` times as many cycles, up to the base config's
``n_cycles``. A promoted trial resumes from its checkpoint (a cyclical schedule's first
cycles do not depend on ``n_cycles``), so no trial is retrained from zero and the last rung
ends bit-identical to full-length runs. Checkpoints live in the search folder
(``checkpoints/stage<k>/trial<i>-repeat<r>``), so on Dask the workers must see that folder
(same machine or a shared file system).
"""

from __future__ import annotations

from collections.abc import Sequence

from handprop.errors import ConfigError
from handprop.search.points import Point, rank_points
from handprop.search.space import Stage


def rungs(stage: Stage, n_cycles: int) -> list[tuple[int, int]]:
    """``(cycles, points kept)`` per rung: budgets ``min_cycles * eta**k`` ending exactly at
    ``n_cycles`` (at least two rungs), ``max(1, n // eta**k)`` points."""
    budgets = [stage.min_cycles]
    while budgets[-1] < n_cycles:
        budgets.append(budgets[-1] * stage.eta)
    if budgets[-1] != n_cycles or len(budgets) < 2:
        allowed = ", ".join(str(stage.min_cycles * stage.eta**k) for k in (1, 2, 3))
        raise ConfigError(
            f"n_cycles = {n_cycles} of the base config cannot be split into halving rungs: "
            f"it must be min_cycles * eta**k for some k >= 1 (min_cycles = {stage.min_cycles}, "
            f"eta = {stage.eta}: {allowed}, ...)"
        )
    return [(cycles, max(1, stage.n // stage.eta**k)) for k, cycles in enumerate(budgets)]


def promote(points: Sequence[Point], keep: int) -> list[int]:
    """Trial numbers of the ``keep`` best points by mean (points without a score drop out)."""
    return sorted(p.trial for p in rank_points(points)[:keep])
