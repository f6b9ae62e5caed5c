"""Run folders under attack: concurrency, full disks, damaged files, hostile configs.

Every failure must be one line on stderr with exit code 2, and leave a folder that the
next command can read.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from train_fakes import interrupting_make_step

from handprop.cli import main
from handprop.errors import DataError
from handprop.lock import LOCK_FILE, folder_lock
from handprop.nn import params_equal
from handprop.train import config_from_dict, init_params, load_checkpoint, save_checkpoint
from handprop.train.checkpoint import CHECKPOINT_JSON, Checkpoint
from handprop.train.history import History, HistoryRow
from handprop.train.params_file import load_params, save_params

TINY = "hidden = [16]\nn_s = 3\neval_every = 2\ncheckpoint_every = 2\n"


@pytest.fixture
def tiny(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def train_args(config: Path, out: Path, *more: str) -> list[str]:
    return ["train", "--config", str(config), "--out", str(out), "--no-progress", *more]


def one_line_error(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


# 1. locks ---------------------------------------------------------------------------


def test_a_folder_in_use_is_refused_with_the_holders_pid(fake_data, tiny, tmp_path, capsys):
    out = tmp_path / "run"
    with folder_lock(out):
        assert main(train_args(tiny, out)) == 2
    one_line_error(capsys, f"run folder {out} is in use by PID {os.getpid()}")
    assert not (out / "config.toml").exists()
    assert main(train_args(tiny, out, "--no-figures")) == 0
    assert not (out / LOCK_FILE).exists()


def test_a_stale_lock_file_of_a_dead_process_is_taken_over(fake_data, tiny, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_FILE).write_text("999999999\n")  # no process holds the flock
    assert main(train_args(tiny, out, "--no-figures")) == 0


def test_a_search_folder_in_use_is_refused(tmp_path, capsys):
    out = tmp_path / "search"
    with folder_lock(out, "search folder"):
        assert main(["search", "--out", str(out)]) == 2
    one_line_error(capsys, f"search folder {out} is in use by PID")


def test_checkpoint_cleanup_only_removes_its_own_previous_file(splits32, tmp_path):
    config = config_from_dict(dict(hidden=(4,)))
    params = init_params(config)
    foreign = tmp_path / "params-00000099.npz"
    foreign.write_bytes(b"another process's file")
    for step in (1, 2):
        save_checkpoint(tmp_path, Checkpoint(params, step, History(), {}, 0.0))
    assert foreign.exists() and not (tmp_path / "params-00000001.npz").exists()
    assert load_checkpoint(tmp_path).step == 2


# 2 and 11. full disk, kills during the last writes -----------------------------------


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(
    fake_data, tiny, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    monkeypatch.setattr(os, "fsync", _disk_full)
    assert main(train_args(tiny, out)) == 2
    one_line_error(capsys, "No space left on device")
    assert not out.exists()  # the folder it created, left empty, is removed again


def test_figures_failing_leave_no_completion_and_resume_finishes_them(
    fake_data, tiny, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "run"
    savefig = Figure.savefig

    def half_then_full(self, fname, *args, **kwargs):
        fname.write(b"\x89PNG half")
        _disk_full()

    monkeypatch.setattr(Figure, "savefig", half_then_full)
    assert main(train_args(tiny, out)) == 2
    one_line_error(capsys, "No space left on device")
    assert not (out / "metrics.json").exists() and not (out / "curves.png").exists()
    assert leftovers(out) == []
    assert (out / "checkpoint" / CHECKPOINT_JSON).exists()
    monkeypatch.setattr(Figure, "savefig", savefig)
    assert main(train_args(tiny, out)) == 2  # a run is there: resume it
    assert "already holds a run" in capsys.readouterr().err
    assert main(train_args(tiny, out, "--resume")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "completed"
    assert {"curves.png", "weights.png", "params.npz"} <= {p.name for p in out.iterdir()}
    assert not (out / "checkpoint").exists()


def test_metrics_are_written_after_everything_else(splits32, tmp_path, monkeypatch):
    from handprop.runs import run_experiment

    written: list[str] = []
    real = os.replace

    def record(src, dst):
        written.append(Path(dst).name)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", record)
    config = config_from_dict(dict(hidden=(8,), n_s=2, checkpoint_every=1))
    run_experiment(config, tmp_path / "run", data=splits32, progress=False)
    assert written[-1] == "metrics.json" and written.count("metrics.json") == 1
    assert {"curves.png", "weights.png", "params.npz", "history.json"} <= set(written)
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert names == {"config.toml", "history.json", "history.csv", "params.npz", "metrics.json"} | {
        "curves.png",
        "schedule.png",
        "weights.png",
    }


# 5 and 6. resume with another config, failed starts ----------------------------------


def test_resume_with_another_config_is_refused_before_writing(
    fake_data, tiny, tmp_path, capsys, monkeypatch
):
    from handprop.train import loop

    out = tmp_path / "run"
    make_step = loop.make_step
    monkeypatch.setattr(loop, "make_step", interrupting_make_step(make_step, at=3))
    assert main(train_args(tiny, out, "--no-figures")) == 130
    monkeypatch.setattr(loop, "make_step", make_step)
    capsys.readouterr()
    saved = (out / "config.toml").read_bytes()
    assert main(train_args(tiny, out, "--resume", "--set", "lam=0.5", "--set", "seed=3")) == 2
    one_line_error(capsys, "config differs in optimizer.lam, run.seed")
    assert (out / "config.toml").read_bytes() == saved
    assert main(train_args(tiny, out, "--resume", "--no-figures")) == 0
    capsys.readouterr()
    # a completed folder is refused too, not reported as the other config's result
    assert main(train_args(tiny, out, "--resume", "--set", "lam=0.5")) == 2
    one_line_error(capsys, "config differs in optimizer.lam")
    assert (out / "config.toml").read_bytes() == saved


def test_a_failed_start_does_not_block_a_retry(
    fake_data, splits32, tiny, tmp_path, capsys, monkeypatch
):
    from handprop.train import data as data_module

    out = tmp_path / "run"

    def bad_data(*args):
        raise DataError("n_train = 99999 exceeds the 49000 training images")

    monkeypatch.setattr(data_module, "prepared_splits", bad_data)
    assert main(train_args(tiny, out)) == 2
    one_line_error(capsys, "exceeds")
    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits32, None))
    assert main(train_args(tiny, out, "--set", "hidden=[10000000]")) == 2
    one_line_error(capsys, "hidden = [10000000] needs about", "GB")
    assert main(train_args(tiny, out, "--no-figures")) == 0


# 7. damaged files and impossible places ----------------------------------------------


@pytest.fixture
def finished(fake_data, tiny, tmp_path) -> Path:
    out = tmp_path / "run"
    assert main(train_args(tiny, out, "--no-figures")) == 0
    return out


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated"])
def test_damaged_params_are_one_line_for_evaluate(finished, capsys, content):
    (finished / "params.npz").write_bytes(content)
    capsys.readouterr()
    assert main(["evaluate", str(finished)]) == 2
    one_line_error(capsys, "cannot read parameters from")


@pytest.mark.parametrize("content", ["", '{"status": "comp'])
def test_damaged_metrics_are_one_line_for_resume(finished, tiny, capsys, content):
    (finished / "metrics.json").write_text(content)
    capsys.readouterr()
    assert main(train_args(tiny, finished, "--resume")) == 2
    one_line_error(capsys, "metrics file", "unreadable")


def test_a_checkpoint_holding_a_list_is_a_data_error(tmp_path):
    (tmp_path / CHECKPOINT_JSON).write_text("[1, 2]")
    with pytest.raises(DataError, match="holds a list, not an object"):
        load_checkpoint(tmp_path)


def test_a_config_that_is_not_utf8_is_one_line(fake_data, tmp_path, capsys):
    path = tmp_path / "latin.toml"
    path.write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    assert main(train_args(path, tmp_path / "run")) == 2
    one_line_error(capsys, "cannot read config file")


def test_out_on_a_file_or_under_proc_is_one_line(fake_data, tiny, tmp_path, capsys):
    assert main(train_args(tiny, tiny)) == 2
    one_line_error(capsys, "it is a file")
    assert main(train_args(tiny, Path("/proc/handprop-run"))) == 2
    one_line_error(capsys, "cannot create run folder /proc/handprop-run")


# 12. history values, names that escape runs/ ------------------------------------------


def test_history_json_holds_no_infinity_and_reads_back(tmp_path):
    row = HistoryRow(0, 0.0, 0.1, np.inf, np.inf, 0.1, np.nan, np.inf, 0.1)
    History((row,)).save(tmp_path / "h.json", tmp_path / "h.csv")

    def refuse(name):
        raise AssertionError(f"invalid JSON constant {name}")

    rows = json.loads((tmp_path / "h.json").read_text(), parse_constant=refuse)
    assert rows[0]["train_loss"] is None and rows[0]["val_loss"] is None
    back = History.from_json(rows).rows[0]
    assert np.isinf(row.train_loss) and np.isnan(back.train_loss) and back.val_acc == 0.1


@pytest.mark.parametrize("command", [["train", "--no-figures"], ["lr-find", "--steps", "10"]])
@pytest.mark.parametrize("name", ["../escape", "/tmp/abs", "a/b", ".."])
def test_a_name_cannot_leave_runs(fake_data, tiny, tmp_path, capsys, monkeypatch, name, command):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    args = [*command, "--config", str(tiny), "--set", f"run.name={json.dumps(name)}"]
    assert main(args) == 2
    one_line_error(capsys, "name must be a plain folder name")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "tiny.toml"]
    assert list(cwd.iterdir()) == []


# 13. parameter files checked against the config --------------------------------------


SIZES = (3072, 16, 10)


def _saved(tmp_path, **arrays) -> Path:
    path = tmp_path / "p.npz"
    np.savez(path, **arrays)
    return path


def _good() -> dict[str, np.ndarray]:
    params = init_params(config_from_dict(dict(hidden=(16,))))
    return {k: np.array(v) for k, v in params.arrays().items()}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(W3=np.zeros((10, 10), np.float32)), "expected W1, b1, W2, b2"),
        (lambda a: a.pop("b2"), "expected W1, b1, W2, b2"),
        (lambda a: a.update(W1=a["W1"].astype(np.float64)), "W1 has dtype float64"),
        (lambda a: a.update(W2=np.zeros((16, 9), np.float32)), "W2 has shape (16, 9)"),
        (lambda a: a.update(b1=np.full(16, np.nan, np.float32)), "not finite (b1"),
        (lambda a: a.update(W1=np.array([b"x"])), "W1 has dtype |S1"),
    ],
)
def test_params_must_match_the_config(tmp_path, change, message):
    arrays = _good()
    change(arrays)
    with pytest.raises(DataError, match=re.escape(message)):
        load_params(_saved(tmp_path, **arrays), SIZES, "float32")


def test_params_round_trip(tmp_path):
    params = init_params(config_from_dict(dict(hidden=(16,))))
    save_params(params, tmp_path / "p.npz")
    assert params_equal(load_params(tmp_path / "p.npz", SIZES, "float32"), params)
    assert leftovers(tmp_path) == []


def test_a_huge_array_header_is_refused_before_reading(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (3072, 10**9)}
    )
    path = tmp_path / "bomb.npz"
    arrays = _good()
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            if name == "W1":
                zf.writestr("W1.npy", header.getvalue() + b"\0" * 64)
            else:
                buf = io.BytesIO()
                np.lib.format.write_array(buf, value)
                zf.writestr(f"{name}.npy", buf.getvalue())
    with pytest.raises(DataError, match=r"W1 has shape \(3072, 1000000000\)"):
        load_params(path, SIZES, "float32")


def test_evaluate_refuses_params_of_another_network(finished, capsys):
    params = init_params(config_from_dict(dict(hidden=(16, 16))))
    save_params(params, finished / "params.npz")
    capsys.readouterr()
    assert main(["evaluate", str(finished)]) == 2
    one_line_error(capsys, "expected W1, b1, W2, b2")
