"""The coarse-to-fine search loop: sample a stage, run its missing trials, narrow, repeat.

Trials run on any :class:`concurrent.futures.Executor`; each finished trial is appended to
``results.jsonl`` at once, so a re-run of the same search skips it. ``search.json`` holds
the search's definition and BLAS thread count; a folder holding a different search, or run
with another thread count (other bits), is refused. A stage whose every trial fails with
the same error stops the search with that error, and its failures are not recorded, so a
re-run after the fix runs them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import attrs
import cattrs

from handprop.atomic import read_json_object, write_json_atomic
from handprop.errors import ConfigError, HandpropError
from handprop.search.executor import open_executor
from handprop.search.report import write_report
from handprop.search.results import (
    METRICS,
    ResultsWriter,
    SearchResult,
    StageResult,
    TrialRecord,
    rank,
    read_results,
    trial_key,
)
from handprop.search.space import Space, Stage, Values, sample
from handprop.search.stages import Narrowing, narrow
from handprop.search.trial import (
    DataSource,
    Runner,
    TrainTrial,
    check_fields,
    configure,
    execute,
)

DEFAULT_NARROWING = Narrowing()
FinalRunner = Callable[[Any, Path], dict[str, Any]]
Log = Callable[[str], None]


def search(
    base_config: Any,
    space: Space,
    *,
    out_dir: Path,
    stages: Sequence[Stage] = (Stage(),),
    narrowing: Narrowing = DEFAULT_NARROWING,
    metric: str = "final_val_acc",
    final: Mapping[str, Any] | None = None,
    runner: Runner | None = None,
    final_runner: FinalRunner | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    threads: int = 1,
    scheduler: str | None = None,
    log: Log | None = None,
) -> SearchResult:
    """Search ``space`` around ``base_config`` (an attrs config record) stage by stage.

    Stage 1 samples ``space``; each later stage samples the range ``narrowing`` derives from
    the previous stage's best trials by ``metric``. Trials run on ``executor`` (default:
    :func:`~handprop.search.executor.open_executor` with ``workers``, ``threads``,
    ``scheduler``), each with ``threads`` BLAS threads; ``runner`` defaults to training on
    this process's data source (:class:`~handprop.search.trial.TrainTrial`).
    The best trial over all stages is chosen; with ``final`` (config overrides, e.g. the
    final split), it is retrained by ``final_runner`` (default: ``run_experiment`` into
    ``out_dir / "final"``). Tables, plot and ``chosen.json`` are written to ``out_dir``.
    """
    if metric not in METRICS:
        raise ConfigError(f"metric = {metric!r}: must be one of {METRICS}")
    if not stages:
        raise ConfigError("stages: a search needs at least one stage")
    if threads < 1:
        raise ConfigError(f"threads = {threads}: must be >= 1")
    check_fields(base_config, space.names)
    out_dir = Path(out_dir)
    _claim_folder(out_dir, base_config, space, stages, narrowing, metric, threads)
    runner = runner if runner is not None else TrainTrial(DataSource.resolve())
    results_path = out_dir / "results.jsonl"
    records = read_results(results_path)
    say = log or (lambda line: None)
    if records:
        say(f"resuming: {len(records)} finished trials in {results_path}")
    pool = (
        nullcontext(executor)
        if executor is not None
        else open_executor(workers, scheduler=scheduler, threads=threads)
    )
    summaries: list[StageResult] = []
    with ResultsWriter(results_path) as writer, pool as ex:
        current = space
        for number, stage in enumerate(stages, start=1):
            if summaries:
                best = rank(summaries[-1].records, metric)
                current = narrow(current, [r.values for r in best], narrowing, space)
            points = sample(current, stage, number)
            say(f"stage {number}/{len(stages)}: {len(points)} trials, {_ranges(current)}")
            todo = [(i, v) for i, v in enumerate(points, 1) if trial_key(number, v) not in records]
            held: list[TrialRecord] = []  # failures that may all share one cause
            for record in _run_trials(ex, runner, base_config, number, todo, threads):
                records[record.key] = record
                say(_trial_line(record, metric))
                held.append(record)
                if _common_error(held) is None:
                    _append(writer, held)
            stage_records = tuple(records[trial_key(number, v)] for v in points)
            error = _common_error(stage_records)
            if error is not None:
                raise HandpropError(
                    f"stage {number}: all {len(stage_records)} trials failed with {error}"
                )
            _append(writer, held)
            summaries.append(StageResult(number, stage, current, stage_records))
    ranked = rank((r for s in summaries for r in s.records), metric)
    if not ranked:
        raise HandpropError(f"no trial completed; see {results_path}")
    result = SearchResult(out_dir, metric, tuple(summaries), ranked[0])
    say(f"chosen: {_values_text(result.chosen)} ({metric} {ranked[0].score(metric):.4f})")
    if final is not None:
        final_config = configure(configure(base_config, result.chosen), final)
        final_metrics = (final_runner or run_final)(final_config, out_dir / "final")
        result = attrs.evolve(result, final=final_metrics)
        say(f"final retrain: {result.final}")
    write_report(result)
    return result


def _run_trials(
    executor: Executor,
    runner: Runner,
    base_config: Any,
    stage: int,
    todo: list[tuple[int, Values]],
    threads: int,
) -> Iterator[TrialRecord]:
    """Submit the ``(trial number, values)`` pairs; yield each record as its trial ends."""
    futures = {executor.submit(execute, runner, base_config, v, threads): (i, v) for i, v in todo}
    for future in as_completed(futures):
        i, values = futures[future]
        outcome, wall_time = future.result()
        yield TrialRecord(trial_key(stage, values), stage, i, values, outcome, wall_time)


def _append(writer: ResultsWriter, records: list[TrialRecord]) -> None:
    """Append ``records`` to the results file and empty the list."""
    for record in records:
        writer.append(record)
    records.clear()


def _common_error(records: Sequence[TrialRecord]) -> str | None:
    """The error every one of ``records`` failed with, if there are any and it is one."""
    errors = {r.outcome.error if r.outcome.status == "error" else None for r in records}
    return errors.pop() if len(errors) == 1 else None


def run_final(config: Any, out_dir: Path) -> dict[str, Any]:
    """Retrain ``config`` with :func:`handprop.train.run_experiment` into ``out_dir`` (an
    interrupted retrain continues, a finished one is reported); its summary metrics."""
    from handprop.train import run_experiment

    summary = run_experiment(config, out_dir, resume=True, progress=False)
    return {
        "out_dir": str(out_dir),
        "status": summary.status,
        "test_acc": summary.test_acc,
        "best_val_acc": summary.best_val_acc,
        "final_val_acc": summary.final_val_acc,
        "wall_time": summary.wall_time,
        "steps": summary.steps,
    }


def _claim_folder(
    out_dir: Path,
    base_config: Any,
    space: Space,
    stages: Sequence[Stage],
    narrowing: Narrowing,
    metric: str,
    threads: int,
) -> None:
    """Write ``search.json``, or check that the folder's existing one is the same search,
    run with the same BLAS thread count."""
    definition = json.loads(
        json.dumps(
            cattrs.unstructure(
                {
                    "base_config": base_config,
                    "space": space,
                    "stages": list(stages),
                    "narrowing": narrowing,
                    "metric": metric,
                }
            )
        )
    )
    path = out_dir / "search.json"
    if path.exists():
        stored = read_json_object(path, "search definition")
        stored_threads = stored.pop("threads", threads)
        if stored != definition:
            raise ConfigError(
                f"{out_dir} holds a different search (see {path}); choose another --out folder"
            )
        if stored_threads != threads:
            raise ConfigError(
                f"threads = {threads}: {out_dir} was searched with {stored_threads} BLAS threads "
                f"per trial, which give other bits; resume with --threads {stored_threads}"
            )
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, definition | {"threads": threads}, indent=2)


def _values_text(values: Values) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in values.items())


def _ranges(space: Space) -> str:
    return ", ".join(f"{d.name} in [{d.low:.3g}, {d.high:.3g}]" for d in space.dimensions)


def _trial_line(record: TrialRecord, metric: str) -> str:
    score = record.score(metric)
    result = f"{metric} {score:.4f}" if score is not None else record.outcome.status
    if record.outcome.error:
        result += f": {record.outcome.error}"
    return (
        f"  stage {record.stage} trial {record.trial}: {_values_text(record.values)} "
        f"-> {result} ({record.wall_time:.1f} s)"
    )
