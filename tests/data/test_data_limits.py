"""Every read is capped at the size the format allows: symlinks to devices, sparse giants,
FIFOs and decompression bombs end in a one-line DataError, never in MemoryError or a hang."""

from __future__ import annotations

import os
import re
import tarfile

import pytest
from data_fakes import bomb_archive, load_limited, make_archive, write_folder

from handprop.data import DataError, load_cifar10

GIB3 = 3 * 2**30


def assert_one_line(run, pattern: str) -> None:
    assert run.returncode == 2, run.stderr[-2000:]
    assert run.stderr == ""
    assert re.fullmatch(pattern + r"\n", run.stdout), run.stdout


def test_batch_symlinked_to_dev_zero(files, tmp_path):
    folder = write_folder(files, tmp_path / "cifar-10-batches-py")
    (folder / "data_batch_1").unlink()
    (folder / "data_batch_1").symlink_to("/dev/zero")
    run = load_limited(folder)
    assert_one_line(run, re.escape(f"{folder}/data_batch_1: not a regular file. Pass ") + ".*")


def test_sparse_giant_batch_is_not_read(files, tmp_path):
    folder = write_folder(files, tmp_path / "cifar-10-batches-py")
    os.truncate(folder / "test_batch", GIB3)  # 3 GB, no disk blocks
    run = load_limited(folder)
    pattern = re.escape(f"{folder}/test_batch: larger than the 40 MiB a CIFAR-10 file can hold.")
    assert_one_line(run, pattern + " Pass .*")


def test_fifo_batch_does_not_block(files, tmp_path):
    folder = write_folder(files, tmp_path / "cifar-10-batches-py")
    (folder / "data_batch_2").unlink()
    os.mkfifo(folder / "data_batch_2")
    run = load_limited(folder, timeout=60)
    assert_one_line(run, re.escape(f"{folder}/data_batch_2: not a regular file.") + " Pass .*")


def test_oversized_meta_in_folder(files, tmp_path):
    folder = write_folder(files | {"batches.meta": bytes(2**20)}, tmp_path / "cifar-10-batches-py")
    message = re.escape(f"{folder}/batches.meta: larger than the 16384 bytes") + " a CIFAR-10 file"
    with pytest.raises(DataError, match="^" + message):
        load_cifar10(folder, progress=False)


def test_archive_with_a_3_gb_batch(files, tmp_path):
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(bomb_archive(files, "data_batch_1", GIB3))
    assert path.stat().st_size < 4 * 2**20
    run = load_limited(path)
    pattern = re.escape(
        f"{path}: cifar-10-batches-py/data_batch_1 declares {GIB3} bytes, "
        "more than the 40 MiB a CIFAR-10 file can hold. Pass "
    )
    assert_one_line(run, pattern + ".*")


@pytest.mark.parametrize("kind", [tarfile.REGTYPE, tarfile.GNUTYPE_LONGNAME])
def test_archive_with_a_3_gb_other_member(files, tmp_path, kind):
    path = tmp_path / "bomb.tar.gz"
    path.write_bytes(bomb_archive(files, "readme.html", GIB3, kind))
    run = load_limited(path)
    pattern = re.escape(f"{path}: decompresses to more than the 256 MiB a CIFAR-10 archive can")
    assert_one_line(run, pattern + " hold. Pass .*")


def test_archive_with_too_many_members(files, tmp_path):
    path = tmp_path / "many.tar.gz"
    path.write_bytes(make_archive({f"extra{i}": b"x" for i in range(100)} | files))
    with pytest.raises(DataError, match=r": more than 100 members, not a CIFAR-10 archive\. Pass"):
        load_cifar10(path, progress=False)
