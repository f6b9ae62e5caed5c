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


@pytest.fixture(autouse=True)
def cache_enabled(monkeypatch):
    """The cache is on (``handprop --no-cache`` sets the variable for the process)."""
    monkeypatch.delenv("HANDPROP_NO_CACHE", raising=False)


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


def test_a_touched_source_with_the_same_content_keeps_its_copy(folder, cache, caplog):
    load_cifar10(folder, progress=False)
    batch = folder / "data_batch_1"
    stat = batch.stat()
    os.utime(batch, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with caplog.at_level(logging.WARNING):
        assert_is_fake(load_cifar10(folder, progress=False))
    assert caplog.text == ""
    meta = json.loads((entry(cache, folder) / "meta.json").read_text())
    assert meta["key"] == decoded.source_key(classify(folder, ""))  # rehashed once only


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
        lambda d: (d / "meta.json").write_text("[" * 100_000 + "]" * 100_000),
    ],
    ids=[
        "labels",
        "images",
        "header",
        "truncated",
        "missing",
        "meta",
        "meta-empty",
        "meta-list",
        "meta-deep",
    ],
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


def test_a_source_rewritten_with_its_old_size_and_mtime_is_stale(folder, cache, caplog):
    first = load_cifar10(folder, progress=False)
    batch = folder / "data_batch_1"
    stat = batch.stat()
    blob = bytearray(batch.read_bytes())
    blob[len(blob) // 2] ^= 0x01  # one pixel
    batch.write_bytes(bytes(blob))
    os.utime(batch, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # touch -r
    with caplog.at_level(logging.WARNING):
        again = load_cifar10(folder, progress=False)
    assert "stale" in caplog.text
    assert not np.array_equal(again.train[0].data, first.train[0].data)


def test_a_new_inode_with_the_same_content_keeps_the_copy(folder, cache, caplog):
    load_cifar10(folder, progress=False)
    batch = folder / "data_batch_1"
    stat = batch.stat()
    copy = batch.with_name("copy")
    copy.write_bytes(batch.read_bytes())
    os.replace(copy, batch)
    os.utime(batch, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with caplog.at_level(logging.WARNING):
        assert_is_fake(load_cifar10(folder, progress=False))
    assert "stale" not in caplog.text  # the stored source SHA-256 still matches


def shifted_rows(rows: list[int]) -> list[int]:
    """The first batch one row longer, the test batch one shorter (the sum is kept)."""
    return [rows[0] + 1, *rows[1:-1], rows[-1] - 1]


@pytest.mark.parametrize(
    "edit",
    [
        lambda meta: meta.update(rows=shifted_rows(meta["rows"])),
        lambda meta: meta.update(class_names=list(reversed(meta["class_names"]))),
        lambda meta: meta.update(class_names=["cat"] * 10),
    ],
    ids=["rows", "class-names", "same-names"],
)
def test_an_edited_meta_json_is_corrupt(edit, folder, cache, caplog):
    load_cifar10(folder, progress=False)
    path = entry(cache, folder) / "meta.json"
    meta = json.loads(path.read_text())
    edit(meta)
    path.write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING):
        assert_is_fake(load_cifar10(folder, progress=False))
    assert "corrupt" in caplog.text


def test_first_load_in_a_process_checks_every_byte(folder, cache, monkeypatch, caplog):
    monkeypatch.setattr(decoded, "SPOT_BLOCKS", 2)
    monkeypatch.setattr(decoded, "SPOT_BYTES", 4096)
    load_cifar10(folder, progress=False)
    images = entry(cache, folder) / "images.npy"
    flip_byte(images, images.stat().st_size // 2)  # between the spot blocks
    monkeypatch.setattr(decoded, "_checked", set())  # a new process
    with caplog.at_level(logging.WARNING):
        assert_is_fake(load_cifar10(folder, progress=False))
    assert "corrupt" in caplog.text


def test_cache_verify_rebuilds_what_it_finds(folder, cache, monkeypatch, capsys):
    monkeypatch.delenv("HANDPROP_NO_CACHE", raising=False)
    monkeypatch.setenv("HANDPROP_DATA", str(folder))
    monkeypatch.setattr(decoded, "SPOT_BLOCKS", 2)
    monkeypatch.setattr(decoded, "SPOT_BYTES", 4096)
    load_cifar10(progress=False)
    images = entry(cache, folder) / "images.npy"
    flip_byte(images, images.stat().st_size // 2)
    capsys.readouterr()
    assert main(["cache", "verify"]) == 1
    assert "rebuilt" in capsys.readouterr().out
    assert main(["cache", "verify"]) == 0
    assert "ok" in capsys.readouterr().out
