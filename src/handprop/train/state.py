"""Records of a training run: the state the step folds over, and the final result.

Randomness never lives in the state: every random draw comes from a generator
derived from ``(config.run.seed, stream, counter)`` (:func:`stream`), so a step is a
pure function of ``(state, t)`` and a run resumes from its step count alone.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import attrs
import numpy as np

from handprop.nn.params import Params
from handprop.optim import EmptyState
from handprop.train.history import History

Status = Literal["completed", "diverged", "interrupted"]

#: Stream ids for :func:`stream`: parameter init, the fixed training-evaluation
#: subset, per-epoch shuffles (counter = epoch), per-step augmentation and dropout
#: (counter = step).
INIT, EVAL_SUBSET, SHUFFLE, NOISE = range(4)


def stream(seed: int, kind: int, *counter: int) -> np.random.Generator:
    """The generator for one use of randomness, e.g. ``stream(seed, SHUFFLE, epoch)``."""
    return np.random.default_rng([seed, kind, *counter])


@attrs.frozen
class TrainState:
    """After ``t`` updates: the parameters, the current epoch's shuffled order, the
    loss and cost of the last mini-batch (measured before its update; NaN at t = 0) and
    the optimiser's state (:mod:`handprop.optim`; empty for plain SGD)."""

    params: Params
    t: int = 0
    perm: np.ndarray = attrs.field(factory=lambda: np.empty(0, np.int64), repr=False)
    perm_epoch: int = -1
    loss: float = math.nan
    cost: float = math.nan
    opt_state: Any = attrs.field(factory=EmptyState, repr=False)


@attrs.frozen
class TrainResult:
    """What :func:`handprop.train.train` returns.

    ``params`` are the final parameters (for a diverged run, those of the last step
    whose cost was finite) and ``opt_state`` the optimiser's state with them; ``steps``
    counts the updates applied; ``wall_time`` is in seconds and includes the time before
    a resume.
    """

    params: Params
    history: History
    status: Status
    diverged_step: int | None
    steps: int
    wall_time: float
    opt_state: Any = attrs.field(factory=EmptyState, repr=False)
