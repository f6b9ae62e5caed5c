"""Run folders and the ``handprop train`` / ``handprop evaluate`` commands."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_fakes import interrupting_make_step

from handprop.cli import main
from handprop.errors import ConfigError
from handprop.nn import params_equal
from handprop.nn.network import evaluate
from handprop.runs import run_experiment
from handprop.train import config_from_dict, load_config, load_params

CONFIG = config_from_dict(
    dict(hidden=(16,), n_s=3, n_cycles=1, eval_every=2, lam=1e-3, **{"run.name": "tiny"})
)


def test_run_folder_contents(splits32, tmp_path):
    out = tmp_path / "run"
    summary = run_experiment(CONFIG, out, data=splits32, progress=False)
    assert summary.status == "completed" and summary.steps == 6
    assert sorted(p.name for p in out.iterdir()) == [
        "config.toml",
        "curves.png",
        "history.csv",
        "history.json",
        "metrics.json",
        "params.npz",
        "schedule.png",
        "weights.png",
    ]
    assert load_config(out / "config.toml") == CONFIG
    params = load_params(out / "params.npz")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_acc"] == evaluate(params, splits32.test.X, splits32.test.y).accuracy
    assert metrics["test_acc"] == summary.test_acc
    assert metrics["status"] == "completed" and metrics["steps"] == 6
    history = json.loads((out / "history.json").read_text())
    assert [row["step"] for row in history] == [0, 2, 4, 6]
    assert summary.final_val_acc == history[-1]["val_acc"]
    assert summary.best_val_acc == max(row["val_acc"] for row in history)
    csv_lines = (out / "history.csv").read_text().splitlines()
    assert csv_lines[0].startswith("step,epoch,eta,train_loss") and len(csv_lines) == 5


def test_existing_run_folder_is_never_overwritten(splits32, tmp_path):
    run_experiment(CONFIG, tmp_path, data=splits32, progress=False, figures=())
    before = (tmp_path / "params.npz").read_bytes()
    with pytest.raises(ConfigError, match="already holds a run"):
        run_experiment(CONFIG, tmp_path, data=splits32, progress=False, figures=())
    again = run_experiment(CONFIG, tmp_path, data=splits32, resume=True, figures=())
    assert again.status == "completed" and (tmp_path / "params.npz").read_bytes() == before


def test_diverged_run_writes_history_and_metrics_but_no_params(splits32, tmp_path):
    config = config_from_dict(
        dict(hidden=(), init="normal_0.01", kind="constant", eta=1.0, lam=2.0, epochs=100)
    )
    summary = run_experiment(config, tmp_path, data=splits32, progress=False, figures=())
    assert summary.status == "diverged" and summary.test_acc is None
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["diverged_step"] == summary.steps
    assert not (tmp_path / "params.npz").exists()
    assert (tmp_path / "history.json").exists()


def test_cli_train_and_evaluate(fake_data, tmp_path, capsys):
    config_file = tmp_path / "tiny.toml"
    config_file.write_text("hidden = [16]\nn_s = 3\neval_every = 2\n")
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--config",
            str(config_file),
            "--set",
            "lam=0.01",
            "--out",
            str(out),
            "--no-progress",
            "--no-figures",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "tiny: completed after 6 steps" in printed and "wall time" in printed
    assert "test accuracy" in printed
    assert load_config(out / "config.toml").optimizer.lam == 0.01
    assert main(["evaluate", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"test: accuracy {100 * metrics['test_acc']:.2f} %" in capsys.readouterr().out


def test_cli_errors_are_messages(fake_data, tmp_path, capsys):
    assert main(["train", "--config", "baseline", "--set", "lam=-1", "--out", str(tmp_path)]) == 2
    assert "lam must be a number in [0, inf)" in capsys.readouterr().err
    assert main(["train", "--config", "nope"]) == 2
    assert "no config named 'nope'" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a finished run folder" in capsys.readouterr().err


def test_cli_resume_continues_an_interrupted_run(fake_data, splits32, tmp_path, monkeypatch):
    from handprop.train import loop as loop_module

    common = [
        "train",
        "--config",
        "baseline",
        "--set",
        "n_s=4",
        "--set",
        "hidden=[16]",
        "--set",
        "flip=true",
        "--no-progress",
        "--no-figures",
    ]
    args = [*common, "--out", str(tmp_path / "run")]
    real_make_step = loop_module.make_step
    interrupting = interrupting_make_step(real_make_step, at=5)
    monkeypatch.setattr(loop_module, "make_step", interrupting)
    assert main(args) == 130
    monkeypatch.setattr(loop_module, "make_step", real_make_step)
    assert main(args) == 2  # refuses to overwrite
    assert main([*args, "--resume"]) == 0
    assert main([*common, "--out", str(tmp_path / "fresh")]) == 0
    a = load_params(tmp_path / "run" / "params.npz")
    b = load_params(tmp_path / "fresh" / "params.npz")
    assert params_equal(a, b)
    assert not (tmp_path / "run" / "checkpoint").exists()
    assert np.isfinite(a.layers[0].W).all()
