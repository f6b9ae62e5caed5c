"""One trial: the base config with the searched values set, trained, reduced to an outcome.

A trial runner is any picklable callable ``runner(config, **options) -> TrialOutcome``
(successive halving passes ``checkpoint_dir``);
:class:`TrainTrial` trains with :func:`handprop.train.train` on the data of a
:class:`~handprop.data.DataSource` that the client resolved (:func:`search_source`), so a
worker anywhere reads the client's copy.
:func:`execute` wraps a runner so that it runs with a fixed BLAS thread count and a raising
trial becomes an ``"error"`` outcome instead of stopping the search.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import numpy as np

from handprop.data import load_cifar10
from handprop.data.source import DataSource, cache_folder, cached
from handprop.errors import ConfigError
from handprop.search.executor import blas_threads, undo_malloc_trim
from handprop.search.pruning import Pruned
from handprop.search.results import TrialOutcome

C = TypeVar("C")
Runner = Callable[..., TrialOutcome]


def configure(config: C, values: Mapping[str, Any]) -> C:
    """``config`` with fields set from ``values``; a number set on a tuple field (``hidden``)
    sets every entry (a searched width is every hidden layer's). Unknown fields raise
    ConfigError.
    """
    check_fields(config, values)
    nested = hasattr(config, "with_values")  # a TrainConfig: dotted or bare keys
    changes = {name: _every_entry(setting(config, name), v) for name, v in values.items()}
    try:
        if nested:
            return config.with_values(changes)  # type: ignore[attr-defined]
        return attrs.evolve(config, **changes)  # type: ignore[misc]
    except ConfigError:
        raise
    except (TypeError, ValueError) as err:
        raise ConfigError(f"invalid config values {dict(values)}: {err}") from err


def setting(config: Any, name: str) -> Any:
    """The value of field ``name`` of ``config`` (a bare key of a TrainConfig, or a field of
    any attrs record)."""
    return config.value(name) if hasattr(config, "value") else getattr(config, name)


def check_fields(config: Any, names: Iterable[str]) -> None:
    """Raise ConfigError unless every name is a field of the attrs record ``config`` (or a
    key a TrainConfig resolves)."""
    if hasattr(config, "value"):
        for name in names:
            config.value(name)
        return
    fields = attrs.fields_dict(type(config))
    for name in names:
        if name not in fields:
            raise ConfigError(f"unknown config field {name!r}; fields are {sorted(fields)}")


def _every_entry(current: object, value: Any) -> Any:
    """``value`` for a field holding ``current``: a number for a tuple is each entry's."""
    if isinstance(current, tuple) and isinstance(value, int | float):
        return (value,) * max(len(current), 1)
    return value


def execute(
    runner: Runner, base: object, values: Mapping[str, Any], threads: int = 1, **options: Any
) -> tuple[TrialOutcome, float]:
    """Run ``runner`` on ``base`` with ``values`` set (and keyword ``options``), with
    ``threads`` BLAS/OpenMP threads
    (and the usual heap: :func:`~handprop.search.executor.undo_malloc_trim`); errors become an
    ``"error"`` outcome. The outcome records ``threads``.

    Returns the outcome and the wall time in seconds.
    """
    start = time.perf_counter()
    try:
        undo_malloc_trim()
        with blas_threads(threads):
            outcome = runner(configure(base, values), **options)
    except Exception as err:  # a failing trial is a result, not a reason to stop the search
        outcome = TrialOutcome(status="error", error=f"{type(err).__name__}: {err}")
    return attrs.evolve(outcome, threads=threads), time.perf_counter() - start


def search_source() -> DataSource:
    """This process's source (:meth:`~handprop.data.DataSource.resolve`) for the trials; without
    one, the default download is fetched here into the cache first when the cache holds no
    copy (so a missing copy fails before the search starts)."""
    found = DataSource.resolve()
    if found.path is None and cached(cache_folder()) is None:
        load_cifar10(progress=True)
    return found


@attrs.frozen
class TrainTrial:
    """The trial runner that trains ``config`` from its initial parameters on ``data``
    (default: this process's source) and reports validation accuracy."""

    data: DataSource | None = None

    def __call__(
        self,
        config: Any,
        checkpoint_dir: str | None = None,
        report: Callable[..., object] | None = None,
    ) -> TrialOutcome:
        """With ``checkpoint_dir``, training resumes from the checkpoint there (possibly a
        shorter run of the same config) and a finished run leaves its checkpoint for a
        longer one. ``report(row, judge)`` observes each evaluation's history row (``judge``
        False for the last one); if it raises :class:`~handprop.search.pruning.Pruned`, the
        trial ends as ``"pruned"``."""
        from handprop.train import init_params, train
        from handprop.train.checkpoint import Checkpoint, save_checkpoint
        from handprop.train.config import config_to_dict
        from handprop.train.data import prepared_splits

        data = self.data or DataSource.resolve()
        splits = prepared_splits(data, config.data, config.model.dtype)[0]
        total = config.total_steps(len(splits.train.y))

        def observe(row: Any) -> None:
            if report is not None:
                report(row, row.step < total)

        try:
            result = train(
                init_params(config),
                config,
                data=splits,
                checkpoint_dir=checkpoint_dir,
                resume=True,
                on_eval=observe if report is not None else None,
            )
        except Pruned as verdict:
            return TrialOutcome(status="pruned", final_val_acc=verdict.val_acc, steps=verdict.step)
        if checkpoint_dir is not None and result.status == "completed":
            state = Checkpoint(
                result.params,
                result.steps,
                result.history,
                config_to_dict(config),
                result.wall_time,
                result.opt_state,
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


run_trial = TrainTrial()
