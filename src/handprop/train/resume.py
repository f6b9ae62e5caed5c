"""May a run continue a saved state? One rule for run folders and checkpoints."""

from __future__ import annotations

from pathlib import Path

from handprop.errors import ConfigError
from handprop.train.config import KEYS, TrainConfig

#: Config keys that may differ between a saved run and its resumption: they change neither
#: the steps nor their results.
FREE = frozenset({"run.checkpoint_every", "run.checkpoint_seconds", "run.name"})
#: Keys that may also differ while the saved step is within the new run: a cyclical
#: schedule's first cycles do not depend on ``n_cycles``, so a run extended to more cycles
#: (or cut to fewer, not before the saved step) continues bit-identically; successive
#: halving promotes trials this way. Not with ``run.snapshots`` a count: those are the
#: last cycles, so they move with ``n_cycles``.
EXTENDABLE = frozenset({"schedule.n_cycles"})


def changed_keys(saved: TrainConfig, config: TrainConfig, free: frozenset[str] = FREE) -> list[str]:
    """Dotted keys whose values differ between two configs, except those in ``free``."""
    return [key for key in KEYS if key not in free and config.value(key) != saved.value(key)]


def resume_error(
    saved: TrainConfig, config: TrainConfig, where: str | Path, reached: tuple[int, int] | None
) -> ConfigError | None:
    """Why a run of ``config`` may not continue the state saved in ``where`` by a run of
    ``saved``, or None if it may. ``reached`` is ``(step, total)``: the saved state's step
    and the new run's steps (None: no state to continue, as in a completed run folder)."""
    if reached is None:
        why = "the run completed and keeps no state to continue"
    elif reached[0] > reached[1]:
        why = f"the saved state is at step {reached[0]}, beyond the new run's {reached[1]}"
    elif not isinstance(config.run.snapshots, bool):
        why = "run.snapshots counts the last cycles"
    else:
        why = ""
    changed = changed_keys(saved, config, FREE if why else FREE | EXTENDABLE)
    if not changed:
        return None
    note = f" ({why})" if EXTENDABLE & set(changed) else ""
    return ConfigError(
        f"cannot resume {where}: its config differs in {', '.join(changed)}{note}; "
        "resume with the saved config or train the new one in another folder"
    )
