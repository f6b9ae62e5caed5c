"""Worker processes end with their search: a SIGKILLed search leaves none behind, and a
search killed again and again still runs every trial exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from search_fakes import lines, run_two_stage

psutil = pytest.importorskip("psutil")

HERE = Path(__file__).parent
TOTAL = 12  # two stages of six trials


def start_search(out: Path, log: Path, delay: float) -> subprocess.Popen:
    script = (
        f"import search_fakes; search_fakes.run_two_stage({str(out)!r}, {str(log)!r}, {delay}, 2)"
    )
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    }
    return subprocess.Popen([sys.executable, "-c", script], env=env)


def wait_for(condition, proc: subprocess.Popen, seconds: float = 120) -> bool:
    """Poll ``condition`` until it holds (True) or ``proc`` ends (False)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "the search made no progress"
        time.sleep(0.01)
    return True


def kill_and_find_survivors(proc: subprocess.Popen, seconds: float = 5.0) -> list[int]:
    """SIGKILL ``proc`` alone (not its process group); the PIDs of its descendants still
    running ``seconds`` later (they are killed too, to leave nothing behind)."""
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(children, timeout=seconds)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in alive:
        p.kill()
    return [p.pid for p in alive]


def test_pool_workers_exit_when_the_search_is_killed(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    proc = start_search(out, log, delay=60.0)  # both workers stay busy for a minute
    try:
        assert wait_for(lambda: lines(log) >= 2, proc), "the search ended before the kill"
        assert len(psutil.Process(proc.pid).children()) >= 2
        assert kill_and_find_survivors(proc) == []
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.slow
def test_a_search_killed_five_times_runs_every_trial_once(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    rng = random.Random(5)
    for _ in range(5):
        done = lines(out / "results.jsonl")
        proc = start_search(out, log, delay=0.3)
        try:
            progressed = wait_for(lambda: lines(out / "results.jsonl") > done, proc)  # noqa: B023
            assert progressed, "the search finished before its kill"
            time.sleep(rng.uniform(0.0, 0.3))
            assert kill_and_find_survivors(proc) == []
        finally:
            if proc.poll() is None:
                proc.kill()
    assert lines(out / "results.jsonl") < TOTAL

    run_two_stage(out, log, 0.3, 2)

    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    keys = [row["key"] for row in rows]
    failed = {row["key"] for row in rows if row["outcome"]["status"] == "error"}
    assert len(set(keys)) == TOTAL
    # every trial once, but the failing one, which each rerun runs again
    assert all(keys.count(key) == 1 for key in set(keys) - failed)
    run_two_stage(tmp_path / "uninterrupted", tmp_path / "other.log", 0.0, 0)
    assert (out / "chosen.json").read_text() == (
        tmp_path / "uninterrupted" / "chosen.json"
    ).read_text()
