"""Atomic checkpoints that load without pickle: parameters in ``.npz``, the rest in JSON.

A checkpoint folder holds ``checkpoint.json`` (step, history, config, wall time and
the name of the parameter file) and ``params-<step>.npz``. Each file is written to a
temporary name and renamed into place; the JSON is renamed last, so it only ever
points at a complete parameter file and a crash at any moment leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import attrs
import numpy as np

from handprop.errors import DataError
from handprop.nn.params import Params
from handprop.train.history import History

CHECKPOINT_JSON = "checkpoint.json"
FORMAT = 1


@attrs.frozen
class Checkpoint:
    """A restored training point: ``params`` after ``step`` updates."""

    params: Params
    step: int
    history: History
    config: dict[str, Any]
    wall_time: float


def _write_atomic(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file, fsync and rename."""
    _write_atomic(Path(path), lambda f: f.write(text.encode()))


def save_checkpoint(directory: str | Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` into ``directory`` atomically and drop older parameter files."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    params_name = f"params-{checkpoint.step:08d}.npz"
    arrays: dict[str, Any] = dict(checkpoint.params.arrays())
    _write_atomic(folder / params_name, lambda f: np.savez(f, **arrays))
    meta = {
        "format": FORMAT,
        "step": checkpoint.step,
        "params_file": params_name,
        "wall_time": checkpoint.wall_time,
        "config": checkpoint.config,
        "history": checkpoint.history.to_json(),
    }
    text = json.dumps(meta, indent=1).encode()
    _write_atomic(folder / CHECKPOINT_JSON, lambda f: f.write(text))
    for old in folder.glob("params-*.npz"):
        if old.name != params_name:
            old.unlink(missing_ok=True)


def load_checkpoint(directory: str | Path) -> Checkpoint | None:
    """The checkpoint in ``directory``, or None if there is none.

    Raises :class:`DataError` if the files are unreadable or inconsistent.
    """
    folder = Path(directory)
    meta_path = folder / CHECKPOINT_JSON
    if not meta_path.is_file():
        return None
    remedy = f"delete {folder} to start the run afresh"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown checkpoint format {meta.get('format')!r}")
        with np.load(folder / meta["params_file"], allow_pickle=False) as npz:
            params = Params.from_arrays({k: npz[k] for k in npz.files})
        return Checkpoint(
            params=params,
            step=int(meta["step"]),
            history=History.from_json(meta["history"]),
            config=dict(meta["config"]),
            wall_time=float(meta["wall_time"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(f"checkpoint in {folder} is unreadable ({err}); {remedy}") from None
