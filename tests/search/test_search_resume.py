"""A search killed with SIGKILL part-way keeps its finished trials; a re-run does the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_fakes import run_two_stage

from handprop.search import read_results

HERE = Path(__file__).parent
TOTAL = 12  # two stages of six trials


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_sigkilled_search_reruns_only_the_unfinished_trials(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    script = f"import search_fakes; search_fakes.run_two_stage({str(out)!r}, {str(log)!r}, 0.4, 2)"
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    }
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while lines(out / "results.jsonl") < 8:  # into the second stage
            assert proc.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "the search made no progress"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the search and its worker processes
        proc.wait()
    finished = len(read_results(out / "results.jsonl"))
    assert 8 <= finished < TOTAL
    before = lines(log)
    assert before >= finished  # trials running at the kill were started but are lost

    run_two_stage(out, log, 0.4, 0)

    assert lines(log) - before == TOTAL - finished
    assert len(read_results(out / "results.jsonl")) == TOTAL
    run_two_stage(tmp_path / "uninterrupted", tmp_path / "other.log", 0.0, 0)
    assert (out / "chosen.json").read_text() == (
        tmp_path / "uninterrupted" / "chosen.json"
    ).read_text()
