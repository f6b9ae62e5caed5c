"""Ensemble configs: one training config trained once per seed, the members' class
probabilities averaged.

A packaged ensemble config (``configs/beyond_ensemble.toml``) or a ``.toml`` file holds one
``[ensemble]`` table::

    [ensemble]
    config = "beyond_deep_bn"   # the members' training config: packaged name or .toml path
    seeds = [0, 1, 2]           # one member per run seed

``handprop ensemble --config NAME --out DIR`` trains the members into ``DIR/<config>_s<seed>``
(finished members are reused, interrupted ones resumed) and writes the ensemble's accuracy to
``DIR/metrics.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from handprop.errors import ConfigError
from handprop.packaged import ENSEMBLE_TABLE
from handprop.progress import WORK_UNIT, Count, Progress
from handprop.train.config import (
    TrainConfig,
    load_config,
    read_toml,
    resolve_key,
)


def _seeds(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f"ensemble.seeds must be a non-empty list of seeds, got {value!r}")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        raise ConfigError(f"ensemble.seeds must be integers >= 0, got {value!r}")
    if len(set(value)) != len(value):
        raise ConfigError(f"ensemble.seeds must be distinct, got {value!r}")
    return tuple(value)


def _config(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"ensemble.config must name a training config, got {value!r}")
    return value


@attrs.frozen
class EnsembleConfig:
    """``config`` (a packaged training config or a ``.toml`` path) trained with each of
    ``seeds``; ``name`` is the ensemble config's own (its file stem)."""

    config: str = attrs.field(converter=_config)
    seeds: tuple[int, ...] = attrs.field(converter=_seeds)
    name: str = ""

    def members(self, overrides: Sequence[str] = ()) -> list[TrainConfig]:
        """The members' training configs: ``config`` with ``overrides``, then each seed.

        An override of ``run.seed`` is a :class:`ConfigError`: the seeds are the ensemble's."""
        base = load_config(self.config).with_overrides(overrides)
        if any(resolve_key(a.partition("=")[0]) == "run.seed" for a in overrides):
            raise ConfigError(
                "an ensemble's members take their run.seed from ensemble.seeds; "
                "set the seeds in the ensemble config, not with --set"
            )
        return [base.with_values({"run.seed": seed}) for seed in self.seeds]

    def member_folder(self, out: Path, seed: int) -> Path:
        return out / f"{Path(self.config).stem}_s{seed}"


def load_ensemble_config(name_or_path: str | Path) -> EnsembleConfig:
    """The ensemble config by packaged name or ``.toml`` path; anything else (a training
    config, unknown keys, bad seeds) is a :class:`ConfigError` naming it."""
    values, stem = read_toml(name_or_path)
    table = values.get(ENSEMBLE_TABLE)
    if not isinstance(table, dict) or set(values) != {ENSEMBLE_TABLE}:
        raise ConfigError(
            f"config {str(name_or_path)!r} is not an ensemble config: it needs exactly one "
            f"[{ENSEMBLE_TABLE}] table with config and seeds"
        )
    unknown = sorted(set(table) - {"config", "seeds"})
    if unknown or not {"config", "seeds"} <= set(table):
        raise ConfigError(
            f"config {str(name_or_path)!r}: [{ENSEMBLE_TABLE}] takes config and seeds"
            + (f", not {', '.join(unknown)}" if unknown else "")
        )
    try:
        ensemble = EnsembleConfig(table["config"], table["seeds"], stem)
        ensemble.members()  # the members' config must load
    except ConfigError as err:
        raise ConfigError(f"config {str(name_or_path)!r}: {err}") from None
    return ensemble


def train_ensemble(
    ensemble: EnsembleConfig,
    out: str | Path,
    *,
    overrides: Sequence[str] = (),
    progress: bool | Progress = True,
    figures: Sequence[str] = ("png",),
) -> dict[str, Any]:
    """Train (or reuse, or resume) each member into :meth:`EnsembleConfig.member_folder`,
    then score the ensemble and write ``out/metrics.json`` atomically.

    Returns the metrics; if a member did not complete (interrupted, diverged), its
    ``status`` and ``member`` folder, and nothing is written.
    """
    from handprop.atomic import remove_temporaries, write_json_atomic
    from handprop.lock import folder_lock
    from handprop.runs.ensemble import evaluate_runs, load_run
    from handprop.runs.rundir import METRICS_FILE, run_experiment

    out = Path(out)
    configs = ensemble.members(overrides)  # refused before the folder is made
    plans = [c.planned_steps() * c.step_gflop() for c in configs]
    meter = (  # each member's steps, and the ensemble's work in all
        Progress(overall=Count(ensemble.name or "ensemble", sum(plans), WORK_UNIT))
        if progress is True
        else progress
    )
    with folder_lock(out):
        remove_temporaries(out)
        folders: list[Path] = []
        times: list[float] = []
        for config in configs:
            folder = ensemble.member_folder(out, config.run.seed)
            summary = run_experiment(config, folder, resume=True, progress=meter, figures=figures)
            if summary.status != "completed":
                return {"status": summary.status, "member": str(folder)}
            if isinstance(meter, Progress):  # reused and resumed members count in full
                meter.reach(sum(plans[: len(folders) + 1]))
            folders.append(folder)
            times.append(summary.wall_time)
        result = evaluate_runs([load_run(f) for f in folders])
        members = [
            {"folder": name, "val_acc": val, "test_acc": test, "wall_time": wall}
            for (name, val, test), wall in zip(result.members, times, strict=True)
        ]
        metrics = {
            "status": "completed",
            "name": ensemble.name,
            "config": ensemble.config,
            "seeds": list(ensemble.seeds),
            "overrides": list(overrides),
            **result.summary(),
            "training_time": sum(times),
            "members": members,  # the list, in place of the summary's count
        }
        write_json_atomic(out / METRICS_FILE, metrics)
        if isinstance(meter, Progress):
            meter.finish()
        return metrics
