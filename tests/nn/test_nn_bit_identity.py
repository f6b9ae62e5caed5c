"""Gradients and short training runs reproduce recorded results bit for bit.

``data/bit_identity.json`` holds sha256 hashes, never re-recorded: the gradients of the
packaged training configs on fixed inputs, and the final parameters of shortened
real-data runs of ``baseline`` and ``wide_flip_translate_dropout``.
Float32 matrix products round differently with each OpenBLAS kernel and thread count, so
the hashes are kept per BLAS environment (``openblas-<kernel>-<threads>``, as
threadpoolctl names it; recorded for SkylakeX, the kernel OpenBLAS picks on this
machine, and Haswell, the one it runs when the image sets ``OPENBLAS_CORETYPE``); in
another environment the tests skip and say which one it is.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from handprop.kernels.dropout import dropout_mask
from handprop.nn import Params, gradients
from handprop.train import (
    config_from_dict,
    init_params,
    load_config,
    load_data,
    train,
    training_config_names,
)

STORED = json.loads((Path(__file__).parent / "data" / "bit_identity.json").read_text())


def blas_environment() -> str:
    """``openblas-SkylakeX-2``: NumPy's BLAS library, kernel and thread count."""
    blas = [i for i in threadpool_info() if i["user_api"] == "blas"]
    if len(blas) != 1:
        return "unknown"
    info = blas[0]
    return f"{info['internal_api']}-{info.get('architecture')}-{info['num_threads']}"


ENVIRONMENT = blas_environment()
HASHES = STORED["environments"].get(ENVIRONMENT, next(iter(STORED["environments"].values())))
TRAINING_CONFIGS = training_config_names()
#: The configs with recorded gradient hashes (configs added since have none).
RECORDED = sorted(HASHES["gradients"])

#: The hashes were recorded with the compiled kernels; run as plain Python (the nojit env)
#: they match their NumPy twins to rounding, not bit for bit.
pytestmark = [
    pytest.mark.skipif(
        os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
        reason="hashes recorded with the compiled Numba kernels",
    ),
    pytest.mark.skipif(
        ENVIRONMENT not in STORED["environments"],
        reason=f"no hashes recorded for the BLAS environment {ENVIRONMENT}",
    ),
]


def digest(params: Params) -> str:
    """sha256 over every array's name, dtype and bytes, in ``W1, b1, ...`` order."""
    h = hashlib.sha256()
    for name, a in params.arrays().items():
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def test_every_recorded_config_is_still_packaged():
    assert set(RECORDED) <= set(TRAINING_CONFIGS)


@pytest.mark.parametrize("name", RECORDED)
def test_gradients_are_bit_identical(name):
    config = load_config(name)
    model = config.model
    rng = np.random.default_rng(1234)
    n, d = 16, 3072
    X = rng.standard_normal((n, d)).astype(model.dtype)
    y = rng.integers(0, 10, n)
    params = init_params(
        config_from_dict(dict(hidden=model.hidden, dtype=model.dtype, init=model.init)),
        d,
        10,
        seed=7,
    )
    masks = None
    if model.dropout:
        masks = [
            dropout_mask(rng, (n, m), model.dropout, np.dtype(model.dtype)) for m in model.hidden
        ]
    lam = config.optimizer.lam or 1e-3
    assert digest(gradients(params, X, y, lam, masks)) == HASHES["gradients"][name]


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(HASHES["runs"]))
def test_short_real_data_runs_are_bit_identical(name, cifar10):
    run = HASHES["runs"][name]
    config = load_config(name).with_overrides(run["set"])
    result = train(init_params(config), config, data=load_data(config))
    assert result.status == "completed"
    assert digest(result.params) == run["params_sha256"]
