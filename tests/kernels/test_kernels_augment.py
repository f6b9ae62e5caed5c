"""Flip / translate kernels: exact agreement with the NumPy reference, and their geometry."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handprop.errors import ConfigError
from handprop.kernels import reference as ref
from handprop.kernels.augment import (
    SIDE,
    Augmentation,
    draw_augmentation,
    gather_augment,
    hflip,
    translate,
)

DTYPES = (np.float32, np.float64)
FILLS = ("zero", "keep")
FEW = settings(max_examples=25, deadline=None)


def _images(n: int, dtype=np.float64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3 * SIDE * SIDE)).astype(dtype)


def _chw(X: np.ndarray) -> np.ndarray:
    return X.reshape(len(X), 3, SIDE, SIDE)


@st.composite
def batches(draw, max_n: int = 4, max_shift: int = SIDE + 1):
    """Small image batches with per-image flips and shifts, including out-of-frame ones."""
    n = draw(st.integers(1, max_n))
    shift = draw(
        st.lists(
            st.tuples(st.integers(-max_shift, max_shift), st.integers(-max_shift, max_shift)),
            min_size=n,
            max_size=n,
        )
    )
    flip = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    dtype = draw(st.sampled_from(DTYPES))
    X = _images(n, dtype, seed=draw(st.integers(0, 2**16)))
    return X, Augmentation(np.array(flip), np.array(shift))


# --- kernel == reference, exactly --------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fill", FILLS)
def test_gather_augment_matches_reference_on_100_images(dtype, fill):
    X_all = _images(300, dtype)
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(X_all))[:100]
    aug = draw_augmentation(rng, 100, flip_prob=0.5, max_shift=3, shift_prob=0.5)
    out = gather_augment(X_all, idx, aug, fill)
    assert out.dtype == dtype and out.shape == (100, 3072)
    np.testing.assert_array_equal(out, ref.gather_augment(X_all, idx, aug, fill))


@FEW
@given(batch=batches(), fill=st.sampled_from(FILLS))
def test_kernels_match_reference(batch, fill):
    X, aug = batch
    np.testing.assert_array_equal(hflip(X, aug.flip), ref.hflip(X, aug.flip))
    np.testing.assert_array_equal(translate(X, aug.shift, fill), ref.translate(X, aug.shift, fill))
    idx = np.arange(len(X))[::-1]
    np.testing.assert_array_equal(
        gather_augment(X, idx, aug, fill), ref.gather_augment(X, idx, aug, fill)
    )


@FEW
@given(batch=batches(), fill=st.sampled_from(FILLS), data=st.data())
def test_gather_augment_is_gather_then_flip_then_translate(batch, fill, data):
    X_all, aug = batch
    idx = np.array(
        data.draw(st.lists(st.integers(0, len(X_all) - 1), min_size=len(aug), max_size=len(aug)))
    )
    expected = translate(hflip(X_all[idx], aug.flip), aug.shift, fill)
    np.testing.assert_array_equal(gather_augment(X_all, idx, aug, fill), expected)


# --- geometry ----------------------------------------------------------------------------


@FEW
@given(batch=batches())
def test_flip_twice_is_identity(batch):
    X, aug = batch
    np.testing.assert_array_equal(hflip(hflip(X, aug.flip), aug.flip), X)


@FEW
@given(batch=batches(max_shift=SIDE - 1), fill=st.sampled_from(FILLS))
def test_translate_back_restores_interior(batch, fill):
    X, aug = batch
    back = translate(translate(X, aug.shift, fill), -aug.shift, fill)
    pos = np.arange(SIDE)
    for img, out, (dx, dy) in zip(_chw(X), _chw(back), aug.shift, strict=True):
        rows = (pos + dy >= 0) & (pos + dy < SIDE)
        cols = (pos + dx >= 0) & (pos + dx < SIDE)
        interior = np.ix_(range(3), rows.nonzero()[0], cols.nonzero()[0])
        np.testing.assert_array_equal(out[interior], img[interior])


def test_flip_mirrors_columns_only_where_asked():
    X = _images(2)
    out = hflip(X, np.array([True, False]))
    np.testing.assert_array_equal(_chw(out)[0], _chw(X)[0][:, :, ::-1])
    np.testing.assert_array_equal(out[1], X[1])


@pytest.mark.parametrize("fill", FILLS)
def test_translate_moves_content_right_and_down(fill):
    X = _images(1)
    dx, dy = 2, -3
    out = _chw(translate(X, np.array([[dx, dy]]), fill))[0]
    img = _chw(X)[0]
    np.testing.assert_array_equal(out[:, 0 : SIDE + dy, dx:], img[:, -dy:, : SIDE - dx])
    vacated = np.ones((SIDE, SIDE), bool)
    vacated[0 : SIDE + dy, dx:] = False
    expected = img[:, vacated] if fill == "keep" else 0
    np.testing.assert_array_equal(out[:, vacated], np.broadcast_to(expected, out[:, vacated].shape))


@pytest.mark.parametrize("fill", FILLS)
def test_keep_fill_of_a_flipped_image_keeps_the_flipped_pixels(fill):
    X = _images(1)
    aug = Augmentation(np.array([True]), np.array([[SIDE, 0]]))  # everything shifted out
    out = gather_augment(X, np.array([0]), aug, fill)
    expected = hflip(X, aug.flip) if fill == "keep" else np.zeros_like(X)
    np.testing.assert_array_equal(out, expected)


def test_zero_shift_and_no_flip_copy_the_rows():
    X = _images(3, np.float32)
    idx = np.array([2, 0, 2])
    out = gather_augment(X, idx, Augmentation(np.zeros(3, bool), np.zeros((3, 2), int)))
    np.testing.assert_array_equal(out, X[idx])


def test_out_buffer_is_filled_and_returned():
    X = _images(5, np.float32)
    aug = draw_augmentation(np.random.default_rng(0), 4, flip_prob=0.5, max_shift=2, shift_prob=1)
    buf = np.full((4, 3072), np.nan, np.float32)
    idx = np.array([4, 1, 1, 0])
    assert gather_augment(X, idx, aug, "keep", out=buf) is buf
    np.testing.assert_array_equal(buf, gather_augment(X, idx, aug, "keep"))


def test_readonly_input_is_accepted_and_not_modified():
    X = _images(3)
    X.flags.writeable = False
    before = X.copy()
    aug = Augmentation(np.ones(3, bool), np.ones((3, 2), int))
    gather_augment(X, np.arange(3), aug, "keep")
    np.testing.assert_array_equal(X, before)


# --- drawing the augmentation -------------------------------------------------------------


def test_draw_is_reproducible():
    def draw(seed):
        return draw_augmentation(
            np.random.default_rng(seed), 50, flip_prob=0.5, max_shift=3, shift_prob=0.5
        )

    a, b, c = draw(7), draw(7), draw(8)
    assert np.array_equal(a.flip, b.flip) and np.array_equal(a.shift, b.shift)
    assert not (np.array_equal(a.flip, c.flip) and np.array_equal(a.shift, c.shift))


@FEW
@given(
    seed=st.integers(0, 2**32 - 1),
    flip_prob=st.floats(0, 1),
    max_shift=st.integers(0, SIDE - 1),
    shift_prob=st.floats(0, 1),
)
def test_draw_respects_ranges(seed, flip_prob, max_shift, shift_prob):
    aug = draw_augmentation(
        np.random.default_rng(seed),
        64,
        flip_prob=flip_prob,
        max_shift=max_shift,
        shift_prob=shift_prob,
    )
    assert aug.flip.shape == (64,) and aug.shift.shape == (64, 2)
    assert np.all(np.abs(aug.shift) <= max_shift)
    if flip_prob == 0:
        assert not aug.flip.any()
    if flip_prob == 1:
        assert aug.flip.all()
    if shift_prob == 0:
        assert not aug.shift.any()


def test_draw_rates():
    aug = draw_augmentation(
        np.random.default_rng(0), 20_000, flip_prob=0.3, max_shift=3, shift_prob=0.6
    )
    assert abs(aug.flip.mean() - 0.3) < 0.02
    shifted = aug.shift.any(axis=1).mean()  # (0, 0) is drawn 1/49 of the time
    assert abs(shifted - 0.6 * 48 / 49) < 0.02
    assert set(np.unique(aug.shift)) == set(range(-3, 4))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"flip_prob": 1.5}, "flip_prob"),
        ({"flip_prob": -0.1}, "flip_prob"),
        ({"shift_prob": 2.0}, "shift_prob"),
        ({"max_shift": -1}, "max_shift"),
        ({"max_shift": SIDE}, "max_shift"),
    ],
)
def test_draw_rejects_bad_arguments(kwargs, field):
    args = {"flip_prob": 0.5, "max_shift": 3, "shift_prob": 0.5, **kwargs}
    with pytest.raises(ConfigError, match=field):
        draw_augmentation(np.random.default_rng(0), 10, **args)


# --- records and bad input ----------------------------------------------------------------


def test_augmentation_is_immutable():
    aug = Augmentation(np.zeros(2, bool), np.zeros((2, 2), int))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        aug.flip = np.ones(2, bool)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        aug.shift[0, 0] = 1


def test_augmentation_copies_its_inputs():
    flip = np.zeros(2, bool)
    aug = Augmentation(flip, np.zeros((2, 2), int))
    flip[0] = True
    assert not aug.flip.any()


@pytest.mark.parametrize(
    ("flip", "shift", "field"),
    [
        (np.zeros(2), np.zeros((2, 2), int), "flip"),
        (np.zeros(2, bool), np.zeros((2, 3), int), "shift"),
        (np.zeros(2, bool), np.zeros((2, 2)), "shift"),
        (np.zeros(3, bool), np.zeros((2, 2), int), "flip"),
    ],
)
def test_augmentation_rejects_bad_arrays(flip, shift, field):
    with pytest.raises(ConfigError, match=field):
        Augmentation(flip, shift)


def test_bad_calls_raise_clear_errors():
    X = _images(4)
    aug = Augmentation(np.zeros(2, bool), np.zeros((2, 2), int))
    with pytest.raises(ConfigError, match="fill"):
        gather_augment(X, np.arange(2), aug, "mirror")  # type: ignore[arg-type]
    with pytest.raises(IndexError, match="idx"):
        gather_augment(X, np.array([0, 4]), aug)
    with pytest.raises(IndexError, match="idx"):
        gather_augment(X, np.array([-1, 0]), aug)
    with pytest.raises(ValueError, match="augmentation of 2"):
        gather_augment(X, np.arange(3), aug)
    with pytest.raises(ValueError, match="3072"):
        hflip(X[:, :100], np.zeros(4, bool))
    with pytest.raises(ValueError, match="augmentation of 3"):
        hflip(X, np.zeros(3, bool))
    with pytest.raises(ValueError, match="out"):
        gather_augment(X, np.arange(2), aug, out=np.empty((2, 3072), np.float32))
