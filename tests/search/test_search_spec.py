"""Search configs (TOML): the packaged ones, extends, and errors that name the key."""

from __future__ import annotations

import pytest

from handprop.errors import ConfigError
from handprop.search import Dimension, Narrowing, Stage, load_search_spec, sample


def test_packaged_lambda_search_is_the_first_seeds():
    spec = load_search_spec("search_lambda")
    assert spec.base == "baseline"
    assert spec.space.dimensions == (Dimension("lam", 1e-5, 1e-1, "log"),)
    assert spec.stages == (Stage("grid", 9), Stage("random", 8, seed=1))
    assert spec.base_set["n_cycles"] == 2 and spec.base_set["n_val"] == 5000
    assert spec.final_set == {"n_cycles": 3, "n_val": 1000}


def test_augmented_search_extends_the_plain_one():
    plain, augmented = (
        load_search_spec("search_lambda"),
        load_search_spec("search_lambda_augmented"),
    )
    assert augmented.name == "search_lambda_augmented"
    assert augmented.space == plain.space and augmented.stages == plain.stages
    assert augmented.base_set == plain.base_set | {
        "flip": True, "flip_prob": 0.5, "max_shift": 3, "shift_prob": 0.5, "fill": "zero",
    }  # fmt: skip


def write(tmp_path, text, name="s.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


MINIMAL = """
[base]
config = "base.toml"
[[dimensions]]
name = "dropout"
low = 0.0
high = 0.5
scale = "linear"
"""


def test_defaults_and_relative_base_path(tmp_path):
    spec = load_search_spec(write(tmp_path, MINIMAL))
    assert spec.base == str(tmp_path / "base.toml")
    assert spec.stages == (Stage(),)
    assert spec.narrowing == Narrowing()
    assert spec.metric == "final_val_acc"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus = 1\n" + MINIMAL, r"unknown keys \['bogus'\] at top level"),
        (MINIMAL.replace("config =", "conf ="), r"unknown keys \['conf'\] at \[base\]"),
        (MINIMAL + "[[stages]]\nmethod = 'grid'\nsize = 3\n", "Stage takes"),
        (MINIMAL + "[[stages]]\nmethod = 'sobol'\n", "method"),
        (MINIMAL + "[narrowing]\ntop_k = 0\n", "top_k"),
        (MINIMAL.replace("low = 0.0", "low = 1.0"), "must not exceed"),
        ("[base]\nconfig = 'x'\n", "at least one"),
        ("base = [", "cannot read"),
        ("extends = 's.toml'\n" + MINIMAL, "extends itself"),
    ],
)
def test_invalid_search_configs_name_the_problem(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_search_spec(write(tmp_path, text))


def test_missing_config_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_search_spec(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not a packaged config"):
        load_search_spec("no_such_search")


def test_repeats_select_and_halving_stages_are_read(tmp_path):
    text = "repeats = 3\nselect = 'one_se'\n" + MINIMAL
    text += "[[stages]]\nmethod = 'halving'\nn = 27\neta = 3\nmin_cycles = 1\n"
    spec = load_search_spec(write(tmp_path, text))
    assert spec.repeats == 3 and spec.select == "one_se"
    assert spec.stages == (Stage("halving", 27, eta=3, min_cycles=1),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("repeats = 0\n" + MINIMAL, "repeats = 0: must be an integer >= 1"),
        ("select = 'best'\n" + MINIMAL, "select = 'best'"),
        (MINIMAL + "[[stages]]\nmethod = 'halving'\neta = 1\n", "Stage.eta = 1"),
        (MINIMAL + "[[stages]]\nmethod = 'halving'\nmin_cycles = 0\n", "Stage.min_cycles = 0"),
    ],
)
def test_bad_repeats_select_and_halving_factor_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_search_spec(write(tmp_path, text))
    assert "\n" not in str(err.value)


def test_packaged_repeats_and_halving_searches():
    repeats = load_search_spec("search_lambda_repeats")
    assert repeats.repeats == 3 and repeats.select == "one_se"
    assert repeats.stages == load_search_spec("search_lambda").stages
    halving = load_search_spec("search_halving")
    assert halving.space.names == ("lam", "eta_max", "hidden")
    assert halving.stages == (Stage("halving", 27, seed=1, eta=3, min_cycles=1),)
    assert (halving.base_set["n_cycles"], halving.base_set["n_s"]) == (9, 300)


def test_search_grid3_is_the_27_point_grid_counterpart_of_search_halving():
    grid, halving = load_search_spec("search_grid3"), load_search_spec("search_halving")
    assert (grid.base, grid.base_set, grid.space) == (halving.base, halving.base_set, halving.space)
    assert (grid.final_set, grid.metric, grid.select) == (
        halving.final_set,
        halving.metric,
        halving.select,
    )
    assert grid.base_set["n_cycles"] == 9 and len(grid.stages) == 1
    points = sample(grid.space, grid.stages[0], 1)
    assert len(points) == 27 == halving.stages[0].n
    axes = {name: sorted({p[name] for p in points}) for name in grid.space.names}
    assert axes["lam"] == [1e-5, pytest.approx(1e-3), 0.1]
    assert axes["eta_max"] == [0.01, pytest.approx(0.3**0.5 * 0.1), 0.3]
    assert axes["hidden"] == [25.0, 50.0, 100.0]
