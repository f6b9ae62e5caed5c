"""TrainConfig: validation messages, TOML files, overrides, packaged configs."""

from __future__ import annotations

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
)

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


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("batch_size", 0, "batch_size must be an integer >= 1, got 0"),
        ("batch_size", 2.5, "batch_size must be an integer >= 1"),
        ("batch_size", True, "batch_size must be an integer >= 1"),
        ("lam", -1.0, "lam must be a number in [0, inf)"),
        ("eta", 0.0, "eta must be a number in (0, inf)"),
        ("eta_max", float("nan"), "eta_max must be a number in (0, inf)"),
        ("dropout", 1.0, "dropout must be a number in [0, 1)"),
        ("flip_prob", 1.5, "flip_prob must be a number in [0, 1]"),
        ("max_shift", 32, "max_shift must be an integer in [0, 31]"),
        ("n_cycles", 0, "n_cycles must be an integer >= 1"),
        ("gamma", 0.0, "gamma must be a number in (0, 1]"),
        ("schedule", "cosine", "schedule must be one of constant, triangular, triangular2"),
        ("init", "he", "init must be one of fan_in, normal_0.01"),
        ("dtype", "float16", "dtype must be one of float32, float64"),
        ("fill", "mirror", "fill must be one of zero, keep"),
        ("split", "batch2", "split must be one of batch1, all"),
        ("flip", 1, "flip must be true or false"),
        ("hidden", (50, 0), "hidden must be a list of hidden layer sizes"),
        ("n_val", 50_000, "n_val must be an integer in [1, 49999]"),
    ],
)
def test_invalid_values_name_the_field_and_range(field, value, message):
    with pytest.raises(ConfigError) as err:
        TrainConfig(**{field: value})
    assert message in str(err.value)


def test_cross_field_rules():
    with pytest.raises(ConfigError, match="eta_min must be <= eta_max"):
        TrainConfig(eta_min=1.0, eta_max=0.1)
    with pytest.raises(
        ConfigError, match="epochs must be an integer >= 1 with schedule = constant"
    ):
        TrainConfig(schedule="constant")
    with pytest.raises(ConfigError, match="dropout must be 0 for the one-layer classifier"):
        TrainConfig(hidden=(), dropout=0.5)


def test_hidden_and_numbers_are_normalised():
    config = TrainConfig(hidden=[256], lam=1, eta_max=1)
    assert config.hidden == (256,)
    assert isinstance(config.lam, float) and isinstance(config.eta_max, float)
    assert TrainConfig(hidden=50).hidden == (50,)
    assert TrainConfig(hidden=[]).hidden == ()


def test_config_is_frozen():
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        TrainConfig().lam = 1.0  # type: ignore[misc]


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"lambda": 0.1, "lam": 0.1})
    assert "unknown config key(s) lambda" in str(err.value)
    assert "valid keys: hidden, init, dtype, batch_size, lam" in str(err.value)


def test_overrides_parse_toml_values_and_bare_strings():
    config = TrainConfig().with_overrides(
        ["lam=0.002", "hidden=[256, 64]", "flip=true", "fill=keep", "name = my run", "n_s=10"]
    )
    assert config.lam == 0.002
    assert config.hidden == (256, 64)
    assert config.flip is True
    assert config.fill == "keep"
    assert config.name == "my run"
    assert config.n_s == 10


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("lam", "must look like key=value"),
        ("lamda=1", "unknown config key 'lamda'"),
        ("batch_size=abc", "batch_size must be an integer >= 1, got 'abc'"),
    ],
)
def test_bad_overrides(assignment, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig().with_overrides([assignment])


def test_toml_round_trip(tmp_path):
    config = TrainConfig(hidden=(), lam=1.07e-3, flip=True, name='quote " and \\ back', seed=7)
    path = tmp_path / "c.toml"
    save_config(config, path)
    assert load_config(path) == config
    assert config_from_dict(config_to_dict(config)) == config


def test_file_errors_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("lam = = 1\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_config(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text("lamda = 1\n")
    with pytest.raises(ConfigError, match=r"typo\.toml.*unknown config key"):
        load_config(typo)
    with pytest.raises(ConfigError, match="no config named 'nope'; packaged configs: baseline"):
        load_config("nope")


def test_name_defaults_to_the_file_stem(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("lam = 0.5\n")
    assert load_config(path).name == "mine"
    assert load_config("baseline").name == "baseline"


def test_every_addendum_config_is_packaged():
    assert set(PACKAGED) <= set(packaged_config_names())


def test_packaged_configs_match_the_seeds():
    one_layer = load_config("one_layer_lam1e-1_eta1e-3")
    assert (one_layer.hidden, one_layer.lam, one_layer.eta) == ((), 0.1, 0.001)
    assert (one_layer.schedule, one_layer.epochs, one_layer.split) == ("constant", 40, "batch1")
    assert one_layer.init == "normal_0.01"
    baseline = load_config("baseline")
    assert (baseline.hidden, baseline.lam, baseline.n_cycles) == ((50,), 1.07e-3, 3)
    assert (baseline.split, baseline.n_val, baseline.n_s) == ("all", 1000, 0)
    assert baseline.total_steps(49_000) == 5880
    three = load_config("three_cycles")
    assert (three.n_s, three.n_cycles, three.lam, three.split) == (800, 3, 0.01, "batch1")
    assert load_config("one_cycle").n_s == 500
    assert load_config("overfit").n_train == 100
    assert load_config("wide").hidden == (256,)
    assert load_config("wide_flip").flip
    assert load_config("wide_flip_translate").max_shift == 3
    assert load_config("wide_flip_translate_dropout").dropout > 0
