"""CIFAR-10: loading and validating the python batch format, splits, normalisation."""

from handprop.data.batches import Batch, Cifar10
from handprop.data.dataset import Dataset, Splits, make_splits
from handprop.data.loader import load_cifar10, locate, use_data
from handprop.data.normalize import Normalizer, normalize, normalized_splits
from handprop.data.source import DataSource
from handprop.errors import DataError

__all__ = [
    "Batch",
    "Cifar10",
    "DataError",
    "DataSource",
    "Dataset",
    "Normalizer",
    "Splits",
    "load_cifar10",
    "locate",
    "make_splits",
    "normalize",
    "normalized_splits",
    "use_data",
]
