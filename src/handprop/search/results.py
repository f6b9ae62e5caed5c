"""The results file: one JSON line per finished trial, durable the moment the trial ends.

Records are keyed by :func:`trial_key` (stage, searched values, repeat and halving rung),
so re-running a search skips the trials already in the file. A line torn by a kill in
mid-write is dropped when the file is reopened; any other unreadable line is a
:class:`~handprop.errors.DataError`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs
import cattrs

from handprop.errors import DataError
from handprop.search.space import Space, Stage, Values

if TYPE_CHECKING:
    from handprop.search.optuna_space import OptunaStage
    from handprop.search.points import Point

STATUSES: tuple[str, ...] = ("completed", "diverged", "interrupted", "error", "pruned")
METRICS: tuple[str, ...] = ("final_val_acc", "best_val_acc")


def _finite_or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@attrs.frozen
class TrialOutcome:
    """What one training run reports; accuracies are ``None`` when not finite or not run."""

    status: str
    final_val_acc: float | None = attrs.field(default=None, converter=_finite_or_none)
    best_val_acc: float | None = attrs.field(default=None, converter=_finite_or_none)
    steps: int = 0
    diverged_step: int | None = None
    error: str | None = None
    threads: int | None = None  # BLAS/OpenMP threads the trial ran with


@attrs.frozen
class TrialRecord:
    """One finished trial: trial number ``trial`` of stage ``stage`` (both from 1), its
    searched ``values``, outcome and wall time in seconds; ``repeat`` (from 0) is the seed
    repeat, ``rung`` (from 1) the successive-halving rung and ``cycles`` its budget
    (0 outside successive halving)."""

    key: str
    stage: int
    trial: int
    values: Values
    outcome: TrialOutcome
    wall_time: float
    repeat: int = 0
    rung: int = 0
    cycles: int = 0

    def score(self, metric: str) -> float | None:
        """The ranking metric, or ``None`` if the trial did not complete with a finite one."""
        if self.outcome.status != "completed":
            return None
        value: float | None = getattr(self.outcome, metric)
        return value


def trial_key(stage: int, values: Values, repeat: int = 0, rung: int = 0) -> str:
    """Stable identity of a trial: ``"stage=1 lam=0.001"`` (exact reprs), then
    ``" rung=2"`` and ``" repeat=1"`` when not 0."""
    parts = [f"stage={stage}", *(f"{k}={values[k]!r}" for k in sorted(values))]
    parts += [f"{name}={n}" for name, n in (("rung", rung), ("repeat", repeat)) if n]
    return " ".join(parts)


def rank(records: Iterable[TrialRecord], metric: str) -> list[TrialRecord]:
    """Records with a score, best first (ties: earlier stage and trial first)."""
    scored = [r for r in records if r.score(metric) is not None]
    return sorted(scored, key=lambda r: (-(r.score(metric) or 0.0), r.stage, r.trial))


def read_results(path: Path) -> dict[str, TrialRecord]:
    """Finished trials by key (later lines win); ``{}`` if the file does not exist."""
    if not path.exists():
        return {}
    records: dict[str, TrialRecord] = {}
    lines = path.read_bytes().split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):
        if line.strip():
            record = _parse(line, path, number)
            records[record.key] = record
    return records


def _parse(line: bytes, path: Path, number: int) -> TrialRecord:
    try:
        return cattrs.structure(json.loads(line), TrialRecord)
    except (ValueError, TypeError, KeyError, RecursionError, cattrs.BaseValidationError) as err:
        raise DataError(f"{path}, line {number}: not a trial record ({err})") from err


class ResultsWriter:
    """Appends records to ``path``, each flushed and fsync'ed; drops a torn last line first."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("ab+")
        self._file.seek(0)
        data = self._file.read()
        if data and not data.endswith(b"\n"):
            self._file.truncate(data.rfind(b"\n") + 1)
        self._file.seek(0, os.SEEK_END)

    def append(self, record: TrialRecord) -> None:
        line = json.dumps(cattrs.unstructure(record), allow_nan=False) + "\n"
        self._file.write(line.encode())
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@attrs.frozen
class StageResult:
    """Stage ``number`` (from 1): its sampling rule, the range it searched, its trials in
    sampling order."""

    number: int
    stage: Stage | OptunaStage
    space: Space
    records: tuple[TrialRecord, ...]


@attrs.frozen
class SearchResult:
    """A finished search: its stages, the point chosen over all stages by ``metric`` and
    the rule ``select``, and the final retrain's metrics (``None`` without one)."""

    out_dir: Path
    metric: str
    stages: tuple[StageResult, ...]
    best: Point
    final: dict[str, Any] | None = None
    select: str = "best_mean"
    repeats: int = 1

    @property
    def chosen(self) -> Values:
        return self.best.values
