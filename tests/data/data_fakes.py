"""Synthetic CIFAR-10 files in the official layout, for the data-layer tests."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

import handprop

ROWS, FEATURES = 10000, 3072
SMALL_ROWS = 20  # the tests patch handprop.data.batches.ROWS_PER_BATCH to this
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CLASS_NAMES = tuple(f"class{k}" for k in range(10))
SRC = str(Path(handprop.__file__).parents[1])


def fake_pixels(k: int, rows: int = ROWS) -> np.ndarray:
    """Batch ``k``'s pixels: row i is constant ``(i + 7 k) % 256`` (compresses well)."""
    row_values = ((np.arange(rows) + 7 * k) % 256).astype(np.uint8)
    return np.repeat(row_values[:, None], FEATURES, axis=1)


def fake_labels(k: int, rows: int = ROWS) -> list[int]:
    return [int(v) for v in (np.arange(rows) + k) % 10]


class _Python2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes ``bytes`` as Python 2 strings (BINSTRING), as the official files do."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_str8(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_str8


def python2_pickle(obj: object) -> bytes:
    out = io.BytesIO()
    _Python2Pickler(out, protocol=2).dump(obj)
    return out.getvalue()


def batch_bytes(k: int, *, rows: int = ROWS, data: object = None, labels: object = None) -> bytes:
    """A protocol-2 pickle of batch ``k`` like the official ones (byte-string keys)."""
    record = {
        b"batch_label": f"batch {k}".encode(),
        b"labels": fake_labels(k, rows) if labels is None else labels,
        b"data": fake_pixels(k, rows) if data is None else data,
        b"filenames": [b"x.png"] * rows,
    }
    return python2_pickle(record)


def meta_bytes(names: object = CLASS_NAMES) -> bytes:
    names = [n.encode() for n in names] if isinstance(names, tuple) else names
    record = {b"num_cases_per_batch": ROWS, b"label_names": names, b"num_vis": FEATURES}
    return python2_pickle(record)


def fake_files(rows: int = ROWS) -> dict[str, bytes]:
    """File name -> bytes of the seven files (test_batch is batch 5)."""
    files = {name: batch_bytes(k, rows=rows) for k, name in enumerate(TRAIN_FILES)}
    files["test_batch"] = batch_bytes(5, rows=rows)
    files["batches.meta"] = meta_bytes()
    return files


def write_folder(files: dict[str, bytes], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (folder / name).write_bytes(blob)
    return folder


def make_archive(files: dict[str, bytes]) -> bytes:
    """A ``.tar.gz`` holding ``cifar-10-batches-py/<name>`` for every file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        for name, blob in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buffer.getvalue()


class RunsCommand:
    """Unpickling this with the plain unpickler would run ``touch marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


ZEROS_CHUNK = 16 * 2**20


def bomb_archive(files: dict[str, bytes], name: str, size: int, kind: bytes = tarfile.REGTYPE):
    """A small ``.tar.gz`` whose first member ``cifar-10-batches-py/<name>`` holds ``size``
    zero bytes (a multiple of 16 MiB), followed by ``files``.

    The zeros are copies of one gzip member of 16 MiB of zeros: a gzip file may hold
    several members, read as one stream.
    """
    assert size % ZEROS_CHUNK == 0
    info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
    info.size, info.type = size, kind
    zeros = gzip.compress(bytes(ZEROS_CHUNK), compresslevel=9, mtime=0)
    rest = io.BytesIO()
    with tarfile.open(fileobj=rest, mode="w:") as tar:
        for member, blob in files.items():
            header = tarfile.TarInfo(f"cifar-10-batches-py/{member}")
            header.size = len(blob)
            tar.addfile(header, io.BytesIO(blob))
    head = gzip.compress(info.tobuf(tarfile.GNU_FORMAT), mtime=0)
    return head + zeros * (size // ZEROS_CHUNK) + gzip.compress(rest.getvalue(), mtime=0)


LIMIT_MEMORY = """
import resource, sys
from handprop.data import DataError, load_cifar10
from handprop.data.unpickle import restricted_loads
with open("/proc/self/status") as f:
    vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
limit = vm + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
"""
LOAD_SCRIPT = """
try:
    load_cifar10(sys.argv[2], progress=False)
except DataError as err:
    print(err)
    sys.exit(2)
"""


def run_limited(
    script: str, *args: object, extra_memory: int = 2**30, timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run ``script`` in a new Python allowed ``extra_memory`` more bytes of address space
    than it has after importing handprop (a runaway allocation ends in ``MemoryError``);
    ``sys.argv[2:]`` are ``args``."""
    return subprocess.run(
        [sys.executable, "-c", LIMIT_MEMORY + script, str(extra_memory), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {"PYTHONPATH": SRC},
    )


def load_limited(source: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``load_cifar10(source)`` under :func:`run_limited`: exit code 2 and the message on
    stdout for a DataError."""
    return run_limited(LOAD_SCRIPT, source, timeout=timeout)
