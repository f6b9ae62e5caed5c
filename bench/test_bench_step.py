"""One training step (gather, augment, forward, backward, update), batch 100: handprop vs PyTorch.

The step augments with flip + translate like the improvements run; handprop's is
:func:`handprop.train.make_step` itself, timed one epoch in (the shuffle is done). The
batch-norm variant puts a batch norm between the hidden affine layer and its ReLU
(PyTorch: ``torch.nn.BatchNorm1d``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.conftest import Measure
from bench.workloads import (
    BATCH,
    DTYPES,
    FLIP_PROB,
    HIDDEN,
    MAX_SHIFT,
    N_CLASSES,
    SHIFT_PROB,
    TorchNet,
    step_flops,
    synthetic_pool,
)
from handprop.data import Dataset
from handprop.train import TrainConfig, TrainState, config_from_dict, init_params, make_step

LAM, ETA = 1e-3, 0.01
CLASS_NAMES = tuple(f"class{k}" for k in range(N_CLASSES))


def step_config(hidden: int, dtype: str, batchnorm: bool = False) -> TrainConfig:
    return config_from_dict(dict(
        hidden=(hidden,), dtype=dtype, lam=LAM, batch_size=BATCH, flip=True,
        flip_prob=FLIP_PROB, max_shift=MAX_SHIFT, shift_prob=SHIFT_PROB, batchnorm=batchnorm,
    ))  # fmt: skip


def handprop_step(hidden: int, dtype: str, batchnorm: bool = False) -> tuple[Any, tuple[Any, ...]]:
    """``step`` and its arguments ``(state, 1)``: the state after step 0."""
    config = step_config(hidden, dtype, batchnorm)
    X, y = synthetic_pool(dtype)
    step = make_step(config, Dataset(X, y, CLASS_NAMES))
    return step, (step(TrainState(init_params(config)), 0), 1)


def torch_step(hidden: int, dtype: str, batchnorm: bool = False) -> tuple[Any, tuple[Any, ...]]:
    """:meth:`TorchNet.step` and its arguments on the same pool."""
    import torch

    X, y = synthetic_pool(dtype)
    idx = torch.from_numpy(np.random.default_rng(0).permutation(len(X))[:BATCH])
    net = TorchNet(hidden, dtype, LAM, batchnorm=batchnorm)
    return net.step, (torch.from_numpy(X), torch.from_numpy(y), idx, ETA)


@pytest.mark.parametrize("impl", ("handprop", "torch"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_bench_step(measure: Measure, hidden: int, dtype: str, impl: str) -> None:
    fn, args = (handprop_step if impl == "handprop" else torch_step)(hidden, dtype)
    measure(
        fn, *args, case=f"train step m={hidden}", impl=impl, flops=step_flops(hidden), dtype=dtype
    )


@pytest.mark.parametrize("impl", ("handprop", "torch"))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_bench_step_batchnorm(measure: Measure, hidden: int, dtype: str, impl: str) -> None:
    fn, args = (handprop_step if impl == "handprop" else torch_step)(hidden, dtype, True)
    measure(
        fn, *args, case=f"batchnorm step m={hidden}", impl=impl, flops=step_flops(hidden),
        dtype=dtype,
    )  # fmt: skip
