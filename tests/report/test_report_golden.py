"""The text outputs of ``handprop reproduce`` (``results.md``, the LaTeX macros and tables)
from one folder holding every suite's fake experiments, byte for byte against the files in
``golden/``: a change in how results are read or formatted shows here.

``HANDPROP_REGOLD=1 pytest tests/report/test_report_golden.py`` rewrites the files; do so
only for a change meant to alter the outputs.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import pytest
from test_report_beyondsuite import _fake_run
from test_report_reproduce import _fake_runner
from test_report_searchsuite import _fake_search

from handprop.reproduce import catalogue, outputs, runner

GOLDEN = Path(__file__).parent / "golden"
MACHINE = {
    "cpu": "Test CPU",
    "cores": 2,
    "memory_gib": 23.4,
    "os": "Linux 6.1",
    "python": "3.11.7",
    "numpy": "2.0.0",
    "numba": "0.60.0",
    "blas": "openblas 0.3",
}
DATA = {"kind": "shared", "name": "cifar-10-python.tar.gz", "sha256": "0" * 64}


def _wobble(name: str) -> float:
    """A small amount that differs between experiments, so a swapped field shows."""
    return (zlib.crc32(name.encode()) % 97) / 10_000


def _fake(experiment, folder: Path, suite: str, progress: bool) -> dict:
    if experiment.kind == "search":
        return _fake_search(experiment, folder, suite, progress)
    if experiment.kind not in ("run", "ensemble"):
        return _fake_runner([])(experiment, folder, suite, progress)
    metrics = _fake_run(experiment, folder, suite, progress)
    bump = _wobble(experiment.name)
    for key in ("test_acc", "final_val_acc", "best_val_acc", "test_acc_plain"):
        if key in metrics:
            metrics[key] += bump
    metrics |= {"wall_time": metrics["wall_time"] + 100 * bump, "final_train_acc": 0.6 + bump}
    runner.write_json(folder / runner.METRICS_FILE, metrics)
    return metrics


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(runner, "RUNNERS", dict.fromkeys(catalogue.KINDS, _fake))
    monkeypatch.setattr(runner, "describe_data", lambda: DATA)
    monkeypatch.setattr(runner, "describe_machine", lambda: MACHINE)
    for suite in ("full", "beyond", "search"):
        runner.run_all(tmp_path, suite=suite, progress=False, log=lambda line: None)
    state_path = tmp_path / runner.SUITE_FILE
    state = json.loads(state_path.read_text())
    state["times"] = {name: 10 + 1000 * _wobble(name) for name in state["times"]}
    state_path.write_text(json.dumps(state))
    outputs.write_outputs(tmp_path)
    return tmp_path


def _texts(folder: Path) -> dict[str, str]:
    files = [folder / "results.md", *sorted((folder / "latex").glob("*.tex"))]
    return {p.name: p.read_text(encoding="utf-8") for p in files}


def test_outputs_match_the_golden_files(results):
    made = _texts(results)
    if os.environ.get("HANDPROP_REGOLD") == "1":
        GOLDEN.mkdir(exist_ok=True)
        for stale in GOLDEN.iterdir():
            stale.unlink()
        for name, text in made.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    golden = {p.name: p.read_text(encoding="utf-8") for p in sorted(GOLDEN.iterdir())}
    assert sorted(made) == sorted(golden)
    for name, text in made.items():
        assert text == golden[name], name
