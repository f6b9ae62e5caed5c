"""Ensemble configs: loading and validation, training the members (reused when finished),
scoring the ensemble, and ``handprop ensemble`` errors, on tiny synthetic data."""

from __future__ import annotations

import json

import pytest

from handprop.cli import main
from handprop.errors import ConfigError
from handprop.runs.ensemble import evaluate_runs, load_run
from handprop.runs.ensemble_config import (
    EnsembleConfig,
    load_ensemble_config,
    train_ensemble,
)
from handprop.runs.rundir import RunSummary
from handprop.train import config_from_dict, load_config
from handprop.train.config import config_to_toml

#: 300 training images, batch 100, one cycle of n_s = 3 (6 steps).
TINY = dict(split="batch1", hidden=(16,), n_s=3, n_cycles=1, lam=1e-3, eta_max=0.05)


def test_the_packaged_ensemble_is_three_seeds_of_the_deep_network():
    ensemble = load_ensemble_config("beyond_ensemble")
    assert (ensemble.config, ensemble.seeds, ensemble.name) == (
        "beyond_deep_bn",
        (0, 1, 2),
        "beyond_ensemble",
    )
    members = ensemble.members(["n_cycles=2"])
    assert [c.run.seed for c in members] == [0, 1, 2]
    assert all(c.schedule.n_cycles == 2 and c.model.batchnorm for c in members)


def test_train_refuses_an_ensemble_config_by_name():
    with pytest.raises(
        ConfigError, match="is an ensemble config; train it with `handprop ensemble"
    ):
        load_config("beyond_ensemble")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[ensemble]\nconfig = "baseline"\nseeds = []', "non-empty list"),
        ('[ensemble]\nconfig = "baseline"\nseeds = [0, 0]', "distinct"),
        ('[ensemble]\nconfig = "baseline"\nseeds = [-1]', "integers >= 0"),
        ('[ensemble]\nconfig = "baseline"\nseeds = [true]', "integers >= 0"),
        ('[ensemble]\nconfig = "baseline"\nseeds = 3', "non-empty list"),
        ('[ensemble]\nconfig = ""\nseeds = [0]', "must name a training config"),
        ('[ensemble]\nconfig = "nope"\nseeds = [0]', "no config named 'nope'"),
        ('[ensemble]\nconfig = "baseline"\nseeds = [0]\nsize = 3', "not size"),
        ("[ensemble]\nseeds = [0]", "takes config and seeds"),
        ('[ensemble]\nconfig = "baseline"\nseeds = [0]\n[model]\nhidden = [5]', "exactly one"),
        ("[model]\nhidden = [5]", "is not an ensemble config"),
        ("[ensemble", "not valid TOML"),
    ],
)
def test_bad_ensemble_configs_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_ensemble_config(path)
    assert "\n" not in str(info.value)


@pytest.fixture
def tiny(tmp_path, tiny_data):
    """An ensemble config of two seeds of a tiny member config, on synthetic data."""
    member = tmp_path / "member.toml"
    member.write_text(config_to_toml(config_from_dict(TINY)))
    path = tmp_path / "ens.toml"
    path.write_text(f"[ensemble]\nconfig = {json.dumps(str(member))}\nseeds = [3, 5]\n")
    return load_ensemble_config(path)


def test_train_ensemble_trains_each_seed_and_scores_the_ensemble(tmp_path, tiny):
    out = tmp_path / "ens"
    metrics = train_ensemble(tiny, out, progress=False, figures=())
    folders = [out / "member_s3", out / "member_s5"]
    assert [load_config(f / "config.toml").run.seed for f in folders] == [3, 5]
    expected = evaluate_runs([load_run(f) for f in folders])
    assert metrics["status"] == "completed" and metrics["seeds"] == [3, 5]
    assert metrics["test_acc"] == expected.test.accuracy
    assert metrics["val_acc"] == expected.val.accuracy
    assert [m["folder"] for m in metrics["members"]] == [str(f) for f in folders]
    assert metrics["training_time"] == pytest.approx(
        sum(m["wall_time"] for m in metrics["members"])
    )
    assert json.loads((out / "metrics.json").read_text()) == metrics
    # a second call reuses the finished members: same numbers, parameters untouched
    stamps = [(f / "params.npz").stat().st_mtime_ns for f in folders]
    assert train_ensemble(tiny, out, progress=False, figures=()) == metrics
    assert [(f / "params.npz").stat().st_mtime_ns for f in folders] == stamps


def test_an_unfinished_member_stops_the_ensemble_without_metrics(tmp_path, tiny, monkeypatch):
    from handprop.runs import rundir

    def interrupted(config, folder, **kwargs):
        return RunSummary(folder, "interrupted", None, 0.1, 0.1, 1.0, 2)

    monkeypatch.setattr(rundir, "run_experiment", interrupted)
    out = tmp_path / "ens"
    metrics = train_ensemble(tiny, out, progress=False, figures=())
    assert metrics == {"status": "interrupted", "member": str(out / "member_s3")}
    assert not (out / "metrics.json").exists()


def test_the_ensemble_command_refuses_a_training_config(tmp_path, capsys):
    assert main(["ensemble", "--config", "baseline", "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("handprop ensemble: error: config 'baseline' is not an ensemble")
    assert err.count("\n") == 1


def test_an_ensemble_config_is_a_frozen_record():
    ensemble = EnsembleConfig("baseline", [1, 2])
    assert ensemble.seeds == (1, 2)
    with pytest.raises(AttributeError):
        ensemble.seeds = (3,)  # type: ignore[misc]
