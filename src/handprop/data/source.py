"""Where the CIFAR-10 files come from, and the download into the per-user cache.

Resolution order: the explicit ``source`` argument (the command line's ``--data``),
then ``HANDPROP_DATA``, then the source recorded by ``handprop data use`` in the
per-user config file (:func:`record_file`: ``$XDG_CONFIG_HOME/handprop/data.json``,
default ``~/.config/handprop/data.json``) -- each a folder containing
``cifar-10-batches-py/``, that folder itself, or the ``.tar.gz`` archive -- then the
extracted copy in the cache folder (``cache_dir`` argument, else ``HANDPROP_CACHE``,
else the per-user cache), else a download of the official archive into the cache.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import IO, Literal

import attrs

from handprop.atomic import read_json_object, write_json_atomic
from handprop.data.files import ARCHIVE_BYTES, BATCH_DIR, mib, remove_stale, temp_path
from handprop.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
KNOWN_HASH = "md5:c58f30108f718f92721af3b95e74349a"
ARCHIVE_NAME = "cifar-10-python.tar.gz"
DATA_ENV = "HANDPROP_DATA"
CACHE_ENV = "HANDPROP_CACHE"
SOURCE_FORMS = f"a folder containing {BATCH_DIR}/, the {BATCH_DIR} folder itself, or {ARCHIVE_NAME}"
REDOWNLOAD = f"to download the official archive (no --data, {DATA_ENV} unset, no source recorded)"
GIVE_DATA = (
    f"pass --data PATH, set {DATA_ENV}=PATH or record it once with `handprop data use PATH` "
    f"(PATH: {SOURCE_FORMS})"
)
RECORD_NAME = "data.json"
DOWNLOAD_BYTES = ARCHIVE_BYTES
"""Largest download accepted: the archive compresses, so it is smaller than its contents."""


@attrs.frozen
class Source:
    """A resolved location: a batch folder or an archive, with the fix to suggest on errors."""

    path: Path
    kind: Literal["directory", "archive"]
    remedy: str
    origin: str = "given as the source argument"
    """Why this source is used: where it was given (for ``handprop data show``)."""


def cache_folder(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``cache_dir``, else ``$HANDPROP_CACHE``, else the per-user cache."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import pooch  # imported on first use: it pulls in requests

    return Path(pooch.os_cache("handprop"))


def classify(path: Path, remedy: str, origin: str = "given as the source argument") -> Source:
    """Interpret a user-given ``path`` as one of the accepted source forms."""
    if path.is_file():
        return Source(path, "archive", remedy, origin)
    if (path / BATCH_DIR).is_dir():
        return Source(path / BATCH_DIR, "directory", remedy, origin)
    if path.is_dir():
        return Source(path, "directory", remedy, origin)
    if path.exists():
        raise DataError(f"{path}: neither a regular file nor a folder. {remedy}")
    raise DataError(f"{path}: no such file or folder. {remedy}")


def config_folder() -> Path:
    """The per-user config folder: ``$XDG_CONFIG_HOME/handprop``, else ``~/.config/handprop``."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "handprop"


def record_file() -> Path:
    """The file ``handprop data use`` records the data source in."""
    return config_folder() / RECORD_NAME


def recorded() -> Source | None:
    """The source recorded by ``handprop data use``, or ``None`` when there is none."""
    path = record_file()
    if not path.is_file():
        return None
    fix = f"record the copy again with `handprop data use PATH`, or delete {path}"
    value = read_json_object(path, "data source record").get("source")
    if not isinstance(value, str) or not value:
        raise DataError(f"data source record {path} names no source; {fix}.")
    return classify(
        Path(value),
        f"It was recorded in {path}: {fix}.",
        f"recorded in {path} by `handprop data use`",
    )


def record(found: Source) -> Path:
    """Record ``found`` (an absolute path) as the data source; the record file's path."""
    target = record_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(target, {"source": str(found.path.resolve())})
    except OSError as err:
        raise DataError(
            f"{target}: cannot record the data source ({err.strerror or err}). "
            "Make the folder writable or set XDG_CONFIG_HOME elsewhere."
        ) from None
    return target


def given(source: str | os.PathLike[str] | None) -> Source | None:
    """The explicit ``source``, else ``HANDPROP_DATA``, else the recorded source, else ``None``."""
    if source is not None:
        return classify(Path(source), f"Pass {SOURCE_FORMS}, or remove the source {REDOWNLOAD}.")
    env = os.environ.get(DATA_ENV)
    if env:
        return classify(
            Path(env),
            f"Check {DATA_ENV}={env} (set by --data or the environment): it must name "
            f"{SOURCE_FORMS}; or drop --data and unset {DATA_ENV} to use the recorded source "
            "or the download.",
            f"named by {DATA_ENV} (set by --data or the environment)",
        )
    return recorded()


def cached(cache: Path) -> Source | None:
    """The extracted copy in ``cache``, or ``None`` when a download is needed."""
    if (cache / BATCH_DIR).is_dir():
        return Source(
            cache / BATCH_DIR,
            "directory",
            f"Delete {cache / BATCH_DIR} and load again to download a fresh copy.",
            f"downloaded into the cache {cache} earlier",
        )
    return None


@attrs.frozen
class DataSource:
    """Where a run's CIFAR-10 copy comes from: ``path`` (an archive or folder, absolute),
    else the cache of the process that loads it, or a download of ``url`` checked against
    ``known_hash``."""

    path: str | None = None
    url: str = URL
    known_hash: str = KNOWN_HASH

    @classmethod
    def resolve(cls, source: str | os.PathLike[str] | None = None) -> DataSource:
        """The source :func:`given` finds (``source``, ``HANDPROP_DATA``, the recorded one),
        made absolute; without one, the cache or the download (``path`` None)."""
        found = given(source)
        return cls(None if found is None else str(found.path.resolve()))


class _CappedWriter:
    """The download's file, refusing to grow past :data:`DOWNLOAD_BYTES`."""

    def __init__(self, file: IO[bytes], url: str):
        self.file, self.url, self.written = file, url, 0

    def write(self, chunk: bytes) -> int:
        self.written += len(chunk)
        if self.written > DOWNLOAD_BYTES:
            raise DataError(
                f"{self.url}: sends more than the {mib(DOWNLOAD_BYTES)} a CIFAR-10 archive "
                f"can hold. Check the url, or download {ARCHIVE_NAME} yourself and "
                f"{GIVE_DATA}."
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

    remedy = f"Load again to retry, or {GIVE_DATA}."
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
            raise DataError(
                f"no CIFAR-10 copy found and the download from {url} failed "
                f"({_reason(err)}); {GIVE_DATA}"
            ) from None
        raise


def _reason(err: OSError) -> str:
    """A network error in a few words: its message when short, else its type."""
    text = str(err)
    return text if 0 < len(text) <= 80 else type(err).__name__
