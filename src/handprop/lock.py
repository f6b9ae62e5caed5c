"""Exclusive, non-blocking locks on run and search folders.

:func:`folder_lock` takes ``fcntl.flock`` on ``FOLDER/.lock`` and writes the holder's
PID into it. The kernel drops the lock when its process dies, so a folder left by a
crash is free again at once; the file is removed on release (and a lock taken on a file
that was just removed is retried), so a finished folder holds no lock file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from handprop.errors import HandpropError

LOCK_FILE = ".lock"


class FolderInUse(HandpropError):
    """Another process holds the folder's lock."""


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip() or "unknown"
    except (OSError, ValueError):
        return "unknown"


def _first_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet (None: it exists)."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            return missing
        missing = path
    return missing


def _remove_empty(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents up to ``top`` while they are empty."""
    for path in (folder, *folder.parents):
        try:
            path.rmdir()
        except OSError:
            return
        if path == top:
            return


def make_folder(folder: Path, what: str) -> None:
    """``mkdir -p folder``, a :class:`HandpropError` naming it if that is impossible."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise HandpropError(f"cannot use {folder} as a {what}: it is a file") from None
    except OSError as err:
        raise HandpropError(f"cannot create {what} {folder}: {err.strerror or err}") from None


@contextmanager
def folder_lock(folder: str | Path, what: str = "run folder") -> Iterator[Path]:
    """Hold the exclusive lock of ``folder`` (created if missing) for the ``with`` body.

    Raises :class:`FolderInUse` (``"run folder X is in use by PID N"``) if another
    process holds it. When the body fails, the folders this call created are removed
    again if they are still empty, so a failed start leaves nothing behind.
    """
    folder = Path(folder)
    created = _first_missing(folder)
    make_folder(folder, what)
    path = folder / LOCK_FILE
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUse(f"{what} {folder} is in use by PID {_holder(path)}") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and flock: retry
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield folder
    except BaseException:
        path.unlink(missing_ok=True)
        if created is not None:
            _remove_empty(folder, created)
        raise
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
