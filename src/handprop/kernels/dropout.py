"""Inverted-dropout masks: uniforms from a NumPy generator, thresholded by a Numba kernel."""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import DTypeLike

from handprop.errors import ConfigError

_FLOATS = {np.dtype(t): t for t in (np.float32, np.float64)}


def draw_uniforms(
    rng: np.random.Generator, shape: int | tuple[int, ...], rate: float, dtype: DTypeLike
) -> tuple[np.ndarray, np.floating, np.floating]:
    """Uniforms ``u`` on [0, 1) of ``shape`` in ``dtype``, with ``keep = 1 - rate`` and
    ``scale = 1 / keep`` as scalars of that dtype (so every comparison happens in it)."""
    if not 0.0 <= rate < 1.0:
        raise ConfigError(f"dropout rate must be in [0, 1), got {rate!r}")
    scalar = _FLOATS.get(np.dtype(dtype))
    if scalar is None:
        raise ConfigError(f"dropout dtype must be float32 or float64, got {np.dtype(dtype)}")
    keep = 1.0 - rate
    return rng.random(shape, dtype=scalar), scalar(keep), scalar(1.0 / keep)


@numba.njit(cache=True)
def _threshold(u: np.ndarray, keep: np.floating, scale: np.floating) -> None:
    """In place: ``u <- scale`` where ``u < keep``, else 0."""
    flat = u.reshape(-1)
    for k in range(flat.size):
        flat[k] = scale if flat[k] < keep else 0


def dropout_mask(
    rng: np.random.Generator,
    shape: int | tuple[int, ...],
    rate: float,
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """Multiplier for inverted dropout: each entry ``1 / (1 - rate)`` with probability
    ``1 - rate``, else 0. ``rate = 0`` gives all ones. Same generator state, same bits."""
    u, keep, scale = draw_uniforms(rng, shape, rate, dtype)
    _threshold(u, keep, scale)
    return u
