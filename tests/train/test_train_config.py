"""TrainConfig: nested records, validation messages, TOML files (nested and flat),
overrides by dotted and bare keys, packaged configs."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from handprop.errors import ConfigError
from handprop.train import (
    TrainConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    packaged_config_names,
    save_config,
    training_config_names,
)
from handprop.train.config import KEYS, OptimizerConfig, resolve_key

FIXTURES = Path(__file__).parent / "data"

PACKAGED = [
    "one_layer_lam0_eta1e-1",
    "one_layer_lam0_eta1e-3",
    "one_layer_lam1e-1_eta1e-3",
    "one_layer_lam1_eta1e-3",
    "overfit",
    "one_cycle",
    "three_cycles",
    "baseline",
    "wide",
    "wide_flip",
    "wide_flip_translate",
    "wide_flip_translate_dropout",
]
TRAINING_CONFIGS = training_config_names()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("batch_size", 0, "optimizer.batch_size must be an integer >= 1, got 0"),
        ("batch_size", 2.5, "optimizer.batch_size must be an integer >= 1"),
        ("batch_size", True, "optimizer.batch_size must be an integer >= 1"),
        ("lam", -1, "optimizer.lam must be a number in [0, inf), got -1"),
        ("eta", 0.0, "schedule.eta must be a number in (0, inf)"),
        ("eta_max", float("nan"), "schedule.eta_max must be a number in (0, inf)"),
        ("dropout", 1.0, "model.dropout must be a number in [0, 1)"),
        ("flip_prob", 1.5, "augment.flip_prob must be a number in [0, 1]"),
        ("max_shift", 32, "augment.max_shift must be an integer in [0, 31]"),
        ("n_cycles", 0, "schedule.n_cycles must be an integer >= 1"),
        ("gamma", 0.0, "schedule.gamma must be a number in (0, 1]"),
        ("kind", "cosine", "schedule.kind must be one of constant, triangular, triangular2"),
        ("init", "he", "model.init must be one of fan_in, normal_0.01"),
        ("dtype", "float16", "model.dtype must be one of float32, float64"),
        ("fill", "mirror", "augment.fill must be one of zero, keep"),
        ("split", "batch2", "data.split must be one of batch1, all"),
        ("flip", 1, "augment.flip must be true or false"),
        ("run.name", 3, "run.name must be a string of Unicode text, got 3"),
        ("run.name", "a/b", "run.name must be a plain folder name (no '/', '..' or absolute path)"),
        ("hidden", (50, 0), "model.hidden must be a list of hidden layer sizes"),
        ("n_val", 50_000, "data.n_val must be an integer in [1, 49999]"),
        ("seed", -1, "run.seed must be an integer in [0, 9223372036854775807]"),
    ],
)
def test_invalid_values_name_the_full_key_and_range(key, value, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict({key: value})
    assert message in str(err.value)


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", "a/", ".", "..", "a\\b", "a\0b"])
def test_a_run_name_that_would_leave_its_folder_is_refused(name):
    with pytest.raises(ConfigError, match=r"^run\.name must be a plain folder name"):
        config_from_dict({"run.name": name})


def test_each_record_validates_where_it_is_defined():
    with pytest.raises(ConfigError, match=r"optimizer\.lam must be a number in \[0, inf\)"):
        OptimizerConfig(lam=-1.0)


def test_cross_field_rules_name_full_keys():
    with pytest.raises(ConfigError, match=r"schedule\.eta_min must be <= schedule\.eta_max"):
        config_from_dict({"eta_min": 1.0, "eta_max": 0.1})
    with pytest.raises(
        ConfigError,
        match=r"schedule\.epochs must be an integer >= 1 with schedule\.kind = constant",
    ):
        config_from_dict({"kind": "constant"})
    with pytest.raises(ConfigError, match=r"model\.dropout must be 0 for the one-layer"):
        config_from_dict({"model": {"hidden": [], "dropout": 0.5}})


def test_hidden_and_numbers_are_normalised():
    config = config_from_dict({"hidden": [256], "lam": 1, "eta_max": 1})
    assert config.model.hidden == (256,)
    assert isinstance(config.optimizer.lam, float)
    assert isinstance(config.schedule.eta_max, float)
    assert config_from_dict({"hidden": 50}).model.hidden == (50,)
    assert config_from_dict({"hidden": []}).model.hidden == ()


def test_config_is_frozen():
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TrainConfig().optimizer.lam = 1.0  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TrainConfig().optimizer = OptimizerConfig()  # type: ignore[misc]


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"lambda": 0.1, "lam": 0.1, "optimizer": {"nu": 0.9}})
    assert "unknown config key(s) lambda, optimizer.nu" in str(err.value)
    assert "valid keys: model.hidden, model.init, model.dtype" in str(err.value)


def test_nested_flat_and_dotted_forms_build_the_same_config():
    nested = config_from_dict({"optimizer": {"lam": 2e-3}, "schedule": {"kind": "triangular2"}})
    flat = config_from_dict({"lam": 2e-3, "kind": "triangular2"})
    dotted = config_from_dict({"optimizer.lam": 2e-3, "schedule.kind": "triangular2"})
    assert nested == flat == dotted
    assert nested.optimizer.lam == 2e-3 and nested.schedule.kind == "triangular2"


def test_overrides_take_dotted_and_bare_keys():
    config = TrainConfig().with_overrides(
        [
            "optimizer.lam=0.002",
            "model.hidden=[256, 64]",
            "flip=true",
            "augment.fill=keep",
            "run.name = my run",
            "n_s=10",
            "augment.max_shift=2",
            "kind=exp_range",
        ]
    )
    assert config.optimizer.lam == 0.002
    assert config.model.hidden == (256, 64)
    assert config.augment.flip is True
    assert config.augment.fill == "keep"
    assert config.run.name == "my run"
    assert config.schedule.n_s == 10
    assert config.augment.max_shift == 2
    assert config.schedule.kind == "exp_range"
    assert TrainConfig().with_overrides(["lam=2e-3"]).optimizer.lam == 2e-3
    assert TrainConfig().with_overrides(["n_cycles=2"]).schedule.n_cycles == 2


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("lam", "must look like key=value"),
        ("lamda=1", "unknown config key 'lamda'"),
        ("model.lam=1", "unknown config key 'model.lam'"),
        ("batch_size=abc", r"optimizer\.batch_size must be an integer >= 1, got 'abc'"),
    ],
)
def test_bad_overrides(assignment, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig().with_overrides([assignment])


def test_every_key_resolves_and_bare_names_only_when_unambiguous():
    assert all(resolve_key(k) == k for k in KEYS)
    assert resolve_key("kind") == "schedule.kind"
    assert resolve_key("lam") == "optimizer.lam"
    with pytest.raises(ConfigError, match=r"'name' is ambiguous; use one of model|optimizer"):
        resolve_key("name")
    with pytest.raises(ConfigError, match="unknown config key 'schedule'"):
        resolve_key("schedule")


def test_toml_round_trip_writes_tables(tmp_path):
    config = config_from_dict(
        {"hidden": [], "lam": 1.07e-3, "flip": True, "run.name": 'quote " and\ttab', "seed": 7}
    )
    path = tmp_path / "c.toml"
    save_config(config, path)
    assert "[optimizer]\nbatch_size = 100\nlam = 0.00107\n" in path.read_text()
    assert load_config(path) == config
    assert config_from_dict(config_to_dict(config)) == config


@pytest.mark.parametrize("name", TRAINING_CONFIGS)
def test_packaged_configs_round_trip_through_their_files(name, tmp_path):
    config = load_config(name)
    save_config(config, tmp_path / f"{name}.toml")
    assert load_config(tmp_path / f"{name}.toml") == config


def test_file_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("lam = = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("[optimizer]\nlamda = 1\n")
    with pytest.raises(ConfigError, match=r"typo\.toml.*unknown config key\(s\) optimizer\.lamda"):
        load_config(typo)
    with pytest.raises(ConfigError, match="no config named 'nope'; packaged configs: baseline"):
        load_config("nope")


def test_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("lam = 0.5\n")
    assert load_config(path).run.name == "mine"
    assert load_config("baseline").run.name == "baseline"


def test_every_addendum_config_is_packaged():
    assert set(PACKAGED) <= set(packaged_config_names())


def test_packaged_configs_match_the_seeds():
    one_layer = load_config("one_layer_lam1e-1_eta1e-3")
    assert (one_layer.model.hidden, one_layer.optimizer.lam) == ((), 0.1)
    assert (one_layer.schedule.eta, one_layer.schedule.kind) == (0.001, "constant")
    assert (one_layer.schedule.epochs, one_layer.data.split) == (40, "batch1")
    assert one_layer.model.init == "normal_0.01"
    baseline = load_config("baseline")
    assert (baseline.model.hidden, baseline.optimizer.lam) == ((50,), 1.07e-3)
    assert baseline.schedule.n_cycles == 3
    assert (baseline.data.split, baseline.data.n_val, baseline.schedule.n_s) == ("all", 1000, 0)
    assert baseline.total_steps(49_000) == 5880
    three = load_config("three_cycles")
    assert (three.schedule.n_s, three.schedule.n_cycles) == (800, 3)
    assert (three.optimizer.lam, three.data.split) == (0.01, "batch1")
    assert load_config("one_cycle").schedule.n_s == 500
    assert load_config("overfit").data.n_train == 100
    assert load_config("wide").model.hidden == (256,)
    assert load_config("wide_flip").augment.flip
    assert load_config("wide_flip_translate").augment.max_shift == 3
    assert load_config("wide_flip_translate_dropout").model.dropout > 0
