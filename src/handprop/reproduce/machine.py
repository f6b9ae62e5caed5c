"""Where results come from: the machine (CPU, cores, memory, libraries) and the data copy."""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path
from typing import Any

#: The shared CIFAR-10 copy (see its README): JPEG-decoded pixels in the official layout.
SHARED_COPY_SHA256 = "8521c93dbdc03755781521297ba359a5466284f7fa7d1d656ac7b05dc60f4da3"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
#: Pixel differences of the shared copy to the official pixels, from its README.
SHARED_COPY_MEAN_ABS_DIFF = 5.7
SHARED_COPY_PSNR_DB = 30


def _proc_field(path: str, key: str) -> str | None:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    return None


def blas_name() -> str:
    """The BLAS numpy was built against, e.g. ``"scipy-openblas 0.3.27"``."""
    import numpy as np

    try:
        config: Any = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    except (TypeError, KeyError):
        return "unknown"


def describe_machine() -> dict[str, Any]:
    """CPU model, core count, memory (GiB), OS and library versions."""
    import numba
    import numpy as np

    mem_kib = _proc_field("/proc/meminfo", "MemTotal")
    return {
        "cpu": _proc_field("/proc/cpuinfo", "model name") or platform.processor() or "unknown",
        "cores": os.cpu_count() or 1,
        "memory_gib": round(int(mem_kib.split()[0]) / 2**20, 1) if mem_kib else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "blas": blas_name(),
    }


def _digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def describe_data(source: str | None = None) -> dict[str, Any]:
    """Which CIFAR-10 copy ``source`` (default ``$HANDPROP_DATA``) is, by its checksums.

    ``kind`` is ``"shared"`` (the JPEG-decoded copy), ``"official"``, ``"other"`` (an
    unknown archive) or ``"folder"`` (an extracted folder, not checksummed).
    """
    from handprop.data.source import DATA_ENV

    source = source if source is not None else os.environ.get(DATA_ENV, "")
    path = Path(source) if source else None
    if path is None or not path.is_file():
        return {"kind": "folder", "name": path.name if path else "cache", "sha256": None}
    md5, sha = _digests(path)
    kind = "shared" if sha == SHARED_COPY_SHA256 else "official" if md5 == OFFICIAL_MD5 else "other"
    return {"kind": kind, "name": path.name, "sha256": sha, "md5": md5}
