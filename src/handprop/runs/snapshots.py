"""Snapshot ensembles: the parameters at the minima of the cyclical schedule.

With ``run.snapshots`` set, the run folder gets ``snapshots/params-cycleK.npz`` for each
chosen cycle ``K`` (1-based), holding the parameters after the last step of cycle ``K``,
where the learning rate is back at ``eta_min``. Written atomically at the edge of the
training loop (:func:`snapshot_hook` is its ``on_step``), never by the pure step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from handprop.train.config import TrainConfig
from handprop.train.params_file import save_params
from handprop.train.state import TrainState

SNAPSHOT_DIR = "snapshots"


def snapshot_file(folder: Path, cycle: int) -> Path:
    """``folder / "params-cycle{cycle}.npz"``."""
    return folder / f"params-cycle{cycle}.npz"


def snapshot_hook(
    config: TrainConfig, n_train: int, folder: Path
) -> Callable[[TrainState], None] | None:
    """``on_step(state)`` saving the snapshots of ``config`` into ``folder`` (None if the
    config takes none)."""
    period = 2 * config.step_size(n_train)
    cycles = {t: t // period for t in config.snapshot_steps(n_train)}
    if not cycles:
        return None

    def save(state: TrainState) -> None:
        cycle = cycles.get(state.t)
        if cycle is not None:
            folder.mkdir(exist_ok=True)
            save_params(state.params, snapshot_file(folder, cycle))

    return save


def snapshot_files(config: TrainConfig, n_train: int, folder: Path) -> list[Path]:
    """The snapshot files that ``config`` writes into ``folder``, in cycle order."""
    period = 2 * config.step_size(n_train)
    return [snapshot_file(folder, t // period) for t in config.snapshot_steps(n_train)]
