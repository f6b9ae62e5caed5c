"""Reporting a running trial's validation accuracy to its Optuna study, and the verdict.

A :class:`StudyReporter` is the observer a trial runner passes to training as its
evaluation hook: at each evaluation it records ``(step, val_acc)`` as the trial's
intermediate value in the study's storage and asks the study's pruner whether the trial
should stop; if so it raises :class:`Pruned`, which the runner turns into a ``"pruned"``
outcome. It is a picklable record (storage URL, study name, trial id, pruner settings),
so it works in any worker process that can reach the storage; Optuna is imported only
when it first reports.
"""

from __future__ import annotations

import functools
from typing import Any

import attrs

PRUNERS: tuple[str, ...] = ("halving", "hyperband", "none")


class Pruned(Exception):
    """The study's pruner stopped the trial after ``step`` updates at ``val_acc``."""

    def __init__(self, step: int, val_acc: float) -> None:
        super().__init__(f"pruned at step {step} (val_acc {val_acc:.4f})")
        self.step, self.val_acc = step, val_acc


@attrs.frozen
class PrunerSpec:
    """Which Optuna pruner judges the trials: ``kind`` in {"halving", "hyperband", "none"},
    ``reduction_factor`` and ``min_resource`` (in training steps; 0: Optuna's ``"auto"``)."""

    kind: str = "none"
    reduction_factor: int = 3
    min_resource: int = 0

    def make(self) -> Any:
        """The Optuna pruner."""
        import optuna

        min_resource: Any = self.min_resource or "auto"
        if self.kind == "halving":
            return optuna.pruners.SuccessiveHalvingPruner(
                min_resource=min_resource, reduction_factor=self.reduction_factor
            )
        if self.kind == "hyperband":
            return optuna.pruners.HyperbandPruner(
                min_resource=self.min_resource or 1, reduction_factor=self.reduction_factor
            )
        return optuna.pruners.NopPruner()


@attrs.frozen
class StudyReporter:
    """Reports trial ``trial_id`` of study ``study_name`` in the storage at ``storage``."""

    storage: str
    study_name: str
    trial_id: int
    pruner: PrunerSpec

    def __call__(self, row: Any, judge: bool = True) -> None:
        """Record ``row.val_acc`` at ``row.step``; with ``judge`` (False for the run's last
        evaluation: a finished run is kept), raise :class:`Pruned` if the pruner says so."""
        import optuna

        trial = optuna.Trial(_study(self.storage, self.study_name, self.pruner), self.trial_id)
        step, value = int(row.step), float(row.val_acc)
        trial.report(value, step)
        if judge and trial.should_prune():
            raise Pruned(step, value)


@functools.lru_cache(maxsize=4)
def _study(storage: str, study_name: str, pruner: PrunerSpec) -> Any:
    """The study, loaded once per process."""
    import optuna

    from handprop.search.optuna_study import open_storage

    return optuna.load_study(
        study_name=study_name,
        storage=open_storage(storage),
        pruner=pruner.make(),
        sampler=optuna.samplers.RandomSampler(),
    )
