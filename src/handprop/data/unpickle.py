"""A restricted unpickler for the CIFAR-10 python batch format.

The batches are protocol-2 pickles written by Python 2: dicts with byte-string
keys whose ``data`` entry is a numpy array. Only the numpy globals needed to
rebuild such an array are allowed (plus ``_codecs.encode``, which Python 3
protocol-2 pickles use for byte strings), so loading a file never runs other code.
Both are narrowed to the calls such pickles make, so that no call can allocate more
than the file holds: ``_reconstruct`` only of an empty array (the pixels come from
its state), ``_codecs.encode`` only from text to latin-1 (chained codecs such as
``hex`` would double the size with each call), ``dtype`` only of plain numbers and
only with the state such a dtype pickles (other flags would make numpy treat bytes
as object pointers), and ``ndarray`` cannot be called. The pure-Python unpickler is
used: its memo is a dict, where the C unpickler's is an array sized by the largest
index a ``LONG_BINPUT`` names (5 bytes of a file could make it allocate gigabytes).
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


_NDARRAY = object()  # stands for numpy.ndarray, which only _empty_array may use


def _empty_array(subtype: object, shape: object, dtype: object) -> object:
    """``numpy``'s ``_reconstruct`` as pickled arrays call it: an empty ndarray to fill."""
    if subtype is not _NDARRAY or shape != (0,):
        raise pickle.UnpicklingError(f"unexpected array reconstruction {shape!r}")
    return _reconstruct(np.ndarray, shape, dtype)


def _plain_dtype(spec: object, align: object = False, copy: object = False) -> np.dtype:
    """``numpy.dtype`` as pickles call it, for booleans, integers and floats only.

    The result is a new object, so its state (set next) cannot change numpy's own.
    """
    if isinstance(spec, bytes):
        spec = spec.decode("latin1")
    dtype = np.dtype(spec) if isinstance(spec, str) else None
    if dtype is None or dtype.kind not in "biuf" or dtype.shape:
        raise pickle.UnpicklingError(f"forbidden dtype {spec!r}")
    return np.dtype(dtype, copy=True)


def _latin1(text: object, encoding: object = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles call it for byte strings: text to latin-1."""
    if not (isinstance(text, str) and encoding in ("latin1", "latin-1")):
        raise pickle.UnpicklingError(f"forbidden call _codecs.encode(..., {encoding!r})")
    return codecs.encode(text, "latin1")


ALLOWED_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _plain_dtype,
    ("_codecs", "encode"): _latin1,
}


def _as_text(state: object) -> object:
    """``state`` with byte strings decoded (Python 2 pickles store str as bytes)."""
    if isinstance(state, tuple):
        return tuple(_as_text(item) for item in state)
    return state.decode("latin1") if isinstance(state, bytes) else state


class _NumpyOnlyUnpickler(pickle._Unpickler):
    # typeshed describes pickle._Unpickler as the C Unpickler: no stack, no load_build
    dispatch = pickle._Unpickler.dispatch.copy()

    def find_class(self, module: str, name: str) -> object:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"forbidden global {module}.{name}") from None

    def load_build(self) -> None:
        """BUILD, refusing a dtype state other than the one the dtype itself pickles."""
        state, inst = self.stack[-1], self.stack[-2]  # type: ignore[attr-defined]
        if isinstance(inst, np.dtype) and _as_text(state) != inst.__reduce__()[2]:
            raise pickle.UnpicklingError(f"unexpected state {state!r} for dtype {inst}")
        super().load_build()  # type: ignore[misc]

    dispatch[pickle.BUILD[0]] = load_build  # type: ignore[assignment]


def restricted_loads(data: bytes, name: str, remedy: str) -> object:
    """Unpickle ``data`` (the bytes of file ``name``) allowing only numpy arrays.

    Raises :class:`DataError` naming the file and ``remedy`` when the bytes are
    truncated, corrupt, or refer to any other global.
    """
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as err:  # any failure of a corrupt pickle, not only UnpicklingError
        raise DataError(f"{name}: cannot read the batch file ({err}). {remedy}") from err
