"""Parameter files (``.npz`` of ``W1, b1, ...``): written atomically, read without pickle
and checked against the network they should hold before any array is read."""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handprop.atomic import save_npz_atomic
from handprop.errors import DataError
from handprop.nn.params import Layer, Params

#: Input size and class count of CIFAR-10 networks.
D_IN = 3 * 32 * 32
N_CLASSES = 10


def save_params(params: Params, path: str | Path) -> None:
    """Write ``W1, b1, ...`` to an ``.npz`` file atomically."""
    arrays: dict[str, Any] = dict(params.arrays())
    save_npz_atomic(path, arrays)


def expected_shapes(sizes: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """``{"W1": (d_in, m1), "b1": (m1,), ...}`` of a network with layer sizes ``sizes``."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(itertools.pairwise(sizes), start=1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (a, b), (b,)
    return shapes


def _names(n: int) -> str:
    return ", ".join(f"W{i}, b{i}" for i in range(1, n + 1)) if n else "none"


def _read_member(zf: zipfile.ZipFile, member: str, shape: tuple[int, ...] | None, dtype: Any):
    with zf.open(member) as f:
        version = np.lib.format.read_magic(f)
        header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        found, _, found_dtype = header(f)
    name = member.removesuffix(".npy")
    if (found_dtype != np.dtype(dtype)) if dtype is not None else (found_dtype.kind != "f"):
        want = "a floating point dtype" if dtype is None else np.dtype(dtype).name
        raise ValueError(f"{name} has dtype {found_dtype}, expected {want}")
    if shape is not None and tuple(found) != shape:
        raise ValueError(f"{name} has shape {tuple(found)}, expected {shape}")
    with zf.open(member) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def load_params(
    path: str | Path,
    sizes: Sequence[int] | None = None,
    dtype: Any = None,
    *,
    finite: bool = True,
) -> Params:
    """Parameters from an ``.npz`` written by :func:`save_params`.

    With ``sizes`` (``(d_in, m1, ..., n_classes)``) and ``dtype``, the file must hold
    exactly ``W1, b1, ..., Wk, bk`` of those shapes and dtype; each array header is
    checked before its data is read, so a small file claiming a huge array is refused.
    ``finite=True`` refuses NaN and infinite values. Any problem is a :class:`DataError`.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            members = {m.removesuffix(".npy"): m for m in zf.namelist()}
            n = len(members) // 2 + 1
            shapes: dict[str, tuple[int, ...] | None] = (
                dict(expected_shapes(sizes)) if sizes else dict.fromkeys(expected_shapes([0] * n))
            )
            layers = len(shapes) // 2
            if set(members) != set(shapes) or not layers:
                held = ", ".join(sorted(members)) or "nothing"
                raise ValueError(f"it holds {held}; expected {_names(layers)}")
            arrays = {k: _read_member(zf, members[k], shapes[k], dtype) for k in shapes}
        params = Params(
            tuple(Layer(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(1, layers + 1))
        )
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read parameters from {path}: {err}") from None
    if finite:
        for name, array in params.arrays().items():
            if not np.isfinite(array).all():
                raise DataError(f"parameters in {path} are not finite ({name} holds NaN or inf)")
    return params


def load_arrays(path: str | Path, template: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` that must hold exactly the names, shapes and dtypes of
    ``template``, all finite; headers are checked before data is read. Any problem is a
    :class:`DataError`."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = {m.removesuffix(".npy"): m for m in zf.namelist()}
            if set(members) != set(template):
                held = ", ".join(sorted(members)) or "nothing"
                raise ValueError(f"it holds {held}; expected {', '.join(sorted(template))}")
            arrays = {
                k: _read_member(zf, members[k], t.shape, t.dtype) for k, t in template.items()
            }
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read arrays from {path}: {err}") from None
    for name, array in arrays.items():
        if not np.isfinite(array).all():
            raise DataError(f"arrays in {path} are not finite ({name} holds NaN or inf)")
    return arrays
