"""Optimisers as pure transformations in the optax shape (see :mod:`handprop.optim.transforms`)."""

from handprop.optim.transforms import (
    OPTIMIZER_NAMES,
    AdamState,
    EmptyState,
    GradientTransformation,
    TraceState,
    adam,
    adamw,
    apply_updates,
    make_optimizer,
    momentum,
    nesterov,
    sgd,
    state_arrays,
    state_from_arrays,
)

__all__ = [
    "OPTIMIZER_NAMES",
    "AdamState",
    "EmptyState",
    "GradientTransformation",
    "TraceState",
    "adam",
    "adamw",
    "apply_updates",
    "make_optimizer",
    "momentum",
    "nesterov",
    "sgd",
    "state_arrays",
    "state_from_arrays",
]
