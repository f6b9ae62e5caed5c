"""A tiny config record and fake trial runners for the search tests (no training)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import attrs

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
