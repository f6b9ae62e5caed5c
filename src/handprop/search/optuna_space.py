"""Typed dimensions and the stage record of a search whose points Optuna proposes.

A :class:`Param` is a float or integer range (linear or log-uniform) or a list of
categorical ``choices``; ``when = {key = value}`` makes it conditional: it is searched only
in trials where the earlier dimension ``key`` took ``value`` (otherwise the base config's
value holds). An :class:`OptunaStage` names the sampler (``"tpe"``, ``"cmaes"``, ``"gp"``,
``"optuna_random"``), the number of trials of the whole study, the seed, and the pruner.
Nothing here imports Optuna at module level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import numpy as np

from handprop.errors import ConfigError
from handprop.search.pruning import PRUNERS, PrunerSpec
from handprop.search.space import SCALES, Dimension, Space, Values, at_least, one_of

OPTUNA_METHODS: tuple[str, ...] = ("tpe", "cmaes", "gp", "optuna_random")


def _choices(value: Iterable[Any] | None) -> tuple[Any, ...] | None:
    return None if value is None else tuple(value)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@attrs.frozen
class Param:
    """One searched config field: ``[low, high]`` on ``scale`` (``integer`` for whole
    numbers), or one of ``choices``; searched only where ``when``'s dimensions have its
    values."""

    name: str
    low: float | None = attrs.field(default=None, converter=_number)
    high: float | None = attrs.field(default=None, converter=_number)
    scale: str = attrs.field(default="log", validator=one_of(SCALES))
    integer: bool = False
    choices: tuple[Any, ...] | None = attrs.field(default=None, converter=_choices)
    when: dict[str, Any] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        where = f"dimension {self.name}"
        if self.choices is not None:
            if not self.choices or self.low is not None or self.high is not None:
                raise ConfigError(f"{where}: give either non-empty choices or low and high")
            return
        if self.low is None or self.high is None:
            raise ConfigError(f"{where}: needs low and high (or choices)")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ConfigError(f"{where}: low and high must be finite")
        if self.low >= self.high:
            raise ConfigError(f"{where}: low = {self.low:g} must be below high = {self.high:g}")
        if self.scale == "log" and self.low <= 0:
            raise ConfigError(f"{where}: a log scale needs low > 0, got low = {self.low:g}")

    def active(self, values: Mapping[str, Any]) -> bool:
        """Whether the trial's earlier ``values`` meet every condition of ``when``."""
        return all(name in values and values[name] == want for name, want in self.when.items())

    def suggest(self, trial: Any) -> Any:
        """This dimension's value for an Optuna ``trial``."""
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        log = self.scale == "log"
        assert self.low is not None and self.high is not None  # checked on creation
        if self.integer:
            return trial.suggest_int(self.name, round(self.low), round(self.high), log=log)
        return trial.suggest_float(self.name, self.low, self.high, log=log)


def check_params(params: Iterable[Param]) -> tuple[Param, ...]:
    """``params`` as a tuple; names unique, each condition on an earlier dimension's value."""
    params = tuple(params)
    if not params:
        raise ConfigError("search space: needs at least one dimension")
    seen: dict[str, Param] = {}
    for p in params:
        if p.name in seen:
            raise ConfigError(f"search space: dimension {p.name} appears twice")
        for key, want in p.when.items():
            if key not in seen:
                raise ConfigError(
                    f"dimension {p.name}: when = {{{key} = {want!r}}} names no earlier "
                    f"dimension; dimensions before it: {sorted(seen)}"
                )
            choices = seen[key].choices
            if choices is not None and want not in choices:
                raise ConfigError(
                    f"dimension {p.name}: when {key} = {want!r}, not one of {list(choices)}"
                )
        seen[p.name] = p
    return params


def suggest(trial: Any, params: Iterable[Param]) -> Values:
    """The values of the dimensions active in this trial, in order."""
    values: Values = {}
    for p in params:
        if p.active(values):
            values[p.name] = p.suggest(trial)
    return values


def report_space(params: Iterable[Param]) -> Space:
    """The numeric dimensions as a :class:`Space`, for the tables and the plot."""
    return Space(
        Dimension(p.name, p.low, p.high, p.scale, p.integer)
        for p in params
        if p.low is not None and p.high is not None
    )


@attrs.frozen
class OptunaStage:
    """A study of ``n`` trials in all (over every process sharing it) proposed by the
    sampler ``method`` seeded from ``seed``; ``pruner`` in {"halving", "hyperband", "none"}
    with ``reduction_factor`` and ``min_resource`` (steps; 0: Optuna's default).
    ``n_startup_trials`` random trials come first (TPE, GP). ``max_steps`` (0: no limit)
    caps the training steps of the study: no trial starts that could pass it. A process
    records a heartbeat of its running trials every ``heartbeat_interval`` seconds; a trial
    without one for ``grace_period`` seconds (its process died) is failed and re-queued."""

    method: str = attrs.field(validator=one_of(OPTUNA_METHODS))
    n: int = attrs.field(default=20, validator=at_least(1))
    seed: int = attrs.field(default=0, validator=at_least(0))
    pruner: str = attrs.field(default="none", validator=one_of(PRUNERS))
    reduction_factor: int = attrs.field(default=3, validator=at_least(2))
    min_resource: int = attrs.field(default=0, validator=at_least(0))
    n_startup_trials: int = attrs.field(default=10, validator=at_least(1))
    max_steps: int = attrs.field(default=0, validator=at_least(0))
    heartbeat_interval: int = attrs.field(default=10, validator=at_least(1))
    grace_period: int = attrs.field(default=60, validator=at_least(2))

    def __attrs_post_init__(self) -> None:
        if self.grace_period <= self.heartbeat_interval:
            raise ConfigError(
                f"grace_period = {self.grace_period} must exceed "
                f"heartbeat_interval = {self.heartbeat_interval}"
            )

    @property
    def pruning(self) -> PrunerSpec:
        return PrunerSpec(self.pruner, self.reduction_factor, self.min_resource)

    def sampler(self, proposals: int) -> Any:
        """The sampler for the study's next trial, after ``proposals`` trials: seeded from
        ``seed`` and ``proposals``, so one process proposes the same points on every run."""
        import optuna

        seed = int(np.random.SeedSequence([self.seed, proposals]).generate_state(1)[0])
        if self.method == "tpe":
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials)
        if self.method == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed)
        if self.method == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=self.n_startup_trials)
        return optuna.samplers.RandomSampler(seed=seed)
