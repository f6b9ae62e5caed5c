"""Where the microseconds of a training run go: a cProfile breakdown per training step.

For the baseline and the improvements config on the real data, ``PROFILED_STEPS`` steps
of :func:`handprop.train.make_step` run under cProfile and one evaluation (the probe the
loop calls every ``eval_every`` steps) is timed. The report turns the parts into a table
and states what bounds the full run's wall time.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from typing import Any

from bench.report import GATHER_PART, MATMUL_PART
from bench.test_bench_runs import RUNS, require_real_data, run_config
from bench.workloads import QUICK, forward_flops, step_flops
from handprop.train import TrainState, init_params, load_data, make_step
from handprop.train.loop import make_probe

PROFILED_STEPS = 20 if QUICK else 600
#: Profile parts: (label, module file suffix, function names); the rest of the step is
#: "Python and NumPy glue".
PARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (MATMUL_PART, "nn/layers.py", ("affine_forward", "affine_backward")),
    ("fused SGD + L2 update", "kernels/sgd.py", ("_sgd_l2_update",)),
    (GATHER_PART, "train/loop.py", ("gather_batch",)),
    ("augmentation draws", "kernels/augment.py", ("draw_augmentation",)),
    ("random generators", "train/state.py", ("stream",)),
    ("dropout masks", "kernels/dropout.py", ("dropout_mask",)),
    ("softmax cross-entropy", "kernels/softmax.py", ("softmax_xent",)),
    ("ReLU kernels", "kernels/relu.py", ("relu_forward", "relu_backward")),
)  # fmt: skip


def profile_steps(name: str) -> dict[str, Any]:
    """Per-step seconds of each part over ``PROFILED_STEPS`` steps, and one probe's time."""
    config = run_config(name)
    data = load_data(config)
    step = make_step(config, data.train)
    state = step(TrainState(init_params(config)), 0)  # compiles, shuffles epoch 0
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for t in range(1, PROFILED_STEPS + 1):
        state = step(state, t)
    profiler.disable()
    total = (time.perf_counter() - start) / PROFILED_STEPS
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    parts: dict[str, float] = {}
    for label, suffix, names in PARTS:
        seconds = sum(
            cumulative
            for (path, _, func), (_, _, _, cumulative, _) in stats.items()
            if path.endswith(suffix) and func in names
        )
        parts[label] = seconds / PROFILED_STEPS
    probe = make_probe(config, data)
    probe(state.params, 0)
    start = time.perf_counter()
    probe(state.params, 0)
    n = len(data.train.y)
    (hidden,) = config.model.hidden
    probe_rows = (min(config.run.train_eval_size, n) or n) + len(data.val.y)
    return {
        "step_flops": step_flops(hidden),
        "probe_flops": forward_flops(hidden, probe_rows),
        "step_seconds": total,
        "parts": parts,
        "probe_seconds": time.perf_counter() - start,
        "steps": config.total_steps(n),
        "probes": config.total_steps(n)
        // (config.run.eval_every or n // config.optimizer.batch_size)
        + 1,
    }


def test_bench_profile(benchmark: Any) -> None:
    require_real_data()
    breakdown = {case: profile_steps(name) for case, name in RUNS.items()}
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info["profile"] = breakdown
