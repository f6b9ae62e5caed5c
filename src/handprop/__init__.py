"""handprop: fully connected CIFAR-10 classifiers with hand-written, verified backpropagation.

The names below load on first use, so ``python -m handprop`` starts (and takes Ctrl-C
as a message) before NumPy, Numba and Matplotlib are imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from handprop.lazy import lazy_getattr

if TYPE_CHECKING:
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
        AffineParams,
        Grads,
        Params,
        accuracy,
        cost,
        evaluate,
        gradients,
        predict,
    )
    from handprop.runs import run_experiment
    from handprop.search import Dimension, Space, Stage, search
    from handprop.train import (
        TrainConfig,
        TrainResult,
        init_params,
        load_config,
        load_data,
        train,
    )

_HOMES: dict[str, str] = {
    "Dataset": "handprop.data",
    "Normalizer": "handprop.data",
    "Splits": "handprop.data",
    "load_cifar10": "handprop.data",
    "make_splits": "handprop.data",
    "normalize": "handprop.data",
    "ConfigError": "handprop.errors",
    "DataError": "handprop.errors",
    "Grads": "handprop.nn",
    "AffineParams": "handprop.nn",
    "Params": "handprop.nn",
    "accuracy": "handprop.nn",
    "cost": "handprop.nn",
    "evaluate": "handprop.nn",
    "gradients": "handprop.nn",
    "predict": "handprop.nn",
    "Dimension": "handprop.search",
    "Space": "handprop.search",
    "Stage": "handprop.search",
    "search": "handprop.search",
    "run_experiment": "handprop.runs",
    "TrainConfig": "handprop.train",
    "TrainResult": "handprop.train",
    "init_params": "handprop.train",
    "load_config": "handprop.train",
    "load_data": "handprop.train",
    "train": "handprop.train",
}

__version__ = "0.1.0"

__all__ = [
    "AffineParams",
    "ConfigError",
    "DataError",
    "Dataset",
    "Dimension",
    "Grads",
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


__getattr__ = lazy_getattr(globals(), _HOMES)

# Importing a subpackage binds it in this namespace, over the function of the same name.
# The first import is the only one that binds, and ``handprop.train`` and ``handprop.search``
# import none of their modules, so importing them here and unbinding them leaves ``train``
# and ``search`` to ``__getattr__`` whatever is imported later.
importlib.import_module("handprop.search")
importlib.import_module("handprop.train")
del globals()["search"], globals()["train"]
