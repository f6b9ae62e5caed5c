"""The download path against a local HTTP server: checksum, progress, atomic extraction."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from data_fakes import SMALL_ROWS, fake_pixels

from handprop.data import DataError, files, load_cifar10

BATCH_FILES = sorted([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"])


def contents(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_download_verifies_extracts_and_is_reused(server, archive_bytes, cache, capsys):
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    cifar = load_cifar10(url=url, known_hash=known_hash, progress=True)
    assert "100%" in capsys.readouterr().err  # the tqdm progress bar
    np.testing.assert_array_equal(cifar.train[2].data, fake_pixels(2, SMALL_ROWS))
    batch_dir = cache / "cifar-10-batches-py"
    assert cifar.origin == str(batch_dir)
    assert contents(cache) == ["cifar-10-batches-py"] + [
        f"cifar-10-batches-py/{name}" for name in BATCH_FILES
    ]
    again = load_cifar10(url=url, known_hash=known_hash, progress=False)
    assert server.hits == ["/cifar-10-python.tar.gz"]
    np.testing.assert_array_equal(again.test.data, cifar.test.data)


@pytest.mark.parametrize("fault", ["wrong hash", "cut short"])
def test_checksum_mismatch_leaves_nothing(server, archive_bytes, cache, fault):
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    if fault == "wrong hash":
        known_hash = "md5:" + "0" * 32
    else:  # a partial download: the server sends only the first half
        server.publish("cifar-10-python.tar.gz", archive_bytes[: len(archive_bytes) // 2])
    with pytest.raises(DataError, match=rf"^{re.escape(url)}: downloaded file fails its checksum"):
        load_cifar10(url=url, known_hash=known_hash, progress=False)
    assert contents(cache) == []


def test_http_error_leaves_nothing(server, cache):
    with pytest.raises(DataError, match=r"download failed .*set HANDPROP_DATA"):
        load_cifar10(url=f"{server.base}/missing.tar.gz", progress=False)
    assert contents(cache) == []


def test_truncated_download_with_matching_hash_leaves_nothing(server, archive_bytes, cache):
    url, known_hash = server.publish("cut.tar.gz", archive_bytes[: len(archive_bytes) // 2])
    with pytest.raises(DataError, match="truncated or corrupt archive"):
        load_cifar10(url=url, known_hash=known_hash, progress=False)
    assert contents(cache) == []


def test_interrupted_extraction_leaves_nothing(server, archive_bytes, cache, monkeypatch):
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    written: list[Path] = []
    original = files._write_file

    def fail_on_third(path: Path, blob: bytes) -> None:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(path)
        original(path, blob)

    monkeypatch.setattr(files, "_write_file", fail_on_third)
    with pytest.raises(DataError, match=r"cannot write the extracted files .*HANDPROP_CACHE"):
        load_cifar10(url=url, known_hash=known_hash, progress=False)
    assert len(written) == 2
    assert contents(cache) == []
