"""Reading the batch files from a folder or straight from the ``.tar.gz`` archive,
and writing an extracted folder atomically (all files or nothing)."""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from handprop.data.batches import FILES
from handprop.errors import DataError

BATCH_DIR = "cifar-10-batches-py"


def read_directory(folder: Path, remedy: str) -> dict[str, bytes]:
    """The bytes of every file in :data:`FILES` inside ``folder``."""
    blobs = {}
    for name in FILES:
        try:
            blobs[name] = (folder / name).read_bytes()
        except OSError as err:
            raise DataError(f"{folder / name}: cannot read ({err.strerror}). {remedy}") from None
    return blobs


def read_archive(archive: Path, remedy: str) -> dict[str, bytes]:
    """The bytes of the files of :data:`FILES` under ``cifar-10-batches-py/`` in ``archive``.

    The archive is read in one pass without extracting anything.
    """
    wanted = {f"{BATCH_DIR}/{name}": name for name in FILES}
    blobs: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name.removeprefix("./"))
                if name is not None and member.isfile():
                    stream = tar.extractfile(member)
                    assert stream is not None  # a regular file always has a stream
                    blobs[name] = stream.read()
                    if len(blobs) == len(wanted):
                        break
    except (OSError, EOFError, tarfile.TarError, zlib.error) as err:
        raise DataError(f"{archive}: truncated or corrupt archive ({err}). {remedy}") from None
    missing = [f"{BATCH_DIR}/{name}" for name in FILES if name not in blobs]
    if missing:
        raise DataError(f"{archive}: archive lacks {', '.join(missing)}. {remedy}")
    return blobs


def write_directory(blobs: Mapping[str, bytes], target: Path) -> None:
    """Write ``blobs`` as files of the new folder ``target``, atomically.

    Files go to a temporary sibling folder that is renamed to ``target`` once
    complete, so an interrupted write leaves no partial ``target``. If another
    process created ``target`` first, its folder is kept.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, blob in blobs.items():
            (tmp / name).write_bytes(blob)
        os.replace(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
