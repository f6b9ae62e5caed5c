"""``handprop reproduce``: every experiment of both seed documents, then the report's inputs.

``reproduce(out_dir, suite="full")`` runs the catalogue (:mod:`.catalogue`) into ``out_dir``
(:mod:`.runner`, reusing finished experiments) and writes figures, LaTeX macros and tables
and ``results.md`` (:mod:`.outputs`). ``python -m handprop.reproduce DIR`` rewrites
only the outputs (the report's Makefile does this). The other names below load on first
use: importing the package (as ``handprop reproduce --help`` does, for the catalogue)
imports none of the runner's or the outputs' modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from handprop.lazy import lazy_getattr

if TYPE_CHECKING:
    from handprop.progress import Progress
    from handprop.reproduce.catalogue import EXPERIMENTS, SUITES, Experiment, select
    from handprop.reproduce.collect import Collected, collect
    from handprop.reproduce.outputs import write_outputs
    from handprop.reproduce.runner import Log, run_all, smoke_overrides

_HOMES: dict[str, str] = {
    "EXPERIMENTS": "handprop.reproduce.catalogue",
    "SUITES": "handprop.reproduce.catalogue",
    "Experiment": "handprop.reproduce.catalogue",
    "select": "handprop.reproduce.catalogue",
    "Collected": "handprop.reproduce.collect",
    "collect": "handprop.reproduce.collect",
    "write_outputs": "handprop.reproduce.outputs",
    "run_all": "handprop.reproduce.runner",
    "smoke_overrides": "handprop.reproduce.runner",
}


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
    the running experiment and the suite's planned work."""
    from handprop.reproduce.outputs import write_outputs
    from handprop.reproduce.runner import run_all

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

__getattr__ = lazy_getattr(globals(), _HOMES)
