"""Successive halving with every optimiser: a promoted trial resumes its optimiser state and
ends bit-identical to an uninterrupted run of the same config and cycles."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from handprop.search import Dimension, Space, Stage, TrialOutcome, search
from handprop.search.trial import TrainTrial
from handprop.train import config_from_dict, init_params, train
from handprop.train import data as data_module
from handprop.train.checkpoint import load_checkpoint
from handprop.train.loop import initial_state

sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
from train_fakes import synthetic_splits

OPTIMIZERS = ["sgd", "momentum", "nesterov", "adam", "adamw"]


def tiny(name: str, n_cycles: int = 3, **more):
    return config_from_dict(dict(hidden=(10,), split="batch1", n_train=300, n_val=100, n_s=3,
                                 n_cycles=n_cycles, batch_size=50, eval_every=3, lam=1e-3,
                                 seed=2, **{"optimizer.name": name}, **more))  # fmt: skip


@pytest.fixture
def fake_trial_data(monkeypatch):
    splits = synthetic_splits()
    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits, None))
    return splits


def final_params(folder: Path, config):
    params = init_params(config)
    template = initial_state(config, params).opt_state
    return load_checkpoint(folder, params.sizes, params.dtype, template).params


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_promoted_trial_resumes_its_optimiser_state_bit_identically(
    name, fake_trial_data, tmp_path
):
    folder = tmp_path / "ckpt"
    runner = TrainTrial()
    short = runner(tiny(name, 1), checkpoint_dir=str(folder))
    assert short.status == "completed" and short.steps == 6
    extended = runner(tiny(name), checkpoint_dir=str(folder))
    full = train(init_params(tiny(name)), tiny(name), data=fake_trial_data)
    assert extended.status == "completed" and extended.steps == full.steps == 18
    assert extended == runner(tiny(name))
    for a, b in zip(final_params(folder, tiny(name)).arrays().values(),
                    full.params.arrays().values(), strict=True):  # fmt: skip
        assert np.array_equal(a, b)


def test_a_halving_search_with_momentum_completes_every_rung(fake_trial_data, tmp_path):
    base = tiny("momentum", 9)
    result = search(base, Space([Dimension("eta_max", 1e-3, 1e-1)]), out_dir=tmp_path / "out",
                    stages=[Stage("halving", 9, eta=3)], runner=TrainTrial(),
                    workers=0)  # fmt: skip
    statuses = {r.outcome.status for r in result.stages[0].records}
    assert statuses == {"completed"}


def path_error_runner(config, checkpoint_dir: str | None = None) -> TrialOutcome:
    raise OSError(f"cannot read {checkpoint_dir}/params.npz")


def test_errors_that_differ_only_by_their_path_are_one_common_error(tmp_path):
    from handprop.errors import HandpropError

    with pytest.raises(HandpropError, match=r"all 3 trials failed with OSError: cannot read "):
        search(tiny("sgd"), Space([Dimension("lam", 1e-4, 1e-2)]), out_dir=tmp_path,
               stages=[Stage("random", 3)], runner=path_error_runner,
               workers=0)  # fmt: skip


def test_a_rerun_runs_recorded_errors_again_and_completes_after_the_fix(tmp_path):
    from search_fakes import FakeConfig, fake_runner

    from handprop.search import read_results

    space = Space([Dimension("lam", 1e-5, 1e-3)])  # 1e-5 raises in fake_runner, 1e-3 passes
    stage = [Stage("grid", 2)]
    first = search(
        FakeConfig(), space, out_dir=tmp_path, stages=stage, runner=fake_runner, workers=0
    )  # fmt: skip  (one raises, one passes: both recorded)
    assert {r.outcome.status for r in first.stages[0].records} == {"error", "completed"}

    def fixed(config):
        return fake_runner(FakeConfig(lam=1e-3))

    second = search(FakeConfig(), space, out_dir=tmp_path, stages=stage, runner=fixed,
                    workers=0)  # fmt: skip
    assert {r.outcome.status for r in second.stages[0].records} == {"completed"}
    assert {r.outcome.status for r in read_results(tmp_path / "results.jsonl").values()} == {
        "completed"
    }
