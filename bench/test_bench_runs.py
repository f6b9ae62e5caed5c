"""Full training runs on the real CIFAR-10 copy as wall time: handprop vs the same run in
PyTorch and in JAX (one compiled ``lax.scan``; its compile time is recorded apart).

``baseline``: m = 50, three cycles, 5,880 steps, evaluation every 196 steps.
``wide_flip_translate_dropout``: the improvements run (m = 256, flip, translate, dropout).
Each is timed twice (the less disturbed run counts); quick mode shortens both to a few
steps on 500 images. The JAX cases skip when JAX is not installed (the ``bench`` extra).
"""

from __future__ import annotations

import os

import pytest

from bench import jax_ref
from bench.conftest import Measure
from bench.workloads import QUICK, torch_train
from handprop.train import TrainConfig, init_params, load_config, load_data, train

RUNS = {"baseline run": "baseline", "improvements run": "wide_flip_translate_dropout"}
QUICK_OVERRIDES = ("n_train=500", "n_s=5", "n_cycles=1", "eval_every=5", "train_eval_size=100")


def require_real_data() -> None:
    """Skip without ``HANDPROP_DATA`` (fail in CI, where it must be set)."""
    source = os.environ.get("HANDPROP_DATA", "")
    if not source or not os.path.exists(source):
        if os.environ.get("CI"):
            pytest.fail(f"HANDPROP_DATA must point at the CIFAR-10 copy in CI (got {source!r})")
        pytest.skip(f"no real CIFAR-10 data: HANDPROP_DATA={source!r}")


def run_config(name: str) -> TrainConfig:
    config = load_config(name)
    return config.with_overrides(QUICK_OVERRIDES) if QUICK else config


def _handprop_run(config: TrainConfig, data: object) -> int:
    result = train(init_params(config), config, data=data)  # type: ignore[arg-type]
    assert result.status == "completed"
    return result.steps


@pytest.mark.parametrize("impl", ("handprop", "torch", "jax"))
@pytest.mark.parametrize("case", tuple(RUNS))
def test_bench_run(measure: Measure, case: str, impl: str) -> None:
    require_real_data()
    config = run_config(RUNS[case])
    data = load_data(config)
    if impl == "jax":
        if not jax_ref.available():
            pytest.skip("JAX is not installed (pip install '.[bench]')")
        run = jax_ref.JaxRun(config, data)
        run()  # warm-up: thread pools, first-call dispatch
        extra = {"compile_seconds": run.compile_seconds}
        measure(run, case=case, impl=impl, dtype=config.model.dtype, rounds=2, extra=extra)
        return
    fn = _handprop_run if impl == "handprop" else torch_train
    fn(config.with_overrides(QUICK_OVERRIDES), data)  # warm-up: JIT, thread pools
    measure(fn, config, data, case=case, impl=impl, dtype=config.model.dtype, rounds=2)


def test_bench_load(measure: Measure) -> None:
    """``load_data`` for the baseline split from a warm decoded-data cache (the process-level
    memo of ``load_data`` bypassed): map the cache, fit and apply the normalisation."""
    require_real_data()
    from handprop.data import load_cifar10, normalized_splits

    config = load_config("baseline")

    def load() -> object:
        cifar = load_cifar10(os.environ["HANDPROP_DATA"], progress=False)
        return normalized_splits(
            cifar, config.data.split, n_val=config.data.n_val, dtype=config.model.dtype
        )

    load()  # warm-up: builds the cache if needed, loads the kernels
    measure(load, case="load_data baseline split (warm cache)", impl="handprop", dtype="float32")
