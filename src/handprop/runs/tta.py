"""Test-time augmentation (``augment.tta``): a network's class probabilities averaged over
each image and its mirror image (``"flip"``), or of the image alone (``"none"``)."""

from __future__ import annotations

import numpy as np

from handprop.errors import ConfigError
from handprop.kernels.augment import hflip
from handprop.nn import layers as L
from handprop.nn.network import scores
from handprop.nn.params import Params
from handprop.train.config import TTAS


def tta_probabilities(params: Params, X: np.ndarray, tta: str = "none") -> np.ndarray:
    """Class probabilities (n, K) in float64 of the image rows ``X`` (n, 3072)."""
    if tta not in TTAS:
        raise ConfigError(f"augment.tta must be one of {', '.join(TTAS)}, got {tta!r}")
    probs = L.softmax(scores(params, X).astype(np.float64))
    if tta == "flip":
        mirrored = hflip(X, np.ones(len(X), dtype=np.bool_))
        probs += L.softmax(scores(params, mirrored).astype(np.float64))
        probs /= 2
    return probs


def tta_accuracy(params: Params, X: np.ndarray, y: np.ndarray, tta: str) -> float:
    """Fraction of rows ``X`` (n, 3072) whose most probable class under ``tta`` is ``y``."""
    return float(np.mean(tta_probabilities(params, X, tta).argmax(axis=1) == y))
