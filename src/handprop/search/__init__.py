"""Coarse-to-fine hyperparameter search: resumable, parallel locally or on a Dask cluster.

``search(base_config, space, out_dir=..., stages=..., narrowing=...)`` runs the trials;
``load_search_spec`` / ``search_spec`` do the same from a search TOML config; a config
whose stage names an Optuna sampler runs :func:`handprop.search.optuna_stage.optuna_search`
(the ``optuna`` extra, imported only then). The names below load on first use: importing
the package imports none of its modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handprop.lazy import lazy_getattr

if TYPE_CHECKING:
    from handprop.data.source import DataSource
    from handprop.search.engine import run_final, search
    from handprop.search.executor import InlineExecutor, local_pool, open_executor
    from handprop.search.report import write_comparison, write_report
    from handprop.search.results import (
        SearchResult,
        StageResult,
        TrialOutcome,
        TrialRecord,
        rank,
        read_results,
        trial_key,
    )
    from handprop.search.space import Dimension, Space, Stage, sample
    from handprop.search.spec import SearchSpec, load_search_spec, search_spec
    from handprop.search.stages import Narrowing, narrow
    from handprop.search.trial import TrainTrial, configure, run_trial

_HOMES: dict[str, str] = {
    "DataSource": "handprop.data.source",
    "run_final": "handprop.search.engine",
    "search": "handprop.search.engine",
    "InlineExecutor": "handprop.search.executor",
    "local_pool": "handprop.search.executor",
    "open_executor": "handprop.search.executor",
    "write_comparison": "handprop.search.report",
    "write_report": "handprop.search.report",
    "SearchResult": "handprop.search.results",
    "StageResult": "handprop.search.results",
    "TrialOutcome": "handprop.search.results",
    "TrialRecord": "handprop.search.results",
    "rank": "handprop.search.results",
    "read_results": "handprop.search.results",
    "trial_key": "handprop.search.results",
    "Dimension": "handprop.search.space",
    "Space": "handprop.search.space",
    "Stage": "handprop.search.space",
    "sample": "handprop.search.space",
    "SearchSpec": "handprop.search.spec",
    "load_search_spec": "handprop.search.spec",
    "search_spec": "handprop.search.spec",
    "Narrowing": "handprop.search.stages",
    "narrow": "handprop.search.stages",
    "TrainTrial": "handprop.search.trial",
    "configure": "handprop.search.trial",
    "run_trial": "handprop.search.trial",
}

__getattr__ = lazy_getattr(globals(), _HOMES)

__all__ = [
    "DataSource",
    "Dimension",
    "InlineExecutor",
    "Narrowing",
    "SearchResult",
    "SearchSpec",
    "Space",
    "Stage",
    "StageResult",
    "TrainTrial",
    "TrialOutcome",
    "TrialRecord",
    "configure",
    "load_search_spec",
    "local_pool",
    "narrow",
    "open_executor",
    "rank",
    "read_results",
    "run_final",
    "run_trial",
    "sample",
    "search",
    "search_spec",
    "trial_key",
    "write_comparison",
    "write_report",
]
