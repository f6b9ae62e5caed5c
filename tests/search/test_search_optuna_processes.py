"""Optuna studies across processes: two searches sharing one SQLite or PostgreSQL study
split its trials without lock errors, and a TPE search killed three times with SIGKILL
ends with every trial finished exactly once and no worker left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from search_fakes import HERE, kill_search_at, lines, run_tpe

from handprop.search import read_results

optuna = pytest.importorskip("optuna")

N = 16


def _finished(url):
    study = optuna.load_study(study_name="handprop", storage=url)
    return [t for t in study.get_trials() if "handprop_status" in t.user_attrs]


def _two_searches_on(url, tmp_path):
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    }
    log = tmp_path / "executions.log"  # one line "<lam> <pid>" per trial run
    procs = []
    for name in ("a", "b"):
        script = (
            "import pathlib, search_fakes; search_fakes.run_tpe("
            f"pathlib.Path({str(tmp_path / name)!r}), pathlib.Path({str(log)!r}), 0.02, 0, "
            f"n={N}, storage={url!r})"
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True
            )
        )
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not any("locked" in e for e in errors), errors
    pids = [line.split()[1] for line in log.read_text().splitlines()]
    counts = [pids.count(str(p.pid)) for p in procs]
    finished = _finished(url)
    numbers = [t.number for t in finished]
    assert len(numbers) == len(set(numbers)) == N
    assert sum(counts) == N and min(counts) > 0, counts  # both took part, none repeated
    for name in ("a", "b"):  # each folder's results are the whole study's
        assert len(read_results(tmp_path / name / "results.jsonl")) == N


def test_two_processes_share_one_sqlite_study(tmp_path):
    _two_searches_on(f"sqlite:///{tmp_path / 'shared.db'}", tmp_path)


def test_two_processes_share_one_postgresql_study(postgres_url, tmp_path):
    _two_searches_on(postgres_url, tmp_path)


@pytest.mark.slow
def test_sigkilled_tpe_search_finishes_every_trial_once(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    n = 12
    script = (
        f"import pathlib, search_fakes; search_fakes.run_tpe(pathlib.Path({str(out)!r}), "
        f"pathlib.Path({str(log)!r}), 0.15, 2, n={n})"
    )
    for at in (2, 5, 8):
        kill_search_at(script, out / "results.jsonl", at)
    pids = {int(line.split()[1]) for line in log.read_text().splitlines()}
    killed_executions = lines(log)

    run_tpe(out, log, 0.15, 0, n=n)

    for pid in pids:  # the killed searches' workers are gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    url = f"sqlite:///{out / 'study.db'}"
    finished = _finished(url)
    assert len(finished) == n == len(read_results(out / "results.jsonl"))
    assert len({t.number for t in finished}) == n
    study = optuna.load_study(study_name="handprop", storage=url)
    lost = [t for t in study.get_trials() if "handprop_status" not in t.user_attrs]
    assert all(t.state == optuna.trial.TrialState.FAIL for t in lost)  # in flight at a kill
    assert lines(log) <= n + len(lost)  # only the trials in flight ran twice
    assert lines(log) > killed_executions
