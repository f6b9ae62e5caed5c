"""A tiny config record and fake trial runners for the search tests (no training)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import attrs
import numpy as np
from threadpoolctl import threadpool_info

from handprop.search import Dimension, Narrowing, Space, Stage, TrialOutcome, search


@attrs.frozen(kw_only=True)
class FakeConfig:
    lam: float = 0.0
    eta_max: float = 0.1
    hidden: tuple[int, ...] = (50,)
    seed: int = 0
    delay: float = 0.0
    log: str = ""


def accuracy(lam: float) -> float:
    """A smooth bump peaking at lam = 1e-3."""
    return 0.5 - 0.02 * (math.log10(lam) + 3.0) ** 2


def fake_runner(config: FakeConfig) -> TrialOutcome:
    """Logs one line per execution, sleeps ``delay``; diverges above lam = 0.05 and raises
    below lam = 2e-5."""
    if config.log:
        with open(config.log, "a") as f:
            f.write(f"{config.lam!r} {os.getpid()}\n")
    time.sleep(config.delay)
    if config.lam > 0.05:
        return TrialOutcome(status="diverged", final_val_acc=float("nan"), diverged_step=3)
    if config.lam < 2e-5:
        raise FloatingPointError("overflow in fake trial")
    acc = accuracy(config.lam)
    return TrialOutcome(status="completed", final_val_acc=acc, best_val_acc=acc + 0.001, steps=10)


def thread_env_runner(config: FakeConfig) -> TrialOutcome:
    """Reports the worker's OPENBLAS_NUM_THREADS as its accuracy (for the pool test)."""
    value = float(os.environ.get("OPENBLAS_NUM_THREADS", "-1"))
    return TrialOutcome(status="completed", final_val_acc=value, best_val_acc=value)


def blas_runner(config: FakeConfig) -> TrialOutcome:
    """A few gradient steps of least squares on random data (BLAS products whose bits can
    depend on the thread count); reports the loss and, as ``steps``, the BLAS threads."""
    rng = np.random.default_rng(int(-1000 * math.log10(config.lam)))
    X, Y = rng.standard_normal((300, 3072)), rng.standard_normal((300, 10))
    W = np.zeros((3072, 10))
    for _ in range(5):
        W -= 1e-4 * (X.T @ (X @ W - Y) + config.lam * W)
    loss = float(np.mean((X @ W - Y) ** 2))
    threads = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
    return TrialOutcome(status="completed", final_val_acc=-loss, steps=threads)


LAMBDA_SPACE = Space([Dimension("lam", 1e-5, 1e-1, "log")])
TWO_STAGES = (Stage("grid", 6), Stage("random", 6, seed=3))


def run_two_stage(out: Path, log: Path, delay: float, workers: int) -> None:
    """The search the kill test interrupts (also its subprocess entry point)."""
    search(
        FakeConfig(delay=delay, log=str(log)),
        LAMBDA_SPACE,
        out_dir=out,
        stages=TWO_STAGES,
        narrowing=Narrowing(top_k=2),
        runner=fake_runner,
        workers=workers,
    )
