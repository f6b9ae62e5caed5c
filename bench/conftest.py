"""Shared fixtures of the speed suite (``pytest bench``).

``HANDPROP_BENCH_QUICK=1`` runs every case once on tiny sizes: it checks that the suite
runs, never how fast. Every case records ``extra_info`` (case, impl, flops, dtype) that
:mod:`bench.report` pairs into ours-vs-reference rows.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import Any

import pytest

from bench.workloads import BLAS_ENV, QUICK, blas_threads, configure_torch_threads


def pytest_report_header() -> list[str]:
    mode = "quick (one round, tiny sizes)" if QUICK else "full"
    return [f"handprop bench: {mode}; BLAS threads {blas_threads()}"]


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries loaded, as threadpoolctl sees them: library, version, kernel
    architecture, threads, the folder holding it (``numpy.libs`` for NumPy's own) and the
    OpenBLAS environment variables that select the kernels."""
    import numpy  # noqa: F401  (loads its BLAS)
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    env = {k: os.environ.get(k) for k in BLAS_ENV}
    return [
        {k: lib.get(k) for k in keys}
        | {"package": os.path.basename(os.path.dirname(lib.get("filepath", ""))), "env": env}
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]


def pytest_benchmark_update_machine_info(config: Any, machine_info: dict[str, Any]) -> None:
    """Record what the numbers depend on: CPU model, cores, BLAS library and kernels,
    library versions."""
    import numba
    import numpy
    import torch

    with open("/proc/cpuinfo") as cpuinfo:
        models = [
            line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
        ]
    machine_info.update(
        cpu_model=models[0] if models else platform.processor(),
        cores=os.cpu_count(),
        blas_threads=blas_threads(),
        blas=blas_info(),
        versions={
            "numpy": numpy.__version__,
            "numba": numba.__version__,
            "torch": torch.__version__,
            **_jax_version(),
        },
    )


def _jax_version() -> dict[str, str]:
    try:
        import jax
    except ImportError:
        return {}
    return {"jax": jax.__version__}


@pytest.fixture(scope="session", autouse=True)
def _torch_threads() -> None:
    configure_torch_threads()


Measure = Callable[..., Any]


@pytest.fixture
def measure(benchmark: Any) -> Measure:
    """``measure(fn, *args, case=, impl=, flops=0, dtype="", rounds=None, extra=None)`` times
    ``fn(*args)``.

    One warm-up call (JIT compilation, caches) precedes the timed rounds; ``rounds`` fixes the
    round count for long cases instead of pytest-benchmark's calibration (no warm-up).
    ``extra`` adds entries to the case's ``extra_info`` (e.g. JAX's compile seconds).
    """

    def run(
        fn: Callable[..., Any],
        *args: Any,
        case: str,
        impl: str,
        flops: float = 0,
        dtype: str = "",
        rounds: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        benchmark.group = case
        benchmark.extra_info.update(case=case, impl=impl, flops=flops, dtype=dtype, quick=QUICK)
        benchmark.extra_info.update(extra or {})
        if QUICK:
            return benchmark.pedantic(fn, args, rounds=1, iterations=1)
        if rounds is not None:
            return benchmark.pedantic(fn, args, rounds=rounds, iterations=1)
        fn(*args)
        return benchmark(fn, *args)

    return run
