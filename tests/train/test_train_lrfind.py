"""The learning-rate range test: schedule, explosion stop, suggestion, run folder, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from handprop.cli import main
from handprop.errors import ConfigError
from handprop.runs.lrfind import RangeTest, lr_range_test, run_lr_find
from handprop.train import config_from_dict, load_config

CONFIG = config_from_dict(dict(hidden=(16,), seed=1))


def test_eta_grows_exponentially_from_start_to_stop():
    test = RangeTest(start=1e-4, stop=1.0, steps=41)
    assert test.eta(0) == pytest.approx(1e-4)
    assert test.eta(20) == pytest.approx(1e-2)
    assert test.eta(40) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": 1.0, "stop": 1.0}, "start"),
        ({"start": 2.0, "stop": 1.0}, "start"),
        ({"start": 0.0}, "start"),
        ({"steps": 5}, "steps"),
        ({"beta": 1.0}, "beta"),
        ({"explode": 1.0}, "explode"),
        ({"ratio": 0.5}, "ratio"),
    ],
)
def test_bad_settings_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field) as err:
        RangeTest(**kwargs)
    assert "\n" not in str(err.value)


def test_stops_when_the_smoothed_cost_explodes_and_suggests_below_it(splits32):
    result = lr_range_test(CONFIG, RangeTest(start=1e-4, stop=1e3, steps=60), splits32)
    assert result.exploded is not None and len(result.etas) == result.exploded + 1 < 60
    finite = [s for s in result.smoothed if math.isfinite(s)]
    assert not math.isfinite(result.smoothed[-1]) or result.smoothed[-1] > 4 * min(finite)
    assert result.eta_max == result.best_eta < result.etas[-1]
    assert result.eta_min == pytest.approx(result.eta_max / 1e3)
    assert f"eta_max={result.eta_max:.3g}" in result.set_text()


def test_smoothing_is_a_bias_corrected_moving_average(splits32):
    test = RangeTest(start=1e-5, stop=1e-4, steps=10, beta=0.9)
    result = lr_range_test(CONFIG, test, splits32)
    assert result.exploded is None
    losses = np.array(result.losses)
    weights = 0.1 * 0.9 ** np.arange(9, -1, -1)
    assert result.smoothed[0] == pytest.approx(losses[0])
    assert result.smoothed[-1] == pytest.approx((weights @ losses) / (1 - 0.9**10))


def test_same_config_same_curve(splits32):
    test = RangeTest(start=1e-4, stop=10.0, steps=30)
    assert lr_range_test(CONFIG, test, splits32) == lr_range_test(CONFIG, test, splits32)


def test_run_folder_holds_config_json_and_plot(tmp_path, splits32):
    result = run_lr_find(CONFIG, tmp_path / "run", RangeTest(steps=30), data=splits32)
    saved = json.loads((tmp_path / "run" / "lrfind.json").read_text())
    assert saved["eta_max"] == result.eta_max and saved["rule"] == result.test.rule
    assert len(saved["eta"]) == len(saved["smoothed_loss"]) == len(result.etas)
    assert (tmp_path / "run" / "lrfind.png").stat().st_size > 0
    assert load_config(tmp_path / "run" / "config.toml").model.hidden == (16,)
    assert not list((tmp_path / "run").glob("*.tmp"))


def test_cli_start_not_below_stop_is_a_one_line_error(tmp_path, capsys):
    code = main(["lr-find", "--config", "baseline", "--start", "1", "--stop", "0.1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "start" in err and "\n" not in err


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_suggests_a_range_on_real_data(tmp_path, capsys, cifar10):
    out = tmp_path / "lr"
    assert main(["lr-find", "--config", "baseline", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "--set eta_min=" in text and "rule: eta_max" in text
    eta_max = json.loads((out / "lrfind.json").read_text())["eta_max"]
    assert 1e-3 < eta_max < 1.0


def test_cli_refuses_a_folder_in_use_before_writing(tmp_path, capsys, fake_data):
    from handprop.lock import folder_lock

    out = tmp_path / "run"
    args = ["lr-find", "--config", "baseline", "--set", "hidden=[8]", "--steps", "20",
            "--out", str(out)]  # fmt: skip
    with folder_lock(out):
        assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "is in use by PID" in err, err
    assert not (out / "config.toml").exists()
    assert main(args) == 0


def test_cli_refuses_a_training_run_folder(tmp_path, capsys, fake_data):
    out = tmp_path / "run"
    train = ["train", "--config", "baseline", "--set", "hidden=[8]", "--set", "n_cycles=1",
             "--set", "n_s=3", "--out", str(out), "--no-progress", "--no-figures"]  # fmt: skip
    assert main(train) == 0
    saved = (out / "config.toml").read_bytes()
    capsys.readouterr()
    args = ["lr-find", "--config", "baseline", "--set", "hidden=[30]", "--steps", "20",
            "--out", str(out)]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "holds a training run" in err, err
    assert (out / "config.toml").read_bytes() == saved
