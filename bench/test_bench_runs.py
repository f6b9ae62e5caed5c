"""Full training runs on the real CIFAR-10 copy as wall time: handprop vs the same run in
PyTorch and in JAX (one compiled ``lax.scan``; its compile time is recorded apart).

``baseline``: m = 50, three cycles, 5,880 steps, evaluation every 196 steps.
``wide_flip_translate_dropout``: the improvements run (m = 256, flip, translate, dropout).
``beyond_two_layer`` (m = 2048 on ZCA-whitened pixels, label smoothing) and
``beyond_deep_bn`` (1024 -> 512 with batch norm) shortened to one cycle of n_s = 500
(1,000 steps; evaluations at steps 490, 980 and 1,000), ``SHORTENED``.
Each is timed twice (the less disturbed run counts); quick mode shortens all of them to a
few steps on 500 images (the flagships also to widths 64 and 64 -> 32). The JAX cases skip
when JAX is not installed (the ``bench`` extra).
"""

from __future__ import annotations

import os

import pytest

from bench import jax_ref
from bench.conftest import Measure
from bench.workloads import QUICK, torch_train
from handprop.train import TrainConfig, init_params, load_config, load_data, train

#: The runs profiled and run as whole processes too, by case name.
RUNS = {"baseline run": "baseline", "improvements run": "wide_flip_translate_dropout"}
#: The flagship recipes' loops, shortened by ``SHORTENED``; quick mode also narrows them.
FLAGSHIPS = {
    "beyond_two_layer shortened run": "beyond_two_layer",
    "beyond_deep_bn shortened run": "beyond_deep_bn",
}
SHORTENED = ("n_cycles=1", "n_s=500")
QUICK_OVERRIDES = ("n_train=500", "n_s=5", "n_cycles=1", "eval_every=5", "train_eval_size=100")
QUICK_HIDDEN = {"beyond_two_layer": "hidden=[64]", "beyond_deep_bn": "hidden=[64, 32]"}


def require_real_data() -> None:
    """Skip without ``HANDPROP_DATA`` (fail in CI, where it must be set)."""
    source = os.environ.get("HANDPROP_DATA", "")
    if not source or not os.path.exists(source):
        if os.environ.get("CI"):
            pytest.fail(f"HANDPROP_DATA must point at the CIFAR-10 copy in CI (got {source!r})")
        pytest.skip(f"no real CIFAR-10 data: HANDPROP_DATA={source!r}")


def run_config(name: str) -> TrainConfig:
    config = load_config(name)
    if QUICK:
        narrow = (QUICK_HIDDEN[name],) if name in QUICK_HIDDEN else ()
        return config.with_overrides((*QUICK_OVERRIDES, *narrow))
    return config.with_overrides(SHORTENED) if name in FLAGSHIPS.values() else config


def _handprop_run(config: TrainConfig, data: object) -> int:
    result = train(init_params(config), config, data=data)  # type: ignore[arg-type]
    assert result.status == "completed"
    return result.steps


@pytest.mark.parametrize("impl", ("handprop", "torch", "jax"))
@pytest.mark.parametrize("case", (*RUNS, *FLAGSHIPS))
def test_bench_run(measure: Measure, case: str, impl: str) -> None:
    require_real_data()
    config = run_config((RUNS | FLAGSHIPS)[case])
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
