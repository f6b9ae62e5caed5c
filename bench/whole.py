"""One whole training process in PyTorch or JAX, as ``handprop train`` does it in handprop:
imports, load (handprop's loader and decoded-data cache, as for handprop), train, evaluate on
the test set, write the parameters and metrics (atomically) into ``--out``.

Usage::

    python -m bench.whole torch --config baseline --out DIR [--set KEY=VALUE ...]
    python -m bench.whole jax --config wide_flip_translate_dropout --out DIR
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _write(path: Path, write: Any) -> None:
    """``write(file)`` into a synced temporary file beside ``path``, then rename it."""
    with tempfile.NamedTemporaryFile("wb", dir=path.parent, delete=False) as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def train_torch(config: Any, data: Any) -> tuple[list[np.ndarray], float]:
    from bench.workloads import TorchNet, configure_torch_threads, torch_train

    configure_torch_threads()
    net: list[TorchNet] = []
    torch_train(config, data, keep=net)
    X, y = (np.asarray(a) for a in (data.test.X, data.test.y))
    import torch

    _, _, acc = net[0].evaluate(torch.from_numpy(X.copy()), torch.from_numpy(y.copy()))
    return [p.detach().numpy() for p in net[0].params], acc


def train_jax(config: Any, data: Any) -> tuple[list[np.ndarray], float]:
    from bench import jax_ref

    params, stats = jax_ref.JaxRun(config, data)()
    accuracy = jax_ref.evaluate(params, stats, data.test.X, data.test.y, config.model.bn_eps)
    arrays = [a for layer in (*params, *stats) for a in layer.values()]
    return arrays, accuracy


def main(argv: list[str] | None = None) -> int:
    start = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m bench.whole", description=__doc__)
    parser.add_argument("impl", choices=("torch", "jax"))
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    from handprop.train import load_config, load_data

    config = load_config(args.config).with_overrides(args.set)
    data = load_data(config)
    params, accuracy = (train_torch if args.impl == "torch" else train_jax)(config, data)
    args.out.mkdir(parents=True, exist_ok=True)
    _write(args.out / "params.npz", lambda f: np.savez(f, *params))
    metrics = {"test_acc": accuracy, "wall_time": time.perf_counter() - start}
    _write(args.out / "metrics.json", lambda f: f.write(json.dumps(metrics).encode()))
    print(f"{args.impl} {config.run.name or 'run'}: test accuracy {100 * accuracy:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
