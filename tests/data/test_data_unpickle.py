"""The restricted unpickler: numpy arrays load, anything else is refused unexecuted."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from data_fakes import RunsCommand, run_limited

from handprop.data.unpickle import restricted_loads
from handprop.errors import DataError


@pytest.mark.parametrize("protocol", [2, 3, 4])
def test_numpy_arrays_and_byte_strings_load(protocol):
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = restricted_loads(pickle.dumps({b"data": arr}, protocol=protocol), "f", "fix")
    assert list(out) == [b"data"]
    np.testing.assert_array_equal(out[b"data"], arr)
    assert out[b"data"].dtype == np.uint8


@pytest.mark.parametrize("protocol", [2, 4])
def test_command_pickle_is_refused_without_running(tmp_path, protocol):
    marker = tmp_path / "ran"
    blob = pickle.dumps({b"data": RunsCommand(marker)}, protocol=protocol)
    with pytest.raises(DataError, match=r"^evil_batch: .*forbidden global (posix|os)\.system.*fix"):
        restricted_loads(blob, "evil_batch", "fix it")
    assert not marker.exists()


def test_builtins_are_refused():
    blob = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(DataError, match=r"forbidden global builtins\.eval"):
        restricted_loads(blob, "f", "fix")


@pytest.mark.parametrize("blob", [b"", b"not a pickle", pickle.dumps(list(range(100)))[:50]])
def test_truncated_or_garbage_bytes_raise_data_error(blob):
    with pytest.raises(DataError, match=r"^name: cannot read the batch file .*remedy$"):
        restricted_loads(blob, "name", "remedy")


def encode_call(inner: bytes, codec: bytes) -> bytes:
    """Pickle opcodes for ``_codecs.encode(<inner>, codec)``."""
    return (
        b"c_codecs\nencode\n" + inner + b"X" + len(codec).to_bytes(4, "little") + codec + b"\x86R"
    )


def test_chained_codecs_cannot_amplify():
    """32 nested hex encodings of 2 bytes would make 8 GiB from a pickle of 900 bytes."""
    expr = encode_call(b"X\x02\x00\x00\x00ab", b"latin1")
    for _ in range(32):
        expr = encode_call(expr, b"hex")
    blob = b"\x80\x02" + expr + b"."
    assert len(blob) < 1000
    with pytest.raises(DataError, match=r"^f: .*forbidden call _codecs\.encode\(\.\.\., 'hex'\)"):
        restricted_loads(blob, "f", "fix")


def test_array_reconstruction_must_start_empty():
    blob = (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        b"J\x00\xe1\xf5\x05\x85C\x01b\x87R."  # _reconstruct(ndarray, (10**8,), b"b")
    )
    with pytest.raises(DataError, match=r"unexpected array reconstruction \(100000000,\)"):
        restricted_loads(blob, "f", "fix")


def test_huge_memo_index_allocates_nothing(tmp_path):
    """The C unpickler sizes its memo array by the largest index: LONG_BINPUT 2**30
    would make it allocate 16 GiB."""
    blob = pickle.dumps({b"data": np.arange(3, dtype=np.uint8)}, protocol=2)
    assert blob.count(b"q\x00") == 1  # BINPUT 0, after the dict
    path = tmp_path / "blob"
    path.write_bytes(blob.replace(b"q\x00", b"r" + (2**30).to_bytes(4, "little"), 1))
    script = (
        "from pathlib import Path\nprint(restricted_loads(Path(sys.argv[2]).read_bytes(), 'f', ''))"
    )
    run = run_limited(script, path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout == "{b'data': array([0, 1, 2], dtype=uint8)}\n"


def array_pickle() -> bytes:
    return pickle.dumps({b"data": np.arange(3, dtype=np.uint8)}, protocol=2)


def test_dtype_with_other_flags_is_refused():
    """Flags such as 'holds object references' on a uint8 dtype make numpy treat the
    pixel bytes as pointers."""
    flags = b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"  # ..., -1, -1, flags=0)
    assert array_pickle().count(flags) == 1
    blob = array_pickle().replace(flags, flags[:-2] + b"\xf3t")
    with pytest.raises(DataError, match=r"unexpected state \(3, '\|', .*243\) for dtype uint8"):
        restricted_loads(blob, "f", "fix")
    assert np.dtype(np.uint8).flags == 0


@pytest.mark.parametrize(("spec", "found"), [(b"O", "'O'"), ("V8", "'V8'"), (1, "1")])
def test_dtypes_other_than_plain_numbers_are_refused(spec, found):
    spec_opcodes = pickle.dumps(spec, protocol=2)[2:-1]  # without PROTO and STOP
    blob = array_pickle().replace(b"X\x02\x00\x00\x00u1", spec_opcodes, 1)
    with pytest.raises(DataError, match=rf"forbidden dtype {re.escape(found)}"):
        restricted_loads(blob, "f", "fix")


def test_ndarray_cannot_be_called():
    blob = b"\x80\x02cnumpy\nndarray\nJ\x00\xe1\xf5\x05\x85R."  # ndarray((10**8,))
    with pytest.raises(DataError, match=r"^f: cannot read the batch file .*not callable"):
        restricted_loads(blob, "f", "fix")
