"""Normalisation kernels on uint8 pixels: bit for bit the NumPy reference and the float path."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from handprop.data import Dataset, Normalizer
from handprop.kernels import reference as ref
from handprop.kernels.normalize import column_stats_u8, normalize_u8, unadvised_empty

FEW = settings(max_examples=30, deadline=None)


@st.composite
def pixels(draw):
    """A uint8 (n, d) array (some columns constant), a float dtype and a chunk size."""
    shape = draw(hnp.array_shapes(min_dims=2, max_dims=2, max_side=40))
    data = draw(hnp.arrays(np.uint8, shape))
    if draw(st.booleans()):
        data[:, 0] = data[0, 0]
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return data, dtype(255), draw(st.integers(1, 50))


@FEW
@given(case=pixels())
def test_kernels_match_reference_bit_for_bit(case):
    data, scale, chunk = case
    mean, std = column_stats_u8(data, scale, chunk)
    ref_mean, ref_std = ref.column_stats_u8(data, scale, chunk)
    np.testing.assert_array_equal(mean, ref_mean)
    np.testing.assert_array_equal(std, ref_std)
    std[std == 0] = 1
    m, s = mean.astype(type(scale)), std.astype(type(scale))
    out = normalize_u8(data, scale, m, s)
    assert out.dtype == type(scale)
    np.testing.assert_array_equal(out, ref.normalize_u8(data, scale, m, s))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pixel_normaliser_equals_the_float_path(dtype):
    """``fit_pixels``/``apply_pixels`` give the ``fit_array``/``apply`` bits on data with
    many rows (several fit chunks) and every grey level."""
    rng = np.random.default_rng(3)
    data = rng.integers(0, 256, (5000, 16), dtype=np.uint8)
    data[:, 3] = 17
    X = data.astype(dtype)
    X /= 255
    floats = Normalizer.fit_array(X)
    pix = Normalizer.fit_pixels(data, dtype)
    np.testing.assert_array_equal(pix.mean, floats.mean)
    np.testing.assert_array_equal(pix.std, floats.std)
    expected = floats.apply(Dataset(X, np.zeros(len(X), int), ())).X
    np.testing.assert_array_equal(pix.apply_pixels(data), expected)
    assert np.isfinite(expected).all()


@pytest.mark.parametrize("shape", [(0, 7), (3, 4), (1000, 3072)])
def test_normalised_arrays_live_in_their_own_pages(shape):
    """Not NumPy's allocation (it advises huge pages): anonymous pages, writable, freeable."""
    out = unadvised_empty(shape, np.dtype(np.float32))
    assert out.shape == shape and out.dtype == np.float32 and out.flags.c_contiguous
    out[...] = 1.5
    assert out.sum() == 1.5 * out.size
    if out.size:
        base = out
        while isinstance(base, np.ndarray):
            base = base.base
        assert isinstance(base, memoryview) and isinstance(base.obj, mmap.mmap)
    out.flags.writeable = False
    data = np.arange(12, dtype=np.uint8).reshape(3, 4)
    one, zero = np.ones(4, np.float32), np.zeros(4, np.float32)
    normalised = normalize_u8(data, np.float32(255), zero, one)
    assert isinstance(normalised.base, np.ndarray) and normalised.flags.writeable


def _resident_pages(array: np.ndarray) -> tuple[int, int]:
    """(pages present in memory, pages) of ``array``'s buffer, from ``/proc/self/pagemap``."""
    page = mmap.PAGESIZE
    address = array.__array_interface__["data"][0]
    first, last = address // page, (address + array.nbytes - 1) // page
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(first * 8)
        entries = np.frombuffer(f.read((last - first + 1) * 8), np.uint64)
    return int(((entries >> np.uint64(63)) & np.uint64(1)).sum()), len(entries)


def _shared(array: np.ndarray) -> bool:
    """Whether the mapping holding ``array``'s buffer is shared (``/proc/self/maps``)."""
    address = array.__array_interface__["data"][0]
    maps = Path("/proc/self/maps").read_text(encoding="ascii", errors="replace")
    for line in maps.splitlines():
        span, perms = line.split()[:2]
        lo, hi = (int(a, 16) for a in span.split("-"))
        if lo <= address < hi:
            return perms[3] == "s"
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(not hasattr(mmap, "MAP_POPULATE"), reason="Linux only")
def test_normalised_arrays_are_private_pages_populated_up_front():
    """Private (not shared-memory) pages, all resident before the first write: normalising
    the training images then costs no page fault per 4 KiB page."""
    out = unadvised_empty((64, 3072), np.dtype(np.float32))
    assert not _shared(out)
    present, pages = _resident_pages(out)
    assert present == pages == 64 * 3072 * 4 // mmap.PAGESIZE
