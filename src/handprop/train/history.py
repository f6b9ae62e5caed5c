"""Training history: one row per evaluation, kept in an immutable record."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from handprop.atomic import write_json_atomic, write_text_atomic

#: Column order of :meth:`History.columns`, the CSV header and the JSON rows.
COLUMNS: tuple[str, ...] = (
    "step",
    "epoch",
    "eta",
    "train_loss",
    "train_cost",
    "train_acc",
    "val_loss",
    "val_cost",
    "val_acc",
)


@attrs.frozen
class HistoryRow:
    """Metrics after ``step`` updates (``epoch = step / steps_per_epoch``)."""

    step: int
    epoch: float
    eta: float
    train_loss: float
    train_cost: float
    train_acc: float
    val_loss: float
    val_cost: float
    val_acc: float

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for v in attrs.astuple(self))


@attrs.frozen
class History:
    """Evaluation rows in step order."""

    rows: tuple[HistoryRow, ...] = ()

    def append(self, row: HistoryRow) -> History:
        return History((*self.rows, row))

    def __len__(self) -> int:
        return len(self.rows)

    def columns(self) -> dict[str, np.ndarray]:
        """``{column: array (n_rows,)}`` for the keys in :data:`COLUMNS`."""
        table = [attrs.astuple(r) for r in self.rows]
        return {
            name: np.array([r[i] for r in table], dtype=np.int64 if name == "step" else np.float64)
            for i, name in enumerate(COLUMNS)
        }

    def to_json(self) -> list[dict[str, Any]]:
        """Rows as dicts; a non-finite value becomes ``None`` (JSON has no NaN/Infinity)."""
        return [{k: _finite_or_none(v) for k, v in attrs.asdict(r).items()} for r in self.rows]

    @classmethod
    def from_json(cls, rows: list[dict[str, Any]]) -> History:
        """Inverse of :meth:`to_json` (``None`` reads back as NaN)."""
        return cls(tuple(HistoryRow(**_nan_for_none(row)) for row in rows))

    def save(self, json_path: str | Path, csv_path: str | Path) -> None:
        """Write the rows as a JSON list and as CSV with a header, each atomically."""
        write_json_atomic(json_path, self.to_json())
        text = io.StringIO(newline="")
        writer = csv.writer(text)
        writer.writerow(COLUMNS)
        writer.writerows(attrs.astuple(r) for r in self.rows)
        write_text_atomic(csv_path, text.getvalue())


def _none_to_nan(value: Any) -> Any:
    return math.nan if value is None else value


def _nan_for_none(row: dict[str, Any]) -> dict[str, Any]:
    return {k: math.nan if v is None else v for k, v in row.items()}


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
