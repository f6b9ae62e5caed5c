"""A successive-halving search killed with SIGKILL mid-rung resumes without redoing rungs."""

from __future__ import annotations

import pytest
from search_fakes import kill_search_at, lines, run_halving

from handprop.search import read_results

TOTAL = 27 + 9 + 3


@pytest.mark.slow
def test_sigkilled_halving_search_resumes_mid_rung(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    script = f"import search_fakes; search_fakes.run_halving({str(out)!r}, {str(log)!r}, 0.1, 2)"
    kill_search_at(script, out / "results.jsonl", 30)  # into the second rung
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
