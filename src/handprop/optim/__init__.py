"""Optimisers as chains of gradient transformations in the optax shape
(:mod:`handprop.optim.transforms`), by name (:mod:`handprop.optim.optimizers`), run fused
(:mod:`handprop.optim.fused`)."""

from handprop.optim.fused import step
from handprop.optim.optimizers import (
    OPTIMIZER_NAMES,
    OPTIMIZERS,
    adam,
    adamw,
    make_optimizer,
    momentum,
    nesterov,
    sgd,
)
from handprop.optim.transforms import (
    AdamState,
    AddDecayedWeights,
    AddL2,
    Chain,
    EmptyState,
    GradientTransformation,
    Scale,
    ScaleByAdam,
    Trace,
    TraceState,
    apply_updates,
    chain,
    state_arrays,
    state_from_arrays,
)

__all__ = [
    "OPTIMIZERS",
    "OPTIMIZER_NAMES",
    "AdamState",
    "AddDecayedWeights",
    "AddL2",
    "Chain",
    "EmptyState",
    "GradientTransformation",
    "Scale",
    "ScaleByAdam",
    "Trace",
    "TraceState",
    "adam",
    "adamw",
    "apply_updates",
    "chain",
    "make_optimizer",
    "momentum",
    "nesterov",
    "sgd",
    "state_arrays",
    "state_from_arrays",
    "step",
]
