"""handprop: fully connected CIFAR-10 classifiers with hand-written, verified backpropagation."""

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
    "Grads",
    "Layer",
    "Params",
    "__version__",
    "accuracy",
    "cost",
    "evaluate",
    "gradients",
    "init_params",
    "predict",
]
