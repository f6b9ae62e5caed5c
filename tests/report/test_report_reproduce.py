"""handprop reproduce: the catalogue, smoke budgets, reuse of finished experiments, outputs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from handprop.errors import ConfigError
from handprop.reproduce import catalogue, latex, outputs, runner
from handprop.reproduce.collect import collect
from handprop.search import load_search_spec
from handprop.train import config_to_dict, load_config, save_config

MACRO = re.compile(r"\\newcommand\{\\([A-Za-z]+)\}\{(.*)\}$")


def _fake_runner(calls: list[str]):
    """A runner that writes what a real experiment would leave behind, and counts calls."""

    def run(experiment, folder: Path, suite: str, progress: bool) -> dict:
        calls.append(experiment.name)
        folder.mkdir(parents=True, exist_ok=True)
        metrics: dict = {"status": "completed", "wall_time": 1.5}
        if experiment.kind == "run":
            save_config(load_config(experiment.source), folder / "config.toml")
            metrics |= {
                "test_acc": 0.4,
                "best_val_acc": 0.41,
                "final_val_acc": 0.405,
                "final_train_acc": 0.5,
                "steps": 4000,
            }
        elif experiment.kind == "search":
            metrics |= {
                "chosen": {"lam": 0.002 if "aug" in experiment.name else 0.004},
                "metric": "final_val_acc",
                "score": 0.52,
                "trials": 12,
                "final_test_acc": 0.515,
            }
            stages = [
                {"ranges": {"lam": [1e-5, 1e-1]}, "trials": 8},
                {"ranges": {"lam": [5e-4, 7e-3]}, "trials": 4},
            ]
            (folder / "chosen.json").write_text(json.dumps({"stages": stages}))
            base = config_to_dict(load_config(load_search_spec(experiment.source).base))
            (folder / "search.json").write_text(json.dumps({"base_config": base}))
        else:
            metrics |= {
                "torch_abs": 1.1e-16,
                "torch_rel": 3e-12,
                "fd_rel": 2e-9,
                "n_rows": 100,
                "fd_coords": 20,
                "failures": [],
            }
        runner.write_json(folder / runner.METRICS_FILE, metrics)
        return metrics

    return run


@pytest.fixture
def calls(monkeypatch) -> list[str]:
    made: list[str] = []
    fake = _fake_runner(made)
    monkeypatch.setattr(runner, "RUNNERS", dict.fromkeys(catalogue.KINDS, fake))
    sha = "0123456789" * 6 + "0123"
    shared = {"kind": "shared", "name": "cifar-10-python.tar.gz", "sha256": sha}
    monkeypatch.setattr(runner, "describe_data", lambda: shared)
    return made


def _run(out: Path, **kwargs) -> dict:
    return runner.run_all(out, progress=False, log=lambda line: None, **kwargs)


def test_catalogue_covers_every_packaged_config_of_the_seeds():
    from handprop.train import packaged_config_names

    runs = {e.source for e in catalogue.EXPERIMENTS if e.kind == "run"}
    assert runs <= set(packaged_config_names())
    assert len({e.stem for e in catalogue.EXPERIMENTS}) == len(catalogue.EXPERIMENTS)
    assert {"search_lambda", "search_lambda_augmented", "gradcheck"} <= {
        e.name for e in catalogue.EXPERIMENTS
    }


def test_select_keeps_catalogue_order_and_rejects_unknown_names():
    names = [e.name for e in catalogue.select(["baseline", "gradcheck"])]
    assert names == ["gradcheck", "baseline"]
    with pytest.raises(ConfigError, match="no experiment named 'nope'"):
        catalogue.select(["nope"])


@pytest.mark.parametrize("name", [e.source for e in catalogue.EXPERIMENTS if e.kind == "run"])
def test_smoke_overrides_shrink_every_run_to_a_few_hundred_steps(name):
    config = load_config(name)
    small = config.with_overrides(runner.smoke_overrides(config))
    n_train = small.data.n_train
    assert 0 < n_train <= runner.SMOKE_TRAIN
    assert small.total_steps(n_train) <= 200 < config.total_steps(config.data.n_train or 10_000)
    assert (small.model, small.optimizer) == (config.model, config.optimizer)
    assert small.schedule.kind == config.schedule.kind


def test_second_call_reuses_every_finished_experiment(tmp_path, calls):
    first = _run(tmp_path, suite="smoke")
    assert calls == [e.name for e in catalogue.select(suite="smoke")]
    second = _run(tmp_path, suite="smoke")
    assert len(calls) == len(catalogue.select(suite="smoke"))
    assert second == first
    state = json.loads((tmp_path / runner.SUITE_FILE).read_text())
    assert set(state["times"]) == {e.name for e in catalogue.select(suite="smoke")}
    assert state["machine"]["cores"] >= 1


def test_force_and_only_rerun_just_the_named_experiments(tmp_path, calls):
    _run(tmp_path, suite="smoke", only=["baseline", "wide"])
    assert calls == ["baseline", "wide"]
    _run(tmp_path, suite="smoke", only=["wide", "overfit"])
    assert calls == ["baseline", "wide", "overfit"]
    _run(tmp_path, suite="smoke", only=["wide"], force=True)
    assert calls[-1] == "wide" and len(calls) == 4


def test_a_folder_without_metrics_is_run_again(tmp_path, calls):
    _run(tmp_path, suite="smoke", only=["baseline"])
    (tmp_path / "runs" / "baseline" / runner.METRICS_FILE).unlink()
    _run(tmp_path, suite="smoke", only=["baseline"])
    assert calls == ["baseline", "baseline"]


def test_a_folder_of_another_suite_is_refused_unless_forced(tmp_path, calls):
    _run(tmp_path, suite="smoke", only=["baseline"])
    with pytest.raises(ConfigError, match="smoke suite"):
        _run(tmp_path, suite="full", only=["baseline"])
    _run(tmp_path, suite="full", only=["wide"], force=True)
    assert not (tmp_path / "runs" / "baseline").exists()  # smoke results are not mixed in
    assert json.loads((tmp_path / runner.SUITE_FILE).read_text())["suite"] == "full"
    with pytest.raises(ConfigError, match="suite must be one of"):
        _run(tmp_path, suite="huge")


def _macros(text: str) -> dict[str, str]:
    lines = text.splitlines()[1:]
    found = [MACRO.match(line) for line in lines]
    assert all(found), [line for line, m in zip(lines, found, strict=True) if not m]
    return {m.group(1): m.group(2) for m in found if m}


def _assert_resolved(values: dict[str, str]) -> None:
    for name, value in values.items():
        assert value.strip(), name
        assert value.count("{") == value.count("}"), (name, value)
        assert not re.search(r"None|nan|inf\b|\{\}$|\{[a-z_]+\}", value), (name, value)


def test_outputs_of_a_finished_folder_resolve_every_macro(tmp_path, calls):
    _run(tmp_path, suite="full")
    outputs.write_outputs(tmp_path)
    values = _macros((tmp_path / "latex" / "macros.tex").read_text())
    _assert_resolved(values)
    other_suites = (
        *(e.stem for e in catalogue.in_suites(["search", "beyond"])),
        "SearchSuite",
        "BeyondSuite",
        "BeyondDeep",
    )
    assert latex.NA not in {v for k, v in values.items() if not k.startswith(other_suites)}
    assert values["SearchSuiteDone"] == "false" == values["BeyondSuiteDone"]
    assert values["BeyondRunDone"] == "true"
    assert values["BaselineTestAcc"] == "40.00"
    assert values["BaselineLam"] == r"\ensuremath{1.07\times 10^{-3}}"
    assert values["SeedOneLayerA"] == "28.77"
    assert values["SeedCodeBaselineAcc"] == "51.5" and values["SeedCodeFinalAcc"] == "54.0"
    assert values["SearchLamStageTwoLow"] == r"\ensuremath{5\times 10^{-4}}"
    assert (values["AugCompareRatio"], values["AugCompareDirection"]) == ("0.5", "smaller")
    assert values["SuiteName"] == "full"
    tables = {p.stem for p in (tmp_path / "latex").glob("*.tex")} - {"macros"}
    assert tables == set(outputs.all_tables(collect(tmp_path)))
    improvements = (tmp_path / "latex" / "improvements.tex").read_text()
    assert "51.5" in improvements and "49.77" in improvements
    summary = (tmp_path / "results.md").read_text()
    assert "| `baseline` | 40.00 | 46.01 | 51.50 |" in summary


def test_outputs_of_an_empty_folder_say_not_available(tmp_path):
    runner.claim(tmp_path, "smoke", force=False)
    outputs.write_outputs(tmp_path)
    values = _macros((tmp_path / "latex" / "macros.tex").read_text())
    _assert_resolved(values)
    assert values["BaselineTestAcc"] == latex.NA
    # the report quotes both stages of the λ search: defined even before it ran
    assert values["SearchLamStageOneLow"] == latex.NA == values["SearchLamStageTwoTrials"]
    assert "has not been run" in (tmp_path / "latex" / "gradcheck.tex").read_text()


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.1, "0.1"),
        (1e-5, r"\ensuremath{10^{-5}}"),
        (2.5e-4, r"\ensuremath{2.5\times 10^{-4}}"),
        (49000, r"49\,000"),
        (0.0, "0"),
        (None, latex.NA),
        (float("nan"), latex.NA),
    ],
)
def test_number_formats_tex(x, text):
    assert latex.number(x) == text


def test_escape_and_config_values():
    from handprop.train import config_from_dict

    assert latex.escape("AMD EPYC 7B13 64-Core_x & 50%") == r"AMD EPYC 7B13 64-Core\_x \& 50\%"
    sizes = [
        ({"split": "batch1"}, r"10\,000", r"10\,000"),
        ({"split": "all", "n_val": 1000}, r"49\,000", r"1\,000"),
        ({"split": "batch1", "n_train": 100}, "100", r"10\,000"),
    ]
    for data, n_train, n_val in sizes:
        values = latex.config_values(config_from_dict({"data": data}))
        assert (values["NTrain"], values["NVal"]) == (n_train, n_val)
    assert set(latex.config_values(None).values()) == {latex.NA}
    assert latex.config_values(None).keys() == values.keys()


def test_cli_passes_its_arguments_to_reproduce(tmp_path, monkeypatch, capsys):
    import handprop.reproduce as package
    from handprop.cli import main

    seen = {}

    def fake(out_dir, **kwargs):
        seen.update(out_dir=out_dir, **kwargs)
        (Path(out_dir) / "results.md").write_text("table\n")
        return collect(out_dir)

    monkeypatch.setattr(package, "reproduce", fake)
    code = main(["reproduce", "--suite", "smoke", "--out", str(tmp_path), "--only", "baseline"])
    assert code == 0
    assert seen["suite"] == "smoke" and seen["only"] == ["baseline"] and not seen["force"]
    assert "table" in capsys.readouterr().out
