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
from handprop.train.schedules import triangular

STEPS = 25
SIZES = (7, (5, 4), 3)
LAM = 0.05


def _grads(rng: np.random.Generator, params: Params, dtype=np.float64) -> Params:
    return params.map(lambda a: rng.standard_normal(a.shape).astype(dtype))


def _torch_optimizer(name: str, weights, biases, opts: dict, lam: float):
    torch = pytest.importorskip("torch")
    if name in ("sgd", "momentum", "nesterov"):
        extra = {"momentum": opts.get("momentum", 0.0), "nesterov": name == "nesterov"}
        cls = torch.optim.SGD
    else:
        extra = {
            "betas": (opts.get("b1", 0.9), opts.get("b2", 0.999)),
            "eps": opts.get("eps", 1e-8),
        }
        cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    decay = opts.get("weight_decay", 0.0) if name == "adamw" else 2 * lam
    groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
    return cls(groups, lr=1.0, **extra)


CASES = [
    ("sgd", {}, LAM),
    ("momentum", {"momentum": 0.9}, LAM),
    ("momentum", {"momentum": 0.5}, 0.0),
    ("nesterov", {"momentum": 0.9}, LAM),
    ("adam", {}, LAM),
    ("adam", {"b1": 0.8, "b2": 0.99, "eps": 1e-6}, 0.0),
    ("adamw", {"weight_decay": 0.1}, 0.0),
    ("adamw", {"b1": 0.3, "b2": 0.9, "eps": 1e-3, "weight_decay": 0.5}, 0.0),
]


def _max_rel_error(ours: Params, theirs: list) -> float:
    arrays = [a for layer in ours.layers for a in (layer.W, layer.b)]
    return max(
        float(np.max(np.abs(a - t.detach().numpy()) / np.abs(t.detach().numpy())))
        for a, t in zip(arrays, theirs, strict=True)
    )


@pytest.mark.parametrize(("name", "opts", "lam"), CASES)
def test_matches_torch_optim_step_for_step(name, opts, lam):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    params = init_params(*SIZES, seed=3, dtype=np.float64, init="normal_0.01")
    params = params.map(lambda a: a + 0.5 * np.sign(a))  # keep clear of 0 for relative errors
    tensors = [torch.tensor(a, requires_grad=True) for a in params.arrays().values()]
    opt = _torch_optimizer(name, tensors[0::2], tensors[1::2], opts, lam)
    ours = (
        make_optimizer(name, lam=lam, **opts) if name != "adamw" else make_optimizer(name, **opts)
    )
    state = ours.init(params)
    schedule = triangular(1e-3, 0.1, 5)
    worst = 0.0
    for t in range(STEPS):
        grads = _grads(rng, params)
        lr = schedule(t)
        for tensor, g in zip(tensors, grads.arrays().values(), strict=True):
            tensor.grad = torch.tensor(g)
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        updates, state = ours.update(grads, state, params, lr)
        params = apply_updates(params, updates)
        worst = max(worst, _max_rel_error(params, tensors))
    print(f"{name} {opts} lam={lam}: max relative error {worst:.2e}")
    assert worst <= 1e-12


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
