"""Optuna stages: seeded proposals over typed dimensions, pruning recorded as pruned, the
study (what optuna-dashboard reads), resume without repeats, and refused bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from search_fakes import TPE_PARAMS, lines, run_tpe

from handprop.errors import ConfigError
from handprop.search import read_results
from handprop.search.optuna_space import OptunaStage, Param, check_params

optuna = pytest.importorskip("optuna")


def _study(out):
    return optuna.load_study(study_name="handprop", storage=f"sqlite:///{out / 'study.db'}")


def test_tpe_study_holds_what_the_dashboard_shows_and_prunes(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    run_tpe(out, log, 0.0, 0, n=14)

    trials = _study(out).get_trials()
    states = [t.state for t in trials]
    assert len(trials) == 14 and [t.number for t in trials] == list(range(14))
    assert optuna.trial.TrialState.PRUNED in states
    assert optuna.trial.TrialState.COMPLETE in states
    for t in trials:
        assert set(t.params) >= {"lam", "eta_max", "hidden", "dropout", "flip"}
        assert ("flip_prob" in t.params) == t.params["flip"]  # conditional on flip
        assert t.intermediate_values and min(t.intermediate_values) == 10
        assert t.user_attrs["handprop_values"]["hidden"] == t.params["hidden"]
        assert t.user_attrs["handprop_config"]["lam"] == t.params["lam"]
        status = t.user_attrs["handprop_status"]
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert (
                status == "completed"
                and t.value == t.user_attrs["handprop_outcome"]["final_val_acc"]
            )
            assert max(t.intermediate_values) == 90
        else:  # a run's last evaluation is recorded, never judged
            assert status == "pruned" and max(t.intermediate_values) < 90
    records = read_results(out / "results.jsonl")
    statuses = sorted(r.outcome.status for r in records.values())
    assert statuses == sorted(t.user_attrs["handprop_status"] for t in trials)
    chosen = json.loads((out / "chosen.json").read_text())
    best = max(t.value for t in trials if t.value is not None)
    assert chosen["mean"] == best and chosen["stages"][0]["method"] == "tpe"
    assert (out / "val_acc.png").stat().st_size > 0


def test_same_seed_same_proposals_and_a_rerun_repeats_nothing(tmp_path):
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        run_tpe(out, tmp_path / f"{out.name}.log", 0.0, 0, n=8)
    a, b = (read_results(out / "results.jsonl") for out in runs)
    assert [r.values for r in a.values()] == [r.values for r in b.values()]

    run_tpe(runs[0], tmp_path / "a.log", 0.0, 0, n=8)  # finished: nothing runs again
    assert lines(tmp_path / "a.log") == 8


def test_pool_workers_report_to_the_study(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    run_tpe(out, log, 0.0, 2, n=6)
    trials = _study(out).get_trials()
    assert len(trials) == 6 and all(t.intermediate_values for t in trials)
    assert len({line.split()[1] for line in log.read_text().splitlines()}) >= 1


def test_the_seeds_searches_never_import_optuna():
    script = (
        "import sys\n"
        "from handprop.cli import main\n"
        "from handprop.search import load_search_spec\n"
        "for name in ('search_lambda', 'search_grid3', 'search_halving', "
        "'search_lambda_repeats', 'search_lambda_augmented'):\n"
        "    load_search_spec(name)\n"
        "assert 'optuna' not in sys.modules, 'optuna imported'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


@pytest.mark.parametrize(
    ("param", "message"),
    [
        (dict(name="lam", low=1.0, high=1.0), "must be below high"),
        (dict(name="lam", low=0.0, high=1.0, scale="log"), "log scale needs low > 0"),
        (dict(name="lam", low=1e-3, high=1.0, when={"mixup": True}), "names no earlier"),
        (dict(name="flip"), "needs low and high"),
    ],
)
def test_bad_dimensions_are_refused(param, message):
    with pytest.raises(ConfigError, match=message):
        check_params([Param(**param)])


def test_bad_stages_are_refused():
    with pytest.raises(ConfigError, match="must be one of"):
        OptunaStage("bayes")
    with pytest.raises(ConfigError, match="must be one of"):
        OptunaStage("tpe", pruner="median")
    with pytest.raises(ConfigError, match="grace_period"):
        OptunaStage("tpe", heartbeat_interval=10, grace_period=5)


def test_every_sampler_proposes(tmp_path):
    from search_fakes import FakeConfig, cycles_runner

    from handprop.search.optuna_stage import optuna_search

    params = [p for p in TPE_PARAMS if not p.when]
    for method in ("cmaes", "gp", "optuna_random"):
        result = optuna_search(
            FakeConfig(n_cycles=2),
            params,
            OptunaStage(method, 4, seed=2, n_startup_trials=2),
            out_dir=tmp_path / method,
            runner=cycles_runner,
            workers=0,
        )
        assert len(result.stages[0].records) == 4


@pytest.mark.parametrize(
    ("name", "pruner"), [("search_tpe", "halving"), ("search_speedrun", "hyperband")]
)
def test_packaged_optuna_searches(name, pruner):
    from handprop.search import load_search_spec
    from handprop.train import load_config

    spec = load_search_spec(name)
    assert spec.optuna is not None and spec.optuna.method == "tpe"
    assert spec.optuna.pruner == pruner and len(spec.params) >= 6
    config = load_config(spec.base)
    for p in spec.params:
        config.value(p.name)  # every dimension is a training config key
