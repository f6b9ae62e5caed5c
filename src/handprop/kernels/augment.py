"""Image augmentation kernels: horizontal flip and translation of flat CHW rows.

Images are rows of ``X`` (n, 3072) holding ``(3, 32, 32)`` channel-major pixels. One
Numba kernel does gather + flip + translate in a single pass over memory; ``hflip`` and
``translate`` are that kernel with the other two parts switched off.

Translation by ``(dx, dy)`` moves the content ``dx`` pixels right and ``dy`` pixels down.
Pixels with nothing shifted into them are filled by ``fill``: ``"zero"`` (0, the mean
pixel after normalisation) or ``"keep"`` (the pixel the unshifted image has there, like
the first seed's code).
"""

from __future__ import annotations

from typing import Literal

import attrs
import numba
import numpy as np
from numpy.typing import NDArray

from handprop.errors import ConfigError

CHANNELS = 3
SIDE = 32
PLANE = SIDE * SIDE
D_IMAGE = CHANNELS * PLANE
FILLS: tuple[str, ...] = ("zero", "keep")
Fill = Literal["zero", "keep"]


def _read_only(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _flip_array(value: object) -> NDArray[np.bool_]:
    arr = np.array(value)
    if arr.ndim != 1 or arr.dtype != np.bool_:
        raise ConfigError(f"Augmentation.flip must be booleans (n,), got {arr.dtype} {arr.shape}")
    return _read_only(arr)


def _shift_array(value: object) -> NDArray[np.int64]:
    arr = np.array(value)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise ConfigError(
            f"Augmentation.shift must be integers (n, 2) of (dx, dy), got {arr.dtype} {arr.shape}"
        )
    return _read_only(arr.astype(np.int64, copy=False))


@attrs.frozen
class Augmentation:
    """Per-image augmentation of a batch: ``flip`` (n,) bool, ``shift`` (n, 2) int ``(dx, dy)``.

    Flip first, then translate: ``dx > 0`` moves content right, ``dy > 0`` down.
    """

    flip: NDArray[np.bool_] = attrs.field(converter=_flip_array)
    shift: NDArray[np.int64] = attrs.field(converter=_shift_array)

    def __attrs_post_init__(self) -> None:
        if len(self.flip) != len(self.shift):
            raise ConfigError(
                f"Augmentation.flip has {len(self.flip)} entries but shift has {len(self.shift)}"
            )

    def __len__(self) -> int:
        return len(self.flip)


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1], got {value!r}")


def draw_augmentation(
    rng: np.random.Generator, n: int, *, flip_prob: float, max_shift: int, shift_prob: float
) -> Augmentation:
    """Random augmentation of ``n`` images, drawn from ``rng`` (same state, same result).

    Each image is flipped with probability ``flip_prob`` and, independently, shifted with
    probability ``shift_prob`` by ``dx, dy`` uniform on ``[-max_shift, max_shift]``.
    """
    _check_probability("flip_prob", flip_prob)
    _check_probability("shift_prob", shift_prob)
    if not 0 <= max_shift < SIDE:
        raise ConfigError(f"max_shift must be in [0, {SIDE - 1}], got {max_shift!r}")
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n!r}")
    flip = rng.random(n) < flip_prob
    shift = rng.integers(-max_shift, max_shift + 1, size=(n, 2))
    shift[rng.random(n) >= shift_prob] = 0
    return Augmentation(flip, shift)


@numba.njit(cache=True)
def _augment(
    X: np.ndarray,
    idx: np.ndarray,
    flip: np.ndarray,
    shift: np.ndarray,
    keep: bool,
    out: np.ndarray,
) -> None:
    """``out[i] = translate(flip(X[idx[i]]))``, one image row (32 pixels) at a time.

    Each output row is first filled as vacated (the flipped image's own row, or 0), then
    columns ``[a, b)`` are overwritten with the shifted source row if there is one.
    Indices are nonnegative by construction; making them unsigned lets Numba skip the
    negative-index wraparound, which keeps the row loops vectorisable.
    """
    for i in range(idx.shape[0]):
        src = X[idx[i]]
        dst = out[i]
        f = flip[i]
        dx = shift[i, 0]
        dy = shift[i, 1]
        a = min(max(dx, 0), SIDE)
        b = max(min(SIDE + dx, SIDE), a)
        for r in range(CHANNELS * SIDE):
            row = r * SIDE
            has_source = 0 <= r % SIDE - dy < SIDE
            if has_source and b - a == SIDE:
                pass  # the whole row is overwritten below
            elif not keep:
                for x in range(SIDE):
                    dst[np.uintp(row + x)] = 0
            elif f:
                for x in range(SIDE):
                    dst[np.uintp(row + x)] = src[np.uintp(row + SIDE - 1 - x)]
            else:
                for x in range(SIDE):
                    dst[np.uintp(row + x)] = src[np.uintp(row + x)]
            if has_source:
                if f:
                    last = row - dy * SIDE + SIDE - 1 + dx
                    for x in range(a, b):
                        dst[np.uintp(row + x)] = src[np.uintp(last - x)]
                else:
                    first = row - dy * SIDE - dx
                    for x in range(a, b):
                        dst[np.uintp(row + x)] = src[np.uintp(first + x)]


def _check_images(X: np.ndarray, name: str = "X") -> None:
    if X.ndim != 2 or X.shape[1] != D_IMAGE:
        raise ValueError(f"{name} must be flat CHW images (n, {D_IMAGE}), got shape {X.shape}")


def _check_fill(fill: str) -> bool:
    """True for ``"keep"``; raises for anything but the two fills."""
    if fill not in FILLS:
        raise ConfigError(f"fill must be one of {FILLS}, got {fill!r}")
    return fill == "keep"


def _run(
    X: np.ndarray, idx: np.ndarray, aug: Augmentation, fill: str, out: np.ndarray | None
) -> np.ndarray:
    """Validate everything the unchecked kernel relies on, then run it."""
    keep = _check_fill(fill)
    _check_images(X)
    idx = np.asarray(idx)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"idx must be an integer vector, got {idx.dtype} {idx.shape}")
    n = len(idx)
    if n != len(aug):
        raise ValueError(f"{n} images but an augmentation of {len(aug)} images")
    if n and (idx.min() < 0 or idx.max() >= len(X)):
        raise IndexError(f"idx must lie in [0, {len(X)}), got [{idx.min()}, {idx.max()}]")
    if out is None:
        out = np.empty((n, D_IMAGE), dtype=X.dtype)
    elif out.shape != (n, D_IMAGE) or out.dtype != X.dtype or np.may_share_memory(out, X):
        raise ValueError(
            f"out must be a separate ({n}, {D_IMAGE}) {X.dtype} array, got {out.dtype} {out.shape}"
        )
    _augment(X, idx.astype(np.intp, copy=False), aug.flip, aug.shift, keep, out)
    return out


def hflip(X: np.ndarray, flip: np.ndarray) -> np.ndarray:
    """Mirror left-right the images ``X`` (n, 3072) where ``flip`` (n,) is True; new array."""
    aug = Augmentation(flip, np.zeros((len(flip), 2), np.int64))
    return _run(X, np.arange(len(X)), aug, "zero", None)


def translate(X: np.ndarray, shift: np.ndarray, fill: Fill = "zero") -> np.ndarray:
    """Shift the images ``X`` (n, 3072) by ``shift`` (n, 2) of ``(dx, dy)``; new array."""
    aug = Augmentation(np.zeros(len(shift), dtype=bool), shift)
    return _run(X, np.arange(len(X)), aug, fill, None)


def gather_augment(
    X_all: np.ndarray,
    idx: np.ndarray,
    aug: Augmentation,
    fill: Fill = "zero",
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``translate(hflip(X_all[idx], aug.flip), aug.shift, fill)`` in one pass.

    ``X_all`` (N, 3072), ``idx`` (n,) row numbers in ``[0, N)``, ``aug`` for n images;
    returns (n, 3072) in ``X_all``'s dtype, written into ``out`` if given.
    """
    return _run(X_all, idx, aug, fill, out)
