"""The decoded-data cache: written once, memory-mapped after, stale and corrupt copies rebuilt."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
from data_fakes import write_folder
from test_data_loader import assert_is_fake

from handprop.cli import main
from handprop.data import DataError, load_cifar10, loader
from handprop.data import cache as decoded
from handprop.data.dataset import stacked
from handprop.data.source import Source, classify


@pytest.fixture
def folder(files, tmp_path):
    return write_folder(files, tmp_path / "data" / "cifar-10-batches-py")


def entry(cache, source) -> os.PathLike:
    return decoded.entry(decoded.decoded_root(cache), classify(source, ""))


def no_reads(monkeypatch) -> None:
    def fail(*args):
        raise AssertionError("the source was read")

    monkeypatch.setattr(loader, "read_directory", fail)
    monkeypatch.setattr(loader, "read_archive", fail)


@pytest.mark.parametrize("form", ["folder", "archive"])
def test_second_load_maps_the_cache_without_reading_the_source(
    form, folder, archive, cache, monkeypatch
):
    source = folder if form == "folder" else archive
    first = load_cifar10(source, progress=False)
    meta = json.loads((entry(cache, source) / "meta.json").read_text())
    assert meta["origin"] == str(first.origin)
    assert len(meta["source_sha256"]) == 64
    no_reads(monkeypatch)
    again = load_cifar10(source, progress=False)
    assert_is_fake(again)
    assert again.origin == first.origin
    for b in (*again.train, again.test):
        assert not b.data.flags.writeable and not b.labels.flags.writeable
        assert isinstance(b.data.base, np.memmap) or isinstance(b.data.base.base, np.memmap)
    assert not [p for p in decoded.decoded_root(cache).iterdir() if p.name.startswith(".")]


def test_changed_source_is_stale_and_rebuilt(folder, cache, caplog):
    load_cifar10(folder, progress=False)
    batch = folder / "data_batch_1"
    stat = batch.stat()
    os.utime(batch, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with caplog.at_level(logging.WARNING):
        assert_is_fake(load_cifar10(folder, progress=False))
    assert "stale" in caplog.text
    caplog.clear()
    assert_is_fake(load_cifar10(folder, progress=False))
    assert caplog.text == ""


def flip_byte(path, offset: int) -> None:
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0xFF
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: flip_byte(d / "labels.npy", -3),
        lambda d: flip_byte(d / "images.npy", -1),  # the spot blocks include the last bytes
        lambda d: flip_byte(d / "images.npy", 20),  # the header
        lambda d: (d / "images.npy").write_bytes((d / "images.npy").read_bytes()[:-100]),
        lambda d: (d / "images.npy").unlink(),
        lambda d: (d / "meta.json").write_text("{not json"),
        lambda d: (d / "meta.json").write_text("{}"),
        lambda d: (d / "meta.json").write_text("[]"),
    ],
    ids=["labels", "images", "header", "truncated", "missing", "meta", "meta-empty", "meta-list"],
)
def test_corrupt_cache_is_rebuilt_with_a_notice(damage, folder, cache, caplog):
    load_cifar10(folder, progress=False)
    damage(entry(cache, folder))
    with caplog.at_level(logging.WARNING):
        assert_is_fake(load_cifar10(folder, progress=False))
    assert "decoded cache" in caplog.text
    assert len(caplog.records) == 1
    caplog.clear()
    assert_is_fake(load_cifar10(folder, progress=False))
    assert caplog.text == ""


def test_full_check_finds_damage_between_the_spot_blocks(folder, cache, monkeypatch):
    monkeypatch.setattr(decoded, "SPOT_BLOCKS", 2)
    monkeypatch.setattr(decoded, "SPOT_BYTES", 4096)
    load_cifar10(folder, progress=False)
    root, source = decoded.decoded_root(cache), classify(folder, "")
    images = decoded.entry(root, source) / "images.npy"
    flip_byte(images, images.stat().st_size // 2)  # between the first and the last block
    assert decoded.load(root, source) is not None
    assert decoded.load(root, source, full=True) is None


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_disabled_cache_writes_nothing(how, folder, cache, monkeypatch):
    if how == "environment":
        monkeypatch.setenv("HANDPROP_NO_CACHE", "1")
    assert_is_fake(load_cifar10(folder, progress=False, use_cache=False if how else None))
    assert not decoded.decoded_root(cache).exists()


def test_unwritable_cache_warns_and_loads(folder, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("HANDPROP_CACHE", str(blocker))
    with caplog.at_level(logging.WARNING):
        assert_is_fake(load_cifar10(folder, progress=False))
    assert "cannot write the decoded cache" in caplog.text


def test_store_replaces_an_old_copy_atomically(folder, cache):
    cifar = load_cifar10(folder, progress=False)
    root, source = decoded.decoded_root(cache), Source(folder, "directory", "")
    decoded.store(root, source, cifar)
    assert [p.name for p in root.iterdir()] == [decoded.entry(root, source).name]
    assert sorted(p.name for p in decoded.entry(root, source).iterdir()) == [
        "images.npy",
        "labels.npy",
        "meta.json",
    ]


def test_stacked_is_a_view_of_consecutive_blocks_else_a_copy():
    whole = np.arange(60).reshape(12, 5)
    parts = [whole[0:4], whole[4:8], whole[8:10]]
    view = stacked(parts)
    assert np.shares_memory(view, whole) and not view.flags.writeable
    np.testing.assert_array_equal(view, whole[:10])
    gap, swapped = [whole[0:4], whole[6:8]], [whole[4:8], whole[0:4]]
    for parts in (gap, swapped, [whole[:, :2], whole[:, 2:4]]):
        out = stacked(parts)
        assert not np.shares_memory(out, whole)
        np.testing.assert_array_equal(out, np.concatenate(parts))


def test_cli_no_cache_and_cache_command(folder, cache, monkeypatch, capsys):
    monkeypatch.delenv("HANDPROP_NO_CACHE", raising=False)
    monkeypatch.setenv("HANDPROP_DATA", str(folder))
    assert main(["cache", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(decoded.decoded_root(cache))
    assert main(["cache", "verify"]) == 1
    load_cifar10(progress=False)
    assert main(["cache", "verify"]) == 0
    assert main(["cache", "clear"]) == 0
    assert "removed 1 decoded" in capsys.readouterr().out
    assert not any(decoded.decoded_root(cache).iterdir())
    monkeypatch.setattr("sys.argv", ["handprop"])
    assert main(["--no-cache", "cache", "path"]) == 0
    assert os.environ["HANDPROP_NO_CACHE"] == "1"


def test_missing_source_file_is_a_data_error_not_a_cache_notice(folder, cache, caplog):
    load_cifar10(folder, progress=False)
    (folder / "data_batch_3").unlink()
    with caplog.at_level(logging.WARNING), pytest.raises(DataError, match="data_batch_3"):
        load_cifar10(folder, progress=False)
    assert caplog.text == ""
