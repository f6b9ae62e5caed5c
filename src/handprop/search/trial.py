"""One trial: the base config with the searched values set, trained, reduced to an outcome.

A trial runner is any picklable callable ``runner(config, **options) -> TrialOutcome``
(successive halving passes ``checkpoint_dir``); :func:`run_trial` trains with
:func:`handprop.train.train`. :func:`execute` wraps a runner
so that a raising trial becomes an ``"error"`` outcome instead of stopping the search.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import numpy as np

from handprop.errors import ConfigError
from handprop.search.results import TrialOutcome

C = TypeVar("C")
Runner = Callable[..., TrialOutcome]


def configure(config: C, values: Mapping[str, Any]) -> C:
    """``config`` with fields set from ``values``.

    Lists become tuples; a number set on a tuple field (``hidden``) sets every entry; a
    whole float set on an int field becomes an int. Unknown fields raise ConfigError.
    """
    check_fields(config, values)
    changes = {name: _coerce(getattr(config, name), value) for name, value in values.items()}
    try:
        return attrs.evolve(config, **changes)  # type: ignore[misc]
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"invalid config values {dict(values)}: {err}") from err


def check_fields(config: Any, names: Iterable[str]) -> None:
    """Raise ConfigError unless every name is a field of the attrs record ``config``."""
    fields = attrs.fields_dict(type(config))
    for name in names:
        if name not in fields:
            raise ConfigError(f"unknown config field {name!r}; fields are {sorted(fields)}")


def _coerce(current: object, value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(value)
    if isinstance(current, tuple) and isinstance(value, int | float):
        return (_coerce(current[0] if current else 0, value),) * max(len(current), 1)
    if isinstance(current, int) and not isinstance(current, bool) and isinstance(value, float):
        return int(value) if value.is_integer() else value
    return value


def execute(
    runner: Runner, base: object, values: Mapping[str, Any], **options: Any
) -> tuple[TrialOutcome, float]:
    """Run ``runner`` on ``base`` with ``values`` set (and keyword ``options``); errors become
    an ``"error"`` outcome.

    Returns the outcome and the wall time in seconds.
    """
    start = time.perf_counter()
    try:
        outcome = runner(configure(base, values), **options)
    except Exception as err:  # a failing trial is a result, not a reason to stop the search
        outcome = TrialOutcome(status="error", error=f"{type(err).__name__}: {err}")
    return outcome, time.perf_counter() - start


def run_trial(config: Any, checkpoint_dir: str | None = None) -> TrialOutcome:
    """Train ``config`` from its initial parameters on its data; report validation accuracy.

    With ``checkpoint_dir``, training resumes from the checkpoint there (possibly a shorter
    run of the same config) and a finished run leaves its checkpoint for a longer one.
    """
    from handprop.train import initial_params, load_data, train
    from handprop.train.checkpoint import Checkpoint, save_checkpoint
    from handprop.train.config import config_to_dict

    params = initial_params(config)
    result = train(
        params, config, data=load_data(config), checkpoint_dir=checkpoint_dir, resume=True
    )
    if checkpoint_dir is not None and result.status == "completed":
        state = Checkpoint(
            result.params, result.steps, result.history, config_to_dict(config), result.wall_time
        )
        save_checkpoint(checkpoint_dir, state)
    val_acc = np.asarray(result.history.columns()["val_acc"], dtype=float)
    finite = val_acc[np.isfinite(val_acc)]
    return TrialOutcome(
        status=result.status,
        final_val_acc=float(val_acc[-1]) if val_acc.size else None,
        best_val_acc=float(finite.max()) if finite.size else None,
        steps=int(result.steps),
        diverged_step=result.diverged_step,
    )
