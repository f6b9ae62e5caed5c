"""Read a results folder back: every finished experiment's metrics, config and outputs.

Missing experiments (not run yet, or left out with ``--only``) are simply absent, so the
tables and macros built from a partial folder say "n/a" instead of failing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import attrs

from handprop.atomic import read_json, read_json_object
from handprop.errors import DataError
from handprop.reproduce.catalogue import EXPERIMENTS, Experiment
from handprop.reproduce.machine import describe_data, describe_machine
from handprop.reproduce.runner import SUITE_FILE, experiment_dir, read_metrics
from handprop.train.config import TrainConfig, config_from_dict


@attrs.frozen
class Finished:
    """One finished experiment: its folder, ``metrics.json`` and the config it trained
    (a search's base config; None for the other kinds)."""

    experiment: Experiment
    folder: Path
    metrics: dict[str, Any]
    config: TrainConfig | None = None

    def json(self, name: str) -> Any:
        """A JSON file of the folder, or None if absent."""
        path = self.folder / name
        return read_json(path) if path.is_file() else None


@attrs.frozen
class Collected:
    """The finished experiments of a results folder keyed by name, its suite (``suites``:
    every suite run into it), and the machine and data copy its experiments ran on."""

    out_dir: Path
    suite: str
    times: dict[str, float]
    finished: dict[str, Finished]
    machine: dict[str, Any] = attrs.Factory(dict)
    data: dict[str, Any] = attrs.Factory(dict)
    suites: tuple[str, ...] = ()

    def get(self, name: str) -> Finished | None:
        return self.finished.get(name)


def _config(folder: Path) -> TrainConfig | None:
    path = folder / "config.toml"
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DataError(f"config {path} is unreadable ({err}); delete or restore it") from None
        except RecursionError:
            raise DataError(f"config {path} is nested too deeply; delete or restore it") from None
    elif (definition := folder / "search.json").is_file():
        values = dict(read_json_object(definition, "search definition").get("base_config", {}))
    else:
        return None
    return config_from_dict(values)


def collect(out_dir: str | Path) -> Collected:
    """Everything finished in ``out_dir`` (see :mod:`handprop.reproduce.runner`)."""
    out = Path(out_dir)
    state_path = out / SUITE_FILE
    state = read_json_object(state_path, "suite file") if state_path.is_file() else {}
    finished = {}
    for experiment in EXPERIMENTS:
        folder = experiment_dir(out, experiment)
        metrics = read_metrics(folder)
        if metrics is not None:
            finished[experiment.name] = Finished(experiment, folder, metrics, _config(folder))
    # only finished experiments of the catalogue count: an experiment renamed or removed
    # since (its folder gone) keeps its time in the suite file but is not in the results
    times = {k: v for k, v in dict(state.get("times", {})).items() if k in finished}
    return Collected(
        out,
        state.get("suite", "unknown"),
        times,
        finished,
        state.get("machine") or describe_machine(),
        state.get("data") or describe_data(),
        tuple(state.get("suites", [state["suite"]] if "suite" in state else [])),
    )
