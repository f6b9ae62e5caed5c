"""Reading the batch files from a folder or straight from the ``.tar.gz`` archive,
and writing an extracted folder atomically (all files or nothing).

Every read is capped at the size the format allows (:func:`handprop.data.batches.max_bytes`),
checked against the declared size before reading and enforced on the bytes read, and the
archive is always decompressed to its end so that gzip verifies its CRC and length.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import secrets
import shutil
import stat
import tarfile
import zlib
from collections.abc import Mapping
from pathlib import Path

from handprop.atomic import fsync_dir
from handprop.data.batches import BATCH_BYTES, FILES, max_bytes
from handprop.errors import DataError

BATCH_DIR = "cifar-10-batches-py"
ARCHIVE_BYTES = 6 * BATCH_BYTES + 16 * 2**20
"""Largest decompressed archive read: six batches, ``batches.meta`` and tar headers fit."""
MAX_MEMBERS = 100  # the official archive has 9 (folder, 7 files, readme.html)
CHUNK = 2**20


def mib(n: int) -> str:
    """``n`` bytes for a message: whole MiB from 1 MiB on."""
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def _read_file(path: Path, remedy: str) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes(path.name)`` bytes."""
    cap = max_bytes(path.name)
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # checked before open: a FIFO would block it
            raise DataError(f"{path}: not a regular file. {remedy}")
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            blob = b"" if size > cap else f.read(cap + 1)  # the file may grow meanwhile
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror}). {remedy}") from None
    if max(size, len(blob)) > cap:
        raise DataError(f"{path}: larger than the {mib(cap)} a CIFAR-10 file can hold. {remedy}")
    return blob


def read_directory(folder: Path, remedy: str) -> dict[str, bytes]:
    """The bytes of every file in :data:`FILES` inside ``folder``."""
    return {name: _read_file(folder / name, remedy) for name in FILES}


class _TooLarge(Exception):
    """The decompressed archive goes past :data:`ARCHIVE_BYTES`."""


class _Bounded:
    """The decompressed stream of a gzip file that refuses to go past ``limit`` bytes.

    tarfile asks for exact sizes (headers, long names, members), so an oversized
    request is refused before anything is decompressed.
    """

    def __init__(self, raw: gzip.GzipFile, limit: int):
        self.raw, self.limit = raw, limit

    def tell(self) -> int:
        return self.raw.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET or offset > self.limit:
            raise _TooLarge
        return self.raw.seek(offset)

    def read(self, size: int) -> bytes:
        if size < 0 or self.raw.tell() + size > self.limit:
            raise _TooLarge
        return self.raw.read(size)

    def drain(self) -> None:
        """Read to the end, so that gzip checks the CRC and length of every member."""
        while self.raw.read(min(CHUNK, self.limit - self.raw.tell() + 1)):
            if self.raw.tell() > self.limit:
                raise _TooLarge


def read_archive(archive: Path, remedy: str) -> dict[str, bytes]:
    """The bytes of the files of :data:`FILES` under ``cifar-10-batches-py/`` in ``archive``.

    The archive is read in one pass to its end without extracting anything.
    """
    wanted = {f"{BATCH_DIR}/{name}": name for name in FILES}
    blobs: dict[str, bytes] = {}
    try:
        with gzip.open(archive, "rb") as gz:
            stream = _Bounded(gz, ARCHIVE_BYTES)
            with tarfile.open(fileobj=stream, mode="r:") as tar:  # type: ignore[call-overload]
                for count, member in enumerate(tar, 1):
                    if count > MAX_MEMBERS:
                        raise DataError(
                            f"{archive}: more than {MAX_MEMBERS} members, "
                            f"not a CIFAR-10 archive. {remedy}"
                        )
                    name = wanted.get(member.name.removeprefix("./"))
                    if name is None or not member.isfile():
                        continue
                    if member.size > max_bytes(name):
                        raise DataError(
                            f"{archive}: {member.name} declares {member.size} bytes, more than "
                            f"the {mib(max_bytes(name))} a CIFAR-10 file can hold. {remedy}"
                        )
                    file = tar.extractfile(member)
                    assert file is not None  # a regular file always has a stream
                    blobs[name] = file.read()
            stream.drain()
    except _TooLarge:
        raise DataError(
            f"{archive}: decompresses to more than the {mib(ARCHIVE_BYTES)} "
            f"a CIFAR-10 archive can hold. {remedy}"
        ) from None
    except (OSError, EOFError, tarfile.TarError, zlib.error) as err:
        raise DataError(f"{archive}: truncated or corrupt archive ({err}). {remedy}") from None
    missing = [f"{BATCH_DIR}/{name}" for name in FILES if name not in blobs]
    if missing:
        raise DataError(f"{archive}: archive lacks {', '.join(missing)}. {remedy}")
    return blobs


def temp_path(target: Path) -> Path:
    """A new name for a temporary sibling of ``target``, tagged with this process's id."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale(target: Path) -> None:
    """Remove the temporary siblings of ``target`` (see :func:`temp_path`) whose process is gone.

    They are what a process killed while writing ``target`` leaves behind.
    """
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.[0-9a-f]+")
    try:
        names = os.listdir(target.parent)
    except OSError:  # no cache folder yet, or unreadable: the write reports it
        return
    for name in names:
        match = pattern.fullmatch(name)
        if match and not _running(int(match[1])):
            path = target.parent / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def _write_file(path: Path, blob: bytes) -> None:
    with path.open("xb") as f:
        f.write(blob)
        f.flush()
        os.fsync(f.fileno())


def write_directory(blobs: Mapping[str, bytes], target: Path) -> None:
    """Write ``blobs`` as files of the new folder ``target``, atomically.

    Files go to a temporary sibling folder (normal permissions under the umask)
    that is renamed to ``target`` once complete, so an interrupted write leaves
    no partial ``target``; what a killed process leaves is removed by the next
    call. If another process created ``target`` first, its folder is kept.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    tmp = temp_path(target)
    tmp.mkdir()
    try:
        for name, blob in blobs.items():
            _write_file(tmp / name, blob)
        fsync_dir(tmp)
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
