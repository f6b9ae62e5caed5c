"""load_cifar10 on synthetic files: every source form, the environment, the cache, bad files."""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from data_fakes import (
    CLASS_NAMES,
    SMALL_ROWS,
    RunsCommand,
    fake_labels,
    fake_pixels,
    make_archive,
    write_folder,
)

from handprop.data import DataError, load_cifar10

NOWHERE = "http://127.0.0.1:9/cifar-10-python.tar.gz"  # a download attempt would fail


def starts_with(path, pattern: str) -> str:
    """A regex: the message starts with ``path``, then ``pattern`` matches."""
    return "^" + re.escape(str(path)) + pattern


def assert_is_fake(cifar) -> None:
    assert cifar.class_names == CLASS_NAMES
    assert len(cifar.train) == 5
    for k, batch in enumerate((*cifar.train, cifar.test)):
        np.testing.assert_array_equal(batch.data, fake_pixels(k, SMALL_ROWS))
        np.testing.assert_array_equal(batch.labels, fake_labels(k, SMALL_ROWS))


def test_archive_is_read_in_place(archive, cache):
    cifar = load_cifar10(archive, progress=False)
    assert_is_fake(cifar)
    assert cifar.origin == str(archive)
    assert sorted(p.name for p in archive.parent.iterdir()) == [archive.name]
    assert not (cache / "cifar-10-batches-py").exists()  # nothing extracted


@pytest.mark.parametrize("form", ["parent", "batch_dir"])
def test_folder_forms(files, tmp_path, form):
    batch_dir = write_folder(files, tmp_path / "data" / "cifar-10-batches-py")
    cifar = load_cifar10(batch_dir.parent if form == "parent" else batch_dir, progress=False)
    assert_is_fake(cifar)
    assert cifar.origin == str(batch_dir)


@pytest.mark.parametrize("form", ["archive", "folder"])
def test_environment_variable(files, archive, cache, monkeypatch, form):
    source = archive if form == "archive" else write_folder(files, cache.parent / "unpacked")
    monkeypatch.setenv("HANDPROP_DATA", str(source))
    cifar = load_cifar10(url=NOWHERE, progress=False)
    assert cifar.origin == str(source)
    assert_is_fake(cifar)


def test_explicit_source_beats_environment(archive, monkeypatch):
    monkeypatch.setenv("HANDPROP_DATA", str(archive.parent / "missing"))
    assert load_cifar10(archive, progress=False).origin == str(archive)


EXPLICIT_REMEDY = (
    r"\. Pass a folder containing cifar-10-batches-py/, .*, or remove the source to download "
    r"the official archive \(no --data, HANDPROP_DATA unset, no source recorded\)\.$"
)


def env_remedy(value) -> str:
    return (
        r"\. Check HANDPROP_DATA="
        + re.escape(str(value))
        + r" \(set by --data or the environment\): it must name .*; or drop --data and unset "
        + r"HANDPROP_DATA to use the recorded source or the download\.$"
    )


def test_missing_paths_name_the_remedy(tmp_path, monkeypatch, cache):
    missing = tmp_path / "nope.tar.gz"
    with pytest.raises(
        DataError, match=starts_with(missing, r": no such file or folder" + EXPLICIT_REMEDY)
    ):
        load_cifar10(missing, progress=False)
    monkeypatch.setenv("HANDPROP_DATA", str(missing))
    with pytest.raises(DataError, match=starts_with(missing, ": no such file or folder")):
        load_cifar10(progress=False)
    with pytest.raises(DataError, match=env_remedy(missing)):
        load_cifar10(progress=False)


def test_corrupt_sources_say_how_to_download_again(tmp_path, monkeypatch, cache):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(b"not gzip" * 100)
    corrupt = r": truncated or corrupt archive \(.*\)"
    with pytest.raises(DataError, match=starts_with(path, corrupt + EXPLICIT_REMEDY)):
        load_cifar10(path, progress=False)
    monkeypatch.setenv("HANDPROP_DATA", str(path))
    with pytest.raises(DataError, match=starts_with(path, corrupt + env_remedy(path))):
        load_cifar10(progress=False)


def test_device_as_source(monkeypatch, cache):
    with pytest.raises(DataError, match=r"^/dev/zero: neither a regular file nor a folder\. Pass"):
        load_cifar10("/dev/zero", progress=False)


def test_extracted_cache_is_reused(files, cache):
    write_folder(files, cache / "cifar-10-batches-py")
    cifar = load_cifar10(url=NOWHERE, progress=False)
    assert cifar.origin == str(cache / "cifar-10-batches-py")
    assert_is_fake(cifar)


def test_cache_dir_argument_beats_environment(files, cache, tmp_path):
    other = tmp_path / "other"
    write_folder(files, other / "cifar-10-batches-py")
    cifar = load_cifar10(cache_dir=other, url=NOWHERE, progress=False)
    assert cifar.origin == str(other / "cifar-10-batches-py")


def test_corrupt_cached_file_says_delete_the_cache(files, cache):
    folder = write_folder(files, cache / "cifar-10-batches-py")
    (folder / "data_batch_3").write_bytes(files["data_batch_3"][:-100])
    message = starts_with(folder, r"/data_batch_3: .*Delete ") + re.escape(str(folder))
    with pytest.raises(DataError, match=message):
        load_cifar10(url=NOWHERE, progress=False)


def test_truncated_archive(archive_bytes, tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(archive_bytes[: len(archive_bytes) // 2])
    with pytest.raises(DataError, match=starts_with(path, r": truncated or corrupt archive")):
        load_cifar10(path, progress=False)


def test_real_archive_cut_at_3_mb(tmp_path):
    real = os.environ.get("HANDPROP_DATA", "")
    if not Path(real).is_file():
        pytest.skip("HANDPROP_DATA does not name the real archive")
    path = tmp_path / "cifar-10-python.tar.gz"
    with open(real, "rb") as f:
        path.write_bytes(f.read(3 * 2**20))
    message = starts_with(path, r": truncated or corrupt archive .*Pass a folder")
    with pytest.raises(DataError, match=message):
        load_cifar10(path, progress=False)


def test_archive_without_a_member(files, tmp_path):
    path = tmp_path / "a.tar.gz"
    path.write_bytes(make_archive({k: v for k, v in files.items() if k != "test_batch"}))
    with pytest.raises(DataError, match="archive lacks cifar-10-batches-py/test_batch"):
        load_cifar10(path, progress=False)


def test_not_an_archive(tmp_path):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(b"hello" * 1000)
    with pytest.raises(DataError, match="truncated or corrupt archive"):
        load_cifar10(path, progress=False)


def test_folder_with_a_short_batch(files, tmp_path):
    folder = write_folder(files, tmp_path / "cifar-10-batches-py")
    (folder / "test_batch").write_bytes(files["test_batch"][:-100])
    with pytest.raises(
        DataError, match=starts_with(folder, r"/test_batch: cannot read the batch file")
    ):
        load_cifar10(folder, progress=False)


def test_folder_missing_a_file(files, tmp_path):
    folder = write_folder(files, tmp_path / "cifar-10-batches-py")
    (folder / "batches.meta").unlink()
    with pytest.raises(DataError, match=starts_with(folder, r"/batches\.meta: cannot read")):
        load_cifar10(folder, progress=False)


def test_malicious_batch_in_archive_is_refused(files, tmp_path):
    marker = tmp_path / "ran"
    evil = pickle.dumps({b"data": RunsCommand(marker), b"labels": []}, protocol=2)
    path = tmp_path / "evil.tar.gz"
    path.write_bytes(make_archive(files | {"data_batch_3": evil}))
    with pytest.raises(DataError, match=starts_with(path, r"/data_batch_3: .*forbidden global")):
        load_cifar10(path, progress=False)
    assert not marker.exists()
