"""Training: schedules, the validated config, the functional loop, checkpoints, run folders."""

from handprop.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from handprop.train.config import (
    TrainConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    packaged_config_names,
    save_config,
    training_config_names,
)
from handprop.train.data import init_params, load_data
from handprop.train.history import History, HistoryRow
from handprop.train.loop import make_step, train
from handprop.train.params_file import load_params, save_params
from handprop.train.rundir import RunSummary, run_experiment
from handprop.train.state import TrainResult, TrainState

__all__ = [
    "Checkpoint",
    "History",
    "HistoryRow",
    "RunSummary",
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
    "run_experiment",
    "save_checkpoint",
    "save_config",
    "save_params",
    "train",
    "training_config_names",
]
