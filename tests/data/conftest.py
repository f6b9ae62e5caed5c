"""Fixtures for the data-layer tests: synthetic archives and a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from data_fakes import SMALL_ROWS, fake_files, make_archive

from handprop.data import batches


@pytest.fixture(scope="session")
def small_files() -> dict[str, bytes]:
    return fake_files(SMALL_ROWS)


@pytest.fixture
def files(small_files, monkeypatch) -> dict[str, bytes]:
    """The seven synthetic files (name -> bytes), with batches of SMALL_ROWS images.

    For the duration of the test the validator expects SMALL_ROWS rows per batch.
    """
    monkeypatch.setattr(batches, "ROWS_PER_BATCH", SMALL_ROWS)
    return small_files


@pytest.fixture
def archive_bytes(files) -> bytes:
    """A valid synthetic ``cifar-10-python.tar.gz`` (small batches)."""
    return make_archive(files)


@pytest.fixture
def archive(archive_bytes, tmp_path) -> Path:
    path = tmp_path / "src" / "cifar-10-python.tar.gz"
    path.parent.mkdir()
    path.write_bytes(archive_bytes)
    return path


@pytest.fixture(autouse=True)
def _own_cache_folder(tmp_path, monkeypatch) -> None:
    """Decoded copies of each test's synthetic files go to its own folder, never the shared
    cache (session fixtures on the real data, set up before this one, keep the shared one)."""
    monkeypatch.setenv("HANDPROP_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder named by ``HANDPROP_CACHE``; ``HANDPROP_DATA`` unset."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("HANDPROP_CACHE", str(folder))
    monkeypatch.delenv("HANDPROP_DATA", raising=False)
    return folder


class _Server:
    def __init__(self, root: Path, httpd: http.server.ThreadingHTTPServer, hits: list[str]):
        self.root, self.hits = root, hits
        self.base = f"http://127.0.0.1:{httpd.server_address[1]}"

    def publish(self, name: str, blob: bytes) -> tuple[str, str]:
        """Serve ``blob`` as ``name``; return its url and its ``md5:`` hash."""
        (self.root / name).write_bytes(blob)
        return f"{self.base}/{name}", "md5:" + hashlib.md5(blob).hexdigest()


@pytest.fixture
def server(tmp_path) -> Iterator[_Server]:
    """A static file server on 127.0.0.1 that records the paths it was asked for."""
    root = tmp_path / "www"
    root.mkdir()
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            super().do_GET()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield _Server(root, httpd, hits)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
