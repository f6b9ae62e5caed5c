"""A search killed with SIGKILL part-way keeps its finished trials; a re-run does the rest."""

from __future__ import annotations

import pytest
from search_fakes import kill_search_at, lines, run_two_stage

from handprop.search import read_results

TOTAL = 12  # two stages of six trials


@pytest.mark.slow
def test_sigkilled_search_reruns_only_the_unfinished_trials(tmp_path):
    out, log = tmp_path / "search", tmp_path / "executions.log"
    script = f"import search_fakes; search_fakes.run_two_stage({str(out)!r}, {str(log)!r}, 0.4, 2)"
    kill_search_at(script, out / "results.jsonl", 8)  # into the second stage
    finished = len(read_results(out / "results.jsonl"))
    assert 8 <= finished < TOTAL
    before = lines(log)
    assert before >= finished  # trials running at the kill were started but are lost

    failed = sum(r.outcome.status == "error" for r in read_results(out / "results.jsonl").values())

    run_two_stage(out, log, 0.4, 0)

    # the unfinished trials, and the recorded failures, which a rerun runs again
    assert lines(log) - before == TOTAL - finished + failed
    assert len(read_results(out / "results.jsonl")) == TOTAL
    run_two_stage(tmp_path / "uninterrupted", tmp_path / "other.log", 0.0, 0)
    assert (out / "chosen.json").read_text() == (
        tmp_path / "uninterrupted" / "chosen.json"
    ).read_text()
