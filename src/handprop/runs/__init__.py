"""Runs: run folders, their stored inputs and snapshots, ensembles, test-time augmentation
and the learning-rate range test, over the training fold of :mod:`handprop.train`.

The names below load on first use: importing the package imports none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handprop.lazy import lazy_getattr

if TYPE_CHECKING:
    from handprop.runs.rundir import RunSummary, run_experiment

_HOMES: dict[str, str] = {
    "RunSummary": "handprop.runs.rundir",
    "run_experiment": "handprop.runs.rundir",
}

__all__ = ["RunSummary", "run_experiment"]

__getattr__ = lazy_getattr(globals(), _HOMES)
