"""Where trials run: in this process, a local process pool, or a Dask cluster.

Every option is a :class:`concurrent.futures.Executor`. The local pool starts its workers
with the ``spawn`` method while the BLAS/OpenMP/Numba thread-count variables are set to
``threads``, so each worker's libraries start with that many threads and
``workers x threads <= cores``; each worker exits within a second of its parent's death.
Workers start with SIGINT blocked and then ignore it: a Ctrl-C, which a terminal sends to the
whole process group, ends the search in its parent with one line, never with tracebacks of
workers interrupted while importing.
Every trial, in any executor, runs inside :func:`blas_threads` (threadpoolctl), so the
thread count, and with it the bits of the results, does not depend on where it runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

from threadpoolctl import threadpool_limits

from handprop.errors import ConfigError, HandpropError

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


class _Limits:
    """This process's thread limit, shared by the trials running in its threads."""

    lock = threading.Lock()
    users = 0
    threads = 0
    limiter: threadpool_limits | None = None


@contextmanager
def blas_threads(threads: int) -> Iterator[None]:
    """Limit BLAS and OpenMP to ``threads`` threads for the block (threadpoolctl).

    The limit is process-wide: concurrent blocks (a Dask worker's threads) share it, the
    first sets it and the last restores the previous one; a different count meanwhile is
    a ConfigError.
    """
    with _Limits.lock:
        if _Limits.users == 0:
            _Limits.limiter, _Limits.threads = threadpool_limits(threads), threads
        elif threads != _Limits.threads:
            raise ConfigError(
                f"threads = {threads}: this process runs trials with {_Limits.threads}"
            )
        _Limits.users += 1
    try:
        yield
    finally:
        with _Limits.lock:
            _Limits.users -= 1
            if _Limits.users == 0 and _Limits.limiter is not None:
                _Limits.limiter.restore_original_limits()
                _Limits.limiter = None


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


@functools.cache
def undo_malloc_trim() -> bool:
    """Give this process glibc's usual heap for large temporaries again if it was started
    with ``MALLOC_TRIM_THRESHOLD_`` (Dask's nanny sets 65536 in its workers).

    A fixed trim threshold turns off glibc's adaptive mmap threshold, so every array of
    128 KiB or more is mapped, page-faulted and unmapped again at each training step:
    trials ran about twice as slowly on Dask workers as on the local pool. Sets the
    thresholds glibc adapts to (mmap 32 MiB, trim 64 MiB); True if it did."""
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(
            libc.mallopt(M_MMAP_THRESHOLD, 32 << 20) and libc.mallopt(M_TRIM_THRESHOLD, 64 << 20)
        )
    except (OSError, AttributeError):  # not glibc
        return False


def exit_with_parent(parent: int, interval: float = 0.2) -> None:
    """Ignore SIGINT (the parent handles Ctrl-C) and start a daemon thread that ends this
    process when its parent ``parent`` (a PID) is gone: a worker whose search was killed
    must not live on, holding its data."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="handprop-parent-watch", daemon=True).start()


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for the block; processes started inside inherit the
    mask through ``exec``, and a Ctrl-C meanwhile is delivered when the block ends."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class _QuietPool(ProcessPoolExecutor):
    """A process pool whose workers (started on demand by ``submit``) never see SIGINT."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with sigint_blocked():
            return super().submit(fn, *args, **kwargs)


@contextmanager
def local_pool(workers: int | None = None, *, threads: int = 1) -> Iterator[ProcessPoolExecutor]:
    """A spawn-started process pool of ``workers`` (default: cores // threads) processes,
    each limited to ``threads`` BLAS/OpenMP/Numba threads and ending with this process."""
    if threads < 1:
        raise ConfigError(f"threads = {threads}: must be >= 1")
    workers = workers or max(1, available_cores() // threads)
    with (
        thread_limits(threads),
        _QuietPool(
            workers,
            mp_context=get_context("spawn"),
            initializer=exit_with_parent,
            initargs=(os.getpid(),),
        ) as pool,
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
    check_address(address)
    try:
        client = Client(address)  # timeout: dask config distributed.comm.timeouts.connect
    except OSError as err:
        raise ConfigError(f"scheduler = {address!r}: cannot connect ({err})") from err
    try:
        yield client.get_executor(pure=False)
    except (OSError, CancelledError) as err:  # CommClosedError is an OSError
        raise HandpropError(
            f"lost the Dask scheduler at {address} ({type(err).__name__}: {err}); finished "
            "trials are kept: rerun the same command once the cluster is back to resume"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            client.close()


def check_address(address: str) -> None:
    """Raise ConfigError unless ``address`` is a Dask scheduler address with host and port
    (``tcp://HOST:PORT``, ``tls://…``, or ``HOST:PORT``)."""
    try:
        from distributed.comm import get_address_host_port
    except ImportError:
        raise ConfigError(
            "--scheduler needs dask.distributed: pip install 'handprop[dask]'"
        ) from None
    try:
        get_address_host_port(address)
    except ValueError as err:
        raise ConfigError(
            f"scheduler = {address!r}: not a scheduler address like tcp://HOST:PORT ({err})"
        ) from None


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
