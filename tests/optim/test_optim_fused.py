"""The chains' fused step (:func:`handprop.optim.step`) against their plain composition
(``update`` then ``apply_updates``): bit for bit for SGD and momentum, to rounding for
Adam."""

from __future__ import annotations

import numpy as np
import pytest

from handprop import optim
from handprop.nn.params import Params, params_equal
from handprop.optim import OPTIMIZER_NAMES, apply_updates, make_optimizer
from handprop.train import config_from_dict, init_params
from handprop.verify.optimizers import OPTIMIZER_CASES

SIZES = (7, (5, 4), 3)


def _grads(rng: np.random.Generator, params: Params, dtype=np.float64) -> Params:
    return params.map(lambda a: rng.standard_normal(a.shape).astype(dtype))


def assert_fused_equals_plain(fused: Params, plain: Params, name: str) -> None:
    """Bit for bit for SGD and momentum; Adam's kernel folds ``eta`` into the bias
    correction, so its arrays agree to a few units in the last place."""
    if name not in ("adam", "adamw"):
        assert params_equal(fused, plain)
        return
    eps = np.finfo(plain.dtype).eps
    for a, b in zip(fused.arrays().values(), plain.arrays().values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=8 * eps, atol=8 * eps * np.max(np.abs(b)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", OPTIMIZER_CASES, ids=lambda c: c.label)
def test_fused_step_updates_batchnorm_records_like_update(case, dtype):
    """The fused ``step`` and ``update`` + ``apply_updates`` agree on a batch-normalised
    network: ``gamma`` and ``beta`` are updated like biases (never decayed)."""
    rng = np.random.default_rng(3)
    params = Params(
        init_params(
            config_from_dict(dict(hidden=SIZES[1], dtype=np.dtype(dtype).name, batchnorm=True)),
            SIZES[0],
            SIZES[2],
            seed=1,
        ).layers
    )
    opt = make_optimizer(case.name, 0.05, **case.options)
    fast, state, fast_state = params, opt.init(params), opt.init(params)
    for _ in range(5):
        grads = _grads(rng, params, dtype)
        updates, state = opt.update(grads, state, params)
        params = apply_updates(params, updates)
        fast, fast_state, _ = optim.step(opt, grads, fast_state, fast)
        assert_fused_equals_plain(fast, params, case.name)
    assert list(params.arrays())[2:4] == ["gamma1", "beta1"]
    assert not np.array_equal(params.layers[1].gamma, np.ones(5, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("name", "opts"),
    [(name, {"lam": 0.01}) for name in OPTIMIZER_NAMES]
    + [("sgd", {}), ("nesterov", {"momentum": 0.5}), ("adamw", {"weight_decay": 0.1})],
)
def test_fused_step_equals_update_then_apply(name, opts, dtype, monkeypatch):
    rng = np.random.default_rng(4)
    slow = fast = init_params(
        config_from_dict(dict(hidden=(6, 5), dtype=np.dtype(dtype).name)), 9, 4, seed=0
    )
    slow_state = fast_state = make_optimizer(name, 0.05, **opts).init(slow)
    for t in range(6):
        grads = slow.map(lambda a: rng.standard_normal(a.shape).astype(dtype))
        opt = make_optimizer(name, 0.05 * (t + 1), **opts)
        updates, slow_state = opt.update(grads, slow_state, slow)
        slow = apply_updates(slow, updates)
        with monkeypatch.context() as patch:  # the fused kernel, not the plain composition
            patch.setattr(optim.fused, "apply_updates", None)
            fast, fast_state, _ = optim.step(opt, grads, fast_state, fast)
        assert_fused_equals_plain(fast, slow, name)
        for fast_s, slow_s in zip(fast_state, slow_state, strict=True):
            assert type(fast_s) is type(slow_s)
            for field in ("trace", "m", "v"):
                if hasattr(slow_s, field):
                    assert_fused_equals_plain(getattr(fast_s, field), getattr(slow_s, field), name)
            if hasattr(slow_s, "count"):
                assert fast_s.count == slow_s.count == t + 1


def test_other_chains_run_as_the_plain_composition():
    """A chain with no fused kernel: ``update`` then ``apply_updates``, the L2 term of
    its AddL2."""
    params = init_params(config_from_dict(dict(hidden=(6,), dtype="float64")), 9, 4, seed=0)
    grads = params.map(np.ones_like)
    opt = optim.chain(optim.AddL2(0.1), optim.Trace(0.9), optim.AddDecayedWeights(0.1),
                      optim.Scale(-0.1))  # fmt: skip
    state = opt.init(params)
    new, new_state, penalty = optim.step(opt, grads, state, params)
    updates, expected_state = opt.update(grads, state, params)
    assert params_equal(new, apply_updates(params, updates))
    assert params_equal(new_state[1].trace, expected_state[1].trace)
    assert penalty == pytest.approx(0.1 * sum(np.sum(r.W**2) for r in params.affine))
