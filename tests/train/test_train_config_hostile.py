"""Hostile configs: deep nesting, duplicate keys, values outside the run's dtype, runs too
long to finish, names TOML must carry, and the printed resume command."""

from __future__ import annotations

import shlex
import tomllib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handprop.cli import build_parser, main
from handprop.errors import ConfigError
from handprop.runs.ensemble_config import load_ensemble_config
from handprop.train import config_from_dict, load_config
from handprop.train.config import MAX_STEPS, config_to_toml, read_toml

DEEP = "[" * 5000 + "]" * 5000


def one_line(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err[:2000]
    for fragment in fragments:
        assert fragment in err, err[:2000]
    return err


# deep nesting ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "text", "load"),
    [
        ("train", f"hidden = {DEEP}\n", read_toml),
        ("ensemble", f"[ensemble]\nconfig = 'baseline'\nseeds = {DEEP}\n", load_ensemble_config),
    ],
)
def test_a_deeply_nested_config_file_is_one_line(tmp_path, capsys, command, text, load):
    path = tmp_path / "deep.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load(path)
    assert main([command, "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    one_line(capsys, "nested too deeply")
    assert not (tmp_path / "run").exists()


def test_a_deeply_nested_set_value_is_one_line(tmp_path, capsys):
    args = ["--config", "baseline", "--set", f"hidden={DEEP}", "--out", str(tmp_path / "r")]
    assert main(["train", *args]) == 2
    one_line(capsys, "nested too deeply", "hidden")
    assert main(["lr-find", "--config", "baseline", "--set", f"hidden={DEEP}"]) == 2
    one_line(capsys, "nested too deeply")


# duplicate keys ----------------------------------------------------------------------


def test_a_key_given_twice_under_two_spellings_is_refused(tmp_path):
    path = tmp_path / "dup.toml"
    path.write_text("lam = 0.5\n[optimizer]\nlam = 0.001\n")
    with pytest.raises(ConfigError, match=r"optimizer\.lam is given twice.*lam.*optimizer\.lam"):
        load_config(path)
    with pytest.raises(ConfigError, match="given twice"):
        config_from_dict({"lam": 0.5, "optimizer.lam": 0.001})


def test_a_key_set_twice_on_the_command_line_is_refused(tmp_path, capsys):
    args = ["--config", "baseline", "--set", "lam=1", "--set", "optimizer.lam=2"]
    assert main(["train", *args, "--out", str(tmp_path / "r")]) == 2
    one_line(capsys, "optimizer.lam is given twice")


# floats in the run's dtype -----------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "dtype", "says"),
    [
        ("model.bn_eps", 1e300, "float32", "overflows float32"),
        ("optimizer.lam", 1e300, "float32", "overflows float32"),
        ("schedule.eta_max", 1e39, "float32", "overflows float32"),
        ("optimizer.lam", 1e-300, "float32", "underflows float32"),
        ("schedule.eta_min", 1e-320, "float64", "underflows float64"),
        ("model.bn_eps", 1e-40, "float32", "underflows float32"),
        ("optimizer.beta2", 0.999999999, "float32", "rounds to 1.0 in float32"),
        ("optimizer.momentum", 0.99999999999, "float32", "rounds to 1.0 in float32"),
    ],
)
def test_a_float_outside_the_runs_dtype_is_refused_by_name(key, value, dtype, says):
    with pytest.raises(ConfigError, match=rf"{key} = .*{says}"):
        config_from_dict({key: value, "model.dtype": dtype})


def test_bn_eps_too_large_for_float32_leaves_nothing_behind(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--config", "baseline", "--set", "bn_eps=1e300", "--set", "batchnorm=true"]
    assert main(["train", *args, "--out", str(out)]) == 2
    one_line(capsys, "model.bn_eps = 1e+300 overflows float32")
    assert not out.exists()


def test_floats_the_dtype_holds_are_kept():
    config = config_from_dict({"bn_eps": 1e300, "model.dtype": "float64", "lam": 1e-30})
    assert config.model.bn_eps == 1e300 and config.optimizer.lam == 1e-30


# the length of a run -----------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        {"n_cycles": 10**12},
        {"n_s": 10**12},
        {"n_cycles": 3 * 10**6, "n_s": 0, "batch_size": 1},
        {"schedule.kind": "constant", "epochs": 10**9, "batch_size": 1},
    ],
)
def test_a_run_longer_than_can_run_is_refused(values):
    with pytest.raises(ConfigError, match=f"more than the {MAX_STEPS:,} steps"):
        config_from_dict(values)


def test_a_run_of_the_largest_length_is_accepted():
    config = config_from_dict({"n_s": MAX_STEPS // 2, "n_cycles": 1})
    assert config.total_steps(49_000) == MAX_STEPS


# TOML round trips --------------------------------------------------------------------


FOLDER_NAMES = st.text(st.characters(codec="utf-8", exclude_characters="/\\\0")).filter(
    lambda name: name not in (".", "..")
)


@given(FOLDER_NAMES)
def test_every_run_name_round_trips_through_config_toml(name):
    config = config_from_dict({"run.name": name})
    assert load_config_text(config_to_toml(config)) == config


def load_config_text(text: str):
    return config_from_dict(tomllib.loads(text))


def test_a_run_named_after_a_file_with_an_emoji_round_trips(tmp_path):
    path = tmp_path / "exp🚀.toml"
    path.write_text("hidden = [8]\n", encoding="utf-8")
    config = load_config(path)
    assert config.run.name == "exp🚀"
    out = tmp_path / "config.toml"
    out.write_text(config_to_toml(config), encoding="utf-8")
    assert "\\ud83d" not in out.read_text(encoding="utf-8")
    assert load_config(out) == config


def test_a_name_that_is_not_unicode_text_is_refused():
    with pytest.raises(ConfigError, match=r"run\.name must be"):
        config_from_dict({"run.name": "bad\udcff"})


def test_config_toml_is_written_by_one_writer():
    """Every config.toml of the package comes from config_to_toml (no second writer)."""
    from pathlib import Path

    import handprop

    root = Path(handprop.__file__).parent
    writers = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if "tomli_w" in p.read_text(encoding="utf-8")
    ]
    assert writers == ["train/config.py"]


# the resume line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--config", "baseline", "--set", "hidden=[20, 10]", "--out", "my runs/a b"],
        ["--data", "data dir/c.tar.gz", "--no-cache", "train", "--config", "x y.toml",
         "--set", "run.name=it's", "--out", "o", "--no-figures"],
    ],
)  # fmt: skip
def test_the_resume_line_pastes_back_to_the_same_arguments(argv):
    from handprop.cli.train import resume_command

    args = build_parser().parse_args(argv)
    line = resume_command(args)
    words = shlex.split(line)
    assert words[0] == "handprop"
    again = build_parser().parse_args(words[1:])
    assert again.resume
    for field in ("config", "set", "out", "data", "no_cache", "no_figures", "no_progress"):
        assert getattr(again, field) == getattr(args, field), field


def test_an_interrupted_run_prints_a_quoted_resume_line(tmp_path, capsys, monkeypatch, fake_data):
    from train_fakes import interrupting_make_step

    from handprop.train import loop

    monkeypatch.setattr(loop, "make_step", interrupting_make_step(loop.make_step, at=2))
    out = tmp_path / "my runs" / "a b"
    args = ["train", "--config", "baseline", "--set", "hidden=[20, 10]", "--set", "n_s=3"]
    assert main([*args, "--out", str(out), "--no-progress", "--no-figures"]) == 130
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith("resume with: ")
    words = shlex.split(line.removeprefix("resume with: "))
    again = build_parser().parse_args(words[1:])
    assert again.set == ["hidden=[20, 10]", "n_s=3"] and again.out == out and again.resume


# ensembles and seeds -----------------------------------------------------------------


@pytest.mark.parametrize("key", ["seed", "run.seed"])
def test_an_ensemble_refuses_a_seed_override(tmp_path, capsys, key):
    assert main(["ensemble", "--config", "beyond_ensemble", "--set", f"{key}=7",
                 "--out", str(tmp_path / "e")]) == 2  # fmt: skip
    one_line(capsys, "run.seed", "ensemble.seeds")
    assert not (tmp_path / "e").exists()


# siblings ----------------------------------------------------------------------------


def test_a_deeply_nested_json_file_is_a_data_error(tmp_path):
    from handprop.atomic import read_json_object
    from handprop.errors import DataError

    path = tmp_path / "metrics.json"
    path.write_text(DEEP)
    with pytest.raises(DataError, match="nested too deeply"):
        read_json_object(path, "metrics file")


def test_a_deeply_nested_search_config_is_one_line(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text(f"[base]\nhidden = {DEEP}\n")
    assert main(["search", "--config", str(path), "--out", str(tmp_path / "s")]) == 2
    one_line(capsys, "nested too deeply")


def test_lr_find_steps_are_bounded():
    from handprop.runs.lrfind import RangeTest

    with pytest.raises(ConfigError, match="must be an integer in"):
        RangeTest(steps=10**12)


def test_snapshots_of_every_cycle_are_bounded():
    with pytest.raises(ConfigError, match=r"run\.snapshots would take 5,000 snapshots"):
        config_from_dict({"n_cycles": 5000, "n_s": 10, "snapshots": True})
    assert config_from_dict({"n_cycles": 5000, "n_s": 10, "snapshots": 3}).run.snapshots == 3


def test_an_interrupted_ensemble_prints_a_quoted_resume_line(tmp_path, capsys, monkeypatch):
    from handprop.runs import ensemble_config

    monkeypatch.setattr(
        ensemble_config, "train_ensemble", lambda *a, **k: {"status": "interrupted", "member": "m"}
    )
    out = tmp_path / "my ensemble"
    argv = ["ensemble", "--config", "beyond_ensemble", "--set", "hidden=[20, 10]"]
    assert main([*argv, "--out", str(out)]) == 130
    line = capsys.readouterr().out.splitlines()[-1]
    words = shlex.split(line.removeprefix("resume with: "))
    again = build_parser().parse_args(words[1:])
    assert again.command == "ensemble" and again.set == ["hidden=[20, 10]"] and again.out == out
