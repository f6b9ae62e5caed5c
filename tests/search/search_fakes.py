"""A tiny config record and fake trial runners for the search tests (no training)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import numpy as np
from threadpoolctl import threadpool_info

from handprop.search import Dimension, Narrowing, Space, Stage, TrialOutcome, search
from handprop.search.optuna_space import OptunaStage, Param

HERE = Path(__file__).parent

#: A two-layer config small enough for real-data search tests (a few seconds a trial).
TINY_BASE = """
hidden = [10]
split = "batch1"
n_train = 500
n_val = 500
n_s = 5
n_cycles = 1
batch_size = 50
train_eval_size = 100
"""


def lines(path: Path) -> int:
    """Newline count of ``path`` (0 if it does not exist)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def kill_search_at(script: str, results: Path, at: int) -> None:
    """Run ``python -c script`` (with this folder importable) in its own session and SIGKILL
    it and its worker processes once ``results`` holds ``at`` lines."""
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])
    }
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while lines(results) < at:
            assert proc.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "the search made no progress"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the search and its worker processes
        proc.wait()


@attrs.frozen(kw_only=True)
class FakeConfig:
    lam: float = 0.0
    eta_max: float = 0.1
    hidden: tuple[int, ...] = (50,)
    dropout: float = 0.0
    n_cycles: int = 9
    seed: int = 0
    delay: float = 0.0
    log: str = ""
    flip: bool = False
    flip_prob: float = 0.5


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


def seed_noise(seed: int) -> float:
    """A deterministic per-seed offset in [-0.01, 0.01] (seed 0: 0)."""
    return 0.0 if seed == 0 else ((seed % 2001) - 1000) / 100_000


def noisy_runner(config: FakeConfig) -> TrialOutcome:
    """The bump of :func:`accuracy` plus a per-seed offset (repeats differ)."""
    acc = accuracy(config.lam) + seed_noise(config.seed)
    return TrialOutcome(status="completed", final_val_acc=acc, best_val_acc=acc, steps=10)


def halving_accuracy(config: FakeConfig) -> float:
    """Peaks at lam = 1e-3, eta_max = 0.1, dropout = 0.2; grows with width and cycles."""
    return (
        accuracy(config.lam)
        - 0.05 * math.log10(config.eta_max / 0.1) ** 2
        - 0.1 * (config.dropout - 0.2) ** 2
        + 0.001 * config.hidden[0] / 100
        + 0.01 * math.log(config.n_cycles)
    )


def halving_runner(config: FakeConfig, checkpoint_dir: str | None = None) -> TrialOutcome:
    """Trains from the cycle its checkpoint file records up to ``n_cycles`` (10 steps per
    cycle, ``delay`` seconds per cycle); logs ``"<dir> <from> <to>"`` per execution."""
    assert checkpoint_dir is not None
    state = Path(checkpoint_dir) / "cycles"
    done = int(state.read_text()) if state.exists() else 0
    assert done <= config.n_cycles
    time.sleep(config.delay * (config.n_cycles - done))
    if config.log:
        with open(config.log, "a") as f:
            f.write(f"{checkpoint_dir} {done} {config.n_cycles}\n")
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(str(config.n_cycles))
    acc = halving_accuracy(config)
    steps = 10 * config.n_cycles
    return TrialOutcome(status="completed", final_val_acc=acc, best_val_acc=acc, steps=steps)


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


HALVING_SPACE = Space(
    [
        Dimension("lam", 1e-5, 1e-1, "log"),
        Dimension("eta_max", 1e-2, 1.0, "log"),
        Dimension("hidden", 20, 200, "log", integer=True),
        Dimension("dropout", 0.0, 0.5, "linear"),
    ]
)
HALVING = (Stage("halving", 27, seed=5, eta=3, min_cycles=1),)


def run_halving(out: Path, log: Path, delay: float, workers: int) -> None:
    """The halving search the kill test interrupts (also its subprocess entry point)."""
    search(
        FakeConfig(delay=delay, log=str(log)),
        HALVING_SPACE,
        out_dir=out,
        stages=HALVING,
        runner=halving_runner,
        workers=workers,
    )


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


@attrs.frozen
class Row:
    """The part of a training history row a pruning reporter reads."""

    step: int
    val_acc: float


def cycles_runner(config: FakeConfig, report=None) -> TrialOutcome:
    """Reports :func:`halving_accuracy` after each of ``n_cycles`` cycles of 10 steps
    (``delay`` seconds a cycle, flips worth ``flip_prob / 100``), stopping as pruned when
    the reporter raises; logs ``"<lam> <pid>"`` per execution like :func:`fake_runner`."""
    from handprop.search.pruning import Pruned

    if config.log:
        with open(config.log, "a") as f:
            f.write(f"{config.lam!r} {os.getpid()}\n")
    bonus = config.flip_prob / 100 if config.flip else 0.0
    acc = 0.0
    for cycle in range(1, config.n_cycles + 1):
        time.sleep(config.delay)
        acc = halving_accuracy(attrs.evolve(config, n_cycles=cycle)) + bonus
        if report is not None:
            try:
                report(Row(10 * cycle, acc), cycle < config.n_cycles)
            except Pruned as verdict:
                return TrialOutcome("pruned", final_val_acc=verdict.val_acc, steps=verdict.step)
    steps = 10 * config.n_cycles
    return TrialOutcome(status="completed", final_val_acc=acc, best_val_acc=acc, steps=steps)


TPE_PARAMS = (
    Param("lam", 1e-5, 1e-1, "log"),
    Param("eta_max", 1e-2, 1.0, "log"),
    Param("hidden", 20, 200, "log", integer=True),
    Param("dropout", 0.0, 0.5, "linear"),
    Param("flip", choices=(False, True)),
    Param("flip_prob", 0.1, 0.9, "linear", when={"flip": True}),
)


def run_tpe(
    out: Path,
    log: Path,
    delay: float,
    workers: int,
    n: int = 12,
    storage: str | None = None,
    pruner: str = "halving",
    heartbeat: int = 1,
    grace: int = 3,
    scheduler: str | None = None,
) -> None:
    """A TPE study over :data:`TPE_PARAMS` (also the subprocess entry point of the
    kill and shared-study tests)."""
    from handprop.search.optuna_stage import optuna_search

    stage = OptunaStage(
        "tpe", n, seed=1, pruner=pruner, n_startup_trials=4, heartbeat_interval=heartbeat,
        grace_period=grace, min_resource=10,
    )  # fmt: skip
    optuna_search(
        FakeConfig(n_cycles=9, delay=delay, log=str(log)),
        TPE_PARAMS,
        stage,
        out_dir=out,
        storage=storage,
        runner=cycles_runner,
        workers=workers,
        scheduler=scheduler,
    )
