"""Peak resident memory of training on all 50,000 images in float32 (target < 1.5 GB).

A fresh interpreter loads the data (``split = "all"``), trains the improvements config
for a few hundred steps and reports its own peak RSS (``getrusage``: what ``/usr/bin/time
-v`` calls "Maximum resident set size"). The report shows it beside the timings.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from bench.conftest import Measure
from bench.test_bench_runs import require_real_data
from bench.workloads import QUICK

CONFIG = "wide_flip_translate_dropout"
OVERRIDES = ["n_s=5", "n_cycles=1"] if QUICK else ["n_s=100", "n_cycles=1", "eval_every=100"]
CHILD = """
import resource, sys
from handprop.train import init_params, load_config, load_data, train
config = load_config(sys.argv[1]).with_overrides(sys.argv[2:])
data = load_data(config)
assert len(data.train.y) + len(data.val.y) == 50_000 and config.model.dtype == "float32"
assert train(init_params(config), config, data=data).status == "completed"
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def peak_rss_of_training() -> int:
    """Peak RSS in bytes of the child process described above."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, CONFIG, *OVERRIDES],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(out.stdout.split()[-1])


def test_bench_memory(measure: Measure, benchmark: Any) -> None:
    require_real_data()
    peak = measure(
        peak_rss_of_training, case="peak RSS, training on 50,000 images", impl="handprop",
        dtype="float32", rounds=1,
    )  # fmt: skip
    benchmark.extra_info["peak_rss_bytes"] = peak
