"""The search suite of handprop reproduce: its catalogue, seed overrides, a folder shared with
the full suite, and its outputs (macros, tables, README part, figure) from fake searches."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import cattrs
import pytest

from handprop.errors import ConfigError
from handprop.reproduce import catalogue, latex, outputs, runner, searchsuite
from handprop.reproduce.collect import collect
from handprop.search import TrialOutcome, TrialRecord, load_search_spec, trial_key

MACRO = re.compile(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}$")
SEARCH = [e.name for e in catalogue.in_suites(["search"])]
#: (one-SE λ, best-mean λ) of the fake repeated searches per seed; plain and augmented λ.
REPEATS = {0: (3e-3, 1e-3), 1: (2e-3, 2e-3), 2: (1.5e-3, 4e-4)}
PLAIN = {0: 3e-3, 1: 2e-3, 2: 9e-4}
AUGMENTED = {0: 1e-4, 1: 1e-4, 2: 1e-5}


def _record(stage: int, trial: int, values: dict, acc: float, steps: int, **where) -> dict:
    outcome = TrialOutcome("completed", final_val_acc=acc, best_val_acc=acc, steps=steps)
    key = trial_key(stage, values, where.get("repeat", 0), where.get("rung", 0))
    return cattrs.unstructure(TrialRecord(key, stage, trial, values, outcome, 2.0, **where))


def _fake_search(experiment, folder: Path, suite: str, progress: bool) -> dict:
    """What a finished search of the suite leaves behind: results, chosen.json, metrics."""
    folder.mkdir(parents=True, exist_ok=True)
    seed = int(experiment.overrides[0].split("=")[1]) if experiment.overrides else 0
    records, stages = [], [{"n": 3, "ranges": {"lam": [1e-5, 0.1]}, "trials": 3}]
    if experiment.source == "search_lambda_repeats":
        one_se, best = REPEATS[seed]
        for t, (lam, accs) in enumerate(
            [(one_se, (0.50, 0.51, 0.52)), (best, (0.52, 0.53, 0.51)), (1e-5, (0.4, 0.41, 0.42))],
            start=1,
        ):
            records += [_record(1, t, {"lam": lam}, a, 3600, repeat=r) for r, a in enumerate(accs)]
        chosen, test, mean, se = {"lam": one_se}, 0.52, 0.51, 0.0058
    elif experiment.source in ("search_lambda", "search_lambda_augmented"):
        lam = (PLAIN if experiment.source == "search_lambda" else AUGMENTED)[seed]
        records = [_record(1, 1, {"lam": lam}, 0.52, 3600)]
        chosen, test, mean, se = {"lam": lam}, 0.52, 0.52, None
    else:
        ranges = {"lam": [1e-5, 0.1], "eta_max": [0.01, 0.3], "hidden": [25.0, 100.0]}
        stages = [{"n": 27, "ranges": ranges, "trials": 3}]
        points = [{"lam": 1e-3 * (t + 1), "eta_max": 0.05, "hidden": 50.0} for t in range(3)]
        if experiment.name == "search_grid3":
            records = [_record(1, t, v, 0.5, 5400) for t, v in enumerate(points, start=1)]
            chosen, test = points[0], 0.53
        else:  # three points for one cycle, the best resumed to three cycles
            records = [_record(1, t, v, 0.45, 1800, rung=1) for t, v in enumerate(points, 1)]
            records.append(_record(1, 1, points[0], 0.5, 5400, rung=2))
            chosen, test = points[0], 0.526
        mean, se = 0.5, None
    (folder / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "chosen.json").write_text(json.dumps({"mean": mean, "se": se, "stages": stages}))
    metrics = {
        "status": "completed",
        "chosen": chosen,
        "metric": "final_val_acc",
        "score": mean,
        "trials": len(records),
        "final_test_acc": test,
        "wall_time": 100.0,
    }
    runner.write_json(folder / runner.METRICS_FILE, metrics)
    return metrics


@pytest.fixture
def fake_searches(monkeypatch) -> None:
    monkeypatch.setattr(runner, "RUNNERS", dict.fromkeys(catalogue.KINDS, _fake_search))
    shared = {"kind": "shared", "name": "cifar-10-python.tar.gz", "sha256": "0" * 64}
    monkeypatch.setattr(runner, "describe_data", lambda: shared)


def _run(out: Path, **kwargs) -> dict:
    return runner.run_all(out, progress=False, log=lambda line: None, **kwargs)


def _macros(path: Path) -> dict[str, str]:
    found = [MACRO.match(line) for line in path.read_text().splitlines()[1:]]
    return {m.group(1): m.group(2) for m in found if m}


def test_the_search_suite_runs_seeded_searches_and_grid_against_halving():
    assert [
        *(f"{source}_s{seed}" for source in catalogue.SEEDED_SEARCHES for seed in (0, 1, 2)),
        "search_grid3",
        "search_halving",
    ] == SEARCH
    for seed in (0, 1, 2):
        assert catalogue.by_name(f"search_lambda_repeats_s{seed}").overrides == (f"seed={seed}",)
    full = catalogue.select()
    assert catalogue.select(suite="smoke") == full and len(full) == 16
    assert not set(SEARCH) & {e.name for e in full}
    assert all(load_search_spec(catalogue.by_name(n).source) for n in SEARCH)
    picked = catalogue.select(["search_halving", "search_grid3"], "search")
    assert [e.name for e in picked] == ["search_grid3", "search_halving"]
    with pytest.raises(ConfigError, match="baseline: not in the search suite"):
        catalogue.select(["baseline"], "search")
    with pytest.raises(ConfigError, match="search_grid3: not in the full suite"):
        catalogue.select(["search_grid3"])


def test_a_seeded_search_passes_its_seed_to_the_base_config(tmp_path, monkeypatch):
    seen = {}

    def fake(spec, **kwargs):
        seen.update(kwargs, name=spec.name)
        raise KeyboardInterrupt  # stop here: only the arguments matter

    monkeypatch.setattr(importlib.import_module("handprop.search"), "search_spec", fake)
    experiment = catalogue.by_name("search_lambda_augmented_s2")
    with pytest.raises(KeyboardInterrupt):
        runner.run_search(experiment, tmp_path, "search", progress=False)
    assert seen["name"] == "search_lambda_augmented" and seen["overrides"] == ["seed=2"]
    assert seen["final"] is True


def test_the_search_suite_shares_a_folder_with_the_full_suite_only(tmp_path, fake_searches):
    runner.claim(tmp_path, "full", force=False)
    _run(tmp_path, suite="search", only=["search_grid3"])
    state = json.loads((tmp_path / runner.SUITE_FILE).read_text())
    assert (state["suite"], state["suites"]) == ("full", ["full", "search"])
    assert collect(tmp_path).suites == ("full", "search")
    runner.claim(tmp_path, "full", force=False)  # the full suite continues in it
    assert (tmp_path / "searches" / "search_grid3" / "metrics.json").is_file()
    smoke = tmp_path / "smoke"
    runner.claim(smoke, "smoke", force=False)
    with pytest.raises(ConfigError, match="smoke suite"):
        _run(smoke, suite="search", only=["search_grid3"])


def test_outputs_of_the_search_suite(tmp_path, fake_searches):
    _run(tmp_path, suite="search")
    outputs.write_outputs(tmp_path)
    values = _macros(tmp_path / "latex" / "macros.tex")
    assert values["SearchSuiteDone"] == "true"
    assert values["SearchSuiteRepLams"] == (
        r"\ensuremath{3\times 10^{-3}}, \ensuremath{2\times 10^{-3}} and "
        r"\ensuremath{1.5\times 10^{-3}}"
    )
    assert values["SearchSuiteRepBestLams"].startswith(r"\ensuremath{10^{-3}}, ")
    assert values["SearchSuiteRepSameDecade"] == "yes"
    assert (values["SearchSuiteShiftMin"], values["SearchSuiteShiftMax"]) == ("20", "90")
    assert values["SearchSuiteShiftSeeds"] == "3"
    # halving: 2 x 1800 + 5400 (trial 1 resumed) = 9000 steps against 3 x 5400
    assert values["SearchSuiteHalvingSteps"] == r"9\,000"
    assert values["SearchSuiteGridSteps"] == r"16\,200"
    assert values["SearchSuiteStepsRatio"] == "0.556"
    assert (values["SearchSuiteGridTestAcc"], values["SearchSuiteHalvingTestAcc"]) == (
        "53.00",
        "52.60",
    )
    assert values["SearchSuiteGridTestSE"] == "0.50"  # sqrt(0.53 * 0.47 / 10000)
    assert values["SearchSuiteHalvingWithinSE"] == "yes"
    assert values["SearchSuiteHalvingStart"] == "27"
    assert r"$\eta_{\max}$ $\in [0.01, 0.3]$" in values["SearchSuiteSpace"]
    assert values["SuiteTotal"] == "11" and values["SuiteExperiments"] == "11"
    assert latex.NA not in {k: v for k, v in values.items() if k.startswith("SearchSuite")}
    tex = tmp_path / "latex"
    repeats = (tex / "search_repeats.tex").read_text()
    assert r"51.00 $\pm$ 0.58" in repeats and r"\ensuremath{4\times 10^{-4}}" in repeats
    assert "& 20 \\\\" in (tex / "search_shift.tex").read_text()
    grid_halving = (tex / "grid_halving.tex").read_text()
    assert r"52.60 $\pm$ 0.50 & 9\,000 & 0.556 & 8.0 & 100.0" in grid_halving
    assert (tmp_path / "figures" / "search_repeats.pdf").is_file()
    summary = (tmp_path / "results.md").read_text()
    assert "λ without / with augmentation: 20 to 90 over 3 seed(s)" in summary
    assert "| halving | 0.001 | 0.05 | 50 | 50.00 | 52.60 ± 0.50 | 9000 | 0.556 |" in summary
    assert "| 0 | 0.003 | 51.00 ± 0.58 | 0.001 | 52.00 ± 0.58 | 52.00 |" in summary


def test_without_search_suite_results_the_section_is_left_out(tmp_path, fake_searches):
    runner.claim(tmp_path, "full", force=False)
    _run(tmp_path, suite="search", only=["search_lambda_s0"])  # no augmented pair, no grid
    outputs.write_outputs(tmp_path)
    values = _macros(tmp_path / "latex" / "macros.tex")
    assert values["SearchSuiteDone"] == "true"
    assert values["SearchSuiteShiftMin"] == latex.NA == values["SearchSuiteStepsRatio"]
    assert values["SearchSuiteRepSameDecade"] == latex.NA
    assert not (tmp_path / "figures" / "search_repeats.pdf").exists()
    empty = tmp_path / "empty"
    runner.claim(empty, "smoke", force=False)
    outputs.write_outputs(empty)
    values = _macros(empty / "latex" / "macros.tex")
    assert values["SearchSuiteDone"] == "false"
    assert "Search suite" not in (empty / "results.md").read_text()
    assert set(searchsuite.tables(collect(empty))) <= {
        p.stem for p in (empty / "latex").glob("*.tex")
    }
