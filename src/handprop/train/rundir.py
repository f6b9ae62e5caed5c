"""Run folders: one call trains a config and writes everything a reader needs.

Layout of ``out_dir``::

    config.toml       the resolved config (written first)
    checkpoint/       while the run is unfinished (removed when it completes)
    history.json      evaluation rows (and history.csv)
    params.npz        final parameters (W1, b1, ...; only once the run completed)
    metrics.json      status, test accuracy, best/final validation accuracy, wall time
    curves.png        cost, loss and accuracy for training and validation
    schedule.png      the learning-rate schedule
    weights.png       the first-layer weights as 32x32 colour images
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from handprop.data import Splits
from handprop.errors import ConfigError, DataError
from handprop.nn.network import evaluate
from handprop.nn.params import Params
from handprop.train.config import TrainConfig, save_config
from handprop.train.data import initial_params, load_data
from handprop.train.history import History
from handprop.train.loop import train
from handprop.train.state import Status, TrainResult

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.json"
PARAMS_FILE = "params.npz"
CHECKPOINT_DIR = "checkpoint"


@attrs.frozen
class RunSummary:
    """The headline numbers of a run folder (accuracies are fractions in [0, 1])."""

    out_dir: Path
    status: Status
    test_acc: float | None
    best_val_acc: float
    final_val_acc: float
    wall_time: float
    steps: int


def save_params(params: Params, path: str | Path) -> None:
    """Write ``W1, b1, ...`` to an ``.npz`` file."""
    arrays: dict[str, Any] = dict(params.arrays())
    np.savez(path, **arrays)


def load_params(path: str | Path) -> Params:
    """Parameters from an ``.npz`` written by :func:`save_params` (no pickle)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return Params.from_arrays({k: npz[k] for k in npz.files})
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read parameters from {path}: {err}") from None


def _metrics(config: TrainConfig, result: TrainResult, test_acc: float | None) -> dict[str, Any]:
    val = result.history.columns()["val_acc"]
    return {
        "name": config.run.name,
        "status": result.status,
        "test_acc": test_acc,
        "best_val_acc": float(val.max()),
        "final_val_acc": float(val[-1]),
        "final_train_acc": result.history.rows[-1].train_acc,
        "wall_time": result.wall_time,
        "steps": result.steps,
        "diverged_step": result.diverged_step,
    }


def _summary(out: Path, metrics: dict[str, Any]) -> RunSummary:
    fields = ("status", "test_acc", "best_val_acc", "final_val_acc", "wall_time", "steps")
    return RunSummary(out, **{k: metrics[k] for k in fields})


def _figures(
    out: Path,
    config: TrainConfig,
    history: History,
    W1: np.ndarray | None,
    n_train: int,
    class_names: Sequence[str],
    formats: Sequence[str],
) -> None:
    """curves, schedule and (if ``W1`` is given) weights, in each of ``formats``."""
    from handprop import figures  # matplotlib is slow to import; only runs that draw pay

    x = "epoch" if config.schedule.kind == "constant" else "step"
    title = config.run.name or None
    schedule = config.make_schedule(n_train)
    steps = np.arange(config.total_steps(n_train))
    etas = np.array([schedule(int(t)) for t in steps])
    names = class_names if not config.model.hidden else None
    for fmt in formats:
        figures.plot_curves(history.columns(), out / f"curves.{fmt}", x=x, title=title)
        figures.plot_schedule(steps, etas, out / f"schedule.{fmt}")
        if W1 is not None:
            figures.plot_weights(W1, out / f"weights.{fmt}", class_names=names)


def run_experiment(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    data: Splits | None = None,
    resume: bool = False,
    progress: bool = True,
    figures: Sequence[str] = ("png",),
) -> RunSummary:
    """Train ``config`` from its initial parameters and fill the run folder ``out_dir``.

    ``resume=True`` continues an interrupted run in ``out_dir`` (a finished run is
    reported as it is); without it, a folder that already holds a run is refused
    rather than overwritten.
    """
    out = Path(out_dir)
    if (out / CONFIG_FILE).exists():
        if not resume:
            raise ConfigError(
                f"{out} already holds a run; pass resume to continue it, or choose another folder"
            )
        if (out / METRICS_FILE).exists():
            metrics = json.loads((out / METRICS_FILE).read_text(encoding="utf-8"))
            if metrics["status"] == "completed":
                return _summary(out, metrics)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / CONFIG_FILE)
    data = load_data(config) if data is None else data
    params = initial_params(config, data.train.X.shape[1], len(data.train.class_names))
    result = train(
        params,
        config,
        data=data,
        progress=progress,
        checkpoint_dir=out / CHECKPOINT_DIR,
        resume=resume,
    )
    result.history.save(out / "history.json", out / "history.csv")
    finite = all(np.isfinite(a).all() for a in result.params.arrays().values())
    test_acc = None
    if result.status == "completed" and finite:
        save_params(result.params, out / PARAMS_FILE)
        test_acc = evaluate(result.params, data.test.X, data.test.y).accuracy
    metrics = _metrics(config, result, test_acc)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    if figures:
        weights = result.params.layers[0].W if finite else None
        _figures(
            out, config, result.history, weights, len(data.train.y), data.train.class_names, figures
        )
    if result.status == "completed":
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    return _summary(out, metrics)
