"""Optimiser transformations step for step against ``torch.optim`` (float64), and plain SGD
bit for bit against the fused training update."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from handprop.errors import ConfigError
from handprop.nn.params import Params, init_params, params_equal
from handprop.optim import OPTIMIZER_NAMES, apply_updates, make_optimizer
from handprop.train.loop import sgd_l2_step
from handprop.verify.optimizers import OPTIMIZER_CASES, check_optimizer

STEPS = 25
SIZES = (7, (5, 4), 3)


def _grads(rng: np.random.Generator, params: Params, dtype=np.float64) -> Params:
    return params.map(lambda a: rng.standard_normal(a.shape).astype(dtype))


@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=lambda c: c.label)
def test_matches_torch_optim_step_for_step(case):
    pytest.importorskip("torch")
    row = check_optimizer(case, steps=STEPS)
    print(f"{case.label}: max relative error {row.max_rel:.2e}")
    assert row.max_rel <= 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lam", [0.0, 0.01, 1.0])
def test_sgd_is_bit_identical_to_the_fused_step(dtype, lam):
    rng = np.random.default_rng(5)
    params = init_params(*SIZES, seed=1, dtype=dtype)
    fused = params
    opt = make_optimizer("sgd", lam=lam)
    state = opt.init(params)
    for t in range(10):
        grads = _grads(rng, params, dtype)
        eta = 0.3 / (t + 1)
        fused = sgd_l2_step(fused, grads, eta, lam)[0]
        updates, state = opt.update(grads, state, params, eta)
        params = apply_updates(params, updates)
        assert params.dtype == np.dtype(dtype)
        assert params_equal(params, fused)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_update_is_pure(name):
    params = init_params(*SIZES, seed=2, dtype=np.float64)
    grads = _grads(np.random.default_rng(0), params)
    opt = make_optimizer(name)
    state = opt.init(params)
    before = params.map(np.copy)
    first = opt.update(grads, state, params, 0.1)
    second = opt.update(grads, state, params, 0.1)
    assert params_equal(first[0], second[0]) and params_equal(params, before)
    for field in attrs.fields(type(state)):
        a, b = getattr(first[1], field.name), getattr(second[1], field.name)
        assert params_equal(a, b) if isinstance(a, Params) else a == b


@pytest.mark.parametrize(
    ("name", "opts", "field"),
    [
        ("rmsprop", {}, "optimizer must be one of"),
        ("momentum", {"momentum": 1.0}, r"momentum must be in \[0.0, 1.0\)"),
        ("nesterov", {"momentum": -0.1}, "momentum must be in"),
        ("adam", {"b1": 1.0}, "b1 must be in"),
        ("adamw", {"b2": -0.5}, "b2 must be in"),
        ("adam", {"eps": 0.0}, "eps must be finite and > 0"),
        ("adamw", {"eps": float("nan")}, "eps must be"),
        ("adamw", {"weight_decay": -1.0}, "weight_decay must be in"),
        ("sgd", {"lam": -1.0}, "lam must be in"),
        ("sgd", {"momentum": 0.9}, r"'sgd' has no option 'momentum' \(options: lam\)"),
    ],
)
def test_invalid_hyperparameters_give_one_line_config_errors(name, opts, field):
    with pytest.raises(ConfigError, match=field) as err:
        make_optimizer(name, **opts)
    assert "\n" not in str(err.value)
