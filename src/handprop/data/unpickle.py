"""A restricted unpickler for the CIFAR-10 python batch format.

The batches are protocol-2 pickles written by Python 2: dicts with byte-string
keys whose ``data`` entry is a numpy array. Only the numpy globals needed to
rebuild such an array are allowed (plus ``_codecs.encode``, which Python 3
protocol-2 pickles use for byte strings), so loading a file never runs other code.
"""

from __future__ import annotations

import codecs
import io
import pickle

import numpy as np

from handprop.errors import DataError

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}") from None


def restricted_loads(data: bytes, name: str, remedy: str) -> object:
    """Unpickle ``data`` (the bytes of file ``name``) allowing only numpy arrays.

    Raises :class:`DataError` naming the file and ``remedy`` when the bytes are
    truncated, corrupt, or refer to any other global.
    """
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:  # any failure of a corrupt pickle, not only UnpicklingError
        raise DataError(f"{name}: cannot read the batch file ({err}). {remedy}") from err
