"""Parameter records, layer forward/backward pairs and the network built from them."""

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
    "Evaluation",
    "Grads",
    "Layer",
    "Params",
    "accuracy",
    "backward",
    "cost",
    "evaluate",
    "forward",
    "gradients",
    "init_params",
    "loss",
    "loss_and_gradients",
    "params_allclose",
    "params_equal",
    "predict",
    "scores",
]
