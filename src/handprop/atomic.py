"""Atomic file writes and guarded JSON reads.

A write goes to a unique temporary file in the target's folder (``.NAME.XXXX.tmp``),
is flushed and fsync'ed, renamed over the target with :func:`os.replace`, and the folder
is fsync'ed. A failure at any point (a full disk, a kill) leaves the old file or none,
never a half-written one; the temporary file is removed when the failure is an exception.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from handprop.errors import DataError

#: Glob of the temporary files this module creates (a kill can leave one behind).
TEMP_GLOB = ".*.tmp"


def fsync_dir(folder: Path) -> None:
    """Flush ``folder``'s entries (a rename into it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomic(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Let ``write(file)`` fill a temporary file, then move it to ``path`` atomically."""
    path = Path(path)
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
    fsync_dir(path.parent)
    return path


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    return replace_atomic(path, lambda f: f.write(data))


def write_text_atomic(path: str | Path, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, value: Any, *, indent: int = 1) -> Path:
    """``value`` as JSON (no ``NaN``/``Infinity``: they are not JSON) plus a newline."""
    return write_text_atomic(path, json.dumps(value, indent=indent, allow_nan=False) + "\n")


def save_npz_atomic(path: str | Path, arrays: dict[str, Any]) -> Path:
    """``np.savez`` of ``arrays`` to ``path``, atomically."""
    return replace_atomic(path, lambda f: np.savez(f, **arrays))


def remove_temporaries(folder: str | Path) -> None:
    """Delete temporary files left in ``folder`` by a killed writer (hold its lock)."""
    for tmp in Path(folder).glob(TEMP_GLOB):
        tmp.unlink(missing_ok=True)


def read_json(path: str | Path, what: str = "file") -> Any:
    """The JSON value in ``path``; :class:`DataError` naming it if unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"{what} {path} is unreadable ({err}); delete or restore it") from None
    except RecursionError:
        raise DataError(f"{what} {path} is nested too deeply; delete or restore it") from None


def read_json_object(path: str | Path, what: str = "file") -> dict[str, Any]:
    """:func:`read_json` of a file that must hold a JSON object."""
    value = read_json(path, what)
    if not isinstance(value, dict):
        raise DataError(f"{what} {path} must hold a JSON object, got {type(value).__name__}")
    return value
