"""The beyond suite of handprop reproduce: its catalogue, overrides of runs, a folder shared
with the full and search suites, the ensemble kind (tiny runs) and its outputs (macros,
tables, README part) from fake runs."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from handprop.errors import ConfigError
from handprop.reproduce import beyondsuite, catalogue, latex, outputs, runner
from handprop.reproduce.collect import collect
from handprop.runs import run_experiment
from handprop.runs.ensemble import evaluate_runs, load_run
from handprop.runs.ensemble_config import load_ensemble_config
from handprop.train import config_from_dict, load_config
from handprop.train.config import config_to_toml

MACRO = re.compile(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}$")
BEYOND = [e.name for e in catalogue.in_suites(["beyond"])]
#: Test accuracies (with TTA, plain) of the fake beyond_two_layer seeds.
SEEDS = {0: (0.63, 0.62), 1: (0.62, 0.61), 2: (0.64, 0.63)}


def _macros(path: Path) -> dict[str, str]:
    found = [MACRO.match(line) for line in path.read_text().splitlines()[1:]]
    return {m.group(1): m.group(2) for m in found if m}


def _run(out: Path, **kwargs) -> dict:
    return runner.run_all(out, progress=False, log=lambda line: None, **kwargs)


def test_the_beyond_suite_runs_the_ablation_seeds_and_ensembles():
    rows = ["wide_flip", "wide_flip_translate_dropout", "beyond_zca", "beyond_zca_smooth"]
    nets = ["beyond_two_layer", "beyond_deep_bn"]
    assert [
        *(f"{row}_s{seed}" for row in [*rows, *nets] for seed in (0, 1, 2)),
        "beyond_ensemble_seeds",
        "beyond_ensemble",
    ] == BEYOND
    assert {r.row for r in beyondsuite.ROWS} == set(catalogue.ABLATION)
    assert catalogue.by_name("beyond_zca_smooth_s2").overrides == (
        "seed=2",
        "whiten=zca",
        "whiten_eps=1.0",
        "eta_max=0.5",
        "label_smoothing=0.1",
    )
    ensemble = catalogue.by_name("beyond_ensemble_seeds")
    assert ensemble.kind == "ensemble"
    assert ensemble.members == tuple(f"beyond_two_layer_s{s}" for s in (0, 1, 2))
    deep = catalogue.by_name("beyond_ensemble")
    assert deep.members == tuple(f"beyond_deep_bn_s{s}" for s in (0, 1, 2))
    packaged = load_ensemble_config("beyond_ensemble")  # the same members as the config's
    assert deep.members == tuple(f"{packaged.config}_s{s}" for s in packaged.seeds)
    assert catalogue.by_name("beyond_deep_bn_s1").overrides == ("seed=1", "snapshots=true")
    # the full (and smoke) suite: the seeds' experiments, then one beyond_two_layer run
    full = catalogue.select()
    assert catalogue.select(suite="smoke") == full and len(full) == 16
    assert full[-1].name == "beyond_two_layer" and full[-1].overrides == ()
    assert not set(BEYOND) & {e.name for e in full}
    with pytest.raises(ConfigError, match="baseline: not in the beyond suite"):
        catalogue.select(["baseline"], "beyond")


def test_every_run_override_makes_a_valid_config():
    for experiment in catalogue.EXPERIMENTS:
        if experiment.kind == "run":
            load_config(experiment.source).with_overrides(experiment.overrides)
    zca = load_config("wide_flip_translate_dropout").with_overrides(
        catalogue.by_name("beyond_zca_smooth_s1").overrides
    )
    assert (zca.run.seed, zca.data.whiten, zca.data.whiten_eps) == (1, "zca", 1.0)
    assert (zca.schedule.eta_max, zca.optimizer.label_smoothing) == (0.5, 0.1)
    assert zca.model.hidden == (256,)


@pytest.mark.parametrize("suite", ["beyond", "smoke"])
def test_a_run_experiment_trains_its_config_with_its_overrides(tmp_path, monkeypatch, suite):
    seen = {}

    def fake(config, folder, **kwargs):
        seen["config"] = config
        raise KeyboardInterrupt  # stop here: only the config matters

    monkeypatch.setattr(importlib.import_module("handprop.runs"), "run_experiment", fake)
    with pytest.raises(KeyboardInterrupt):
        runner.run_training(catalogue.by_name("beyond_two_layer_s1"), tmp_path, suite, False)
    config = seen["config"]
    assert config.run.seed == 1 and config.run.snapshots is True
    assert config.model.hidden == (2048,) and config.data.whiten == "zca"
    if suite == "smoke":  # shrunk after the overrides
        assert (config.data.n_train, config.schedule.n_s) == (runner.SMOKE_TRAIN, runner.SMOKE_N_S)
    else:
        assert config.schedule.n_s == 3500 and config.data.n_train == 0


def test_the_beyond_suite_shares_a_folder_with_the_full_and_search_suites(tmp_path):
    runner.claim(tmp_path, "full", force=False)
    runner.claim(tmp_path, "beyond", force=False)
    runner.claim(tmp_path, "search", force=False)
    state = json.loads((tmp_path / runner.SUITE_FILE).read_text())
    assert (state["suite"], state["suites"]) == ("full", ["beyond", "full", "search"])
    smoke = tmp_path / "smoke"
    runner.claim(smoke, "smoke", force=False)
    with pytest.raises(ConfigError, match="smoke suite"):
        runner.claim(smoke, "beyond", force=False)


# --- the ensemble kind, on tiny runs of synthetic data ------------------------------------

#: 300 training images, batch 100; two cycles of n_s = 3 (12 steps), snapshots of both.
TINY = dict(split="batch1", hidden=(16,), n_s=3, n_cycles=2, lam=1e-3, eta_max=0.05, snapshots=True)


def test_the_ensemble_kind_evaluates_the_member_runs(tmp_path, tiny_data):
    ensemble = catalogue.by_name("beyond_ensemble_seeds")
    folder = runner.experiment_dir(tmp_path, ensemble)
    with pytest.raises(ConfigError, match="beyond_two_layer_s0, beyond_two_layer_s1"):
        runner.run_ensemble(ensemble, folder, "beyond", False)
    members = []
    for seed, name in enumerate(ensemble.members):
        members.append(runner.experiment_dir(tmp_path, catalogue.by_name(name)))
        config = config_from_dict({**TINY, "seed": seed, "tta": "flip"})
        run_experiment(config, members[-1], data=tiny_data, progress=False, figures=())
    metrics = runner.run_ensemble(ensemble, folder, "beyond", False)
    assert metrics == runner.read_metrics(folder)
    final = evaluate_runs([load_run(f) for f in members])
    snapshots = evaluate_runs([load_run(f, snapshots=True) for f in members])
    assert metrics["tta"] == ["flip"] and metrics["test_acc"] == final.test.accuracy
    assert metrics["final"]["members"] == 3 and metrics["snapshots"]["members"] == 6
    assert metrics["snapshots"]["test_acc"] == snapshots.test.accuracy
    assert metrics["final"]["mean_member_test_acc"] == pytest.approx(
        np.mean([json.loads((f / "metrics.json").read_text())["test_acc"] for f in members])
    )  # each member scored with its TTA, as its metrics.json
    detail = json.loads((folder / runner.ENSEMBLE_FILE).read_text())
    assert [row["member"] for row in detail["final"]] == [str(f) for f in members]
    assert len(detail["snapshots"]) == 6


# --- outputs from fake runs ----------------------------------------------------------------


def _fake_run(experiment, folder: Path, suite: str, progress: bool) -> dict:
    """A finished run's config.toml and metrics.json (TTA numbers for beyond_two_layer), or
    a finished ensemble's metrics.json."""
    folder.mkdir(parents=True, exist_ok=True)
    if experiment.kind == "ensemble":
        deep = 0.05 if experiment.name == "beyond_ensemble" else 0.0
        metrics = {
            "status": "completed",
            "test_acc": 0.65 + deep,
            "final": {
                "members": 3,
                "val_acc": 0.66,
                "test_acc": 0.65 + deep,
                "mean_member_test_acc": 0.63,
            },
            "snapshots": {"members": 12, "val_acc": 0.67, "test_acc": 0.655},
            "wall_time": 30.0,
        }
        runner.write_json(folder / runner.METRICS_FILE, metrics)
        return metrics
    config = load_config(experiment.source).with_overrides(experiment.overrides)
    (folder / "config.toml").write_text(config_to_toml(config))
    seed = config.run.seed
    metrics = {
        "status": "completed",
        "test_acc": 0.5 + 0.01 * seed,
        "best_val_acc": 0.52,
        "final_val_acc": 0.51 + 0.01 * seed,
        "wall_time": 100.0 + seed,
        "steps": 5880,
    }
    if experiment.source in ("beyond_two_layer", "beyond_deep_bn"):
        deep = 0.05 if experiment.source == "beyond_deep_bn" else 0.0
        tta, plain = (a + deep for a in SEEDS[seed])
        metrics |= {
            "test_acc": tta,
            "test_acc_tta": tta,
            "test_acc_plain": plain,
            "final_val_acc_tta": 0.64,
            "steps": 28000,
            "wall_time": 550.0 + seed,
        }
    runner.write_json(folder / runner.METRICS_FILE, metrics)
    return metrics


@pytest.fixture
def fake_runs(monkeypatch) -> None:
    monkeypatch.setattr(runner, "RUNNERS", dict.fromkeys(catalogue.KINDS, _fake_run))
    shared = {"kind": "shared", "name": "cifar-10-python.tar.gz", "sha256": "0" * 64}
    monkeypatch.setattr(runner, "describe_data", lambda: shared)


def test_outputs_of_the_beyond_suite(tmp_path, fake_runs):
    _run(tmp_path, suite="beyond")
    outputs.write_outputs(tmp_path)
    values = _macros(tmp_path / "latex" / "macros.tex")
    assert (values["BeyondSuiteDone"], values["BeyondRunDone"]) == ("true", "false")
    assert values["BeyondSuiteMeanTestAcc"] == "63.00"
    assert values["BeyondSuiteSdTestAcc"] == "1.00"
    assert values["BeyondSuiteBestTestAcc"] == "64.00"
    assert values["BeyondSuiteMeanPlainAcc"] == "62.00"
    assert (values["BeyondSuiteMeanTime"], values["BeyondSuiteMaxTime"]) == ("551.0", "552.0")
    assert values["BeyondSuiteFinalTestAcc"] == "65.00"
    assert values["BeyondSuiteSnapshotMembers"] == "12"
    assert values["BeyondSuiteSnapshotTestAcc"] == "65.50"
    assert values["BeyondSuiteSnapshotMemberAcc"] == latex.NA
    assert values["BeyondSeedOneTestAcc"] == "62.00"
    assert values["BeyondSeedOneTestAccPlain"] == "61.00"
    assert values["BeyondDeepBNSeedZeroHidden"] == "1024, 512"
    assert values["BeyondDeepMeanTestAcc"] == "68.00"
    assert values["BeyondDeepMeanPlainAcc"] == "67.00"
    assert values["BeyondDeepFinalTestAcc"] == "70.00"
    assert values["AblZcaSeedTwoTestAcc"] == "52.00"
    assert values["SuiteTotal"] == "20" == values["SuiteExperiments"]
    tex = tmp_path / "latex"
    ablation = (tex / "beyond_ablation.tex").read_text().splitlines()
    assert ablation[4].startswith(r"\texttt{wide\_flip}: $m = 256$, flips & 256 & 5\,880 & 3 & ")
    assert r"& 52.00 $\pm$ 1.00 & 51.00 $\pm$ 1.00 & 101.0 \\" in ablation[4]
    assert r"& 2048 & 28\,000 & 3 & 52.00 $\pm$ 1.00 & 62.00 $\pm$ 1.00 & 551.0" in ablation[8]
    assert r"& 64.00 $\pm$ 0.00 & 63.00 $\pm$ 1.00 & 551.0" in ablation[9]  # with TTA
    seeds = (tex / "beyond_seeds.tex").read_text()
    assert r"2 & 64.00 & 63.00 & 52.00 & 53.00 & 552.0 \\" in seeds
    ensembles = (tex / "beyond_ensembles.tex").read_text()
    assert r"all snapshots of all seeds & 12 & \textit{n/a} & 67.00 & 65.50 \\" in ensembles
    assert (
        r"\texttt{beyond\_deep\_bn}: final parameters of each seed & 3 & 63.00 & 66.00 & 70.00"
        in ensembles
    )
    assert r"& 1024, 512 & 28\,000 & 3 & 52.00 $\pm$ 1.00 & 67.00 $\pm$ 1.00 &" in ablation[10]
    assert (
        r"0 & 68.00 & 67.00 & 52.00 & 51.00 & 550.0 \\"
        in (tex / "beyond_deep_seeds.tex").read_text()
    )
    summary = (tmp_path / "results.md").read_text()
    assert "Beyond suite (`handprop reproduce --suite beyond`)" in summary
    assert (
        "| + flip test-time augmentation | 2048 | 28000 | 3 | 64.00 ± 0.00 | 63.00 ± 1.00 |"
        in summary
    )
    assert "final parameters (3 members) 65.00 %, all snapshots (12 members) 65.50 %" in summary
    assert "Ensembles of the `beyond_deep_bn` seeds" in summary
    assert "final parameters (3 members) 70.00 %" in summary
    assert "| Experiment | handprop test acc." not in summary  # no seeds' table


def test_the_full_suite_reports_its_single_beyond_run(tmp_path, fake_runs):
    _run(tmp_path, only=["baseline", "beyond_two_layer"])
    outputs.write_outputs(tmp_path)
    values = _macros(tmp_path / "latex" / "macros.tex")
    assert (values["BeyondRunDone"], values["BeyondSuiteDone"]) == ("true", "false")
    assert (values["BeyondTestAcc"], values["BeyondTestAccPlain"]) == ("63.00", "62.00")
    assert values["BeyondTime"] == "550.0"
    assert (values["BeyondWhitenEps"], values["BeyondLabelSmoothing"]) == ("1", "0.1")
    assert (values["BaselineWhitenEps"], values["BaselineLabelSmoothing"]) == ("none", "0")
    assert values["BeyondSuiteMeanTestAcc"] == latex.NA
    summary = (tmp_path / "results.md").read_text()
    assert "`beyond_two_layer` (seed 0): test accuracy 63.00 % with flip TTA (62.00 % " in summary
    assert "Beyond suite" not in summary
    assert set(beyondsuite.tables(collect(tmp_path))) <= {
        p.stem for p in (tmp_path / "latex").glob("*.tex")
    }
    empty = tmp_path / "empty"
    runner.claim(empty, "smoke", force=False)
    outputs.write_outputs(empty)
    assert _macros(empty / "latex" / "macros.tex")["BeyondRunDone"] == "false"
    assert "beyond_two_layer" not in (empty / "results.md").read_text()


def test_times_of_experiments_no_longer_in_the_catalogue_do_not_count(tmp_path, fake_runs):
    _run(tmp_path, only=["baseline", "beyond_two_layer"])
    state = json.loads((tmp_path / runner.SUITE_FILE).read_text())
    state["times"]["beyond_ensemble_deep"] = 1000.0  # renamed since: its folder is gone
    (tmp_path / runner.SUITE_FILE).write_text(json.dumps(state))
    assert set(collect(tmp_path).times) == {"baseline", "beyond_two_layer"}
