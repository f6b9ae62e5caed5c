"""Atomic checkpoints that load without pickle: parameters in ``.npz``, the rest in JSON.

A checkpoint folder holds ``checkpoint.json`` (step, history, config, wall time and
the name of the parameter file) and ``params-<step>.npz``. Each file is written to a
temporary name and renamed into place; the JSON is renamed last, so it only ever
points at a complete parameter file and a crash at any moment leaves the previous
checkpoint intact.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from handprop.atomic import remove_temporaries, save_npz_atomic, write_json_atomic
from handprop.errors import DataError
from handprop.nn.params import Params
from handprop.train.history import History
from handprop.train.params_file import load_params

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


def save_checkpoint(directory: str | Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` into ``directory`` atomically and drop older parameter files."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    params_name = f"params-{checkpoint.step:08d}.npz"
    previous = _params_file(folder)
    arrays: dict[str, Any] = dict(checkpoint.params.arrays())
    save_npz_atomic(folder / params_name, arrays)
    meta = {
        "format": FORMAT,
        "step": checkpoint.step,
        "params_file": params_name,
        "wall_time": checkpoint.wall_time,
        "config": checkpoint.config,
        "history": checkpoint.history.to_json(),
    }
    write_json_atomic(folder / CHECKPOINT_JSON, meta)
    if previous and previous != params_name:
        (folder / previous).unlink(missing_ok=True)


def _params_file(folder: Path) -> str | None:
    """The parameter file named by the folder's current checkpoint (None if unreadable)."""
    try:
        name = json.loads((folder / CHECKPOINT_JSON).read_text(encoding="utf-8"))["params_file"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return name if isinstance(name, str) and name == Path(name).name else None


def prune_checkpoint(directory: str | Path) -> None:
    """Remove what a killed writer left in ``directory``: temporary files and parameter
    files the checkpoint does not name. Call only while holding the run folder's lock."""
    folder = Path(directory)
    remove_temporaries(folder)
    current = _params_file(folder)
    for path in folder.glob("params-*.npz"):
        if path.name != current:
            path.unlink(missing_ok=True)


def load_checkpoint(
    directory: str | Path, sizes: Sequence[int] | None = None, dtype: Any = None
) -> Checkpoint | None:
    """The checkpoint in ``directory``, or None if there is none.

    ``sizes`` and ``dtype`` are the network's layer sizes and dtype, checked before the
    parameters are read (see :func:`~handprop.train.params_file.load_params`). Raises
    :class:`DataError` if the files are unreadable or inconsistent.
    """
    folder = Path(directory)
    meta_path = folder / CHECKPOINT_JSON
    if not meta_path.is_file():
        return None
    remedy = f"delete {folder} to start the run afresh"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError(f"{CHECKPOINT_JSON} holds a {type(meta).__name__}, not an object")
        if meta.get("format") != FORMAT:
            raise ValueError(f"unknown checkpoint format {meta.get('format')!r}")
        if str(meta["params_file"]) != Path(meta["params_file"]).name:
            raise ValueError(f"params_file {meta['params_file']!r} is not a file name")
        params = load_params(folder / meta["params_file"], sizes, dtype)
        return Checkpoint(
            params=params,
            step=int(meta["step"]),
            history=History.from_json(meta["history"]),
            config=dict(meta["config"]),
            wall_time=float(meta["wall_time"]),
        )
    except (OSError, ValueError, KeyError, TypeError, DataError) as err:
        raise DataError(f"checkpoint in {folder} is unreadable ({err}); {remedy}") from None
