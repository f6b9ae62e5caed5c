"""The real trial runner: a promoted trial resumes its checkpoint bit-identically."""

from __future__ import annotations

import pytest

from handprop.search import run_trial
from handprop.train import config_from_dict

TINY = config_from_dict(dict(hidden=(10,), split="batch1", n_train=500, n_val=500, n_s=5,
                        n_cycles=3, batch_size=50, train_eval_size=100, eval_every=5, lam=1e-3,
                        seed=2))  # fmt: skip


@pytest.mark.slow
@pytest.mark.realdata
def test_a_trial_extended_from_its_checkpoint_equals_a_full_length_trial(cifar10, tmp_path):
    folder = str(tmp_path / "ckpt")
    short = run_trial(TINY.with_overrides(["n_cycles=1"]), checkpoint_dir=folder)
    assert short.status == "completed" and short.steps == 10
    extended = run_trial(TINY, checkpoint_dir=folder)
    assert extended == run_trial(TINY)
    assert extended.steps == 30
    again = run_trial(TINY, checkpoint_dir=folder)  # a finished rung is not trained again
    assert again == extended


@pytest.mark.slow
@pytest.mark.realdata
@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam"])
def test_a_promoted_trial_with_an_optimiser_state_equals_an_uninterrupted_one(
    name, cifar10, tmp_path
):
    import numpy as np

    from handprop.data import DataSource
    from handprop.train import init_params, load_data, train
    from handprop.train.checkpoint import load_checkpoint
    from handprop.train.loop import initial_state

    config = TINY.with_overrides([f"optimizer.name={name}", "eta_max=0.01"])
    folder = tmp_path / "ckpt"
    short = run_trial(config.with_overrides(["n_cycles=1"]), checkpoint_dir=str(folder))
    assert short.status == "completed" and short.steps == 10
    extended = run_trial(config, checkpoint_dir=str(folder))
    assert extended == run_trial(config) and extended.steps == 30
    splits = load_data(config, DataSource.resolve())
    full = train(init_params(config), config, data=splits)
    params = init_params(config)
    saved = load_checkpoint(
        folder, params.sizes, params.dtype, initial_state(config, params).opt_state
    )
    for a, b in zip(saved.params.arrays().values(), full.params.arrays().values(), strict=True):
        assert np.array_equal(a, b)
