"""Coarse-to-fine hyperparameter search: resumable, parallel locally or on a Dask cluster.

``search(base_config, space, out_dir=..., stages=..., narrowing=...)`` runs the trials;
``load_search_spec`` / ``search_spec`` do the same from a search TOML config; a config
whose stage names an Optuna sampler runs :func:`handprop.search.optuna_stage.optuna_search`
(the ``optuna`` extra, imported only then).
"""

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
