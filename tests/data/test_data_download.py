"""The download path against a local HTTP server: checksum, progress, atomic extraction."""

from __future__ import annotations

import http.server
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from data_fakes import SMALL_ROWS, SRC, fake_pixels

from handprop.data import DataError, files, load_cifar10, source

BATCH_FILES = sorted([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"])
EXTRACTED = ["cifar-10-batches-py"] + [f"cifar-10-batches-py/{name}" for name in BATCH_FILES]


def contents(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_download_verifies_extracts_and_is_reused(server, archive_bytes, cache, capsys):
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    cifar = load_cifar10(url=url, known_hash=known_hash, progress=True)
    assert "100%" in capsys.readouterr().err  # the tqdm progress bar
    np.testing.assert_array_equal(cifar.train[2].data, fake_pixels(2, SMALL_ROWS))
    batch_dir = cache / "cifar-10-batches-py"
    assert cifar.origin == str(batch_dir)
    assert contents(cache) == EXTRACTED
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
    with pytest.raises(
        DataError, match=r"download from .* failed .*HANDPROP_DATA=PATH.*handprop data use"
    ):
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


LOAD_FROM_URL = """
import os, sys
from handprop.data import batches, load_cifar10
batches.ROWS_PER_BATCH = int(sys.argv[4])
if sys.argv[3] == "kill at rename":
    os.replace = lambda *args, **kwargs: os.kill(os.getpid(), 9)
load_cifar10(url=sys.argv[1], known_hash=sys.argv[2], progress=False)
"""


def start_loading(url: str, known_hash: str, cache: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", LOAD_FROM_URL, url, known_hash, mode, str(SMALL_ROWS)],
        env=os.environ | {"PYTHONPATH": SRC, "HANDPROP_CACHE": str(cache)},
    )


@pytest.fixture
def stalling_url() -> Iterator[str]:
    """A url that sends 1 MB of a 7 MB file, then nothing until the test ends."""
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(7 * 2**20))
            self.end_headers()
            self.wfile.write(bytes(2**20))
            self.wfile.flush()
            release.wait(60)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/cifar-10-python.tar.gz"
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def written_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_retry_after_a_download_killed_midway(server, archive_bytes, cache, stalling_url):
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    proc = start_loading(stalling_url, known_hash, cache, "download")
    deadline = time.monotonic() + 60
    while written_bytes(cache) < 2**20 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert written_bytes(cache) >= 2**20  # the partial download the kill left
    load_cifar10(url=url, known_hash=known_hash, progress=False)
    assert contents(cache) == EXTRACTED


def test_retry_after_a_kill_during_extraction(server, archive_bytes, cache):
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    proc = start_loading(url, known_hash, cache, "kill at rename")
    assert proc.wait(60) == -signal.SIGKILL
    assert any(name.startswith(".cifar-10-batches-py") for name in os.listdir(cache))
    load_cifar10(url=url, known_hash=known_hash, progress=False)
    assert contents(cache) == EXTRACTED


@pytest.mark.parametrize(
    ("umask", "folder_mode"), [(0o022, 0o755), (0o027, 0o750)], ids=["umask022", "umask027"]
)
def test_extracted_folder_has_normal_permissions(server, archive_bytes, cache, umask, folder_mode):
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    old = os.umask(umask)
    try:
        load_cifar10(url=url, known_hash=known_hash, progress=False)
    finally:
        os.umask(old)
    batch_dir = cache / "cifar-10-batches-py"
    assert stat.S_IMODE(batch_dir.stat().st_mode) == folder_mode
    for path in batch_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == folder_mode & 0o666


def test_stale_temporaries_of_running_processes_are_kept(cache):
    cache.mkdir()
    mine = cache / f".cifar-10-batches-py.{os.getpid()}.0123abcd"
    mine.mkdir()
    unrelated = cache / "tmp-not-ours"
    unrelated.write_bytes(b"x")
    files.remove_stale(cache / "cifar-10-batches-py")
    assert mine.is_dir() and unrelated.is_file()


def test_oversized_download_is_cut_off(server, archive_bytes, cache, monkeypatch):
    monkeypatch.setattr(source, "DOWNLOAD_BYTES", len(archive_bytes) - 1)
    url, known_hash = server.publish("cifar-10-python.tar.gz", archive_bytes)
    size = len(archive_bytes) - 1
    message = rf"^{re.escape(url)}: sends more than the {size} bytes a CIFAR-10 archive can hold"
    with pytest.raises(DataError, match=message):
        load_cifar10(url=url, known_hash=known_hash, progress=False)
    assert contents(cache) == []


def test_cache_that_is_a_file(cache):
    cache.write_bytes(b"not a folder")
    message = rf"^{re.escape(str(cache))}: cannot create a folder in the cache \(Not a directory\)"
    with pytest.raises(DataError, match=message + r"\. Make it writable or point HANDPROP_CACHE"):
        load_cifar10(url="http://127.0.0.1:9/cifar-10-python.tar.gz", progress=False)
