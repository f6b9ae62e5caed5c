"""Where trials run: in this process, a local process pool, or a Dask cluster.

Every option is a :class:`concurrent.futures.Executor`. The local pool starts its workers
with the ``spawn`` method while the BLAS/OpenMP/Numba thread-count variables are set to
``threads``, so each worker's libraries start with that many threads and
``workers x threads <= cores``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

from handprop.errors import ConfigError

THREAD_VARIABLES: tuple[str, ...] = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def available_cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class InlineExecutor(Executor):
    """Runs each call when it is submitted, in this process (``workers=0``)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:
            future.set_exception(err)
        return future


@contextmanager
def thread_limits(threads: int) -> Iterator[None]:
    """Set the thread-count variables for processes started inside the block; restore after."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def local_pool(workers: int | None = None, *, threads: int = 1) -> Iterator[ProcessPoolExecutor]:
    """A spawn-started process pool of ``workers`` (default: cores // threads) processes,
    each limited to ``threads`` BLAS/OpenMP/Numba threads."""
    if threads < 1:
        raise ConfigError(f"threads = {threads}: must be >= 1")
    workers = workers or max(1, available_cores() // threads)
    with (
        thread_limits(threads),
        ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool,
    ):
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise


@contextmanager
def dask_executor(address: str) -> Iterator[Executor]:
    """An executor on the Dask distributed scheduler at ``address`` (``handprop[dask]``)."""
    try:
        from distributed import Client
    except ImportError as err:
        raise ConfigError(
            "--scheduler needs dask.distributed: pip install 'handprop[dask]'"
        ) from err
    try:
        client = Client(address)  # timeout: dask config distributed.comm.timeouts.connect
    except OSError as err:
        raise ConfigError(f"scheduler = {address!r}: cannot connect ({err})") from err
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


@contextmanager
def open_executor(
    workers: int | None = None, *, scheduler: str | None = None, threads: int = 1
) -> Iterator[Executor]:
    """The executor a search runs on: Dask if ``scheduler`` is an address, in this process if
    ``workers == 0``, else a local process pool."""
    if workers is not None and workers < 0:
        raise ConfigError(f"workers = {workers}: must be >= 0 (0 runs trials in this process)")
    if scheduler:
        with dask_executor(scheduler) as executor:
            yield executor
    elif workers == 0:
        with InlineExecutor() as executor:
            yield executor
    else:
        with local_pool(workers, threads=threads) as pool:
            yield pool
