"""A flipped bit anywhere in the compressed archive is an error, not changed pixels:
the archive is read to its end, so gzip checks its CRC and length."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from data_fakes import FEATURES, SMALL_ROWS, batch_bytes, make_archive

from handprop.data import DataError, load_cifar10

GZIP_HEADER = 10  # magic, method, flags, mtime, extra flags, OS: not covered by the CRC


def flipped(blob: bytes, offset: int, bit: int = 0) -> bytes:
    return blob[:offset] + bytes([blob[offset] ^ (1 << bit)]) + blob[offset + 1 :]


def test_fake_archive_flips(files, tmp_path):
    """Random pixels, so that every flip changes the decompressed bytes (in the constant
    rows of the other fakes some flips only change a copy distance between equal bytes)."""
    rng = np.random.default_rng(0)
    noisy = {
        name: batch_bytes(
            k, rows=SMALL_ROWS, data=rng.integers(0, 256, (SMALL_ROWS, FEATURES), np.uint8)
        )
        for k, name in enumerate(("data_batch_1", "test_batch"))
    }
    archive_bytes = make_archive(files | noisy)
    size = len(archive_bytes)
    offsets = [GZIP_HEADER + (size - GZIP_HEADER - 8) * k // 16 for k in range(16)]
    offsets += range(size - 8, size)  # CRC-32 and length
    path = tmp_path / "cifar-10-python.tar.gz"
    for i, offset in enumerate(offsets):
        path.write_bytes(flipped(archive_bytes, offset, bit=i % 8))
        with pytest.raises(DataError, match=r"truncated or corrupt archive .*\. Pass a folder"):
            load_cifar10(path, progress=False)


def test_flip_after_the_last_wanted_member(files, tmp_path):
    """The reader needs nothing after test_batch, but a flip there is still an error."""
    blob = make_archive(files | {"readme.html": os.urandom(50_000)})
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(flipped(blob, len(blob) - 20_000, bit=3))
    with pytest.raises(DataError, match="CRC check failed"):
        load_cifar10(path, progress=False)


@pytest.mark.realdata
@pytest.mark.slow  # copies and decompresses the 170 MB archive
def test_real_archive_with_one_flipped_byte(tmp_path):
    real = os.environ.get("HANDPROP_DATA", "")
    if not Path(real).is_file():
        pytest.skip("HANDPROP_DATA does not name the real archive")
    path = tmp_path / "cifar-10-python.tar.gz"
    shutil.copyfile(real, path)
    with path.open("r+b") as f:
        f.seek(path.stat().st_size // 2)
        byte = f.read(1)[0]
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte ^ 0x10]))
    with pytest.raises(DataError, match=r"truncated or corrupt archive"):
        load_cifar10(path, progress=False)
