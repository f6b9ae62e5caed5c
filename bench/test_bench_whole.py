"""Whole processes as a user runs them (imports, load, train, evaluate, write), timed from
outside: ``handprop train --config NAME`` against :mod:`bench.whole` in PyTorch and in JAX
(compilation included). All three load through handprop's decoded-data cache, warm after
the first case. Quick mode shortens the runs like ``test_bench_runs`` and keeps only the
baseline (each process costs seconds of imports and compilation even then). Also
``handprop --help``: the start-up a user waits for before any command runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench import jax_ref
from bench.conftest import Measure
from bench.test_bench_runs import QUICK_OVERRIDES, RUNS, require_real_data
from bench.workloads import QUICK

ROOT = Path(__file__).resolve().parent.parent


def command(impl: str, name: str, out: Path) -> list[str]:
    sets = [f"--set={a}" for a in QUICK_OVERRIDES] if QUICK else []
    head = ["-m", "handprop", "train", "--no-progress"] if impl == "handprop" else [
        "-m", "bench.whole", impl,
    ]  # fmt: skip
    return [sys.executable, *head, "--config", name, "--out", str(out), *sets]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")) if p
    )
    return env


def run_process(impl: str, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            command(impl, name, Path(tmp) / "run"),
            cwd=ROOT, env=_env(), check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip


def show_help() -> None:
    subprocess.run(
        [sys.executable, "-m", "handprop", "--help"],
        cwd=ROOT, env=_env(), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize("impl", ("handprop", "torch", "jax"))
@pytest.mark.parametrize("case", tuple(RUNS)[:1] if QUICK else tuple(RUNS))
def test_bench_whole(measure: Measure, case: str, impl: str) -> None:
    require_real_data()
    if impl == "jax" and not jax_ref.available():
        pytest.skip("JAX is not installed (pip install '.[bench]')")
    label = f"{case}, whole process"
    measure(run_process, impl, RUNS[case], case=label, impl=impl, dtype="float32", rounds=1)


def test_bench_help(measure: Measure) -> None:
    show_help()  # warm-up: byte-code caches
    measure(show_help, case="handprop --help, whole process", impl="handprop", rounds=5)
