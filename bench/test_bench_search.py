"""Search throughput: trials per minute of a small fixed search on the real data, for one and
two local worker processes (:func:`handprop.search.local_pool`) and a two-worker Dask
``LocalCluster`` (skipped without ``dask.distributed``).

The trials are ``search_lambda``'s base (m = 50, 45,000 / 5,000 split) cut to one short
cycle, each a different ``lam``, run as the search engine runs them: ``execute(TrainTrial,
base, values, threads=1)`` submitted to the executor, one BLAS thread per trial. Each
worker first runs one warm-up trial (data loaded and normalised once per process, kernels
compiled), so the timed batch measures the steady rate. Cases record ``group = "search"``,
``trials`` and ``workers``; :mod:`bench.report` turns them into trials per minute.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, wait
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from bench.conftest import Measure
from bench.test_bench_runs import require_real_data
from bench.workloads import QUICK
from handprop.search import DataSource, TrainTrial, configure, load_search_spec, local_pool
from handprop.search.trial import execute
from handprop.train import TrainConfig, load_config

#: Cut the search's base to a trial of about 1-3 s (quick: a few steps on 500 images).
TRIAL = dict(n_cycles=1, n_s=5, n_train=500) if QUICK else dict(n_cycles=1, n_s=1000)
TRIALS = 2 if QUICK else 8
EXECUTORS = ("1 local worker process", "2 local worker processes", "Dask LocalCluster, 2 workers")


def base_config() -> TrainConfig:
    spec = load_search_spec("search_lambda")
    return configure(configure(load_config(spec.base), spec.base_set), TRIAL)


@contextmanager
def dask_cluster(workers: int) -> Iterator[Executor]:
    """A ``LocalCluster``'s executor; this process's environment is restored afterwards.

    Starting the nannies writes their ``pre-spawn-environ`` (``OMP_NUM_THREADS=1``,
    ``OPENBLAS_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``, ``MALLOC_TRIM_THRESHOLD_``) into
    ``os.environ`` of the process that starts them, where it stays: every process the
    suite started later (the whole-process cases) ran on one BLAS thread, about 1.6x slower.
    """
    distributed = pytest.importorskip("distributed")
    saved = dict(os.environ)
    try:
        with (
            distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client.get_executor(pure=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def open_pool(label: str) -> Any:
    workers = int(label.split()[-2] if label.startswith("Dask") else label.split()[0])
    if label.startswith("Dask"):
        return dask_cluster(workers), workers
    return local_pool(workers, threads=1), workers


def run_batch(executor: Executor, base: TrainConfig, lams: np.ndarray) -> Callable[[], int]:
    """A callable running one trial per ``lam`` on ``executor`` and waiting for all of them."""
    runner = TrainTrial(DataSource.resolve())

    def run() -> int:
        futures = [executor.submit(execute, runner, base, {"lam": float(v)}) for v in lams]
        wait(futures)
        outcomes = [f.result()[0] for f in futures]
        failed = [o.error for o in outcomes if o.status != "completed"]
        assert not failed, failed
        return len(outcomes)

    return run


@pytest.mark.parametrize("label", EXECUTORS)
def test_bench_search_throughput(measure: Measure, label: str) -> None:
    require_real_data()
    base = base_config()
    environ = dict(os.environ)
    pool, workers = open_pool(label)
    with pool as executor:
        run_batch(executor, base, np.full(workers, 1e-3))()  # warm-up: one trial per worker
        measure(
            run_batch(executor, base, np.geomspace(1e-5, 1e-1, TRIALS)),
            case=f"search throughput, {label}", impl="handprop", rounds=1,
            extra={"group": "search", "trials": TRIALS, "workers": workers},
        )  # fmt: skip
    assert dict(os.environ) == environ, "the executor left its environment in this process"
