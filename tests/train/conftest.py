"""Fixtures for the training tests: synthetic splits (see train_fakes)."""

from __future__ import annotations

import numpy as np
import pytest
from train_fakes import synthetic_splits

from handprop.data import Splits


@pytest.fixture(scope="session")
def splits32() -> Splits:
    return synthetic_splits()


@pytest.fixture(scope="session")
def splits64() -> Splits:
    return synthetic_splits(dtype=np.float64)


@pytest.fixture
def fake_data(monkeypatch, splits32):
    """``load_data`` returns the synthetic splits (the CLI loads data by config)."""
    from handprop.train import data as data_module

    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits32, None))
