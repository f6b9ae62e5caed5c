"""handprop: fully connected CIFAR-10 classifiers with hand-written, verified backpropagation."""

from handprop.data import (
    Dataset,
    Normalizer,
    Splits,
    load_cifar10,
    make_splits,
    normalize,
)
from handprop.errors import ConfigError, DataError
from handprop.nn import (
    Grads,
    Layer,
    Params,
    accuracy,
    cost,
    evaluate,
    gradients,
    init_params,
    predict,
)
from handprop.search import Dimension, Space, Stage, search
from handprop.train import (
    TrainConfig,
    TrainResult,
    initial_params,
    load_config,
    load_data,
    run_experiment,
    train,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "Dataset",
    "Dimension",
    "Grads",
    "Layer",
    "Normalizer",
    "Params",
    "Space",
    "Splits",
    "Stage",
    "TrainConfig",
    "TrainResult",
    "__version__",
    "accuracy",
    "cost",
    "evaluate",
    "gradients",
    "init_params",
    "initial_params",
    "load_cifar10",
    "load_config",
    "load_data",
    "make_splits",
    "normalize",
    "predict",
    "run_experiment",
    "search",
    "train",
]
