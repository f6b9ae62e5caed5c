"""``handprop search`` end to end on a tiny real-data budget, and its error exit."""

from __future__ import annotations

import json

import pytest
from search_fakes import TINY_BASE

from handprop.cli import main

TINY_SEARCH = """
[base]
config = "tiny.toml"
set = { n_cycles = 1 }
[[dimensions]]
name = "lam"
low = 1e-4
high = 1e-1
[[stages]]
method = "grid"
n = 3
[[stages]]
method = "random"
n = 2
[final]
set = { n_cycles = 2 }
"""


def test_missing_search_config_exits_2_with_a_message(capsys):
    assert main(["search", "--config", "no_such_search"]) == 2
    assert "not a packaged config" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.realdata
def test_search_with_final_retrain_and_augmentation_comparison(cifar10, tmp_path):
    (tmp_path / "tiny.toml").write_text(TINY_BASE)
    (tmp_path / "search.toml").write_text(TINY_SEARCH)
    (tmp_path / "augmented.toml").write_text(
        'extends = "search.toml"\n[base]\nset = { flip = true, max_shift = 2, shift_prob = 0.5 }\n'
    )
    out = tmp_path / "out"
    args = ["search", "--config", str(tmp_path / "search.toml"), "--workers", "0"]
    assert main([*args, "--out", str(out), "--final", "--set", "seed=3"]) == 0
    chosen = json.loads((out / "chosen.json").read_text())
    assert [s["trials"] for s in chosen["stages"]] == [3, 2]
    assert chosen["final"]["status"] == "completed"
    assert 0.0 <= chosen["final"]["test_acc"] <= 1.0
    assert (out / "final" / "metrics.json").exists()
    config = json.loads((out / "search.json").read_text())["base_config"]
    assert config["run"]["seed"] == 3 and config["data"]["n_train"] == 500

    compare = tmp_path / "compare"
    assert main([*args, "--compare-augmentation", "--augmented-config",
                 str(tmp_path / "augmented.toml"), "--out", str(compare)]) == 0  # fmt: skip
    text = (compare / "comparison.md").read_text()
    assert "without augmentation: lam = " in text and "with augmentation: lam = " in text
    assert (compare / "search" / "chosen.json").exists()
    assert (compare / "augmented" / "chosen.json").exists()


TINY_HALVING = """
[base]
config = "tiny.toml"
set = { n_cycles = 3 }
[[dimensions]]
name = "lam"
low = 1e-4
high = 1e-1
[[dimensions]]
name = "dropout"
low = 0.0
high = 0.5
scale = "linear"
[[stages]]
method = "halving"
n = 3
eta = 3
"""


@pytest.mark.slow
@pytest.mark.realdata
def test_halving_search_on_real_data_resumes_promoted_trials(cifar10, tmp_path, capsys):
    (tmp_path / "tiny.toml").write_text(TINY_BASE)
    (tmp_path / "halving.toml").write_text(TINY_HALVING)
    out = tmp_path / "out"
    args = ["search", "--config", str(tmp_path / "halving.toml"), "--workers", "0"]
    assert main([*args, "--out", str(out)]) == 0
    assert "chosen by best_mean over 1 repeat(s)" in capsys.readouterr().out
    chosen = json.loads((out / "chosen.json").read_text())
    assert [r["points"] for r in chosen["stages"][0]["rungs"]] == [3, 1]
    assert chosen["training_steps"] == 3 * 10 + 1 * 20  # promoted trial resumed at step 10
    assert len(list((out / "checkpoints" / "stage1").iterdir())) == 3
