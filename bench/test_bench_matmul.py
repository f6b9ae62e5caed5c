"""The machine's own matrix-multiply rate: every FLOP/s figure is a fraction of it."""

from __future__ import annotations

import numpy as np
import pytest

from bench.conftest import Measure
from bench.workloads import DTYPES, MATMUL_N, matmul_flops


@pytest.mark.parametrize("dtype", DTYPES)
def test_bench_matmul(measure: Measure, dtype: str) -> None:
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((MATMUL_N, MATMUL_N)).astype(dtype) for _ in range(2))
    out = np.empty_like(A)
    measure(
        np.matmul,
        A,
        B,
        out,
        case=f"matmul {MATMUL_N}x{MATMUL_N}",
        impl="numpy",
        flops=matmul_flops(MATMUL_N),
        dtype=dtype,
    )
