"""The search loop with fake trials: failures recorded, resume, results file, executors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from search_fakes import (
    LAMBDA_SPACE,
    TWO_STAGES,
    FakeConfig,
    accuracy,
    blas_runner,
    fake_runner,
    thread_env_runner,
)

from handprop.errors import ConfigError, DataError, HandpropError
from handprop.search import (
    Dimension,
    Narrowing,
    Space,
    Stage,
    TrialOutcome,
    read_results,
    search,
)
from handprop.search.executor import THREAD_VARIABLES


def run(out, config=None, **kwargs):
    options = {"stages": TWO_STAGES, "runner": fake_runner, "workers": 0} | kwargs
    return search(config or FakeConfig(), LAMBDA_SPACE, out_dir=out, **options)


def executions(log):
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_search_narrows_and_chooses_the_peak(tmp_path):
    result = run(tmp_path)
    coarse, fine = result.stages
    assert (coarse.space.dimensions[0].low, coarse.space.dimensions[0].high) == (1e-5, 1e-1)
    fine_dim = fine.space.dimensions[0]
    assert 1e-5 < fine_dim.low < 1e-3 < fine_dim.high < 1e-1
    assert result.best.stage == 2
    assert result.chosen["lam"] == pytest.approx(1e-3, rel=0.5)
    for name in ("results.jsonl", "search.json", "top_configs.md", "top_configs.tex",
                 "val_acc.png", "chosen.json"):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0
    chosen = json.loads((tmp_path / "chosen.json").read_text())
    assert chosen["values"] == result.chosen
    assert chosen["stages"][0]["ranges"]["lam"] == [1e-5, 1e-1]


def test_diverged_and_raising_trials_are_recorded_and_the_search_goes_on(tmp_path):
    result = run(tmp_path)
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == sum(len(s.records) for s in result.stages) == 12
    by_lam = {r.values["lam"]: r for r in records.values() if r.stage == 1}
    assert by_lam[1e-1].outcome.status == "diverged"
    assert by_lam[1e-1].outcome.final_val_acc is None  # NaN is stored as null
    assert by_lam[1e-5].outcome.status == "error"
    assert by_lam[1e-5].outcome.error == "FloatingPointError: overflow in fake trial"
    assert all(r.outcome.status == "completed" for r in result.best.records)
    markdown = (tmp_path / "top_configs.md").read_text()
    assert "1 diverged" in markdown and "1 error" in markdown


def test_rerun_skips_finished_trials_and_gives_the_same_choice(tmp_path):
    log = tmp_path / "executions.log"
    first = run(tmp_path / "out", FakeConfig(log=str(log)))
    assert executions(log) == 12
    second = run(tmp_path / "out", FakeConfig(log=str(log)))
    assert executions(log) == 13  # the one raising trial runs again, nothing else
    assert second.chosen == first.chosen

    def outcomes(result):
        return [(r.key, r.outcome) for s in result.stages for r in s.records]

    assert outcomes(second) == outcomes(first)


def test_a_torn_last_line_is_dropped_and_rerun(tmp_path):
    log = tmp_path / "executions.log"
    run(tmp_path / "out", FakeConfig(log=str(log)))
    results = tmp_path / "out" / "results.jsonl"
    lines = results.read_bytes().splitlines(keepends=True)
    results.write_bytes(b"".join(lines[:-1]) + lines[-1][:25])  # killed mid-write
    assert len(read_results(results)) == 11
    run(tmp_path / "out", FakeConfig(log=str(log)))
    assert executions(log) == 14  # the torn trial, and the raising one again
    assert len(read_results(results)) == 12
    assert results.read_bytes().endswith(b"}\n")


def test_a_corrupt_results_line_is_a_data_error(tmp_path):
    run(tmp_path)
    results = tmp_path / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    results.write_text(lines[0] + "{not json\n" + "".join(lines[1:]))
    with pytest.raises(DataError, match="line 2"):
        run(tmp_path)


def test_a_folder_holding_another_search_is_refused(tmp_path):
    run(tmp_path)
    with pytest.raises(ConfigError, match="different search"):
        run(tmp_path, stages=(Stage("grid", 4),))


def test_unknown_fields_and_metrics_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown config field 'lambda'"):
        search(FakeConfig(), Space([Dimension("lambda", 1e-5, 1e-1)]), out_dir=tmp_path)
    with pytest.raises(ConfigError, match="metric"):
        run(tmp_path, metric="test_acc")


def test_an_invalid_sampled_config_is_an_error_trial(tmp_path):
    space = Space([Dimension("hidden", 1, 3, "linear", integer=True)])
    result = search(FakeConfig(hidden=(5,)), space, out_dir=tmp_path,
                    stages=(Stage("grid", 3),), runner=lambda c: TrialOutcome(
                        "completed", final_val_acc=c.hidden[0] / 10), workers=0)  # fmt: skip
    assert result.chosen == {"hidden": 3.0}


def test_search_with_a_hidden_size_dimension_sets_every_layer(tmp_path):
    seen = []

    def runner(config):
        seen.append(config.hidden)
        return TrialOutcome("completed", final_val_acc=0.5)

    space = Space([Dimension("hidden", 20, 40, "linear", integer=True)])
    search(FakeConfig(hidden=(8, 8)), space, out_dir=tmp_path, stages=(Stage("grid", 2),),
           runner=runner, workers=0)  # fmt: skip
    assert seen == [(20, 20), (40, 40)]


def test_final_retrain_of_the_winner(tmp_path):
    calls = []

    def final_runner(config, out):
        calls.append((config, out))
        return {"status": "completed", "test_acc": 0.49}

    result = run(tmp_path, final={"seed": 7}, final_runner=final_runner)
    ((config, out),) = calls
    assert config.lam == result.chosen["lam"] and config.seed == 7
    assert out == tmp_path / "final"
    assert json.loads((tmp_path / "chosen.json").read_text())["final"]["test_acc"] == 0.49
    assert "Final retrain" in (tmp_path / "top_configs.md").read_text()


def test_local_pool_limits_worker_threads_and_restores_the_environment(tmp_path):
    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    result = search(
        FakeConfig(),
        LAMBDA_SPACE,
        out_dir=tmp_path,
        stages=(Stage("grid", 4),),
        narrowing=Narrowing(),
        runner=thread_env_runner,
        workers=2,
    )
    assert {r.outcome.final_val_acc for r in result.stages[0].records} == {1.0}
    assert {name: os.environ.get(name) for name in THREAD_VARIABLES} == before


def test_inline_and_pool_trials_run_with_the_same_blas_threads_and_bits(tmp_path):
    stages = (Stage("grid", 4),)
    inline = run(tmp_path / "inline", runner=blas_runner, stages=stages, workers=0)
    pool = run(tmp_path / "pool", runner=blas_runner, stages=stages, workers=2)
    outcomes = [
        [(r.values, r.outcome) for r in s.records] for s in (inline.stages[0], pool.stages[0])
    ]
    assert outcomes[0] == outcomes[1]
    assert {o.steps for _, o in outcomes[0]} == {o.threads for _, o in outcomes[0]} == {1}
    assert json.loads((tmp_path / "pool" / "search.json").read_text())["threads"] == 1


def test_a_resume_with_another_thread_count_is_refused(tmp_path):
    run(tmp_path, threads=1)
    assert {r.outcome.threads for r in read_results(tmp_path / "results.jsonl").values()} == {1}
    with pytest.raises(ConfigError, match="resume with --threads 1"):
        run(tmp_path, threads=2)
    with pytest.raises(ConfigError, match="threads = 0"):
        run(tmp_path / "zero", threads=0)


def failing_runner(config):
    raise DataError("no data here")


def test_a_stage_failing_for_one_reason_stops_the_search_and_is_rerun(tmp_path):
    with pytest.raises(HandpropError, match="stage 1: all 6 trials failed with DataError: no data"):
        run(tmp_path, runner=failing_runner)
    assert read_results(tmp_path / "results.jsonl") == {}  # a re-run after the fix runs them
    assert len(run(tmp_path).stages) == 2


@pytest.mark.parametrize(
    ("env", "undone"), [({"MALLOC_TRIM_THRESHOLD_": "65536"}, "True"), ({}, "False")]
)
def test_a_dask_style_malloc_trim_threshold_is_undone_in_trial_processes(env, undone):
    environ = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"} | env
    code = "from handprop.search.executor import undo_malloc_trim as u; print(u())"
    out = subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True, text=True)
    assert out.stdout.strip() == (undone if sys.platform.startswith("linux") else "False")


def _train_config_runner(config) -> TrialOutcome:
    acc = accuracy(config.optimizer.lam)
    return TrialOutcome(status="completed", final_val_acc=acc, best_val_acc=acc, steps=10)


def test_a_folder_resumes_with_its_base_config_only(tmp_path):
    from handprop.train.config import config_from_dict

    space = Space([Dimension("lam", 1e-4, 1e-2, "log")])
    options = {"stages": (Stage("grid", 3),), "runner": _train_config_runner, "workers": 0}
    base = config_from_dict({"hidden": [50], "n_cycles": 2, "n_val": 5000})
    search(base, space, out_dir=tmp_path, **options)
    assert search(base, space, out_dir=tmp_path, **options).chosen == {"lam": 1e-3}
    with pytest.raises(ConfigError, match="different search"):
        search(base.with_values({"n_cycles": 3}), space, out_dir=tmp_path, **options)
