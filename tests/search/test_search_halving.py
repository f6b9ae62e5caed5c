"""Successive halving with cycles as the budget: rungs, promotion, resume, errors."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from search_fakes import HALVING, HALVING_SPACE, FakeConfig, halving_runner, run_halving

from handprop.errors import ConfigError
from handprop.search import Stage, read_results, search
from handprop.search.halving import rungs


def chains(log):
    """Per checkpoint folder, the ``(from, to)`` cycles of each execution."""
    runs = defaultdict(list)
    for line in log.read_text().splitlines():
        folder, start, stop = line.split()
        runs[folder].append((int(start), int(stop)))
    return runs


def test_rungs_multiply_the_budget_and_divide_the_points():
    assert rungs(Stage("halving", 27, eta=3), 9) == [(1, 27), (3, 9), (9, 3)]
    assert rungs(Stage("halving", 30, eta=2, min_cycles=2), 8) == [(2, 30), (4, 15), (8, 7)]


@pytest.mark.parametrize(("n_cycles", "stage"), [(2, Stage("halving", 9)), (1, Stage("halving"))])
def test_a_budget_that_cannot_be_split_into_rungs_is_a_one_line_error(n_cycles, stage):
    with pytest.raises(ConfigError, match="n_cycles = ") as err:
        rungs(stage, n_cycles)
    assert "\n" not in str(err.value) and "min_cycles" in str(err.value)


def test_halving_factor_of_one_is_a_config_error():
    with pytest.raises(ConfigError, match=r"Stage\.eta = 1: must be an integer >= 2"):
        Stage("halving", 27, eta=1)


def test_search_refuses_an_unsplittable_budget_before_running(tmp_path):
    with pytest.raises(ConfigError, match="n_cycles = 2"):
        search(FakeConfig(n_cycles=2), HALVING_SPACE, out_dir=tmp_path, stages=HALVING,
               runner=halving_runner, workers=0)  # fmt: skip
    assert not (tmp_path / "results.jsonl").exists()


def test_halving_promotes_the_top_third_and_resumes_promoted_trials(tmp_path):
    log = tmp_path / "executions.log"
    run_halving(tmp_path / "out", log, 0.0, 0)
    records = list(read_results(tmp_path / "out" / "results.jsonl").values())
    by_rung = defaultdict(list)
    for r in records:
        by_rung[r.rung].append(r)
    assert {k: len(v) for k, v in by_rung.items()} == {1: 27, 2: 9, 3: 3}
    assert {r.cycles for r in by_rung[2]} == {3} and {r.cycles for r in by_rung[3]} == {9}
    top9 = sorted(by_rung[1], key=lambda r: -r.outcome.final_val_acc)[:9]
    assert {r.trial for r in by_rung[2]} == {r.trial for r in top9}
    # a promoted trial continues from its checkpoint: 0 -> 1, 1 -> 3, 3 -> 9 cycles
    runs = chains(log)
    assert len(runs) == 27
    assert sorted(len(v) for v in runs.values()) == [1] * 18 + [2] * 6 + [3] * 3
    for steps in runs.values():
        assert steps == [(0, 1), (1, 3), (3, 9)][: len(steps)]
    chosen = json.loads((tmp_path / "out" / "chosen.json").read_text())
    assert chosen["rung"] == 3 and chosen["values"]["dropout"] is not None
    assert chosen["training_steps"] == 27 * 10 + 9 * 20 + 3 * 60
    assert [r["points"] for r in chosen["stages"][0]["rungs"]] == [27, 9, 3]
    assert set(chosen["values"]) == {"lam", "eta_max", "hidden", "dropout"}
    assert "rung 3 (9 cycles)" in (tmp_path / "out" / "top_configs.md").read_text()
    assert (tmp_path / "out" / "val_acc.png").stat().st_size > 0


def test_rerun_of_a_finished_halving_search_executes_nothing(tmp_path):
    log = tmp_path / "executions.log"
    run_halving(tmp_path / "out", log, 0.0, 0)
    before = log.read_text()
    run_halving(tmp_path / "out", log, 0.0, 0)
    assert log.read_text() == before


def test_halving_with_repeats_promotes_by_mean(tmp_path):
    result = search(FakeConfig(), HALVING_SPACE, out_dir=tmp_path, stages=HALVING,
                    runner=halving_runner, workers=0, repeats=2)  # fmt: skip
    assert len(result.stages[0].records) == 2 * (27 + 9 + 3)
    assert len(result.best.scores) == 2 and result.best.rung == 3
