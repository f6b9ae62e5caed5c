"""Run folders: one call trains a config and writes everything a reader needs.

Layout of ``out_dir``::

    config.toml       the resolved config (written first, once the inputs are valid)
    normalization.npz the training split's mean and std and the class names (with
                      normalised data; see :mod:`handprop.runs.inputs`)
    checkpoint/       while the run is unfinished (removed when it completes)
    history.json      evaluation rows (and history.csv)
    params.npz        final parameters (W1, b1, ...; only once the run completed)
    snapshots/        params-cycleK.npz at the end of cycle K (with ``run.snapshots``)
    whitening.npz     the input whitening fitted on the training split (with data.whiten)
    curves.png        cost, loss and accuracy for training and validation
    schedule.png      the learning-rate schedule
    weights.png       the first-layer weights as 32x32 colour images
    metrics.json      status, test accuracy, best/final validation accuracy, wall time;
                      with augment.tta also test_acc_plain (test_acc is then the
                      augmented one) (written last: a "completed" status means every
                      other file exists)
    .lock             while a process works in the folder
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from handprop.atomic import (
    read_json_object,
    remove_temporaries,
    write_json_atomic,
)
from handprop.data import Splits
from handprop.data.whiten import Whitening, save_whitening
from handprop.errors import ConfigError, DataError
from handprop.lock import folder_lock
from handprop.nn.network import evaluate
from handprop.nn.params import Params
from handprop.progress import Progress
from handprop.runs.inputs import NORMALIZATION_FILE, WHITENING_FILE, save_normalization
from handprop.runs.snapshots import SNAPSHOT_DIR, snapshot_hook
from handprop.runs.tta import tta_accuracy
from handprop.train.checkpoint import (
    CHECKPOINT_JSON,
    Checkpoint,
    checkpoint_record,
    prune_checkpoint,
    save_checkpoint,
)
from handprop.train.config import TrainConfig, config_to_dict, load_config, save_config
from handprop.train.data import data_and_whitening, init_params
from handprop.train.history import History
from handprop.train.loop import train
from handprop.train.params_file import save_params
from handprop.train.resume import resume_error
from handprop.train.state import Status, TrainResult

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.json"
PARAMS_FILE = "params.npz"
CHECKPOINT_DIR = "checkpoint"
HISTORY_FILE = "history.json"
#: The most points the schedule figure draws.
MAX_SCHEDULE_POINTS = 4096
#: Files whose presence means the folder holds a run's progress.
PROGRESS_FILES = (METRICS_FILE, PARAMS_FILE, HISTORY_FILE, f"{CHECKPOINT_DIR}/{CHECKPOINT_JSON}")


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


def _metrics(
    config: TrainConfig, result: TrainResult, test_acc: float | None, tta: dict[str, Any]
) -> dict[str, Any]:
    val = result.history.columns()["val_acc"]
    return tta | {
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


def _tta_metrics(tta: str, params: Params, data: Splits, plain_test_acc: float) -> dict[str, Any]:
    """The final accuracies under test-time augmentation ``tta``; ``test_acc`` is then the
    augmented one and ``test_acc_plain`` that of the images alone."""
    return {
        "tta": tta,
        "test_acc_plain": plain_test_acc,
        "test_acc_tta": tta_accuracy(params, data.test.X, data.test.y, tta),
        "final_val_acc_tta": tta_accuracy(params, data.val.X, data.val.y, tta),
    }


def _summary(out: Path, metrics: dict[str, Any]) -> RunSummary:
    fields = ("status", "test_acc", "best_val_acc", "final_val_acc", "wall_time", "steps")
    return RunSummary(out, **{k: metrics[k] for k in fields})


def _figures(
    out: Path,
    config: TrainConfig,
    history: History,
    taken: int,
    W1: np.ndarray | None,
    n_train: int,
    class_names: Sequence[str],
    formats: Sequence[str],
) -> None:
    """curves, schedule (over the ``taken`` steps run) and (if ``W1`` is given) weights,
    in each of ``formats``."""
    from handprop import figures  # matplotlib is slow to import; only runs that draw pay

    x = "epoch" if config.schedule.kind == "constant" else "step"
    title = config.run.name or None
    schedule = config.make_schedule(n_train)
    steps = schedule_points(config, n_train, taken)
    etas = np.array([schedule(int(t)) for t in steps])
    names = class_names if not config.model.hidden else None
    for fmt in formats:
        figures.plot_curves(history.columns(), out / f"curves.{fmt}", x=x, title=title)
        figures.plot_schedule(steps, etas, out / f"schedule.{fmt}")
        if W1 is not None:
            figures.plot_weights(W1, out / f"weights.{fmt}", class_names=names)


def schedule_points(config: TrainConfig, n_train: int, steps: int) -> np.ndarray:
    """The steps at which the schedule figure of a run that took ``steps`` steps is drawn:
    every one up to :data:`MAX_SCHEDULE_POINTS`; beyond, evenly spread ones and, while
    they fit, the corners of a cyclical schedule (every ``n_s`` steps)."""
    if steps <= MAX_SCHEDULE_POINTS:
        return np.arange(steps)
    half = MAX_SCHEDULE_POINTS // 2
    points = np.linspace(0, steps - 1, half).round().astype(np.int64)
    if config.schedule.kind != "constant":
        n_s = config.step_size(n_train)
        if steps // n_s < half:
            points = np.concatenate([points, np.arange(0, steps, n_s)])
    return np.unique(points)


def run_folder(root: Path, name: str) -> Path:
    """``root / name``, ``root / "run"`` for the empty name (``RunConfig`` keeps names
    plain)."""
    return root / (name or "run")


def _has_progress(out: Path) -> bool:
    """Whether ``out`` holds a run's progress (a start that failed before training has none,
    so its folder is free to reuse)."""
    return any((out / n).exists() for n in PROGRESS_FILES)


def _saved_config(out: Path) -> TrainConfig | None:
    """The config of the run in ``out`` (None if it has none)."""
    if not (out / CONFIG_FILE).is_file():
        return None
    try:
        return load_config(out / CONFIG_FILE)
    except ConfigError as err:
        raise DataError(f"cannot resume {out}: {err}") from None


def _check_folder(out: Path, config: TrainConfig, resume: bool) -> RunSummary | None:
    """Refuse a folder we may not (re)use; the summary of a completed run we may report
    (:func:`~handprop.train.resume.resume_error` with no state to continue). Nothing is
    written here."""
    if not _has_progress(out):
        return None
    if not resume:
        raise ConfigError(
            f"{out} already holds a run; pass resume to continue it, or choose another folder"
        )
    if not (out / METRICS_FILE).exists():
        return None
    metrics = read_json_object(out / METRICS_FILE, "metrics file")
    if metrics.get("status") != "completed":
        return None
    saved = _saved_config(out)
    refusal = None if saved is None else resume_error(saved, config, out, None)
    if refusal is not None:
        raise refusal
    try:
        return _summary(out, metrics)
    except (KeyError, TypeError) as err:
        raise DataError(f"metrics file {out / METRICS_FILE} lacks {err}") from None


def _check_unfinished(out: Path, config: TrainConfig, total: int) -> None:
    """Refuse to continue the unfinished run in ``out`` with ``config`` (``total`` steps)
    unless :func:`~handprop.train.resume.resume_error` allows it for its checkpoint's step
    (0 without one: the run starts again). Nothing is written here."""
    saved = _saved_config(out) if _has_progress(out) else None
    if saved is None:
        return
    found = checkpoint_record(out / CHECKPOINT_DIR)
    refusal = resume_error(saved, config, out, (0 if found is None else found[0], total))
    if refusal is not None:
        raise refusal


def _finish(
    out: Path, config: TrainConfig, result: TrainResult, data: Splits, figures: Sequence[str]
) -> RunSummary:
    """Write what follows training; ``metrics.json`` last, so that it is the completion.

    A completed run first checkpoints its final step, so a kill during these writes is
    resumed by redoing the writes, not the training.
    """
    completed = result.status == "completed"
    finite = all(np.isfinite(a).all() for a in result.params.arrays().values())
    if completed and finite:
        wall = result.wall_time
        point = Checkpoint(
            result.params,
            result.steps,
            result.history,
            config_to_dict(config),
            wall,
            result.opt_state,
        )
        save_checkpoint(out / CHECKPOINT_DIR, point)
    result.history.save(out / "history.json", out / "history.csv")
    test_acc, tta = None, {}
    if completed and finite:
        save_params(result.params, out / PARAMS_FILE)
        test_acc = evaluate(result.params, data.test.X, data.test.y).accuracy
        if config.augment.tta != "none":
            tta = _tta_metrics(config.augment.tta, result.params, data, test_acc)
            test_acc = tta["test_acc_tta"]
    if figures:
        weights = result.params.affine[0].W if finite else None
        _figures(
            out,
            config,
            result.history,
            result.steps,
            weights,
            len(data.train.y),
            data.train.class_names,
            figures,
        )
    if completed:
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    metrics = _metrics(config, result, test_acc, tta)
    write_json_atomic(out / METRICS_FILE, metrics)
    return _summary(out, metrics)


def run_experiment(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    data: Splits | None = None,
    whitening: Whitening | None = None,
    resume: bool = False,
    progress: bool | Progress = True,
    figures: Sequence[str] = ("png",),
) -> RunSummary:
    """Train ``config`` from its initial parameters and fill the run folder ``out_dir``.

    ``resume=True`` continues an interrupted run in ``out_dir`` (a finished run is
    reported as it is; a run of another config is refused unless
    :func:`~handprop.train.resume.resume_error` allows it); without it, a folder that
    already holds a run is refused rather than overwritten. The folder is locked for
    the whole call (:func:`~handprop.lock.folder_lock`); every file is written
    atomically, ``metrics.json`` last. Without ``data``, the data (and, with
    ``data.whiten``, the whitening fitted on its training split) come from
    :func:`~handprop.train.data.data_and_whitening`; with it, ``whitening`` is the one
    applied to it, if any. Either is stored as ``whitening.npz``.
    """
    out = Path(out_dir)
    with folder_lock(out):
        remove_temporaries(out)
        remove_temporaries(out / SNAPSHOT_DIR)
        prune_checkpoint(out / CHECKPOINT_DIR)
        done = _check_folder(out, config, resume)
        if done is not None:
            return done
        if data is None:
            data, whitening = data_and_whitening(config)
        if resume:
            _check_unfinished(out, config, config.total_steps(len(data.train.y)))
        params = init_params(config, data.train.X.shape[1], len(data.train.class_names))
        save_config(config, out / CONFIG_FILE)
        if data.normalizer is not None:
            save_normalization(data.normalizer, data.train.class_names, out / NORMALIZATION_FILE)
        if whitening is not None:
            save_whitening(whitening, out / WHITENING_FILE)
        result = train(
            params,
            config,
            data=data,
            progress=progress,
            checkpoint_dir=out / CHECKPOINT_DIR,
            resume=resume,
            on_step=snapshot_hook(config, len(data.train.y), out / SNAPSHOT_DIR),
        )
        return _finish(out, config, result, data, figures)
