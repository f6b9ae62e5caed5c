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

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "Dataset",
    "Grads",
    "Layer",
    "Normalizer",
    "Params",
    "Splits",
    "__version__",
    "accuracy",
    "cost",
    "evaluate",
    "gradients",
    "init_params",
    "load_cifar10",
    "make_splits",
    "normalize",
    "predict",
]
