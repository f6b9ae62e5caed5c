"""Optimiser chains step for step against ``torch.optim`` (float64), and the fused step
against the plain chain (bit for bit for SGD and momentum, to rounding for Adam)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from handprop import optim
from handprop.errors import ConfigError
from handprop.nn.params import Params, params_equal
from handprop.optim import OPTIMIZER_NAMES, apply_updates, make_optimizer
from handprop.train import config_from_dict, init_params
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
    params = init_params(
        config_from_dict(dict(hidden=SIZES[1], dtype=np.dtype(dtype).name)),
        SIZES[0],
        SIZES[2],
        seed=1,
    )
    fused = params
    state = make_optimizer("sgd", 0.3, lam=lam).init(params)
    for t in range(10):
        grads = _grads(rng, params, dtype)
        opt = make_optimizer("sgd", 0.3 / (t + 1), lam=lam)
        fused = optim.step(opt, grads, state, fused)[0]
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        assert params.dtype == np.dtype(dtype)
        assert params_equal(params, fused)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_update_is_pure(name):
    params = init_params(
        config_from_dict(dict(hidden=SIZES[1], dtype="float64")), SIZES[0], SIZES[2], seed=2
    )
    grads = _grads(np.random.default_rng(0), params)
    opt = make_optimizer(name, 0.1)
    state = opt.init(params)
    before = params.map(np.copy)
    first = opt.update(grads, state, params)
    second = opt.update(grads, state, params)
    assert params_equal(first[0], second[0]) and params_equal(params, before)
    for piece, s1, s2 in zip(opt.pieces, first[1], second[1], strict=True):
        for field in attrs.fields(type(piece.init(params))):
            a, b = getattr(s1, field.name), getattr(s2, field.name)
            assert params_equal(a, b) if isinstance(a, Params) else a == b


@pytest.mark.parametrize(
    ("name", "opts", "field"),
    [
        ("rmsprop", {}, "optimizer must be one of"),
        ("momentum", {"momentum": 1.0}, r"momentum must be in \[0.0, 1.0\)"),
        ("nesterov", {"momentum": -0.1}, "momentum must be in"),
        ("adam", {"beta1": 1.0}, "beta1 must be in"),
        ("adamw", {"beta2": -0.5}, "beta2 must be in"),
        ("adam", {"eps": 0.0}, "eps must be finite and > 0"),
        ("adamw", {"eps": float("nan")}, "eps must be"),
        ("adamw", {"weight_decay": -1.0}, "weight_decay must be in"),
        ("sgd", {"lam": -1.0}, "lam must be in"),
        ("sgd", {"eta": -0.1}, "eta must be in"),
        ("adam", {"eta": float("inf")}, "eta must be in"),
        ("sgd", {"momentum": 0.9}, r"'sgd' has no option 'momentum' \(options: lam\)"),
    ],
)
def test_invalid_hyperparameters_give_one_line_config_errors(name, opts, field):
    opts = {"eta": 0.1, **opts}
    with pytest.raises(ConfigError, match=field) as err:
        make_optimizer(name, **opts)
    assert "\n" not in str(err.value)


def test_fused_sgd_keeps_the_running_averages_and_leaves_gamma_undecayed():
    params = init_params(
        config_from_dict(dict(hidden=SIZES[1], dtype="float64", batchnorm=True)),
        SIZES[0],
        SIZES[2],
        seed=1,
    )
    zero = params.map(np.zeros_like)
    opt = make_optimizer("sgd", 0.1, lam=0.5)
    new, _, penalty = optim.step(opt, zero, opt.init(params), params)
    assert new.stats == params.stats
    np.testing.assert_array_equal(new.layers[1].gamma, params.layers[1].gamma)
    np.testing.assert_allclose(new.layers[0].W, params.layers[0].W * (1 - 0.1 * 2 * 0.5))
    assert penalty == pytest.approx(0.5 * sum(np.sum(r.W**2) for r in params.affine))
