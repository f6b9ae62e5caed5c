"""Run the catalogue's experiments into a results folder, reusing the ones already done.

Layout of the results folder::

    suite.json            the suite the folder holds (``suites``: all of them, when the
                          ``full`` and ``search`` suites share it), each experiment's
                          elapsed time, and the machine and data copy they were measured on
    gradcheck/            gradcheck.json (the records), metrics.json
    runs/NAME/            a run folder (see handprop.runs.rundir), figures as PNG and PDF
    searches/NAME/        a search folder (see handprop.search.report), plus metrics.json
    ensembles/NAME/       ensemble.json (each member's accuracies), metrics.json (the
                          ensembles' accuracies)

An experiment is done when its folder holds ``metrics.json``; a run folder without it is
resumed from its checkpoint. ``force`` deletes the experiment's folder first.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs

from handprop.atomic import read_json_object, write_json_atomic, write_text_atomic
from handprop.errors import ConfigError
from handprop.lock import folder_lock
from handprop.progress import WORK_UNIT, Count, Progress
from handprop.reproduce.catalogue import (
    COMPATIBLE,
    FOLDERS,
    SUITES,
    Experiment,
    by_name,
    select,
)
from handprop.reproduce.machine import describe_data, describe_machine

METRICS_FILE = "metrics.json"
ENSEMBLE_FILE = "ensemble.json"
SUITE_FILE = "suite.json"
#: Smoke suite: training images kept, epochs of a constant schedule, cyclical half-cycle
#: length and evaluation cadence, trials per search stage, gradient-check size.
SMOKE_TRAIN = 1000
SMOKE_EPOCHS = 2
SMOKE_N_S = 10
SMOKE_EVAL_EVERY = 5
SMOKE_TRIALS = 2
#: Gradient check: (rows of real data, finite-difference coordinates per parameter).
GRADCHECK_SIZE: dict[str, tuple[int, int]] = {"full": (100, 20), "smoke": (10, 3)}
#: Networks the gradient check covers: (hidden sizes, λ, dropout rate).
GRADCHECK_CASES: tuple[tuple[tuple[int, ...], float, float], ...] = (
    ((), 0.0, 0.0),
    ((), 0.1, 0.0),
    ((50,), 0.01, 0.0),
    ((50,), 0.01, 0.5),
    ((50, 50), 0.01, 0.0),
)

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def experiment_dir(out_dir: Path, experiment: Experiment) -> Path:
    return Path(out_dir) / FOLDERS[experiment.kind] / experiment.name


def read_metrics(folder: Path) -> dict[str, Any] | None:
    """The folder's ``metrics.json``, or None if the experiment has not finished."""
    path = folder / METRICS_FILE
    return read_json_object(path, "metrics file") if path.is_file() else None


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON atomically (temporary file, then rename)."""
    write_json_atomic(path, value)


def smoke_overrides(config: Any) -> list[str]:
    """``key=value`` overrides that shrink a training config to a seconds-long run."""
    n_train = min(config.data.n_train or SMOKE_TRAIN, SMOKE_TRAIN)
    budget = (
        [f"epochs={min(config.schedule.epochs, SMOKE_EPOCHS)}", "eval_every=0"]
        if config.schedule.kind == "constant"
        else [f"n_s={SMOKE_N_S}", f"eval_every={SMOKE_EVAL_EVERY}"]
    )
    return [f"n_train={n_train}", "train_eval_size=0", "checkpoint_every=0", *budget]


def _training_config(experiment: Experiment, suite: str) -> Any:
    """The experiment's packaged training config with its overrides (shrunk for smoke)."""
    from handprop.train import load_config

    config = load_config(experiment.source).with_overrides(experiment.overrides)
    return config.with_overrides(smoke_overrides(config)) if suite == "smoke" else config


def _search_plan(experiment: Experiment, suite: str) -> tuple[Any, list[str], Any]:
    """The experiment's search spec, its overrides and its base training config (the
    smoke suite's with two trials per stage and a tiny budget)."""
    from handprop.search import configure, load_search_spec
    from handprop.train import load_config

    spec = load_search_spec(experiment.source)
    overrides = list(experiment.overrides)
    base = configure(load_config(spec.base), spec.base_set).with_overrides(overrides)
    if suite == "smoke":
        overrides += smoke_overrides(base)
        base = base.with_overrides(smoke_overrides(base))
        spec = attrs.evolve(
            spec, stages=tuple(attrs.evolve(s, n=SMOKE_TRIALS) for s in spec.stages)
        )
    return spec, overrides, base


def planned_work(experiment: Experiment, suite: str) -> float:
    """Estimated training work of the experiment in GFLOP (an upper estimate for searches;
    none to check gradients or evaluate an ensemble)."""
    from handprop.search import configure
    from handprop.search.engine import planned_work as search_work

    if experiment.kind == "run":
        config = _training_config(experiment, suite)
        return config.planned_steps() * config.step_gflop()
    if experiment.kind == "search":
        spec, _, base = _search_plan(experiment, suite)
        final = configure(base, spec.final_set)
        trials = search_work(base, spec.space, spec.stages, spec.repeats)
        return trials + final.planned_steps() * final.step_gflop()
    return 0.0


def run_training(
    experiment: Experiment, folder: Path, suite: str, progress: Progress | None
) -> dict[str, Any]:
    """Train the experiment's packaged config, with its overrides, into its run folder
    (resuming a partial one)."""
    from handprop.runs import run_experiment

    config = _training_config(experiment, suite)
    summary = run_experiment(
        config, folder, resume=folder.exists(), progress=progress or False, figures=("png", "pdf")
    )
    return read_metrics(folder) or {"status": summary.status}


def run_search(
    experiment: Experiment, folder: Path, suite: str, progress: Progress | None
) -> dict[str, Any]:
    """Run the experiment's packaged search config (with the experiment's overrides), retrain
    its winner on the final split, and add ``metrics.json`` to its folder."""
    from handprop.search import search_spec

    spec, overrides, _ = _search_plan(experiment, suite)
    options: dict[str, Any] = {"workers": 0} if suite == "smoke" else {}
    log = _stderr if progress else None
    start = time.perf_counter()
    result = search_spec(
        spec,
        out_dir=folder,
        overrides=overrides,
        final=True,
        log=log,
        progress=progress,
        **options,
    )
    metrics = {
        "status": "completed",
        "chosen": result.chosen,
        "metric": result.metric,
        "score": result.best.mean,
        "trials": sum(len(s.records) for s in result.stages),
        "final_test_acc": (result.final or {}).get("test_acc"),
        "wall_time": time.perf_counter() - start,
    }
    write_json(folder / METRICS_FILE, metrics)
    return metrics


def run_gradcheck(
    experiment: Experiment, folder: Path, suite: str, progress: Progress | None
) -> dict[str, Any]:
    """Check analytic gradients against PyTorch and finite differences on the first
    normalised rows of data_batch_1 (float64)."""
    from handprop import verify as gradcheck
    from handprop.train import config_from_dict, load_data

    n_rows, fd_coords = GRADCHECK_SIZE[suite]
    cases = [gradcheck.CheckCase(h, lam, dropout) for h, lam, dropout in GRADCHECK_CASES]
    train = load_data(
        config_from_dict({"split": "batch1", "dtype": "float64"})
    ).train  # shares the cache
    X, y = train.X[:n_rows], train.y[:n_rows]
    start = time.perf_counter()
    rows = gradcheck.gradcheck_table(cases, X, y, fd_coords=fd_coords)
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"n_rows": n_rows, "fd_coords": fd_coords}
    write_text_atomic(folder / "gradcheck.json", gradcheck.to_json(rows, **settings))
    metrics = {
        "status": "completed" if not gradcheck.failures(rows) else "failed",
        "failures": gradcheck.failures(rows),
        "torch_abs": max(r.torch_abs for r in rows),
        "torch_rel": max((r.torch_rel for r in rows if r.zero_abs is None), default=0.0),
        "fd_rel": max(r.fd_rel or 0.0 for r in rows),
        "wall_time": time.perf_counter() - start,
        **settings,
    }
    write_json(folder / METRICS_FILE, metrics)
    return metrics


def run_ensemble(
    experiment: Experiment, folder: Path, suite: str, progress: Progress | None
) -> dict[str, Any]:
    """Evaluate, without training, the ensemble of the member runs' final parameters and of
    all their snapshots (each with its run's test-time augmentation); the member runs are
    the experiments' folders beside this one's (``folder`` is ``OUT/ensembles/NAME``)."""
    from handprop.runs.ensemble import evaluate_runs, load_run

    out = folder.parents[1]
    folders = [experiment_dir(out, by_name(name)) for name in experiment.members]
    missing = [f.name for f in folders if read_metrics(f) is None]
    if missing:
        raise ConfigError(
            f"{experiment.name} ensembles runs that have not finished: {', '.join(missing)}; "
            "run them first"
        )
    start = time.perf_counter()
    runs = [load_run(f) for f in folders]
    final = evaluate_runs(runs)
    snapshots = evaluate_runs([load_run(f, snapshots=True) for f in folders])

    folder.mkdir(parents=True, exist_ok=True)
    write_json(
        folder / ENSEMBLE_FILE,
        {
            kind: [{"member": n, "val_acc": v, "test_acc": t} for n, v, t in result.members]
            for kind, result in (("final", final), ("snapshots", snapshots))
        },
    )
    metrics = {
        "status": "completed",
        "runs": list(experiment.members),
        "tta": sorted({run.config.augment.tta for run in runs}),
        "test_acc": final.test.accuracy,
        "final": final.summary(),
        "snapshots": snapshots.summary(),
        "wall_time": time.perf_counter() - start,
    }
    write_json(folder / METRICS_FILE, metrics)
    return metrics


RUNNERS: dict[str, Callable[[Experiment, Path, str, Progress | None], dict[str, Any]]] = {
    "gradcheck": run_gradcheck,
    "run": run_training,
    "search": run_search,
    "ensemble": run_ensemble,
}


def claim(out_dir: Path, suite: str, *, force: bool) -> dict[str, Any]:
    """The folder's ``suite.json`` (created if new); a folder of another suite is refused,
    unless both are :data:`~handprop.reproduce.catalogue.COMPATIBLE` (``full``, ``search`` and
    ``beyond`` share a folder: ``suites`` lists them, ``suite`` stays ``full`` once it is
    there)."""
    if suite not in SUITES:
        raise ConfigError(f"suite must be one of {', '.join(SUITES)}; got {suite!r}")
    path = out_dir / SUITE_FILE
    state = read_json_object(path, "suite file") if path.is_file() else None
    held = set(state.get("suites", [state.get("suite")])) if state is not None else set()
    if state is not None and suite not in held and held | {suite} <= COMPATIBLE:
        state["suites"] = sorted(held | {suite})
        state["suite"] = "full" if "full" in state["suites"] else suite
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(path, state)
        return state
    if state is not None and suite not in held and not force:
        raise ConfigError(
            f"{out_dir} holds results of the {state['suite']} suite; pass --force to replace "
            f"them or choose another --out folder"
        )
    if state is None or suite not in held:
        for sub in FOLDERS.values():  # results of another suite must not mix with this one
            shutil.rmtree(out_dir / sub, ignore_errors=True)
        state = {"suite": suite, "suites": [suite], "times": {}}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, state)
    return state


ACCURACY_NAMES = {"test_acc": "test accuracy", "final_train_acc": "training accuracy"}


def _headline(metrics: dict[str, Any], experiment: Experiment) -> str:
    accuracy = metrics.get(experiment.headline)
    if accuracy is not None:
        return f"{ACCURACY_NAMES[experiment.headline]} {100 * accuracy:.2f} %"
    if "chosen" in metrics:
        return ", ".join(f"{k} = {v:.3g}" for k, v in metrics["chosen"].items()) + " chosen"
    if "torch_abs" in metrics:
        return f"max |analytic - torch| = {metrics['torch_abs']:.1e}"
    return f"status {metrics.get('status')}"


def run_all(
    out_dir: str | Path,
    *,
    suite: str = "full",
    only: Sequence[str] = (),
    force: bool = False,
    progress: bool | Progress = True,
    log: Log = _stderr,
) -> dict[str, dict[str, Any]]:
    """Run the selected experiments (``only``: names; default all) into ``out_dir``.

    Returns ``{name: metrics}``. Each experiment's elapsed time is kept in ``suite.json``.
    ``progress`` (``True``: on stderr) shows the running experiment's steps or trials and
    the suite's planned training steps (:class:`~handprop.progress.Progress`).
    """
    out = Path(out_dir)
    experiments = select(only, suite)
    plans = [planned_work(e, suite) for e in experiments] if progress is True else []
    if progress is True:
        progress = Progress(overall=Count(f"{suite} suite", sum(plans), WORK_UNIT))
    with folder_lock(out, "results folder"):
        fresh = not (out / SUITE_FILE).exists()
        state = claim(out, suite, force=force)
        try:
            return _run_each(out, experiments, suite, force, progress or None, log, state, plans)
        except BaseException:
            if fresh and not state["times"]:  # nothing ran: leave no results folder behind
                (out / SUITE_FILE).unlink(missing_ok=True)
            raise


def _run_each(
    out: Path,
    experiments: Sequence[Experiment],
    suite: str,
    force: bool,
    progress: Progress | None,
    log: Log,
    state: dict[str, Any],
    plans: Sequence[float],
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    measured = False
    for k, experiment in enumerate(experiments, start=1):
        tag = f"[{k}/{len(experiments)}] {experiment.name}"
        folder = experiment_dir(out, experiment)
        if force:
            shutil.rmtree(folder, ignore_errors=True)
        metrics = read_metrics(folder)
        if metrics is not None:
            log(f"{tag}: done before, reused ({_headline(metrics, experiment)})")
        else:
            if not measured:  # the machine and data copy the new times come from
                state.update(machine=describe_machine(), data=describe_data())
                measured = True
            log(f"{tag}: running ({experiment.kind} {experiment.source or experiment.name}) ...")
            start = time.perf_counter()
            metrics = RUNNERS[experiment.kind](experiment, folder, suite, progress)
            state["times"][experiment.name] = elapsed = time.perf_counter() - start
            write_json(out / SUITE_FILE, state)
            log(f"{tag}: finished in {elapsed:.1f} s ({_headline(metrics, experiment)})")
        results[experiment.name] = metrics
        if progress is not None:  # reused experiments and estimates settle here
            progress.reach(sum(plans[:k]))
    if progress is not None:
        progress.finish()
    return results
