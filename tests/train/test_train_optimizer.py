"""The optimiser and label-smoothing fields of the config, wired into the training step."""

from __future__ import annotations

import numpy as np
import pytest

from handprop import optim
from handprop.errors import ConfigError
from handprop.nn import params_equal
from handprop.nn.network import cross_entropy_and_gradients
from handprop.train import config_from_dict, init_params, train
from handprop.train.loop import initial_state, make_step


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"optimizer.name": "rmsprop"}, r"optimizer\.name must be one of sgd, momentum, nesterov"),
        ({"optimizer.momentum": 1.0}, r"optimizer\.momentum must be a number in \[0, 1\)"),
        ({"optimizer.beta2": -0.1}, r"optimizer\.beta2 must be a number in \[0, 1\)"),
        ({"optimizer.eps": 0}, r"optimizer\.eps must be a number in \(0, inf\)"),
        ({"optimizer.label_smoothing": 1}, r"optimizer\.label_smoothing must be a number in"),
        ({"optimizer.weight_decay": 0.1}, r"optimizer\.weight_decay is decoupled weight decay"),
    ],
)
def test_bad_optimizer_settings_are_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message) as err:
        config_from_dict(values)
    assert "\n" not in str(err.value)


def test_the_optimiser_is_named_by_its_dotted_key():
    config = config_from_dict({"optimizer.name": "nesterov", "momentum": 0.8, "run.name": "run"})
    assert (config.optimizer.name, config.optimizer.momentum) == ("nesterov", 0.8)
    assert config.run.name == "run"


@pytest.mark.parametrize("name", ["momentum", "nesterov", "adam", "adamw"])
def test_the_step_applies_the_configured_optimiser(name, splits32):
    extra = {"weight_decay": 1e-2} if name == "adamw" else {}
    config = config_from_dict(
        {"hidden": [8], "n_s": 4, "lam": 1e-3, "optimizer.name": name, "shuffle": False, **extra}
    )
    params = init_params(config)
    state = initial_state(config, params)
    step = make_step(config, splits32.train)
    after = step(step(state, 0), 1)

    schedule = config.make_schedule(len(splits32.train.y))
    expected, opt_state = params, state.opt_state
    for t in range(2):
        rows = slice(t * 100, (t + 1) * 100)
        X, y = splits32.train.X[rows], splits32.train.y[rows]
        _, grads = cross_entropy_and_gradients(expected, X, y)
        opt = optim.make_optimizer(name, schedule(t), **config.optimizer.options())
        expected, opt_state, _ = optim.step(opt, grads, opt_state, expected)
    assert params_equal(after.params, expected)
    assert type(after.opt_state) is type(opt_state)


def test_label_smoothing_changes_the_training_loss_not_the_evaluation(splits32):
    base = config_from_dict({"hidden": [8], "n_s": 4, "n_cycles": 1, "shuffle": False})
    smooth = base.with_values({"optimizer.label_smoothing": 0.2})
    params = init_params(base)
    b = make_step(smooth, splits32.train)(initial_state(smooth, params), 0)
    X, y = splits32.train.X[:100], splits32.train.y[:100]
    assert b.loss == cross_entropy_and_gradients(params, X, y, smoothing=0.2)[0]
    assert b.loss != cross_entropy_and_gradients(params, X, y)[0]
    ra, rb = train(params, base, data=splits32), train(params, smooth, data=splits32)
    # the probe reports the plain cross-entropy of the same initial parameters
    assert ra.history.rows[0].val_loss == rb.history.rows[0].val_loss
    assert not params_equal(ra.params, rb.params)


def test_sgd_by_name_is_the_default_step(splits32):
    config = config_from_dict({"hidden": [8], "n_s": 4, "lam": 1e-3, "dropout": 0.2})
    params = init_params(config)
    full = train(params, config, data=splits32)
    again = train(params, config.with_values({"optimizer.name": "sgd"}), data=splits32)
    assert params_equal(full.params, again.params)


def test_batchnorm_training_moves_running_averages_and_checks_the_parameters(splits32):
    from handprop.errors import ConfigError

    config = config_from_dict(
        {"hidden": [8, 6], "batchnorm": True, "bn_momentum": 0.3, "n_s": 4, "dropout": 0.2}
    )
    params = init_params(config)
    assert len(params.norms) == len(params.stats) == 2
    result = train(params, config, data=splits32)
    assert result.status == "completed"
    assert all(np.all(s.var != 1) for s in result.params.stats)
    assert result.params.layers[1].gamma.dtype == np.float32
    plain = config.with_values({"model.batchnorm": False})
    with pytest.raises(ConfigError, match=r"model\.batchnorm is false but the parameters have"):
        train(params, plain, data=splits32)
    with pytest.raises(ConfigError, match=r"model\.batchnorm is true but the parameters have no"):
        train(init_params(plain), config, data=splits32)
    with pytest.raises(ConfigError, match=r"model\.bn_eps is 0\.001 but .* have eps 1e-05"):
        train(params, config.with_values({"model.bn_eps": 1e-3}), data=splits32)
