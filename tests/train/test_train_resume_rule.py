"""``handprop train --resume`` and ``train(resume=True)`` follow one rule: the same config
changes are accepted (and continue bit-identically) or refused with the same reason."""

from __future__ import annotations

import re

import pytest
from train_fakes import interrupting_make_step

from handprop.cli import main
from handprop.errors import ConfigError
from handprop.nn import params_equal
from handprop.train import init_params, load_config, loop, train
from handprop.train.params_file import load_params

BASE = "hidden = [16]\nn_s = 3\nn_cycles = 2\neval_every = 2\ncheckpoint_every = 2\n"
#: Both runs are interrupted after this many of their 12 steps.
AT = 8


@pytest.mark.parametrize(
    ("extra", "change", "accepted"),
    [
        ("", "n_cycles=3", True),
        ("", "n_cycles=1", False),  # 6 steps: before the saved step
        ("", "eta_max=0.2", False),
        ("", "lam=0.01", False),
        ("", "seed=5", False),
        ("", "hidden=[8]", False),
        ("", "eval_every=3", False),
        ("", "checkpoint_seconds=10", True),
        ("", "checkpoint_every=3", True),
        ("", "run.name=other", True),
        ("snapshots = 1\n", "n_cycles=3", False),  # the last cycle moves
        ("snapshots = true\n", "n_cycles=3", True),
    ],
)
def test_the_command_and_the_function_agree_on_a_change(
    extra, change, accepted, fake_data, splits32, tmp_path, capsys, monkeypatch
):
    path = tmp_path / "base.toml"
    path.write_text(BASE + extra)
    base = load_config(str(path))
    new = base.with_overrides([change])
    out, folder = tmp_path / "run", tmp_path / "checkpoint"
    args = ["train", "--config", str(path), "--out", str(out), "--no-progress", "--no-figures"]

    make_step = loop.make_step
    monkeypatch.setattr(loop, "make_step", interrupting_make_step(make_step, at=AT))
    assert main(args) == 130
    interrupted = train(init_params(base), base, data=splits32, checkpoint_dir=folder)
    assert interrupted.status == "interrupted" and interrupted.steps == AT
    monkeypatch.setattr(loop, "make_step", make_step)
    capsys.readouterr()

    code = main([*args, "--resume", "--set", change])
    err = capsys.readouterr().err
    try:
        resumed = train(init_params(new), new, data=splits32, checkpoint_dir=folder, resume=True)
    except ConfigError as refusal:
        reason = str(refusal)
    else:
        reason = None

    assert (code == 0, reason is None) == (accepted, accepted), (code, err, reason)
    if accepted:
        whole = train(init_params(new), new, data=splits32)
        assert params_equal(resumed.params, whole.params) and resumed.history == whole.history
        assert params_equal(load_params(out / "params.npz"), whole.params)
    else:
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        cli_reason = err.strip().split(f"cannot resume {out}", 1)[1]
        assert reason == f"cannot resume {folder}{cli_reason}"
        assert re.search(r": its config differs in [a-z_.]+", reason), reason


def test_a_completed_folder_is_not_extended(fake_data, tmp_path, capsys):
    """Its checkpoint is gone, so more cycles would start again: refused, not reported as
    the shorter run's result."""
    path = tmp_path / "base.toml"
    path.write_text(BASE)
    out = tmp_path / "run"
    args = ["train", "--config", str(path), "--out", str(out), "--no-progress", "--no-figures"]
    assert main(args) == 0
    capsys.readouterr()
    assert main([*args, "--resume", "--set", "n_cycles=3"]) == 2
    err = capsys.readouterr().err
    assert "differs in schedule.n_cycles (the run completed and keeps no state" in err, err
    assert main([*args, "--resume", "--set", "run.name=other"]) == 0
