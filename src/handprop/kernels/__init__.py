"""Numba kernels for what BLAS does not do, each beside a plain-NumPy reference.

:mod:`handprop.kernels.reference` holds the references (same names and signatures).
"""

from handprop.kernels.augment import (
    Augmentation,
    draw_augmentation,
    gather_augment,
    hflip,
    translate,
)
from handprop.kernels.dropout import dropout_mask
from handprop.kernels.optim import adam_constants, adam_update, momentum_update
from handprop.kernels.relu import relu_backward, relu_forward
from handprop.kernels.sgd import sgd_l2_update
from handprop.kernels.softmax import softmax_xent

__all__ = [
    "Augmentation",
    "adam_constants",
    "adam_update",
    "draw_augmentation",
    "dropout_mask",
    "gather_augment",
    "hflip",
    "momentum_update",
    "relu_backward",
    "relu_forward",
    "sgd_l2_update",
    "softmax_xent",
    "translate",
]
