"""Scaling curves: one float32 training step (gather, flip + translate, forward, backward,
SGD update) against hidden width at batch 100 and against batch size at m = 256, for
handprop (:func:`handprop.train.make_step`), PyTorch (:class:`bench.workloads.TorchNet`, same
threads) and JAX (the same step jitted as one function; skipped without JAX); and against
hidden width with a batch norm between the hidden affine layer and its ReLU, handprop
against JAX (:class:`bench.jax_ref.Network`, handprop's train-mode batch-norm math).

Every case records ``sweep`` (``"width"``, ``"width-bn"`` or ``"batch"``) and ``x`` (the
swept value), which :mod:`bench.report` turns into one table and one plot per sweep.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench import jax_ref
from bench.conftest import Measure
from bench.workloads import (
    BATCH,
    FLIP_PROB,
    MAX_SHIFT,
    N_CLASSES,
    QUICK,
    SHIFT_PROB,
    TorchNet,
    step_flops,
    synthetic_pool,
)
from handprop.data import Dataset
from handprop.train import TrainConfig, TrainState, config_from_dict, init_params, make_step

DTYPE = "float32"
LAM, ETA = 1e-3, 0.01
CLASS_NAMES = tuple(f"class{k}" for k in range(N_CLASSES))
WIDTHS = (50, 256) if QUICK else (50, 128, 256, 512, 1024, 2048, 4096)
#: Widths of the batch-norm sweep (quick mode: one, each JAX case compiles its step).
BN_WIDTHS = (50,) if QUICK else WIDTHS
BATCHES = (50, 100) if QUICK else (50, 100, 200, 500, 1000)
#: Hidden width of the batch sweep.
BATCH_SWEEP_WIDTH = 256
IMPLS = ("handprop", "torch", "jax")
#: The pool (batch 1000 needs at least 2 batches; POOL is 200 in quick mode).
POOL = 200 if QUICK else 10_000


def sweep_config(hidden: int, batch: int, batchnorm: bool = False) -> TrainConfig:
    return config_from_dict(dict(
        hidden=(hidden,), dtype=DTYPE, lam=LAM, batch_size=batch, flip=True,
        flip_prob=FLIP_PROB, max_shift=MAX_SHIFT, shift_prob=SHIFT_PROB, batchnorm=batchnorm,
    ))  # fmt: skip


def handprop_step(hidden: int, batch: int, batchnorm: bool) -> tuple[Any, tuple[Any, ...]]:
    """``make_step`` and its arguments ``(state, 1)``: the state after step 0."""
    config = sweep_config(hidden, batch, batchnorm)
    X, y = synthetic_pool(DTYPE, POOL)
    step = make_step(config, Dataset(X, y, CLASS_NAMES))
    return step, (step(TrainState(init_params(config)), 0), 1)


def torch_step(hidden: int, batch: int, batchnorm: bool) -> tuple[Any, tuple[Any, ...]]:
    import torch

    X, y = synthetic_pool(DTYPE, POOL)
    idx = torch.from_numpy(np.random.default_rng(0).permutation(len(X))[:batch])
    net = TorchNet(hidden, DTYPE, LAM, batchnorm=batchnorm)
    return net.step, (torch.from_numpy(X), torch.from_numpy(y), idx, ETA)


def jax_step(hidden: int, batch: int, batchnorm: bool) -> tuple[Any, tuple[Any, ...]]:
    """A callable running one jitted step (:meth:`bench.jax_ref.Network.sgd_step`: the
    network, augmentation and L2 cost of ``jax_ref``, plain SGD) on a fixed batch of the
    pool, carrying parameters, running averages and key between calls."""
    import jax
    import jax.numpy as jnp

    config = sweep_config(hidden, batch, batchnorm)
    X, y = synthetic_pool(DTYPE, POOL)
    net = jax_ref.Network(jax, jnp, config)
    params, stats = jax.tree_util.tree_map(
        jnp.asarray, jax_ref.init_params(config, X.shape[1], N_CLASSES)
    )

    @jax.jit
    def step(p: Any, s: Any, key: Any, Xt: Any, yt: Any, idx: Any, eta: Any) -> Any:
        key, k_step = jax.random.split(key)
        p, s, value = net.sgd_step(config, p, s, Xt[idx], yt[idx], k_step, eta)
        return p, s, key, value

    data = (jnp.asarray(X), jnp.asarray(y.astype(np.int32)))
    idx = jnp.asarray(np.random.default_rng(0).permutation(len(X))[:batch].astype(np.int32))
    carry = [params, stats, jax.random.PRNGKey(0)]

    def run() -> float:
        p, s, key, value = step(*carry, *data, idx, np.float32(ETA))
        carry[:] = [p, s, key]
        jax.block_until_ready(carry[0])
        return float(value)

    return run, ()


STEPS = {"handprop": handprop_step, "torch": torch_step, "jax": jax_step}


def _measure(measure: Measure, impl: str, hidden: int, batch: int, sweep: str, x: int) -> None:
    if impl == "jax" and not jax_ref.available():
        pytest.skip("JAX is not installed (pip install '.[bench]')")
    fn, args = STEPS[impl](hidden, batch, sweep == "width-bn")
    measure(
        fn, *args, case=f"scaling {sweep} {x}", impl=impl, dtype=DTYPE,
        flops=step_flops(hidden, n=batch), extra={"sweep": sweep, "x": x},
    )  # fmt: skip


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("hidden", WIDTHS)
def test_bench_scaling_width(measure: Measure, hidden: int, impl: str) -> None:
    _measure(measure, impl, hidden, BATCH, "width", hidden)


@pytest.mark.parametrize("impl", ("handprop", "jax"))
@pytest.mark.parametrize("hidden", BN_WIDTHS)
def test_bench_scaling_width_batchnorm(measure: Measure, hidden: int, impl: str) -> None:
    _measure(measure, impl, hidden, BATCH, "width-bn", hidden)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("batch", BATCHES)
def test_bench_scaling_batch(measure: Measure, batch: int, impl: str) -> None:
    _measure(measure, impl, BATCH_SWEEP_WIDTH, batch, "batch", batch)
