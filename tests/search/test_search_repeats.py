"""Repeats: every point trained with k seeds, mean ± standard error, selection rules."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from search_fakes import LAMBDA_SPACE, FakeConfig, noisy_runner

from handprop.errors import ConfigError
from handprop.search import Dimension, Space, Stage, TrialOutcome, read_results, search
from handprop.search.engine import repeat_seed

THREE = Space([Dimension("lam", 1e-4, 1e-2, "log")])
#: Repeat offsets -0.01, 0, +0.01: every point's standard error is 0.01 / sqrt(3).
OFFSETS = {0: 0.0, repeat_seed(0, 1): -0.01, repeat_seed(0, 2): 0.01}
#: lam = 1e-3 has the best mean; 1e-2 is within one standard error of it, 1e-4 is not.
MEANS = {1e-4: 0.50, 1e-3: 0.51, 1e-2: 0.505}


def flat_runner(config: FakeConfig) -> TrialOutcome:
    lam = min(MEANS, key=lambda v: abs(math.log10(v / config.lam)))
    acc = MEANS[lam] + OFFSETS[config.seed]
    return TrialOutcome("completed", final_val_acc=acc, best_val_acc=acc)


def run(out, **kwargs):
    options = {"stages": (Stage("grid", 3),), "runner": flat_runner, "workers": 0} | kwargs
    return search(FakeConfig(), THREE, out_dir=out, **options)


def test_repeat_seeds_are_deterministic_distinct_and_keep_the_base_seed():
    seeds = [repeat_seed(7, r) for r in range(5)]
    assert seeds[0] == 7 and len(set(seeds)) == 5
    assert seeds == [repeat_seed(7, r) for r in range(5)]
    assert all(0 <= s < 2**63 for s in seeds)
    assert repeat_seed(8, 1) != seeds[1]


def test_every_point_keeps_each_repeat_and_reports_mean_and_se(tmp_path):
    result = run(tmp_path, repeats=3)
    records = read_results(tmp_path / "results.jsonl")
    assert len(records) == 9
    assert sorted(r.repeat for r in records.values()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert {row["repeat"] for row in rows} == {0, 1, 2}
    best = result.best
    assert best.values == {"lam": pytest.approx(1e-3)}
    assert best.mean == pytest.approx(0.51)
    assert best.se == pytest.approx(0.01 / math.sqrt(3))
    chosen = json.loads((tmp_path / "chosen.json").read_text())
    assert chosen["select"] == "best_mean" and chosen["repeats"] == 3
    assert chosen["scores"] == pytest.approx([0.51, 0.50, 0.52])
    assert chosen["se"] == pytest.approx(np.std([0.51, 0.50, 0.52], ddof=1) / math.sqrt(3))
    table = (tmp_path / "top_configs.md").read_text()
    assert "51.00 ± 0.58" in table and "Selection rule: best_mean" in table
    assert r"51.00 $\pm$ 0.58" in (tmp_path / "top_configs.tex").read_text()


def test_one_se_picks_the_largest_lambda_within_one_standard_error(tmp_path):
    best_mean = run(tmp_path / "a", repeats=3)
    one_se = run(tmp_path / "b", repeats=3, select="one_se")
    assert best_mean.chosen["lam"] == pytest.approx(1e-3)
    assert one_se.chosen["lam"] == pytest.approx(1e-2)
    assert json.loads((tmp_path / "b" / "chosen.json").read_text())["select"] == "one_se"
    assert "Chosen by one_se" in (tmp_path / "b" / "top_configs.md").read_text()


def test_one_se_with_one_repeat_is_the_best_mean(tmp_path):
    assert run(tmp_path, select="one_se").chosen["lam"] == pytest.approx(1e-3)


def test_narrowing_uses_the_mean_over_repeats(tmp_path):
    stages = (Stage("grid", 5), Stage("random", 3, seed=1))
    result = search(FakeConfig(), LAMBDA_SPACE, out_dir=tmp_path, stages=stages,
                    runner=noisy_runner, workers=0, repeats=4)  # fmt: skip
    fine = result.stages[1].space.dimensions[0]
    assert fine.low < 1e-3 < fine.high
    assert len(result.stages[1].records) == 12


def test_resumed_search_with_repeats_runs_nothing_again(tmp_path):
    calls = []

    def counting(config):
        calls.append(config.seed)
        return flat_runner(config)

    run(tmp_path, repeats=3, runner=counting)
    assert len(calls) == 9 and len(set(calls)) == 3
    run(tmp_path, repeats=3, runner=counting)
    assert len(calls) == 9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeats": 0}, "repeats = 0: must be an integer >= 1"),
        ({"select": "median"}, "select = 'median'"),
    ],
)
def test_bad_repeats_and_select_are_one_line_errors(tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message) as err:
        run(tmp_path, **kwargs)
    assert "\n" not in str(err.value)


def test_one_se_needs_a_dimension_with_a_regularisation_direction(tmp_path):
    space = Space([Dimension("eta_max", 1e-2, 1.0)])
    with pytest.raises(ConfigError, match="select = 'one_se' needs"):
        search(FakeConfig(), space, out_dir=tmp_path, select="one_se", runner=flat_runner)


def test_a_folder_of_an_earlier_version_without_repeats_still_resumes(tmp_path):
    run(tmp_path)
    definition = json.loads((tmp_path / "search.json").read_text())
    assert "repeats" not in definition and "eta" not in definition["stages"][0]
    run(tmp_path)
    with pytest.raises(ConfigError, match="different search"):
        run(tmp_path, repeats=2)


def test_one_se_pools_the_variance_over_all_points():
    from handprop.search.points import Point, choose, pooled_se

    def point(trial, lam, scores):
        return Point(1, 0, trial, {"lam": lam}, (), tuple(scores))

    # the best point's own three scores happen to agree (its own SE is 0); pooled: 0.0094
    points = [point(1, 1e-4, [0.52, 0.52, 0.52]), point(2, 1e-3, [0.495, 0.515, 0.535]),
              point(3, 1e-2, [0.48, 0.50, 0.52])]  # fmt: skip
    assert pooled_se(points, 3) == pytest.approx(math.sqrt((2 * 8e-4) / 6 / 3))
    assert choose(points, "one_se", THREE).values == {"lam": 1e-3}
    assert pooled_se(points[:1], 3) == 0.0


def test_one_se_compares_with_the_standard_error_of_a_difference_of_means():
    from handprop.search.points import Point, choose, difference_se, pooled_se

    def point(trial, lam, scores):
        return Point(1, 0, trial, {"lam": lam}, (), tuple(scores))

    # pooled SE of one mean: 0.01 / sqrt(3) = 0.0058; of a difference: 0.0082.
    # lam = 1e-2 is 0.007 below the best mean: outside one SE of a mean, inside the other.
    points = [point(1, 1e-3, [0.50, 0.51, 0.52]), point(2, 1e-2, [0.493, 0.503, 0.513])]
    assert difference_se(points, 3) == pytest.approx(math.sqrt(2) * pooled_se(points, 3))
    assert pooled_se(points, 3) < 0.007 < difference_se(points, 3)
    assert choose(points, "one_se", THREE).values == {"lam": 1e-2}
