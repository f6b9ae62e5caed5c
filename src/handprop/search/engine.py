"""The coarse-to-fine search loop: sample a stage, run its missing trials, narrow, repeat.

A stage is a grid or random sample, or successive halving; every point runs ``repeats``
times with different seeds and is judged by its mean.
Trials run on any :class:`concurrent.futures.Executor`; each finished trial is appended to
``results.jsonl`` at once, so a re-run of the same search skips it. ``search.json`` holds
the search's definition and BLAS thread count; a folder holding a different search, or run
with another thread count (other bits), is refused. A stage whose every trial fails with
the same error (up to the paths it names) stops the search with that error, and its failures
are not recorded; a re-run runs every recorded failure again, so a re-run after the fix
completes the search.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, as_completed
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import attrs
import cattrs
import numpy as np

from handprop.atomic import read_json_object, write_json_atomic
from handprop.errors import ConfigError, HandpropError
from handprop.progress import Progress
from handprop.search.executor import check_address, open_executor
from handprop.search.halving import promote, rungs
from handprop.search.points import Point, check_select, choose, group, rank_points
from handprop.search.report import write_report
from handprop.search.results import (
    METRICS,
    ResultsWriter,
    SearchResult,
    StageResult,
    TrialRecord,
    read_results,
    trial_key,
)
from handprop.search.space import Space, Stage, Values, sample
from handprop.search.stages import Narrowing, narrow
from handprop.search.trial import (
    Runner,
    TrainTrial,
    check_fields,
    configure,
    execute,
    search_source,
    setting,
)
from handprop.train.config import TrainConfig, config_from_dict

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
    repeats: int = 1,
    select: str = "best_mean",
    final: Mapping[str, Any] | None = None,
    runner: Runner | None = None,
    final_runner: FinalRunner | None = None,
    executor: Executor | None = None,
    workers: int | None = None,
    threads: int = 1,
    scheduler: str | None = None,
    log: Log | None = None,
    progress: Progress | None = None,
) -> SearchResult:
    """Search ``space`` around ``base_config`` (an attrs config record) stage by stage.

    Every point is trained ``repeats`` times (repeat ``r`` with seed :func:`repeat_seed`)
    and scored by the mean of ``metric``. Stage 1 samples ``space``; each later stage
    samples the range ``narrowing`` derives from the previous stage's best points by mean.
    A ``"halving"`` stage runs successive halving (:mod:`handprop.search.halving`), its
    trials checkpointed under ``out_dir / "checkpoints"``. Trials run on ``executor``
    (default: :func:`~handprop.search.executor.open_executor` with ``workers``, ``threads``,
    ``scheduler``), each with ``threads`` BLAS threads; ``runner`` defaults to training on
    this process's data source (:class:`~handprop.search.trial.TrainTrial`). The point
    ``select`` picks (:mod:`handprop.search.points`) over all stages is chosen; with
    ``final`` (config overrides, e.g. the final split), it is retrained by ``final_runner``
    (default: ``run_experiment`` into ``out_dir / "final"``). Tables, plot and
    ``chosen.json`` are written to ``out_dir``. ``progress`` sees each stage's (and rung's)
    trials finish (:class:`~handprop.progress.Progress`).
    """
    if metric not in METRICS:
        raise ConfigError(f"metric = {metric!r}: must be one of {METRICS}")
    if not stages:
        raise ConfigError("stages: a search needs at least one stage")
    if threads < 1:
        raise ConfigError(f"threads = {threads}: must be >= 1")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ConfigError(f"repeats = {repeats!r}: must be an integer >= 1")
    check_select(select, space)
    check_fields(base_config, space.names)
    if repeats > 1:
        check_fields(base_config, ["seed"])
    plans = {
        number: rungs(stage, setting(base_config, "n_cycles"))
        for number, stage in enumerate(stages, start=1)
        if stage.method == "halving"
    }
    if scheduler and executor is None:
        check_address(scheduler)
    out_dir = Path(out_dir)
    runner = runner if runner is not None else TrainTrial(search_source())
    _claim_folder(out_dir, base_config, space, stages, narrowing, metric, repeats, select, threads)
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
        trials = _Trials(
            ex, runner, base_config, repeats, metric, records, writer, say, threads, progress
        )
        current = space
        for number, stage in enumerate(stages, start=1):
            if summaries:
                best = rank_points(final_points(summaries[-1], metric))
                current = narrow(current, [p.values for p in best], narrowing, space)
            points = sample(current, stage, number)
            say(f"stage {number}/{len(stages)}: {len(points)} points, {_ranges(current)}")
            numbered = list(enumerate(points, start=1))
            if number in plans:
                stage_records = _halving(trials, number, numbered, plans[number], out_dir)
            else:
                stage_records = trials.run(number, numbered)
            summaries.append(StageResult(number, stage, current, tuple(stage_records)))
    chosen = choose([p for s in summaries for p in final_points(s, metric)], select, space)
    if chosen is None:
        raise HandpropError(
            f"no trial completed; see {results_path}; rerun the same command to run the failed "
            "trials again"
        )
    result = SearchResult(out_dir, metric, tuple(summaries), chosen, None, select, repeats)
    say(f"chosen ({select}): {values_text(chosen.values)} ({metric} {_mean_text(chosen)})")
    if final is not None:
        final_config = configure(configure(base_config, chosen.values), final)
        final_metrics = (final_runner or run_final)(final_config, out_dir / "final")
        result = attrs.evolve(result, final=final_metrics)
        say(f"final retrain: {result.final}")
    write_report(result)
    return result


def planned_work(base_config: TrainConfig, space: Space, stages: Sequence[Stage],
                 repeats: int = 1) -> float:  # fmt: skip
    """Work in GFLOP the search's trials plan, each at the base config's step cost
    (diverging trials stop earlier, a promoted halving trial resumes its checkpoint: an
    upper estimate)."""
    steps, cycles = base_config.planned_steps(), base_config.schedule.n_cycles
    total = 0.0
    for stage in stages:
        if stage.method == "halving":
            total += sum(kept * budget / cycles for budget, kept in rungs(stage, cycles)) * steps
        else:
            total += (
                stage.n ** len(space.dimensions) if stage.method == "grid" else stage.n
            ) * steps
    return total * repeats * base_config.step_gflop()


def repeat_seed(seed: int, repeat: int) -> int:
    """Seed of repeat ``repeat``: ``seed`` itself for repeat 0, else derived from both."""
    if repeat == 0:
        return seed
    state = np.random.SeedSequence([seed, repeat]).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def final_points(stage: StageResult, metric: str) -> list[Point]:
    """The stage's points trained on the full budget (a halving stage's last rung)."""
    points = group(stage.records, metric)
    last = max((p.rung for p in points), default=0)
    return [p for p in points if p.rung == last]


@attrs.define
class _Trials:
    """Runs (trial number, values) pairs x repeats, skipping recorded trials, recording
    each finished one at once."""

    executor: Executor
    runner: Runner
    base_config: Any
    repeats: int
    metric: str
    records: dict[str, TrialRecord]
    writer: ResultsWriter
    say: Log
    threads: int
    progress: Progress | None = None

    def run(
        self,
        stage: int,
        numbered: Sequence[tuple[int, Values]],
        rung: int = 0,
        cycles: int = 0,
        checkpoints: Path | None = None,
    ) -> list[TrialRecord]:
        """The records of every pair and repeat, in order; missing ones are run first."""
        base_seed = setting(self.base_config, "seed")
        keys = [
            (i, v, r, trial_key(stage, v, r, rung))
            for i, v in numbered
            for r in range(self.repeats)
        ]
        futures = {}
        for i, values, r, key in keys:
            if key in self.records and self.records[key].outcome.status != "error":
                continue
            settings = dict(values)
            if r:
                settings["seed"] = repeat_seed(base_seed, r)
            if cycles:
                settings["n_cycles"] = cycles
            options = {}
            if checkpoints is not None:
                options["checkpoint_dir"] = str(checkpoints / f"trial{i:03d}-repeat{r}")
            future = self.executor.submit(
                execute, self.runner, self.base_config, settings, self.threads, **options
            )
            futures[future] = (i, values, r, key)
        held: list[TrialRecord] = []  # failures that may all share one cause
        if self.progress is not None:
            self.progress.start(
                f"stage {stage}" + (f" rung {rung}" if rung else ""),
                len(keys),
                done=len(keys) - len(futures),
                unit="trial",
                share=self._trial_work(cycles),
            )
        for future in as_completed(futures):
            i, values, r, key = futures[future]
            outcome, wall_time = future.result()
            if self.progress is not None:
                self.progress.advance()
            record = TrialRecord(key, stage, i, values, outcome, wall_time, r, rung, cycles)
            self.records[key] = record
            self.say(_trial_line(record, self.metric))
            held.append(record)
            if _common_error(held) is None:
                self._append(held)
        if self.progress is not None:
            self.progress.close()
        records = [self.records[key] for *_, key in keys]
        error = _common_error(records)
        if error is not None:
            raise HandpropError(f"stage {stage}: all {len(records)} trials failed with {error}")
        self._append(held)
        return records

    def _trial_work(self, cycles: int) -> float:
        """Planned work of one trial in GFLOP (``cycles``: a halving rung's budget)."""
        if not isinstance(self.base_config, TrainConfig):
            return 1.0
        config = self.base_config
        steps = config.planned_steps() * (cycles / config.schedule.n_cycles if cycles else 1)
        return steps * config.step_gflop()

    def _append(self, records: list[TrialRecord]) -> None:
        """Append ``records`` to the results file and empty the list."""
        for record in records:
            self.writer.append(record)
        records.clear()


#: A file system path in an error message (trials' errors differ by their folders).
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[\\/][^\s\\/'\"(),;:]+)+[\\/]?")


def _common_error(records: Sequence[TrialRecord]) -> str | None:
    """The error every one of ``records`` failed with, if there are any and it is one once
    the paths in the messages are set aside (the first record's message)."""
    errors = {
        _PATH.sub("<path>", r.outcome.error or "") if r.outcome.status == "error" else None
        for r in records
    }
    if len(errors) != 1 or errors.pop() is None:
        return None
    return records[0].outcome.error


def _halving(
    trials: _Trials,
    number: int,
    numbered: list[tuple[int, Values]],
    plan: list[tuple[int, int]],
    out_dir: Path,
) -> list[TrialRecord]:
    """Successive halving over ``numbered`` by ``plan``; the records of every rung."""
    checkpoints = out_dir / "checkpoints" / f"stage{number}"
    alive, done = numbered, list[list[TrialRecord]]()
    for rung, (cycles, keep) in enumerate(plan, start=1):
        if rung > 1:
            kept = set(promote(group(done[-1], trials.metric), keep))
            alive = [(i, v) for i, v in alive if i in kept]
        trials.say(f"  rung {rung}/{len(plan)}: {len(alive)} points x {cycles} cycles")
        done.append(trials.run(number, alive, rung, cycles, checkpoints))
    return [r for rung_records in done for r in rung_records]


def run_final(config: Any, out_dir: Path) -> dict[str, Any]:
    """Retrain ``config`` with :func:`handprop.runs.run_experiment` into ``out_dir`` (an
    interrupted retrain continues, a finished one is reported); its summary metrics."""
    from handprop.runs import run_experiment

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
    repeats: int,
    select: str,
    threads: int,
) -> None:
    """Write ``search.json``, or check that the folder's existing one is the same search,
    run with the same BLAS thread count.

    Settings at their defaults that earlier versions did not have (``repeats = 1``,
    ``select = "best_mean"``, halving factors of other stages) are left out, so folders
    of those versions still resume."""
    extra = {"repeats": repeats, "select": select}
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
                | {k: v for k, v in extra.items() if v != {"repeats": 1, "select": "best_mean"}[k]}
            )
        )
    )
    for stage in definition["stages"]:
        if stage["method"] != "halving":
            del stage["eta"], stage["min_cycles"]
    path = out_dir / "search.json"
    if path.exists():
        stored = read_json_object(path, "search definition")
        stored_threads = stored.pop("threads", threads)
        if _same_config(stored.get("base_config"), base_config):
            stored["base_config"] = definition["base_config"]
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


def _same_config(stored: Any, base_config: Any) -> bool:
    """Whether a stored base config (its tables) is ``base_config`` itself: a training
    config compares as a parsed record."""
    if not isinstance(base_config, TrainConfig) or not isinstance(stored, dict):
        return False
    try:
        return config_from_dict(stored) == base_config
    except ConfigError:
        return False


def values_text(values: Values) -> str:
    """``"lam=0.001, hidden=86"``: whole numbers print without a decimal point."""
    return ", ".join(f"{k}={v:.4g}" for k, v in values.items())


def _ranges(space: Space) -> str:
    return ", ".join(f"{d.name} in [{d.low:.3g}, {d.high:.3g}]" for d in space.dimensions)


def _mean_text(point: Point) -> str:
    se = "" if point.se is None else f" ± {point.se:.4f}"
    return f"mean {point.mean:.4f}{se} over {len(point.scores)} of {len(point.records)} repeats"


def _trial_line(record: TrialRecord, metric: str) -> str:
    score = record.score(metric)
    result = f"{metric} {score:.4f}" if score is not None else record.outcome.status
    if record.outcome.error:
        result += f": {record.outcome.error}"
    where = f"stage {record.stage}" + (f" rung {record.rung}" if record.rung else "")
    repeat = f" repeat {record.repeat}" if record.repeat else ""
    return (
        f"  {where} trial {record.trial}{repeat}: {values_text(record.values)} "
        f"-> {result} ({record.wall_time:.1f} s)"
    )
