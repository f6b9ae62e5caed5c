"""Every packaged experiment config runs (a few steps), on synthetic and on real data."""

from __future__ import annotations

import pytest

from handprop.nn import accuracy
from handprop.runs import run_experiment
from handprop.train import (
    init_params,
    load_config,
    load_data,
    train,
    training_config_names,
)

TRAINING_CONFIGS = training_config_names()

#: The second seed's published test accuracies (%) for its four one-layer runs.
ONE_LAYER_PUBLISHED = {
    "one_layer_lam0_eta1e-1": 28.77,
    "one_layer_lam0_eta1e-3": 39.32,
    "one_layer_lam1e-1_eta1e-3": 39.40,
    "one_layer_lam1_eta1e-3": 37.38,
}


def few_steps(name: str):
    """The packaged config cut down to a handful of updates."""
    config = load_config(name)
    budget = ["epochs=1"] if config.schedule.kind == "constant" else ["n_s=2", "n_cycles=1"]
    return config.with_overrides(budget)


def test_all_addendum_configs_present():
    assert len(TRAINING_CONFIGS) == 14


@pytest.mark.parametrize("name", TRAINING_CONFIGS)
def test_packaged_config_runs(name, splits32, tmp_path):
    config = few_steps(name)
    figures = ("png",) if name in ("baseline", "one_layer_lam0_eta1e-3") else ()
    summary = run_experiment(config, tmp_path, data=splits32, progress=False, figures=figures)
    assert summary.status == "completed"
    assert summary.steps == config.total_steps(len(splits32.train.y))
    assert 0.0 <= summary.test_acc <= 1.0


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["one_layer_lam1e-1_eta1e-3", "three_cycles"])
def test_packaged_config_learns_on_real_data(name, real_splits):
    config = few_steps(name).with_overrides(["dtype=float64", "n_s=50"])
    result = train(init_params(config), config, data=real_splits)
    assert result.status == "completed"
    assert result.history.rows[-1].val_acc > 0.25


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(ONE_LAYER_PUBLISHED))
def test_one_layer_configs_reproduce_the_second_seed(name, real_splits, tmp_path):
    """Full 40-epoch runs (float64, as the fixture's splits) within 1.5 points."""
    config = load_config(name).with_overrides(["dtype=float64"])
    summary = run_experiment(config, tmp_path, data=real_splits, progress=False, figures=())
    assert abs(100 * summary.test_acc - ONE_LAYER_PUBLISHED[name]) < 1.5


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "at_least"), [("baseline", 51.0), ("wide_flip_translate_dropout", 53.5)]
)
def test_final_two_layer_runs_reach_the_acceptance_accuracy(name, at_least, cifar10):
    """The first seed's final baseline and all four improvements, full length, float32."""
    config = load_config(name)
    data = load_data(config)
    result = train(init_params(config), config, data=data)
    assert result.status == "completed"
    assert 100 * accuracy(result.params, data.test.X, data.test.y) >= at_least


@pytest.mark.slow
@pytest.mark.realdata
def test_beyond_two_layer_trains_on_real_data(cifar10, tmp_path):
    """The beyond config (whitening, optimiser, label smoothing), cut to a few hundred
    steps on a small training set: it trains, learns and stores its whitening."""
    config = load_config("beyond_two_layer").with_overrides(
        ["n_train=2000", "n_val=500", "n_s=100", "n_cycles=1", "eval_every=100"]
    )
    summary = run_experiment(config, tmp_path, progress=False, figures=())
    assert summary.status == "completed"
    assert summary.best_val_acc > 0.2
    assert (tmp_path / "whitening.npz").is_file()
