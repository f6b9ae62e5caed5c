"""Atomic checkpoints that load without pickle: parameters in ``.npz``, the rest in JSON.

A checkpoint folder holds ``checkpoint.json`` (step, history, config, wall time and
the names of the array files), ``params-<step>.npz`` and, for optimisers with a state
(momentum buffers, Adam moments), ``optim-<step>.npz``
(:func:`~handprop.optim.state_arrays`). Each file is written to a temporary name and
renamed into place; the JSON is renamed last, so it only ever points at complete array
files and a crash at any moment leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from handprop.atomic import remove_temporaries, save_npz_atomic, write_json_atomic
from handprop.errors import DataError
from handprop.nn.params import Params
from handprop.optim import EmptyState, state_arrays, state_from_arrays
from handprop.train.history import History
from handprop.train.params_file import load_arrays, load_params

CHECKPOINT_JSON = "checkpoint.json"
FORMAT = 1
#: The keys of ``checkpoint.json`` naming array files, and their file name prefixes.
FILE_KEYS = {"params_file": "params", "optim_file": "optim"}


@attrs.frozen
class Checkpoint:
    """A restored training point: ``params`` and the optimiser state after ``step`` updates."""

    params: Params
    step: int
    history: History
    config: dict[str, Any]
    wall_time: float
    opt_state: Any = attrs.field(factory=EmptyState)


def save_checkpoint(directory: str | Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` into ``directory`` atomically and drop older parameter files."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    previous = _array_files(folder)
    contents: dict[str, dict[str, Any]] = {
        "params_file": dict(checkpoint.params.arrays()),
        "optim_file": state_arrays(checkpoint.opt_state),
    }
    names = {}
    for key, arrays in contents.items():
        if arrays:
            names[key] = f"{FILE_KEYS[key]}-{checkpoint.step:08d}.npz"
            save_npz_atomic(folder / names[key], arrays)
    meta = {
        "format": FORMAT,
        "step": checkpoint.step,
        **names,
        "wall_time": checkpoint.wall_time,
        "config": checkpoint.config,
        "history": checkpoint.history.to_json(),
    }
    write_json_atomic(folder / CHECKPOINT_JSON, meta)
    for name in previous - set(names.values()):
        (folder / name).unlink(missing_ok=True)


def _array_files(folder: Path) -> set[str]:
    """The array files named by the folder's current checkpoint (none if unreadable)."""
    try:
        meta = json.loads((folder / CHECKPOINT_JSON).read_text(encoding="utf-8"))
        names = {meta[key] for key in FILE_KEYS if key in meta}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return set()
    return {n for n in names if isinstance(n, str) and n == Path(n).name}


def prune_checkpoint(directory: str | Path) -> None:
    """Remove what a killed writer left in ``directory``: temporary files and parameter
    files the checkpoint does not name. Call only while holding the run folder's lock."""
    folder = Path(directory)
    remove_temporaries(folder)
    current = _array_files(folder)
    for prefix in FILE_KEYS.values():
        for path in folder.glob(f"{prefix}-*.npz"):
            if path.name not in current:
                path.unlink(missing_ok=True)


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: object, what: str) -> int:
    """``value`` if it is a JSON integer >= 0 (no string, float or bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} {value!r} is not a whole number >= 0")
    return value


def _check_history(history: History, step: int) -> None:
    """Raise ValueError unless the rows' steps are whole, increasing and at most ``step``."""
    previous = -1
    for row in history.rows:
        at = _whole(row.step, "history step")
        if not previous < at <= step:
            raise ValueError(
                f"history step {at} does not follow step {previous} within the checkpoint's "
                f"{step} steps"
            )
        previous = at


def load_checkpoint(
    directory: str | Path,
    sizes: Sequence[int] | None = None,
    dtype: Any = None,
    opt_state: Any = None,
) -> Checkpoint | None:
    """The checkpoint in ``directory``, or None if there is none.

    ``sizes`` and ``dtype`` are the network's layer sizes and dtype, checked before the
    parameters are read (see :func:`~handprop.train.params_file.load_params`).
    ``opt_state`` is the optimiser's initial state: the saved state must have its type,
    array names, shapes and dtypes (None: an empty state is expected). Raises
    :class:`DataError` if the files are unreadable or inconsistent.
    """
    template = EmptyState() if opt_state is None else opt_state
    folder = Path(directory)
    if not (folder / CHECKPOINT_JSON).is_file():
        return None
    try:
        meta = _read_meta(folder)
        for key in FILE_KEYS:
            if key in meta and str(meta[key]) != Path(meta[key]).name:
                raise ValueError(f"{key} {meta[key]!r} is not a file name")
        params = load_params(folder / meta["params_file"], sizes, dtype)
        expected = state_arrays(template)
        if expected and "optim_file" not in meta:
            raise ValueError(f"it holds no optimiser state (expected {type(template).__name__})")
        if not expected and "optim_file" in meta:
            raise ValueError("it holds an optimiser state, but the optimiser has none")
        state = template
        if expected:
            arrays = load_arrays(folder / meta["optim_file"], expected)
            state = state_from_arrays(template, arrays)
        step = _whole(meta["step"], "step")
        history = History.from_json(meta["history"])
        _check_history(history, step)
        wall_time = meta["wall_time"]
        if not _is_real(wall_time) or not 0 <= wall_time < math.inf:
            raise ValueError(f"wall_time {wall_time!r} is not a finite number >= 0")
        return Checkpoint(
            params=params,
            step=step,
            history=history,
            config=dict(meta["config"]),
            wall_time=float(wall_time),
            opt_state=state,
        )
    except (OSError, ValueError, KeyError, TypeError, RecursionError, DataError) as err:
        raise _unreadable(folder, err) from None


def checkpoint_record(directory: str | Path) -> tuple[int, dict[str, Any]] | None:
    """The step and the config record of the checkpoint in ``directory``, read without its
    arrays (None if there is none). Raises :class:`DataError` if it is unreadable."""
    folder = Path(directory)
    if not (folder / CHECKPOINT_JSON).is_file():
        return None
    try:
        meta = _read_meta(folder)
        return _whole(meta["step"], "step"), dict(meta["config"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as err:
        raise _unreadable(folder, err) from None


def _read_meta(folder: Path) -> dict[str, Any]:
    """``checkpoint.json`` of ``folder``: a JSON object of the known format (else ValueError)."""
    meta = json.loads((folder / CHECKPOINT_JSON).read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{CHECKPOINT_JSON} holds a {type(meta).__name__}, not an object")
    if meta.get("format") != FORMAT:
        raise ValueError(f"unknown checkpoint format {meta.get('format')!r}")
    return meta


def _unreadable(folder: Path, err: Exception) -> DataError:
    return DataError(
        f"checkpoint in {folder} is unreadable ({err}); delete {folder} to start the run afresh"
    )
