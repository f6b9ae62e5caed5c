"""Training: schedules, the validated config, the data, the functional loop, checkpoints.

The names below load on first use: importing the package imports none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handprop.lazy import lazy_getattr

if TYPE_CHECKING:
    from handprop.packaged import packaged_config_names, training_config_names
    from handprop.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
    from handprop.train.config import (
        TrainConfig,
        config_from_dict,
        config_to_dict,
        load_config,
        save_config,
    )
    from handprop.train.data import init_params, load_data
    from handprop.train.history import History, HistoryRow
    from handprop.train.loop import make_step, train
    from handprop.train.params_file import load_params, save_params
    from handprop.train.state import TrainResult, TrainState

_HOMES: dict[str, str] = {
    "packaged_config_names": "handprop.packaged",
    "training_config_names": "handprop.packaged",
    "Checkpoint": "handprop.train.checkpoint",
    "load_checkpoint": "handprop.train.checkpoint",
    "save_checkpoint": "handprop.train.checkpoint",
    "TrainConfig": "handprop.train.config",
    "config_from_dict": "handprop.train.config",
    "config_to_dict": "handprop.train.config",
    "load_config": "handprop.train.config",
    "save_config": "handprop.train.config",
    "init_params": "handprop.train.data",
    "load_data": "handprop.train.data",
    "History": "handprop.train.history",
    "HistoryRow": "handprop.train.history",
    "make_step": "handprop.train.loop",
    "train": "handprop.train.loop",
    "load_params": "handprop.train.params_file",
    "save_params": "handprop.train.params_file",
    "TrainResult": "handprop.train.state",
    "TrainState": "handprop.train.state",
}

__getattr__ = lazy_getattr(globals(), _HOMES)

__all__ = [
    "Checkpoint",
    "History",
    "HistoryRow",
    "TrainConfig",
    "TrainResult",
    "TrainState",
    "config_from_dict",
    "config_to_dict",
    "init_params",
    "load_checkpoint",
    "load_config",
    "load_data",
    "load_params",
    "make_step",
    "packaged_config_names",
    "save_checkpoint",
    "save_config",
    "save_params",
    "train",
    "training_config_names",
]
