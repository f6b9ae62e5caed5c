"""A search whose points an Optuna sampler proposes, trained as handprop trials.

The loop asks the study for a trial, lets the stage's sampler suggest the typed
dimensions (:mod:`handprop.search.optuna_space`), and submits the trial to the same
executors, thread rule and runner as every other search
(:func:`~handprop.search.trial.execute`); the runner reports each evaluation's
validation accuracy to the study, whose pruner may stop the trial
(:mod:`handprop.search.pruning`). Finished trials are told to the study at once, and
``results.jsonl`` is rewritten from the study, so a kill loses at most the trials in
flight: their heartbeats stop, and after the stage's grace period any process of the
study fails and re-queues them. Several processes (machines) may run one study; the stage
ends when the study holds ``n`` trials that handprop finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import attrs
import cattrs

from handprop.atomic import read_json_object, write_json_atomic, write_text_atomic
from handprop.errors import ConfigError, HandpropError
from handprop.progress import Progress
from handprop.search.executor import available_cores, open_executor
from handprop.search.optuna_space import OptunaStage, Param, check_params, report_space, suggest
from handprop.search.optuna_study import (
    default_storage,
    finished_by_handprop,
    heartbeats,
    open_storage,
    open_study,
    outcome_attrs,
    record_attrs,
    shown_url,
    trial_records,
)
from handprop.search.points import choose, group
from handprop.search.pruning import StudyReporter
from handprop.search.report import write_report
from handprop.search.results import METRICS, SearchResult, StageResult, TrialOutcome
from handprop.search.trial import (
    Runner,
    TrainTrial,
    check_fields,
    configure,
    execute,
    search_source,
)
from handprop.train.config import TrainConfig

POLL = 1.0  # seconds between looks at a study whose open trials run elsewhere


def optuna_search(
    base_config: Any,
    params: Sequence[Param],
    stage: OptunaStage,
    *,
    out_dir: Path,
    name: str = "handprop",
    storage: str | None = None,
    metric: str = "final_val_acc",
    final: Mapping[str, Any] | None = None,
    runner: Runner | None = None,
    final_runner: Any = None,
    executor: Executor | None = None,
    workers: int | None = None,
    threads: int = 1,
    scheduler: str | None = None,
    log: Any = None,
    progress: Progress | None = None,
) -> SearchResult:
    """Run the study ``name`` of ``stage`` over ``params`` around ``base_config`` in
    ``storage`` (default ``out_dir / "study.db"``); tables, plot, ``chosen.json`` and
    ``results.jsonl`` go to ``out_dir``, the winner is retrained with ``final`` as in
    :func:`~handprop.search.engine.search`. As many trials run at once as ``workers``
    (default, also on Dask: this machine's cores // ``threads``). ``progress`` sees this
    process's trials finish (:class:`~handprop.progress.Progress`)."""
    from handprop.search.engine import run_final

    params = check_params(params)
    if metric not in METRICS:
        raise ConfigError(f"metric = {metric!r}: must be one of {METRICS}")
    if threads < 1:
        raise ConfigError(f"threads = {threads}: must be >= 1")
    check_fields(base_config, [p.name for p in params])
    for p in params:
        check_fields(base_config, p.when)
    out_dir = Path(out_dir)
    url = storage or default_storage(out_dir)
    definition = _definition(base_config, params, stage, metric, threads)
    _check_folder(out_dir, definition, url)
    if storage is None:
        out_dir.mkdir(parents=True, exist_ok=True)
    store = open_storage(url, (stage.heartbeat_interval, stage.grace_period))
    study = open_study(store, url, name, definition)
    _claim_folder(out_dir, definition, url)
    say = log or (lambda line: None)
    runner = runner if runner is not None else TrainTrial(search_source())
    slots = 1 if workers == 0 else workers or max(1, available_cores() // threads)
    pool = (
        nullcontext(executor)
        if executor is not None
        else open_executor(workers, scheduler=scheduler, threads=threads)
    )
    loop = _Loop(
        study, store, metric, stage, params, base_config, runner, threads, url, name, out_dir, say,
        progress,
    )  # fmt: skip
    if progress is not None:
        work = (  # a trial's planned GFLOP (pruned trials stop earlier)
            base_config.planned_steps() * base_config.step_gflop()
            if isinstance(base_config, TrainConfig)
            else 1.0
        )
        progress.start(f"study {name}", stage.n, unit="trial", share=work)
    try:
        with pool as ex, heartbeats(store, stage.heartbeat_interval) as beating:
            loop.run(ex, slots, beating)
    finally:
        if progress is not None:
            progress.close()
    write_results(study, out_dir / "results.jsonl")  # with the trials of other processes
    records = trial_records(study)
    space = report_space(params)
    chosen = choose(group(records, metric), "best_mean", space)
    if chosen is None:
        raise HandpropError(f"no trial of study {name!r} completed; see {out_dir}/results.jsonl")
    summary = StageResult(1, stage, space, tuple(records))
    result = SearchResult(out_dir, metric, (summary,), chosen)
    say(f"chosen: {chosen.values} ({metric} {chosen.mean:.4f})")
    if final is not None:
        final_config = configure(configure(base_config, chosen.values), final)
        result = attrs.evolve(
            result, final=(final_runner or run_final)(final_config, out_dir / "final")
        )
        say(f"final retrain: {result.final}")
    write_report(result)
    return result


@attrs.define
class _Loop:
    """Asks, runs and tells trials until the study holds ``stage.n`` finished ones."""

    study: Any
    storage: Any
    metric: str
    stage: OptunaStage
    params: tuple[Param, ...]
    base_config: Any
    runner: Runner
    threads: int
    url: str
    name: str
    out_dir: Path
    say: Any
    progress: Progress | None = None
    running: dict[Future, tuple[Any, dict[str, Any]]] = attrs.Factory(dict)

    def run(self, executor: Executor, slots: int, beating: set[int]) -> None:
        import optuna

        while True:
            optuna.storages.fail_stale_trials(self.study)
            trials = self.study.get_trials(deepcopy=False)
            done = [t for t in trials if finished_by_handprop(t)]
            open_ = [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
            if len(done) >= self.stage.n and not self.running:
                return
            if (
                len(self.running) < slots
                and len(done) + len(open_) < self.stage.n
                and self._affordable(done, len(open_))
            ):
                self._start(executor, len(trials), beating)
                continue
            if not self.running:
                if not open_:  # the step budget is spent
                    return
                time.sleep(POLL)  # the study's open trials run in other processes
                continue
            finished, _ = wait(self.running, timeout=POLL, return_when=FIRST_COMPLETED)
            for future in finished:
                self._finish(future, beating)

    def _affordable(self, done: Sequence[Any], open_trials: int) -> bool:
        """Whether one more trial of the longest length seen fits the step budget."""
        if not self.stage.max_steps:
            return True
        steps = [t.user_attrs["handprop_outcome"]["steps"] for t in done]
        longest = max(steps, default=0)
        return sum(steps) + (open_trials + 1) * longest <= self.stage.max_steps

    def _start(self, executor: Executor, proposals: int, beating: set[int]) -> None:
        self.study.sampler = self.stage.sampler(proposals)
        trial = self.study.ask()
        trial_id = trial._trial_id
        self.storage.record_heartbeat(trial_id)
        beating.add(trial_id)
        values = suggest(trial, self.params)
        effective = {p.name: _setting(self.base_config, p.name, values) for p in self.params}
        config = configure(self.base_config, values)
        for key, value in record_attrs(effective, _plain(config)).items():
            trial.set_user_attr(key, value)
        reporter = StudyReporter(self.url, self.name, trial_id, self.stage.pruning)
        future = executor.submit(
            execute, self.runner, self.base_config, values, self.threads, report=reporter
        )
        self.running[future] = (trial, effective)

    def _finish(self, future: Future, beating: set[int]) -> None:
        import optuna

        trial, values = self.running.pop(future)
        outcome, wall_time = future.result()
        if self.progress is not None:
            self.progress.advance()
        for key, value in outcome_attrs(outcome, wall_time).items():
            trial.set_user_attr(key, value)
        score = _score(outcome, self.metric)
        if outcome.status == "pruned":
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif score is not None:
            self.study.tell(trial, score)
        else:
            self.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        beating.discard(trial._trial_id)
        write_results(self.study, self.out_dir / "results.jsonl")
        shown = ", ".join(f"{k}={_text(v)}" for k, v in values.items())
        result = f"{score:.4f}" if score is not None else outcome.status
        self.say(f"  trial {trial.number}: {shown} -> {result} ({wall_time:.1f} s)")


def write_results(study: Any, path: Path) -> None:
    """Rewrite ``results.jsonl`` (atomically) from the study's finished trials."""
    lines = [json.dumps(cattrs.unstructure(r), allow_nan=False) for r in trial_records(study)]
    write_text_atomic(path, "".join(line + "\n" for line in lines))


def _score(outcome: TrialOutcome, metric: str) -> float | None:
    """The value the study maximises, if the trial completed with a finite one."""
    value: float | None = getattr(outcome, metric) if outcome.status == "completed" else None
    return value


def _text(value: Any) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return f"{value:.4g}" if number else str(value)


def _setting(config: Any, name: str, values: Mapping[str, Any]) -> Any:
    """The trial's value of ``name``: searched, or the base config's."""
    if name in values:
        return values[name]
    return config.value(name) if hasattr(config, "value") else getattr(config, name)


def _plain(config: Any) -> dict[str, Any]:
    """A config record as JSON-ready nested tables."""
    from handprop.train.config import TrainConfig, config_to_dict

    if isinstance(config, TrainConfig):
        return config_to_dict(config)
    return json.loads(json.dumps(cattrs.unstructure(config)))


def _definition(
    base: Any, params: Sequence[Param], stage: OptunaStage, metric: str, threads: int
) -> dict[str, Any]:
    """What makes two searches the same study: base config, dimensions, stage, metric and
    BLAS threads (other thread counts give other bits)."""
    return json.loads(
        json.dumps(
            {
                "base_config": _plain(base),
                "params": cattrs.unstructure(list(params)),
                "stage": cattrs.unstructure(stage),
                "metric": metric,
                "threads": threads,
            }
        )
    )


def _folder_record(definition: Mapping[str, Any], url: str) -> dict[str, Any]:
    return json.loads(json.dumps({"optuna": dict(definition), "storage": shown_url(url)}))


def _check_folder(out_dir: Path, definition: Mapping[str, Any], url: str) -> None:
    """Refuse a folder whose ``search.json`` describes another search or study."""
    path = out_dir / "search.json"
    if path.exists() and read_json_object(path, "search definition") != _folder_record(
        definition, url
    ):
        raise ConfigError(
            f"{out_dir} holds a different search (see {path}); choose another --out folder"
        )


def _claim_folder(out_dir: Path, definition: Mapping[str, Any], url: str) -> None:
    """Write ``search.json`` (the definition and the storage URL) if the folder has none."""
    path = out_dir / "search.json"
    if not path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, _folder_record(definition, url), indent=2)
