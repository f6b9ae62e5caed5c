"""The optimisers by name, each one chain of :mod:`handprop.optim.transforms` pieces.

Every chain starts with :class:`~handprop.optim.transforms.AddL2` (``lam``, possibly 0)
and ends with ``Scale(-eta)``: the learning rate of the step, which the training step
takes from its schedule. A chain's state does not depend on ``eta``, so a new chain per
step carries the state of the last one. :func:`handprop.optim.fused.step` runs these
chains as fused kernels.

The factories and the pieces take their values as given: the training step builds its
chain from a checked config (:class:`~handprop.train.config.OptimizerConfig`), and
:func:`make_optimizer`, the entry point for raw values, checks them itself.

The updates follow ``torch.optim.SGD`` (``momentum``, ``nesterov=True``, ``dampening=0``),
``torch.optim.Adam`` and ``torch.optim.AdamW`` (``amsgrad=False``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from handprop.errors import ConfigError
from handprop.optim.transforms import (
    AddDecayedWeights,
    AddL2,
    Chain,
    Scale,
    ScaleByAdam,
    Trace,
    chain,
)

OPTIMIZER_NAMES: tuple[str, ...] = ("sgd", "momentum", "nesterov", "adam", "adamw")


def sgd(eta: float, lam: float = 0.0) -> Chain:
    """Plain SGD: ``W <- W - eta (dW + 2 lam W)``, ``b <- b - eta db``."""
    return chain(AddL2(lam), Scale(-eta))


def momentum(eta: float, momentum: float = 0.9, lam: float = 0.0) -> Chain:
    """Heavy-ball momentum (``torch.optim.SGD(momentum=momentum)``):
    ``buf <- momentum buf + g``, ``p <- p - eta buf``, with ``g = dp (+ 2 lam W)``."""
    return chain(AddL2(lam), Trace(momentum), Scale(-eta))


def nesterov(eta: float, momentum: float = 0.9, lam: float = 0.0) -> Chain:
    """Nesterov momentum (``torch.optim.SGD(momentum=momentum, nesterov=True)``):
    ``buf <- momentum buf + g``, ``p <- p - eta (g + momentum buf)``."""
    return chain(AddL2(lam), Trace(momentum, nesterov=True), Scale(-eta))


def adam(
    eta: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, lam: float = 0.0
) -> Chain:
    """Adam (``torch.optim.Adam``) with bias correction; ``eps`` is added to
    ``sqrt(v) / sqrt(1 - beta2^t)``, L2 (``lam``) enters through the gradient."""
    return chain(AddL2(lam), ScaleByAdam(beta1, beta2, eps), Scale(-eta))


def adamw(
    eta: float,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    lam: float = 0.0,
) -> Chain:
    """AdamW (``torch.optim.AdamW``): Adam plus decoupled decay ``W <- W (1 - eta wd)``
    of the weights (biases are not decayed)."""
    return chain(
        AddL2(lam), ScaleByAdam(beta1, beta2, eps), AddDecayedWeights(weight_decay), Scale(-eta)
    )


#: The factories by name; their arguments after ``eta`` are the config's fields of the
#: same names (:meth:`handprop.train.config.OptimizerConfig.options`).
OPTIMIZERS: dict[str, Callable[..., Chain]] = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov": nesterov,
    "adam": adam,
    "adamw": adamw,
}

#: ``(low, high)`` of each hyperparameter: ``low <= value < high``.
_RANGES: dict[str, tuple[float, float]] = {
    "eta": (0.0, math.inf),
    "lam": (0.0, math.inf),
    "momentum": (0.0, 1.0),
    "beta1": (0.0, 1.0),
    "beta2": (0.0, 1.0),
    "weight_decay": (0.0, math.inf),
}


def make_optimizer(name: str, eta: float, **options: float) -> Chain:
    """The optimiser ``name`` (one of :data:`OPTIMIZER_NAMES`) with learning rate ``eta``
    and its hyperparameters, each checked (a one-line ConfigError otherwise)."""
    factory = OPTIMIZERS.get(name)
    if factory is None:
        raise ConfigError(f"optimizer must be one of {OPTIMIZER_NAMES}, got {name!r}")
    names = list(inspect.signature(factory).parameters)[1:]
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise ConfigError(
            f"optimizer {name!r} has no option {unknown[0]!r} (options: {', '.join(names)})"
        )
    for key, value in {"eta": eta, **options}.items():
        if key == "eps":
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"eps must be finite and > 0, got {value!r}")
            continue
        low, high = _RANGES[key]
        if not low <= value < high:
            raise ConfigError(f"{key} must be in [{low}, {high}), got {value!r}")
    return factory(eta, **options)
