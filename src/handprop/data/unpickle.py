"""A restricted unpickler for the CIFAR-10 python batch format.

The batches are protocol-2 pickles written by Python 2: dicts with byte-string
keys whose ``data`` entry is a numpy array. Only the numpy globals needed to
rebuild such an array are allowed (plus ``_codecs.encode``, which Python 3
protocol-2 pickles use for byte strings), so loading a file never runs other code.
Both are narrowed to the calls such pickles make, so that no call can allocate more
than the file holds: ``_reconstruct`` only of an empty array (the pixels come from
its state), ``_codecs.encode`` only from text to latin-1 (chained codecs such as
``hex`` would double the size with each call). The pure-Python unpickler is used:
its memo is a dict, where the C unpickler's is an array sized by the largest index
a ``LONG_BINPUT`` names (5 bytes of a file could make it allocate gigabytes).
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


def _empty_array(subtype: object, shape: object, dtype: object) -> object:
    """``numpy``'s ``_reconstruct`` as pickled arrays call it: an empty ndarray to fill."""
    if subtype is not np.ndarray or shape != (0,):
        raise pickle.UnpicklingError(f"unexpected array reconstruction {shape!r}")
    return _reconstruct(subtype, shape, dtype)


def _latin1(text: object, encoding: object = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles call it for byte strings: text to latin-1."""
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1")):
        raise pickle.UnpicklingError(f"forbidden call _codecs.encode(..., {encoding!r})")
    return codecs.encode(text, "latin1")


ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
}


class _NumpyOnlyUnpickler(pickle._Unpickler):
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
