"""A run killed with SIGKILL mid-way resumes from its last checkpoint to identical bits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from handprop.nn import params_equal
from handprop.train import config_from_dict, init_params, load_checkpoint, train
from handprop.train.checkpoint import CHECKPOINT_JSON
from handprop.train.config import config_to_dict
from handprop.train.loop import initial_state

CONFIG = config_from_dict(
    dict(
        hidden=(16,),
        n_s=20,
        n_cycles=2,
        eval_every=7,
        checkpoint_every=5,
        flip=True,
        max_shift=2,
        shift_prob=0.5,
        dropout=0.2,
        seed=11,
    )
)

#: Optimisers with a state (momentum buffers, Adam moments and step count), label smoothing.
STATEFUL = {
    "nesterov": CONFIG.with_values({"optimizer.name": "nesterov", "eta_max": 0.01}),
    "adamw": CONFIG.with_values(
        {
            "optimizer.name": "adamw",
            "weight_decay": 1e-2,
            "eta_max": 1e-3,
            "label_smoothing": 0.1,
        }
    ),
}
#: Batch norms (running averages in the parameters) with Adam's state, two hidden layers.
BATCHNORM = CONFIG.with_values(
    {
        "model.hidden": [16, 8],
        "model.batchnorm": True,
        "model.bn_momentum": 0.2,
        "optimizer.name": "adam",
        "eta_max": 1e-3,
    }
)
CONFIGS = {"sgd": CONFIG, **STATEFUL, "batchnorm": BATCHNORM}

CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from train_fakes import synthetic_splits
    from handprop.train import config_from_dict, init_params, train
    from handprop.train import loop

    save = loop.save_checkpoint

    def slow_save(*args):  # slow the child down so the parent can kill it mid-run
        save(*args)
        time.sleep(0.2)

    loop.save_checkpoint = slow_save
    config = config_from_dict({config!r})
    train(init_params(config), config, data=synthetic_splits(), checkpoint_dir={folder!r})
    """
)


def _checkpoint_step(folder: Path) -> int:
    try:
        return json.loads((folder / CHECKPOINT_JSON).read_text())["step"]
    except (OSError, ValueError):
        return -1


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_sigkill_then_resume_is_bit_identical(name, splits32, tmp_path):
    from handprop.optim import state_arrays
    from handprop.train import config_to_dict

    config = CONFIGS[name]
    folder = tmp_path / "ckpt"
    script = CHILD.format(
        tests=str(Path(__file__).parent), config=config_to_dict(config), folder=str(folder)
    )
    child = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 300
        while _checkpoint_step(folder) < 20:
            assert child.poll() is None, "the child run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint at step 20 within 300 s"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    total = config.total_steps(len(splits32.train.y))
    params = init_params(config)
    killed_at = load_checkpoint(folder, opt_state=initial_state(config, params).opt_state).step
    assert 20 <= killed_at < total

    resumed = train(params, config, data=splits32, checkpoint_dir=folder, resume=True)
    full = train(params, config, data=splits32)
    assert resumed.status == full.status == "completed"
    assert resumed.steps == full.steps == total
    assert params_equal(resumed.params, full.params)
    assert resumed.history == full.history
    saved, final = state_arrays(resumed.opt_state), state_arrays(full.opt_state)
    assert saved.keys() == final.keys()
    assert all(np.array_equal(saved[k], final[k]) for k in saved)
    if name != "sgd":
        assert saved  # the state was really carried through the kill
    if name == "batchnorm":  # the running averages moved and were carried through too
        assert len(resumed.params.stats) == 2
        assert not np.array_equal(resumed.params.stats[0].mean, params.stats[0].mean)


def test_corrupt_checkpoint_is_a_data_error(splits32, tmp_path):
    from handprop.errors import DataError

    train(init_params(CONFIG), CONFIG, data=splits32, checkpoint_dir=tmp_path)
    (tmp_path / CHECKPOINT_JSON).write_text('{"format": 1, "step"')
    with pytest.raises(DataError, match=r"checkpoint in .* is unreadable"):
        train(init_params(CONFIG), CONFIG, data=splits32, checkpoint_dir=tmp_path, resume=True)
    for npz in tmp_path.glob("params-*.npz"):
        npz.write_bytes(b"not a zip")
    (tmp_path / CHECKPOINT_JSON).write_text(
        json.dumps(
            {
                "format": 1,
                "step": 5,
                "params_file": npz.name,
                "wall_time": 0,
                "config": config_to_dict(CONFIG),
                "history": [],
            }
        )
    )
    with pytest.raises(DataError, match="unreadable"):
        train(init_params(CONFIG), CONFIG, data=splits32, checkpoint_dir=tmp_path, resume=True)


def test_no_temporary_files_are_left(splits32, tmp_path):
    train(init_params(CONFIG), CONFIG, data=splits32, checkpoint_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [CHECKPOINT_JSON, "params-00000080.npz"]


def test_optimiser_state_is_checkpointed_beside_the_parameters(splits32, tmp_path):
    config = STATEFUL["adamw"]
    train(init_params(config), config, data=splits32, checkpoint_dir=tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [CHECKPOINT_JSON, "optim-00000080.npz", "params-00000080.npz"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("garbage", "cannot read arrays"),
        ("nan", "not finite"),
        ("missing", "holds no optimiser state"),
    ],
)
def test_damaged_optimiser_state_is_a_data_error(damage, message, splits32, tmp_path):
    from handprop.errors import DataError

    config = STATEFUL["nesterov"]
    params = init_params(config)
    train(params, config, data=splits32, checkpoint_dir=tmp_path)
    meta = json.loads((tmp_path / CHECKPOINT_JSON).read_text())
    optim = tmp_path / meta["optim_file"]
    if damage == "garbage":
        optim.write_bytes(b"not a zip")
    elif damage == "nan":
        with np.load(optim) as npz:
            arrays = dict(npz)
        arrays["trace.W1"][0, 0] = np.nan
        np.savez(optim, **arrays)
    else:
        del meta["optim_file"]
        (tmp_path / CHECKPOINT_JSON).write_text(json.dumps(meta))
    with pytest.raises(DataError, match=message):
        train(params, config, data=splits32, checkpoint_dir=tmp_path, resume=True)
