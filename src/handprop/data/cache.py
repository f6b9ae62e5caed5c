"""The decoded-data cache: CIFAR-10 as uint8 ``.npy`` files, written once, memory-mapped after.

One folder per source path under ``<cache folder>/decoded/``, holding ``images.npy``
(60,000 x 3072 uint8: the five training batches, then the test batch), ``labels.npy``
(60,000 int64) and ``meta.json``: the source's size, mtime, inode and ctime per file (the
key), its SHA-256, the class names and batch sizes with a SHA-256 of that record, and the
SHA-256 of both arrays. When the key changes, the source is hashed again: the same content
keeps the copy (under the new key), other content makes it stale. The first load of a copy
in a process checks the images' full SHA-256, later loads the shapes, the labels' SHA-256
and a spot SHA-256 of the images (64 blocks of 64 KiB spread over the file);
``handprop cache verify`` checks the full hashes and rebuilds a damaged copy. A stale or
corrupt copy is rebuilt with a one-line warning. The folder is written beside its target
and renamed into place.

Disable with ``load_cifar10(use_cache=False)``, ``HANDPROP_NO_CACHE=1`` or
``handprop --no-cache``; clear with ``handprop cache clear`` (or delete the folder).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from handprop.atomic import write_json_atomic
from handprop.data.batches import FILES, N_FEATURES, Batch, Cifar10
from handprop.data.source import Source

DECODED = "decoded"
NO_CACHE_ENV = "HANDPROP_NO_CACHE"
FORMAT = 1
ARRAYS = ("images", "labels")
SPOT_BLOCKS, SPOT_BYTES = 64, 1 << 16

log = logging.getLogger(__name__)


def enabled(use_cache: bool | None = None) -> bool:
    """``use_cache``, else whether ``HANDPROP_NO_CACHE`` is unset, empty or ``0``."""
    if use_cache is not None:
        return use_cache
    return os.environ.get(NO_CACHE_ENV, "") in ("", "0")


def decoded_root(cache: Path) -> Path:
    """Where the decoded copies live inside the cache folder ``cache``."""
    return cache / DECODED


def _files(source: Source) -> list[Path]:
    return [source.path] if source.kind == "archive" else [source.path / f for f in FILES]


def source_key(source: Source) -> dict[str, Any]:
    """What identifies the source's content cheaply: path, and each file's size, mtime,
    inode and ctime (a rewrite keeping size and mtime changes the ctime)."""
    stats = [(p.name, p.stat()) for p in _files(source)]
    return {
        "format": FORMAT,
        "path": str(source.path.resolve()),
        "files": [
            [name, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns] for name, st in stats
        ],
    }


def _record_sha256(meta: dict[str, Any]) -> str:
    """SHA-256 of what ``meta`` says about the arrays: origin, class names, batch rows."""
    record = {k: meta[k] for k in ("origin", "class_names", "rows")}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


#: Copies whose images were fully hashed in this process.
_checked: set[str] = set()


def entry(root: Path, source: Source) -> Path:
    """The cache folder of ``source`` under ``root``, named by a hash of its resolved path."""
    name = hashlib.sha256(str(source.path.resolve()).encode()).hexdigest()[:24]
    return root / name


def _sha256(arr: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(arr).data.cast("B")).hexdigest()


def _spot_sha256(arr: np.ndarray) -> str:
    """SHA-256 of :data:`SPOT_BLOCKS` evenly spaced blocks of ``arr``'s bytes (and the last)."""
    flat = arr.reshape(-1).view(np.uint8)
    starts = np.linspace(0, max(flat.size - SPOT_BYTES, 0), SPOT_BLOCKS).astype(np.int64)
    digest = hashlib.sha256()
    for start in starts:
        digest.update(flat[start : start + SPOT_BYTES].data)
    return digest.hexdigest()


def _source_sha256(source: Source) -> str:
    digest = hashlib.sha256()
    for path in _files(source):
        with path.open("rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
    return digest.hexdigest()


def load(root: Path, source: Source, *, full: bool = False) -> Cifar10 | None:
    """The cached decode of ``source`` (memory-mapped, read-only), or ``None`` when absent,
    stale or corrupt (the last two with a warning). ``full`` checks the images' whole hash
    instead of the spot hash."""
    folder = entry(root, source)
    try:
        key = source_key(source)
    except OSError:  # a missing source file: reading the source will say which
        return None
    if not folder.is_dir():
        return None
    try:
        meta = json.loads((folder / "meta.json").read_text())
        if meta.get("key") != key:
            if meta.get("source_sha256") != _source_sha256(source):
                log.warning(
                    "handprop: decoded cache %s is stale (source changed); rebuilding", folder
                )
                return None
            meta["key"] = key  # same content under a new key (a copy, a restore)
            write_json_atomic(folder / "meta.json", meta)
        if meta.get("record_sha256") != _record_sha256(meta):
            raise ValueError("meta.json does not match its checksum")
        full = full or str(folder) not in _checked
        arrays = {
            a: np.load(folder / f"{a}.npy", mmap_mode="r", allow_pickle=False).view(np.ndarray)
            for a in ARRAYS
        }
        images, labels = arrays["images"], arrays["labels"]
        checks = {
            "labels": _sha256(labels) == meta["sha256"]["labels"],
            "images": (_sha256(images) == meta["sha256"]["images"])
            if full
            else _spot_sha256(images) == meta["spot_sha256"],
        }
        bad = [a for a, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"checksum mismatch in {', '.join(bad)}")
        cifar = _assemble(images, labels, meta)
        _checked.add(str(folder))
        return cifar
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as err:
        log.warning("handprop: decoded cache %s is corrupt (%s); rebuilding", folder, err)
        return None


def _assemble(images: np.ndarray, labels: np.ndarray, meta: dict[str, Any]) -> Cifar10:
    """The batches of the cached arrays, after checking them against ``meta``."""
    sizes = meta["rows"]
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != N_FEATURES:
        raise ValueError(f"images are {images.dtype} {images.shape}, not uint8 (n, {N_FEATURES})")
    if labels.dtype != np.int64 or labels.shape != (len(images),):
        raise ValueError(f"labels are {labels.dtype} {labels.shape}, not int64 ({len(images)},)")
    names = meta["class_names"]
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"class names {names} are not distinct names")
    if sum(sizes) != len(images):
        raise ValueError(f"batch rows {sizes} do not add up to {len(images)} images")
    ends = np.cumsum(sizes)
    batches = [
        Batch(images[e - s : e], labels[e - s : e]) for s, e in zip(sizes, ends, strict=True)
    ]
    return Cifar10(
        train=tuple(batches[:-1]),
        test=batches[-1],
        class_names=tuple(meta["class_names"]),
        origin=meta["origin"],
    )


def store(root: Path, source: Source, cifar: Cifar10) -> None:
    """Write the decode of ``source`` atomically (a warning, not an error, if it fails)."""
    folder = entry(root, source)
    batches = (*cifar.train, cifar.test)
    images = np.concatenate([b.data for b in batches])
    labels = np.concatenate([b.labels for b in batches]).astype(np.int64)
    meta = {
        "key": source_key(source),
        "source_sha256": _source_sha256(source),
        "origin": cifar.origin,
        "class_names": list(cifar.class_names),
        "rows": [len(b.labels) for b in batches],
        "record_sha256": "",
        "sha256": {"images": _sha256(images), "labels": _sha256(labels)},
        "spot_sha256": _spot_sha256(images),
    }
    meta["record_sha256"] = _record_sha256(meta)
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
        try:
            for name, arr in (("images", images), ("labels", labels)):
                with (tmp / f"{name}.npy").open("wb") as f:
                    np.save(f, arr, allow_pickle=False)
                    f.flush()
                    os.fsync(f.fileno())
            with (tmp / "meta.json").open("w") as f:
                json.dump(meta, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            _replace(tmp, folder)
            _checked.add(str(folder))  # its images were hashed just now
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as err:
        log.warning("handprop: cannot write the decoded cache %s (%s); continuing", folder, err)


def _replace(tmp: Path, folder: Path) -> None:
    """Rename ``tmp`` to ``folder``, moving an old ``folder`` aside and deleting it first."""
    remove(folder)
    try:
        os.replace(tmp, folder)
    except OSError:
        if not folder.is_dir():  # another process finished first: keep its copy
            raise


def remove(folder: Path) -> None:
    """Delete one decoded copy (moved aside first, so a reader never sees half of it)."""
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
        try:
            os.replace(folder, old / folder.name)
        finally:
            shutil.rmtree(old, ignore_errors=True)


def clear(root: Path) -> int:
    """Delete every decoded copy under ``root``; return how many folders were removed."""
    if not root.is_dir():
        return 0
    folders = [p for p in root.iterdir() if p.is_dir()]
    for p in folders:
        shutil.rmtree(p, ignore_errors=True)
    return len(folders)
