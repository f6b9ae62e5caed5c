"""Parameter files (``.npz`` of ``W1, b1, ...``; with batch norms also ``gamma<i>, beta<i>``
and the running averages ``mean<i>, var<i>, eps<i>`` of hidden layer ``i``): written
atomically, read without pickle and checked against the network they should hold before
any array is read. A file without batch-norm arrays holds a network without batch norms."""

from __future__ import annotations

import itertools
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from handprop.atomic import save_npz_atomic
from handprop.errors import DataError
from handprop.nn.params import Params

#: Input size and class count of CIFAR-10 networks.
D_IN = 3 * 32 * 32
N_CLASSES = 10
#: The arrays of a batch norm in a parameter file.
BN_ARRAYS = ("gamma", "beta", "mean", "var", "eps")


def save_params(params: Params, path: str | Path) -> None:
    """Write ``W1, b1, ...`` (:meth:`Params.arrays`) to an ``.npz`` file atomically."""
    arrays: dict[str, Any] = dict(params.arrays())
    save_npz_atomic(path, arrays)


def expected_shapes(sizes: Sequence[int], batchnorm: bool = False) -> dict[str, tuple[int, ...]]:
    """``{"W1": (d_in, m1), "b1": (m1,), ...}`` of a network with layer sizes ``sizes``
    (and its batch-norm arrays, in :meth:`Params.arrays` order, if ``batchnorm``)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(itertools.pairwise(sizes), start=1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (a, b), (b,)
        if batchnorm and i < len(sizes) - 1:
            for name in BN_ARRAYS:
                shapes[f"{name}{i}"] = () if name == "eps" else (b,)
    return shapes


def _names(shapes: dict[str, Any]) -> str:
    return ", ".join(shapes) or "none"


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
    exactly ``W1, b1, ..., Wk, bk`` of those shapes and dtype (plus the batch-norm arrays of
    every hidden layer if it holds ``gamma1``); each array header is
    checked before its data is read, so a small file claiming a huge array is refused.
    ``finite=True`` refuses NaN and infinite values. Any problem is a :class:`DataError`.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            members = {m.removesuffix(".npy"): m for m in zf.namelist()}
            bn = "gamma1" in members
            n = sum(1 for k in members if k[:1] == "W") + 1
            shapes: dict[str, tuple[int, ...] | None] = (
                dict(expected_shapes(sizes, bn))
                if sizes
                else dict.fromkeys(expected_shapes([0] * n, bn))
            )
            if set(members) != set(shapes) or n < 2:
                held = ", ".join(sorted(members)) or "nothing"
                raise ValueError(f"it holds {held}; expected {_names(shapes)}")
            arrays = {k: _read_member(zf, members[k], shapes[k], dtype) for k in shapes}
        params = Params.from_arrays(arrays)
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
