"""Full training runs on the real CIFAR-10 copy as wall time: handprop vs the same run in PyTorch.

``baseline``: m = 50, three cycles, 5,880 steps, evaluation every 196 steps.
``wide_flip_translate_dropout``: the improvements run (m = 256, flip, translate, dropout).
Each is timed twice (the less disturbed run counts); quick mode shortens both to a few
steps on 500 images.
"""

from __future__ import annotations

import os

import pytest

from bench.conftest import Measure
from bench.workloads import QUICK, torch_train
from handprop.train import TrainConfig, initial_params, load_config, load_data, train

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
    result = train(initial_params(config), config, data=data)  # type: ignore[arg-type]
    assert result.status == "completed"
    return result.steps


@pytest.mark.parametrize("impl", ("handprop", "torch"))
@pytest.mark.parametrize("case", tuple(RUNS))
def test_bench_run(measure: Measure, case: str, impl: str) -> None:
    require_real_data()
    config = run_config(RUNS[case])
    data = load_data(config)
    fn = _handprop_run if impl == "handprop" else torch_train
    fn(config.with_overrides(QUICK_OVERRIDES), data)  # warm-up: JIT, thread pools
    measure(fn, config, data, case=case, impl=impl, dtype=config.model.dtype, rounds=2)
