"""Ensembles of finished runs (and of a run's snapshots): averaged class probabilities.

A member is one parameter file of a run folder: ``params.npz``, or with ``snapshots`` each
``snapshots/params-cycleK.npz``. Runs are ensembled only if they classify the same inputs
into the same classes: same data split (``data.split``, ``data.n_val``, ``data.n_train``),
input dtype, stored class names and stored normalisation; otherwise a :class:`ConfigError`
names the two runs and the difference. A run's stored input transform (if it has one) is
checked against its config and its data (:func:`~handprop.runs.inputs.load_input_transform`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from handprop.data import Normalizer, Splits
from handprop.errors import ConfigError, DataError
from handprop.nn import layers as L
from handprop.nn.network import scores
from handprop.nn.params import Params
from handprop.runs.inputs import (
    NORMALIZATION_FILE,
    WHITENING_FILE,
    InputTransform,
    load_input_transform,
)
from handprop.runs.rundir import CONFIG_FILE, PARAMS_FILE
from handprop.runs.snapshots import SNAPSHOT_DIR, snapshot_files
from handprop.runs.tta import tta_probabilities
from handprop.train.config import TrainConfig, load_config
from handprop.train.data import load_data
from handprop.train.params_file import load_params

#: Config keys that must agree between ensembled runs (the rows and inputs they see).
SAME_KEYS = ("data.split", "data.n_val", "data.n_train", "model.dtype")


@attrs.frozen
class Run:
    """A finished run folder: its config, its data splits and its members' parameters."""

    folder: Path
    config: TrainConfig
    data: Splits
    members: tuple[tuple[str, Params], ...]
    transform: InputTransform | None = None

    @property
    def class_names(self) -> tuple[str, ...]:
        """The class names the run stored (those of its data if it stored none)."""
        return self.data.train.class_names if self.transform is None else self.transform.class_names


@attrs.frozen
class Score:
    """Accuracy (fraction) and mean cross-entropy of class probabilities on one split."""

    accuracy: float
    loss: float


@attrs.frozen
class Evaluation:
    """An ensemble on the validation and test splits: ``members`` are ``(name, validation
    accuracy, test accuracy)`` per member, ``val`` and ``test`` the ensemble's scores (one
    member: its own accuracy, as in ``metrics.json``)."""

    members: tuple[tuple[str, float, float], ...]
    val: Score
    test: Score

    def summary(self) -> dict[str, Any]:
        """Member count, the ensemble's accuracies and test loss, and the mean member's test
        accuracy, as ``metrics.json`` records them."""
        accs = [test for _, _, test in self.members]
        return {
            "members": len(self.members),
            "val_acc": self.val.accuracy,
            "test_acc": self.test.accuracy,
            "test_loss": self.test.loss,
            "mean_member_test_acc": sum(accs) / len(accs),
        }


def _member(path: Path, config: TrainConfig, data: Splits) -> Params:
    sizes = (data.train.X.shape[1], *config.model.hidden, len(data.train.class_names))
    return load_params(path, sizes, config.model.dtype)


def load_run(folder: str | Path, *, snapshots: bool = False) -> Run:
    """The run in ``folder`` with ``params.npz`` as its member, or its snapshots."""
    folder = Path(folder)
    for name in (CONFIG_FILE, PARAMS_FILE):
        if not (folder / name).is_file():
            raise ConfigError(f"{folder} is not a finished run folder: {name} is missing")
    config = load_config(folder / CONFIG_FILE)
    transform = None
    if (folder / NORMALIZATION_FILE).is_file() or (folder / WHITENING_FILE).exists():
        transform = load_input_transform(folder, config)
    data = load_data(config)
    if transform is not None and transform.class_names != data.train.class_names:
        raise DataError(
            f"{folder} stored the class names {list(transform.class_names)}, the data it is "
            f"evaluated on has {list(data.train.class_names)}"
        )
    if not snapshots:
        member = (str(folder), _member(folder / PARAMS_FILE, config, data))
        return Run(folder, config, data, (member,), transform)
    files = snapshot_files(config, len(data.train.y), folder / SNAPSHOT_DIR)
    if not files:
        raise ConfigError(f"{folder} has no snapshots: its config has run.snapshots = false")
    for path in files:
        if not path.is_file():
            raise ConfigError(f"{folder} lacks the snapshot {path.name}")
    members = tuple((str(p), _member(p, config, data)) for p in files)
    return Run(folder, config, data, members, transform)


def _same(a: Normalizer, b: Normalizer) -> bool:
    return all(
        x.dtype == y.dtype and np.array_equal(x, y) for x, y in ((a.mean, b.mean), (a.std, b.std))
    )


def _difference(a: Run, b: Run) -> str | None:
    """What two runs differ in, for an ensemble; None if nothing."""
    for key in SAME_KEYS:
        if a.config.value(key) != b.config.value(key):
            return f"{key} ({a.config.value(key)!r} vs {b.config.value(key)!r})"
    if a.class_names != b.class_names:
        return f"class names ({a.class_names} vs {b.class_names})"
    if a.transform and b.transform and not _same(a.transform.normalizer, b.transform.normalizer):
        return "normalisation (the training split's mean and std: another data source?)"
    return None


def check_compatible(runs: Sequence[Run]) -> None:
    """Refuse runs that do not see the same rows, inputs and classes (one-line error)."""
    for run in runs[1:]:
        difference = _difference(runs[0], run)
        if difference:
            raise ConfigError(
                f"cannot ensemble {runs[0].folder} and {run.folder}: they differ in "
                f"{difference}; members need the same classes, data split, normalisation "
                "and input dtype"
            )


def member_probabilities(
    params: Params, X: np.ndarray, tta: str = "none"
) -> tuple[np.ndarray, np.ndarray]:
    """``(predicted class (n,), class probabilities (n, K) float64)`` of one member, with
    the test-time augmentation ``tta`` (:mod:`handprop.runs.tta`)."""
    if tta != "none":
        probs = tta_probabilities(params, X, tta)
        return probs.argmax(axis=1), probs
    s = scores(params, X)
    return s.argmax(axis=1), L.softmax(s.astype(np.float64))


def average_probabilities(probs: Sequence[np.ndarray]) -> np.ndarray:
    """The mean (n, K) of the members' class probabilities (each (n, K)), in float64."""
    shapes = {p.shape for p in probs}
    if len(shapes) != 1:
        raise ValueError(f"members' probabilities must share one shape, got {sorted(shapes)}")
    total = np.zeros(shapes.pop())
    for p in probs:
        total += p
    return total / len(probs)


def score(probs: np.ndarray, y: np.ndarray) -> Score:
    """Accuracy of the most probable class and mean ``-log p[y]`` for labels ``y`` (n,)."""
    picked = probs[np.arange(len(y)), y]
    loss = float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny))))
    return Score(float(np.mean(probs.argmax(axis=1) == y)), loss)


def evaluate_runs(runs: Sequence[Run]) -> Evaluation:
    """Every member of ``runs`` (compatible, see :func:`check_compatible`) and their
    ensemble, each member with its run's test-time augmentation (``augment.tta``)."""
    check_compatible(runs)
    members, probs = [], []
    for run in runs:
        for name, params in run.members:
            row, split_probs = [], []
            for ds in (run.data.val, run.data.test):
                predicted, p = member_probabilities(params, ds.X, run.config.augment.tta)
                row.append(float(np.mean(predicted == ds.y)))
                split_probs.append(p)
            members.append((name, row[0], row[1]))
            probs.append(split_probs)
    data = runs[0].data
    val, test = (
        score(average_probabilities([p[k] for p in probs]), ds.y)
        for k, ds in enumerate((data.val, data.test))
    )
    if len(members) == 1:  # the argmax of its scores, as in metrics.json (no softmax ties)
        val = attrs.evolve(val, accuracy=members[0][1])
        test = attrs.evolve(test, accuracy=members[0][2])
    return Evaluation(tuple(members), val, test)
