"""Centred finite differences shared by the layer and network tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

STEP = 1e-6


def centred_differences(f: Callable[[], float], x: np.ndarray, h: float = STEP) -> np.ndarray:
    """``d f / d x`` by ``(f(x + h e_i) - f(x - h e_i)) / 2h``.

    Perturbs ``x`` in place (``f`` reads it) and restores it.
    """
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        up = f()
        x[i] = old - h
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


@pytest.fixture(scope="session")
def numgrad() -> Callable[..., np.ndarray]:
    return centred_differences
