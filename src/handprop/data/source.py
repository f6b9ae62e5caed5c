"""Where the CIFAR-10 files come from, and the download into the per-user cache.

Resolution order: the explicit ``source`` argument, then ``HANDPROP_DATA``
(each a folder containing ``cifar-10-batches-py/``, that folder itself, or the
``.tar.gz`` archive), then the extracted copy in the cache folder
(``cache_dir`` argument, else ``HANDPROP_CACHE``, else the per-user cache),
else a download of the official archive into the cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Literal

import attrs

from handprop.data.files import ARCHIVE_BYTES, BATCH_DIR, mib, remove_stale, temp_path
from handprop.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
KNOWN_HASH = "md5:c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
DATA_ENV = "HANDPROP_DATA"
CACHE_ENV = "HANDPROP_CACHE"
SOURCE_FORMS = f"a folder containing {BATCH_DIR}/, the {BATCH_DIR} folder itself, or {ARCHIVE_NAME}"
REDOWNLOAD = f"to download the official archive (no --data, {DATA_ENV} unset)"
DOWNLOAD_BYTES = ARCHIVE_BYTES
"""Largest download accepted: the archive compresses, so it is smaller than its contents."""


@attrs.frozen
class Source:
    """A resolved location: a batch folder or an archive, with the fix to suggest on errors."""

    path: Path
    kind: Literal["directory", "archive"]
    remedy: str


def cache_folder(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$HANDPROP_CACHE``, else the per-user cache."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import pooch  # imported on first use: it pulls in requests

    return Path(pooch.os_cache("handprop"))


def classify(path: Path, remedy: str) -> Source:
    """Interpret a user-given ``path`` as one of the accepted source forms."""
    if path.is_file():
        return Source(path, "archive", remedy)
    if (path / BATCH_DIR).is_dir():
        return Source(path / BATCH_DIR, "directory", remedy)
    if path.is_dir():
        return Source(path, "directory", remedy)
    if path.exists():
        raise DataError(f"{path}: neither a regular file nor a folder. {remedy}")
    raise DataError(f"{path}: no such file or folder. {remedy}")


def given(source: str | os.PathLike[str] | None) -> Source | None:
    """The explicit ``source``, else ``HANDPROP_DATA``, else ``None``."""
    if source is not None:
        return classify(Path(source), f"Pass {SOURCE_FORMS}, or remove the source {REDOWNLOAD}.")
    env = os.environ.get(DATA_ENV)
    if env:
        return classify(
            Path(env),
            f"Check {DATA_ENV}={env} (set by --data or the environment): it must name "
            f"{SOURCE_FORMS}; or drop --data and unset {DATA_ENV} to download the official "
            "archive.",
        )
    return None


def cached(cache: Path) -> Source | None:
    """The extracted copy in ``cache``, or ``None`` when a download is needed."""
    if (cache / BATCH_DIR).is_dir():
        return Source(
            cache / BATCH_DIR,
            "directory",
            f"Delete {cache / BATCH_DIR} and load again to download a fresh copy.",
        )
    return None


class _CappedWriter:
    """The download's file, refusing to grow past :data:`DOWNLOAD_BYTES`."""

    def __init__(self, file: IO[bytes], url: str):
        self.file, self.url, self.written = file, url, 0

    def write(self, chunk: bytes) -> int:
        self.written += len(chunk)
        if self.written > DOWNLOAD_BYTES:
            raise DataError(
                f"{self.url}: sends more than the {mib(DOWNLOAD_BYTES)} a CIFAR-10 archive "
                f"can hold. Check the url, or download {ARCHIVE_NAME} yourself and set "
                f"{DATA_ENV} to it."
            )
        return self.file.write(chunk)

    def flush(self) -> None:
        self.file.flush()


def _capped_downloader(url: str, progress: bool) -> Callable[[str, str, object], None]:
    """pooch's downloader for ``url``, writing through :class:`_CappedWriter`."""
    import pooch

    inner = pooch.downloaders.choose_downloader(url, progressbar=progress)

    def fetch(url: str, output_file: str, pup: object) -> None:
        with open(output_file, "w+b") as f:
            inner(url, _CappedWriter(f, url), pup)

    return fetch


def download(cache: Path, url: str, known_hash: str, progress: bool) -> Path:
    """Download the archive into a new folder of ``cache``, verify its checksum; return its path.

    The folder (see :func:`handprop.data.files.temp_path`) is this process's own;
    the caller removes it. On a checksum mismatch, a network error or an oversized
    download nothing is left in ``cache``, and what a killed download left is removed here.
    """
    import pooch

    remedy = f"Load again to retry, or download {ARCHIVE_NAME} yourself and set {DATA_ENV} to it."
    remove_stale(cache / ARCHIVE_NAME)
    folder = temp_path(cache / ARCHIVE_NAME)  # pooch's partial download goes here too
    try:
        folder.mkdir(parents=True)
    except OSError as err:
        raise DataError(
            f"{cache}: cannot create a folder in the cache ({err.strerror}). "
            f"Make it writable or point {CACHE_ENV} elsewhere."
        ) from None
    try:
        fetch = _capped_downloader(url, progress)
        return Path(
            pooch.retrieve(url, known_hash, fname=ARCHIVE_NAME, path=folder, downloader=fetch)
        )
    except BaseException as err:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(err, ValueError):  # pooch's checksum mismatch
            raise DataError(
                f"{url}: downloaded file fails its checksum ({err}). {remedy}"
            ) from None
        if isinstance(err, OSError):  # requests' network and HTTP errors are OSErrors
            raise DataError(f"{url}: download failed ({err}). {remedy}") from None
        raise
