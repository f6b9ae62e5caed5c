"""A successive-halving search killed with SIGKILL mid-rung resumes without redoing rungs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_fakes import run_halving

from handprop.search import read_results

HERE = Path(__file__).parent
TOTAL = 27 + 9 + 3


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_sigkilled_halving_search_resumes_mid_rung(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    script = f"import search_fakes; search_fakes.run_halving({str(out)!r}, {str(log)!r}, 0.1, 2)"
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    }
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while lines(out / "results.jsonl") < 30:  # into the second rung
            assert proc.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "the search made no progress"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the search and its worker processes
        proc.wait()
    records = read_results(out / "results.jsonl")
    finished = len(records)
    assert 30 <= finished < TOTAL
    assert sum(r.rung == 1 for r in records.values()) == 27
    before = lines(log)

    run_halving(out, log, 0.1, 0)

    assert lines(log) - before == TOTAL - finished  # no finished trial runs again
    resumed = [line.split() for line in log.read_text().splitlines()[before:]]
    assert all(start != "0" for _, start, _ in resumed)  # promoted trials continue
    assert len(read_results(out / "results.jsonl")) == TOTAL
    run_halving(tmp_path / "uninterrupted", tmp_path / "other.log", 0.0, 0)
    assert (out / "chosen.json").read_text() == (
        tmp_path / "uninterrupted" / "chosen.json"
    ).read_text()
