"""Sanity check: plain gradient descent overfits 100 images to 100 % training accuracy."""

from __future__ import annotations

import numpy as np

from handprop.nn import network as N
from handprop.train import config_from_dict, init_params


def _overfit_steps(X: np.ndarray, y: np.ndarray, eta: float, max_steps: int) -> int | None:
    """Full-batch gradient descent with lam = 0; the step at which accuracy reaches 1."""
    params = init_params(
        config_from_dict(dict(hidden=(50,), dtype=np.dtype(X.dtype).name)), X.shape[1], 10, seed=0
    )
    for t in range(max_steps):
        if N.accuracy(params, X, y) == 1.0:
            return t
        grads = N.gradients(params, X, y, 0.0)
        params = params.zip_map(grads, lambda w, g: w - eta * g)
    return None


def test_overfits_100_random_images():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3072)).astype(np.float32)
    y = rng.integers(0, 10, 100)
    assert _overfit_steps(X, y, eta=0.1, max_steps=300) is not None


def test_overfits_100_real_images(real_splits):
    train = real_splits.train
    assert _overfit_steps(train.X[:100], train.y[:100], eta=0.1, max_steps=500) is not None
