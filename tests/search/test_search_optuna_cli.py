"""``handprop search`` with an Optuna stage: bad input is one line and exit 2, and a tiny
real-data TPE search with pruning runs, resumes and retrains its winner."""

from __future__ import annotations

import json

import pytest
from search_fakes import TINY_BASE

from handprop.cli import main
from handprop.search import configure, run_trial
from handprop.train import load_config

optuna = pytest.importorskip("optuna")

TPE_SEARCH = """
[base]
config = "tiny.toml"
set = { n_cycles = 3, n_s = 5, eval_every = 10 }
[[dimensions]]
name = "lam"
low = 1e-4
high = 1e-1
[[dimensions]]
name = "flip"
choices = [false, true]
[[dimensions]]
name = "flip_prob"
low = 0.2
high = 0.8
scale = "linear"
when = { flip = true }
[[stages]]
method = "tpe"
n = 4
seed = 1
n_startup_trials = 2
pruner = "hyperband"
min_resource = 10
[final]
set = { n_cycles = 1 }
"""


def _write(tmp_path, text):
    (tmp_path / "tiny.toml").write_text(TINY_BASE)
    (tmp_path / "search.toml").write_text(text)
    return ["search", "--config", str(tmp_path / "search.toml"), "--workers", "0"]


def _one_line_exit_2(args, capsys, *expected):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for text in expected:
        assert text in err, err


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('method = "tpe"', 'method = "bayes"', "must be one of"),
        ("low = 1e-4\nhigh = 1e-1", "low = 1e-1\nhigh = 1e-1", "must be below high"),
        ("low = 1e-4\nhigh = 1e-1", "low = 0.0\nhigh = 1e-1", "log scale needs low > 0"),
        ("when = { flip = true }", "when = { mixup = true }", "names no earlier dimension"),
        ('pruner = "hyperband"', 'pruner = "median"', "must be one of"),
    ],
)
def test_bad_search_configs_exit_2_with_one_line(tmp_path, capsys, old, new, expected):
    assert old in TPE_SEARCH
    args = _write(tmp_path, TPE_SEARCH.replace(old, new))
    _one_line_exit_2([*args, "--out", str(tmp_path / "out")], capsys, expected)


@pytest.mark.parametrize(
    "url",
    ["postgresql://handprop@127.0.0.1:1/nothing", "nosuchdb://somewhere/x"],
)
def test_unreachable_storage_exits_2_and_leaves_no_search_file(tmp_path, capsys, url):
    args = _write(tmp_path, TPE_SEARCH)
    out = tmp_path / "out"
    _one_line_exit_2([*args, "--out", str(out), "--storage", url], capsys, "cannot open")
    assert not (out / "search.json").exists()


def test_a_study_of_another_search_is_refused(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'other.db'}"
    study = optuna.create_study(storage=url, study_name="search", direction="maximize")
    study.set_user_attr("handprop_definition_hash", "0" * 64)
    args = _write(tmp_path, TPE_SEARCH)
    out = tmp_path / "out"
    _one_line_exit_2([*args, "--out", str(out), "--storage", url], capsys, "another search")
    assert not (out / "search.json").exists()


def test_storage_without_an_optuna_stage_exits_2(tmp_path, capsys):
    grid = (
        TPE_SEARCH.split('[[dimensions]]\nname = "flip"')[0]
        + '[[stages]]\nmethod = "grid"\nn = 2\n'
    )
    args = _write(tmp_path, grid)
    url = f"sqlite:///{tmp_path / 'x.db'}"
    _one_line_exit_2([*args, "--out", str(tmp_path / "o"), "--storage", url], capsys, "Optuna")


@pytest.mark.realdata
def test_tiny_tpe_search_on_real_data_resumes_and_retrains(cifar10, tmp_path, capsys):
    args = _write(tmp_path, TPE_SEARCH)
    out = tmp_path / "out"
    assert main([*args, "--out", str(out), "--final"]) == 0
    chosen = json.loads((out / "chosen.json").read_text())
    assert chosen["final"]["status"] == "completed"
    study = optuna.load_study(study_name="search", storage=f"sqlite:///{out / 'study.db'}")
    assert len(study.trials) == 4
    assert all(t.intermediate_values for t in study.trials)
    done = next(t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE)
    base = configure(load_config(str(tmp_path / "tiny.toml")), {"n_cycles": 3, "n_s": 5})
    base = configure(base, {"eval_every": 10})
    plain = run_trial(configure(base, done.params))  # the same point, no study, no pruner
    assert plain.final_val_acc == done.value  # same bits
    capsys.readouterr()
    assert main([*args, "--out", str(out)]) == 0  # a rerun trains nothing
    assert "trial " not in capsys.readouterr().err
    assert len(study.get_trials()) == 4
