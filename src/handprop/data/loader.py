"""``load_cifar10``: find, download if needed, read and validate CIFAR-10."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import attrs

from handprop.data import cache as decoded
from handprop.data.batches import Cifar10, parse_cifar10
from handprop.data.files import BATCH_DIR, read_archive, read_directory, write_directory
from handprop.data.source import (
    CACHE_ENV,
    KNOWN_HASH,
    SOURCE_FORMS,
    URL,
    Source,
    cache_folder,
    cached,
    classify,
    download,
    given,
    record,
)
from handprop.errors import DataError


def load_cifar10(
    source: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    url: str = URL,
    known_hash: str = KNOWN_HASH,
    progress: bool = True,
    use_cache: bool | None = None,
) -> Cifar10:
    """Load all 60,000 CIFAR-10 images as raw uint8 batches with their class names.

    ``source`` is a folder containing ``cifar-10-batches-py/``, that folder, or
    ``cifar-10-python.tar.gz`` (read in place, nothing is extracted). Without it,
    ``HANDPROP_DATA`` is used, then the source recorded by ``handprop data use``
    (:func:`use_data`), then the extracted copy in the cache folder
    (``cache_dir``, else ``HANDPROP_CACHE``, else the per-user cache); when
    there is none, the archive at ``url`` is downloaded (progress bar if
    ``progress``), checked against ``known_hash`` and extracted into the cache.
    Every file is validated; any problem raises :class:`DataError` naming the
    file and the remedy.

    The validated arrays are kept in the decoded-data cache (``decoded/`` in the
    cache folder, see :mod:`handprop.data.cache`) and memory-mapped from there on
    the next load of the same, unchanged source. ``use_cache=False`` (default:
    on unless ``HANDPROP_NO_CACHE`` is set) neither reads nor writes it.
    """
    found = locate(source, cache_dir=cache_dir)
    if found is None:
        return _download_and_extract(cache_folder(cache_dir), url, known_hash, progress)
    if not decoded.enabled(use_cache):
        return _read(found)
    root = decoded.decoded_root(cache_folder(cache_dir))
    hit = decoded.load(root, found)
    if hit is not None:
        return hit
    cifar = _read(found)
    decoded.store(root, found, cifar)
    return cifar


def locate(
    source: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Source | None:
    """The source :func:`load_cifar10` reads (``None``: it downloads), its ``origin`` saying
    why: ``source``, else ``HANDPROP_DATA``, else the recorded source, else the cached download."""
    return given(source) or cached(cache_folder(cache_dir))


def use_data(source: str | os.PathLike[str]) -> tuple[Cifar10, Path]:
    """Validate ``source`` by loading it, then record it (absolute) as the default source of
    every later load, in the per-user config file; the data and the record file's path."""
    found = classify(Path(source).resolve(), f"Pass {SOURCE_FORMS}.")
    cifar = load_cifar10(found.path)
    return cifar, record(found)


def _read(found: Source) -> Cifar10:
    """Read and validate every file of ``found``."""
    if found.kind == "archive":
        blobs = read_archive(found.path, found.remedy)
    else:
        blobs = read_directory(found.path, found.remedy)
    return parse_cifar10(blobs, str(found.path), found.remedy)


def _download_and_extract(cache: Path, url: str, known_hash: str, progress: bool) -> Cifar10:
    """Download the archive, validate it, extract it atomically, then delete the archive
    and its download folder."""
    archive = download(cache, url, known_hash, progress)
    target = cache / BATCH_DIR
    remedy = f"The file at {url} passes its checksum but is not CIFAR-10: check the url."
    try:
        blobs = read_archive(archive, remedy)
        cifar = parse_cifar10(blobs, str(archive), remedy)
        write_directory(blobs, target)
    except OSError as err:
        raise DataError(
            f"{target}: cannot write the extracted files ({err}). "
            f"Make the cache folder writable or point {CACHE_ENV} elsewhere."
        ) from None
    finally:
        shutil.rmtree(archive.parent, ignore_errors=True)
    return attrs.evolve(cifar, origin=str(target))
