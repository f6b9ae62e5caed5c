"""``handprop reproduce``: every experiment of both seed documents, then the report's inputs.

``reproduce(out_dir, suite="full")`` runs the catalogue (:mod:`.catalogue`) into ``out_dir``
(:mod:`.runner`, reusing finished experiments) and writes figures, LaTeX macros and tables
and ``results.md`` (:mod:`.outputs`). ``python -m handprop.reproduce DIR`` rewrites
only the outputs (the report's Makefile does this).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from handprop.progress import Progress
from handprop.reproduce.catalogue import EXPERIMENTS, SUITES, Experiment, select
from handprop.reproduce.collect import Collected, collect
from handprop.reproduce.outputs import write_outputs
from handprop.reproduce.runner import Log, run_all, smoke_overrides


def reproduce(
    out_dir: str | Path,
    *,
    suite: str = "full",
    only: Sequence[str] = (),
    force: bool = False,
    progress: bool | Progress = True,
    log: Log | None = None,
) -> Collected:
    """Run the ``suite`` (``only``: these experiments) into ``out_dir``; write the outputs.

    ``progress`` (``True``: on stderr, bars on a terminal, periodic lines elsewhere) shows
    the running experiment and the suite's planned steps."""
    options = {} if log is None else {"log": log}
    run_all(out_dir, suite=suite, only=only, force=force, progress=progress, **options)
    return write_outputs(out_dir)


__all__ = [
    "EXPERIMENTS",
    "SUITES",
    "Collected",
    "Experiment",
    "collect",
    "reproduce",
    "run_all",
    "select",
    "smoke_overrides",
    "write_outputs",
]
