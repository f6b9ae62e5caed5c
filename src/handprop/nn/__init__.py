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
from handprop.nn.params import (
    AffineParams,
    Grads,
    NormParams,
    Params,
    Stats,
    params_allclose,
    params_equal,
)

__all__ = [
    "Affine",
    "AffineParams",
    "Dropout",
    "Evaluation",
    "Grads",
    "Kind",
    "NormParams",
    "Params",
    "ReLU",
    "Stats",
    "accuracy",
    "backward",
    "cost",
    "evaluate",
    "forward",
    "gradients",
    "loss",
    "loss_and_gradients",
    "mlp",
    "params_allclose",
    "params_equal",
    "predict",
    "register",
    "scores",
]
