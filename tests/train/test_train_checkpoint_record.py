"""A hand-edited ``checkpoint.json`` is refused in one line, before any training."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from train_fakes import interrupting_make_step

from handprop.cli import main
from handprop.errors import DataError
from handprop.train import config_from_dict, init_params, train
from handprop.train.checkpoint import CHECKPOINT_JSON

TINY = "hidden = [16]\nn_s = 3\neval_every = 2\ncheckpoint_every = 2\n"
BAD_STEPS = ['"7"', "2.5", "true", "-5", "1e400", "99999999999", "null"]


@pytest.fixture
def interrupted(fake_data, tmp_path, monkeypatch, capsys) -> tuple[Path, Path]:
    from handprop.train import loop

    tiny = tmp_path / "tiny.toml"
    tiny.write_text(TINY)
    out = tmp_path / "run"
    make_step = loop.make_step
    monkeypatch.setattr(loop, "make_step", interrupting_make_step(make_step, at=3))
    assert main(args(tiny, out)) == 130
    monkeypatch.setattr(loop, "make_step", make_step)
    capsys.readouterr()
    return tiny, out


def args(config: Path, out: Path, *more: str) -> list[str]:
    return ["train", "--config", str(config), "--out", str(out), "--no-progress", "--no-figures",
            *more]  # fmt: skip


def edit(out: Path, pattern: str, replacement: str) -> None:
    path = out / "checkpoint" / CHECKPOINT_JSON
    text, count = re.subn(pattern, replacement, path.read_text(), count=1)
    assert count == 1
    path.write_text(text)


def one_line(capsys, fragment: str) -> None:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert fragment in err, err


@pytest.mark.parametrize("step", BAD_STEPS)
def test_a_bad_step_is_one_line_for_train_resume(interrupted, capsys, step):
    tiny, out = interrupted
    edit(out, r'"step": 3\b', f'"step": {step}')
    assert main(args(tiny, out, "--resume")) == 2
    one_line(capsys, "checkpoint in")


@pytest.mark.parametrize("step", BAD_STEPS)
def test_a_bad_step_is_a_data_error_for_train(interrupted, splits32, step):
    out = interrupted[1]
    edit(out, r'"step": 3\b', f'"step": {step}')
    config = config_from_dict(dict(hidden=(16,), n_s=3, eval_every=2, checkpoint_every=2))
    with pytest.raises(DataError, match="checkpoint in"):
        train(init_params(config), config, data=splits32, checkpoint_dir=out / "checkpoint",
              resume=True)  # fmt: skip


@pytest.mark.parametrize(
    ("pattern", "replacement"),
    [
        (r'"step": 2\b', '"step": 7'),  # a history row beyond the checkpoint's step
        (r'"step": 2\b', '"step": 0'),  # rows out of order
        (r'"step": 2\b', '"step": "2"'),
        (r'"wall_time": [0-9.e-]+', '"wall_time": -1'),
    ],
)
def test_an_inconsistent_history_is_one_line(interrupted, capsys, pattern, replacement):
    tiny, out = interrupted
    edit(out, pattern, replacement)
    assert main(args(tiny, out, "--resume")) == 2
    one_line(capsys, "checkpoint in")


def test_a_deeply_nested_checkpoint_json_is_one_line(interrupted, capsys):
    tiny, out = interrupted
    edit(out, r'"step": 3\b', '"step": ' + "[" * 100_000 + "]" * 100_000)
    assert main(args(tiny, out, "--resume")) == 2
    one_line(capsys, "checkpoint in")
