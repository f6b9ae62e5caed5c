"""Parameter records, layer forward/backward pairs, the registered layer kinds and the
network folded over a sequence of them."""

from handprop.nn.architecture import Affine, Dropout, Kind, ReLU, mlp, register
from handprop.nn.network import (
    Evaluation,
    accuracy,
    backward,
    cost,
    evaluate,
    forward,
    gradients,
    loss,
    loss_and_gradients,
    predict,
    scores,
)
from handprop.nn.params import Grads, Layer, Params, init_params, params_allclose, params_equal

__all__ = [
    "Affine",
    "Dropout",
    "Evaluation",
    "Grads",
    "Kind",
    "Layer",
    "Params",
    "ReLU",
    "accuracy",
    "backward",
    "cost",
    "evaluate",
    "forward",
    "gradients",
    "init_params",
    "loss",
    "loss_and_gradients",
    "mlp",
    "params_allclose",
    "params_equal",
    "predict",
    "register",
    "scores",
]
