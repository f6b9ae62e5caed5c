"""Batch norm wired into the network: gradients of a whole batch-normalised network against
PyTorch (float64), running averages, evaluation mode, parameter records and files, and the
one-line errors (a batch of one, bad momentum or eps)."""

from __future__ import annotations

import numpy as np
import pytest

from handprop import verify as gc
from handprop.errors import ConfigError, DataError
from handprop.nn import params_equal
from handprop.nn.architecture import decayed_arrays
from handprop.nn.network import scores, training_gradients
from handprop.nn.params import NormParams, Params, Stats
from handprop.train import config_from_dict, init_params, load_params, save_params

#: Two hidden layers, dropout, L2 and label smoothing.
BN_CASE = gc.CheckCase((40, 20), lam=0.02, dropout=0.3, smoothing=0.1, batchnorm=True)


def test_batchnorm_network_gradients_match_torch_and_finite_differences():
    pytest.importorskip("torch")
    X, y = gc.random_rows(24, seed=3)
    rows = gc.gradcheck_table([BN_CASE], X, y, fd_coords=6, seed=3)
    names = [r.param for r in rows]
    assert names == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert max(r.torch_abs for r in rows) <= 1e-12
    assert gc.failures(rows) == []
    # the biases feeding a batch norm have no effect on the cost: no finite differences
    assert {r.param for r in rows if r.fd_count == 0} == {"b1", "b2"}


def test_a_wrong_batchnorm_gradient_fails_the_check(monkeypatch):
    pytest.importorskip("torch")
    from handprop.nn import layers

    def no_stat_terms(dout, cache):
        xhat, gamma, inv_std, _ = cache
        return dout * gamma * inv_std, np.sum(dout * xhat, axis=0), dout.sum(axis=0)

    monkeypatch.setattr(layers, "batchnorm_backward", no_stat_terms)
    X, y = gc.random_rows(8, d=12, seed=0)
    rows = gc.gradcheck_table([gc.CheckCase((6,), batchnorm=True)], X, y, seed=0)
    assert any("W1: torch max abs" in m for m in gc.failures(rows))


def test_running_averages_follow_torch_and_evaluation_uses_them():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    params = init_params(
        config_from_dict(dict(hidden=(7,), dtype="float64", batchnorm=True, bn_eps=1e-3)),
        12,
        3,
        seed=1,
    )
    X, y = rng.standard_normal((9, 12)), rng.integers(0, 3, 9)
    stats = training_gradients(params, X, y)[2]
    bn = torch.nn.BatchNorm1d(7, eps=1e-3, momentum=0.1, dtype=torch.float64)
    bn.train()
    bn(torch.tensor(X @ params.layers[0].W + params.layers[0].b))
    np.testing.assert_allclose(stats[0].mean, bn.running_mean.numpy(), rtol=0, atol=1e-15)
    np.testing.assert_allclose(stats[0].var, bn.running_var.numpy(), rtol=0, atol=1e-15)

    trained = params.with_stats(stats)
    # evaluation: the running averages, so a row scores the same alone or in a batch
    # (up to the rounding of a one-row matrix product)
    np.testing.assert_allclose(scores(trained, X[:1]), scores(trained, X)[:1], atol=1e-15)
    bn.eval()
    p = trained.layers
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(p[1].gamma))
        bn.bias.copy_(torch.tensor(p[1].beta))
        h = torch.relu(bn(torch.tensor(X @ p[0].W + p[0].b))).numpy()
    np.testing.assert_allclose(scores(trained, X), h @ p[2].W + p[2].b, rtol=0, atol=1e-13)


def test_batch_of_one_is_a_one_line_error_in_training_not_in_evaluation():
    params = init_params(
        config_from_dict(dict(hidden=(4,), dtype="float64", batchnorm=True)), 5, 3, seed=0
    )
    X, y = np.ones((1, 5)), np.zeros(1, np.int64)
    with pytest.raises(ConfigError, match="batch of at least 2, got 1") as err:
        training_gradients(params, X, y)
    assert "\n" not in str(err.value)
    assert scores(params, X).shape == (1, 3)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"batch_size": 1}, r"optimizer\.batch_size must be >= 2 with model\.batchnorm"),
        ({"bn_momentum": 0}, r"model\.bn_momentum must be a number in \(0, 1\), got 0"),
        ({"bn_momentum": 1.0}, r"model\.bn_momentum must be a number in \(0, 1\)"),
        ({"bn_eps": 0.0}, r"model\.bn_eps must be a number in \(0, inf\)"),
        ({"hidden": []}, r"model\.batchnorm needs hidden layers"),
        ({"batchnorm": "yes"}, r"model\.batchnorm must be true or false"),
    ],
)
def test_bad_batchnorm_settings_are_one_line_config_errors(values, message):
    with pytest.raises(ConfigError, match=message) as err:
        config_from_dict({"batchnorm": True, **values})
    assert "\n" not in str(err.value)


def test_batchnorm_off_by_default_and_params_without_it_unchanged():
    config = config_from_dict({})
    assert (config.model.batchnorm, config.model.bn_momentum, config.model.bn_eps) == (
        False,
        0.1,
        1e-5,
    )
    plain = init_params(config_from_dict(dict(hidden=(5, 4))), 6, 3, seed=2)
    normed = init_params(config_from_dict(dict(hidden=(5, 4), batchnorm=True)), 6, 3, seed=2)
    assert plain.stats == () and plain.norms == ()
    assert [type(r) for r in normed.layers[1::2]] == [NormParams, NormParams]
    assert params_equal(Params(normed.affine), plain)  # the same weights: no extra draws
    assert normed.sizes == plain.sizes and normed.hidden == (5, 4)
    assert [s.eps.dtype for s in normed.stats] == [np.float32] * 2
    # L2 on the weights only
    assert [a.shape for a in decayed_arrays(normed)] == [(6, 5), (5, 4), (4, 3)]


def test_gradient_records_have_the_trained_arrays_only():
    params = init_params(
        config_from_dict(dict(hidden=(5,), dtype="float64", batchnorm=True)), 6, 3, seed=2
    )
    X, y = np.random.default_rng(0).standard_normal((4, 6)), np.array([0, 1, 2, 0])
    grads = training_gradients(params, X, y, 0.1)[1]
    assert list(grads.arrays()) == ["W1", "b1", "gamma1", "beta1", "W2", "b2"]
    trained = Params(params.layers).arrays()
    assert {k: g.shape for k, g in grads.arrays().items()} == {
        k: a.shape for k, a in trained.items()
    }


def test_parameter_files_hold_the_running_averages(tmp_path):
    params = init_params(config_from_dict(dict(hidden=(5, 4), batchnorm=True)), 6, 3, seed=2)
    moved = params.with_stats(Stats(s.mean + 1, s.var * 2, s.eps) for s in params.stats)
    path = tmp_path / "params.npz"
    save_params(moved, path)
    loaded = load_params(path, moved.sizes, np.float32)
    assert params_equal(loaded, moved)
    assert float(loaded.stats[1].eps) == np.float32(1e-5)
    old = tmp_path / "old.npz"  # written without batch norms: loads as before
    save_params(Params(params.affine), old)
    assert load_params(old, params.sizes, np.float32).norms == ()
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: a for k, a in moved.arrays().items() if k != "var2"})
    with pytest.raises(DataError, match="expected W1, b1, gamma1"):
        load_params(partial, moved.sizes, np.float32)


def test_records_reject_inconsistent_batch_norms():
    params = init_params(config_from_dict(dict(hidden=(5,), batchnorm=True)), 6, 3, seed=0)
    layer, norm, out = params.layers
    with pytest.raises(ValueError, match="expects"):
        Params((layer, NormParams(np.ones(4, np.float32), np.zeros(4, np.float32)), out))
    with pytest.raises(ValueError, match="running averages"):
        Params(params.layers, params.stats * 2)
    with pytest.raises(ValueError, match="output layer must be affine"):
        Params((layer, norm))
