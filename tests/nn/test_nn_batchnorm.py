"""Batch normalisation pair against ``torch.nn.BatchNorm1d`` (float64), and a two-hidden-layer
stack built from the layer pairs by hand against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest

from handprop.errors import ConfigError
from handprop.kernels.dropout import dropout_mask
from handprop.nn import layers as L
from handprop.verify import max_errors

TOL = 1e-12


def _inputs(seed: int, n: int, m: int):
    rng = np.random.default_rng(seed)
    x = 2.0 * rng.standard_normal((n, m)) + rng.standard_normal(m)
    gamma, beta = 1.0 + 0.3 * rng.standard_normal(m), 0.3 * rng.standard_normal(m)
    return rng, x, gamma, beta


def _torch_bn(m: int, gamma, beta, momentum: float, eps: float):
    torch = pytest.importorskip("torch")
    bn = torch.nn.BatchNorm1d(m, eps=eps, momentum=momentum, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
    return torch, bn


def _check(name: str, ours, theirs) -> None:
    abs_err, rel_err = max_errors(np.asarray(ours), theirs.detach().numpy())
    print(f"{name}: max abs {abs_err:.1e}, max rel {rel_err:.1e}")
    assert abs_err <= TOL


@pytest.mark.parametrize(("n", "m"), [(2, 3), (16, 7), (100, 50)])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_matches_torch_batchnorm1d_over_several_steps(n, m, momentum):
    eps = 1e-5
    rng, _, gamma, beta = _inputs(n * m, n, m)
    torch, bn = _torch_bn(m, gamma, beta, momentum, eps)
    mean, var = np.zeros(m), np.ones(m)
    for step in range(4):
        x = 2.0 * rng.standard_normal((n, m)) + step
        dout = rng.standard_normal((n, m))
        out, cache, mean, var = L.batchnorm_forward(
            x, gamma, beta, mean, var, training=True, momentum=momentum, eps=eps
        )
        dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)
        bn.zero_grad()
        tx = torch.tensor(x, requires_grad=True)
        t_out = bn.train()(tx)
        t_out.backward(torch.tensor(dout))
        _check("out", out, t_out)
        _check("dx", dx, tx.grad)
        _check("dgamma", dgamma, bn.weight.grad)
        _check("dbeta", dbeta, bn.bias.grad)
        _check("running_mean", mean, bn.running_mean)
        _check("running_var", var, bn.running_var)
    # evaluation mode: the running averages normalise, and stay as they are
    x, dout = rng.standard_normal((n, m)), rng.standard_normal((n, m))
    out, cache, mean2, var2 = L.batchnorm_forward(x, gamma, beta, mean, var, training=False)
    assert mean2 is mean and var2 is var
    dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)
    bn.zero_grad()
    tx = torch.tensor(x, requires_grad=True)
    t_out = bn.eval()(tx)
    t_out.backward(torch.tensor(dout))
    for name, a, b in (("eval out", out, t_out), ("eval dx", dx, tx.grad)):
        _check(name, a, b)
    _check("eval dgamma", dgamma, bn.weight.grad)
    _check("eval dbeta", dbeta, bn.bias.grad)


@pytest.mark.parametrize("training", [True, False])
def test_backward_matches_finite_differences(training, numgrad):
    _, x, gamma, beta = _inputs(4, 5, 3)
    mean, var = np.full(3, 0.2), np.full(3, 1.5)
    G = np.random.default_rng(9).standard_normal((5, 3))

    def f() -> float:
        out = L.batchnorm_forward(x, gamma, beta, mean, var, training=training)[0]
        return float(np.sum(out * G))

    cache = L.batchnorm_forward(x, gamma, beta, mean, var, training=training)[1]
    for analytic, arr in zip(L.batchnorm_backward(G, cache), (x, gamma, beta), strict=True):
        np.testing.assert_allclose(analytic, numgrad(f, arr), rtol=1e-6, atol=1e-8)


def test_inputs_are_not_modified():
    _, x, gamma, beta = _inputs(1, 6, 4)
    mean, var = np.zeros(4), np.ones(4)
    arrays = (x, gamma, beta, mean, var)
    before = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False
    out, cache, _, _ = L.batchnorm_forward(x, gamma, beta, mean, var, training=True)
    dout = np.ones_like(out)
    dout.flags.writeable = False
    L.batchnorm_backward(dout, cache)
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_batch_of_one_in_training_is_refused():
    x, ones = np.ones((1, 3)), np.ones(3)
    with pytest.raises(ConfigError, match="batch of at least 2, got 1") as err:
        L.batchnorm_forward(x, ones, ones, ones, ones, training=True)
    assert "\n" not in str(err.value)
    out = L.batchnorm_forward(x, ones, ones, 0 * ones, ones, training=False, eps=1.0)[0]
    np.testing.assert_allclose(out, ones[None] / np.sqrt(2.0) + 1)


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"momentum": 1.5}, "momentum must be in"), ({"eps": 0.0}, "eps must be finite and > 0")],
)
def test_invalid_hyperparameters_are_refused(kw, match):
    ones = np.ones(2)
    with pytest.raises(ConfigError, match=match):
        L.batchnorm_forward(np.ones((3, 2)), ones, ones, ones, ones, training=True, **kw)


def _stack_cost_and_grads(p: dict, X, y, masks, lam: float, smoothing: float):
    """affine -> BN -> ReLU -> dropout, twice, then affine -> softmax cross-entropy + L2."""
    h, caches = X, []
    for i in (1, 2):
        a, ac = L.affine_forward(h, p[f"W{i}"], p[f"b{i}"])
        bnout, bc, _, _ = L.batchnorm_forward(
            a, p[f"g{i}"], p[f"be{i}"], np.zeros(a.shape[1]), np.ones(a.shape[1]), training=True
        )
        r, rc = L.relu_forward(bnout)
        h, dc = L.dropout_forward(r, masks[i - 1])
        caches.append((ac, bc, rc, dc))
    scores, ac3 = L.affine_forward(h, p["W3"], p["b3"])
    loss, xc = L.softmax_cross_entropy_forward(scores, y, smoothing)
    Ws = (p["W1"], p["W2"], p["W3"])
    cost = loss + L.l2_penalty(Ws, lam)
    grads = {}
    dh, grads["W3"], grads["b3"] = L.affine_backward(L.softmax_cross_entropy_backward(xc), ac3)
    for i in (2, 1):
        ac, bc, rc, dc = caches[i - 1]
        d = L.relu_backward(L.dropout_backward(dh, dc), rc)
        d, grads[f"g{i}"], grads[f"be{i}"] = L.batchnorm_backward(d, bc)
        dh, grads[f"W{i}"], grads[f"b{i}"] = L.affine_backward(d, ac)
    for i, W in enumerate(Ws, start=1):
        grads[f"W{i}"] = grads[f"W{i}"] + L.l2_backward(W, lam)
    return cost, grads


def _torch_stack(p: dict, X, y, masks, lam: float, smoothing: float):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    t = {k: torch.tensor(v, requires_grad=True) for k, v in p.items()}
    h = torch.tensor(X)
    for i in (1, 2):
        a = h @ t[f"W{i}"] + t[f"b{i}"]
        m = a.shape[1]
        running = (torch.zeros(m, dtype=torch.float64), torch.ones(m, dtype=torch.float64))
        a = F.batch_norm(a, *running, t[f"g{i}"], t[f"be{i}"], training=True, eps=1e-5)
        h = torch.relu(a) * torch.tensor(masks[i - 1])
    scores = h @ t["W3"] + t["b3"]
    loss = F.cross_entropy(scores, torch.tensor(y), label_smoothing=smoothing)
    cost = loss + lam * sum((t[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    cost.backward()
    return cost.item(), {k: v.grad for k, v in t.items()}


@pytest.mark.parametrize(("lam", "rate", "smoothing"), [(0.0, 0.0, 0.0), (0.1, 0.3, 0.1)])
def test_bn_stack_gradients_match_torch_autograd(lam, rate, smoothing):
    rng = np.random.default_rng(21)
    n, sizes = 32, (20, 16, 12, 10)
    p = {}
    for i in (1, 2, 3):
        p[f"W{i}"] = rng.standard_normal(sizes[i - 1 : i + 1]) / np.sqrt(sizes[i - 1])
        p[f"b{i}"] = 0.1 * rng.standard_normal(sizes[i])
    for i in (1, 2):
        p[f"g{i}"] = 1.0 + 0.2 * rng.standard_normal(sizes[i])
        p[f"be{i}"] = 0.2 * rng.standard_normal(sizes[i])
    X, y = rng.standard_normal((n, sizes[0])), rng.integers(0, 10, n)
    masks = [dropout_mask(rng, (n, m), rate, np.float64) for m in sizes[1:3]]
    cost, grads = _stack_cost_and_grads(p, X, y, masks, lam, smoothing)
    t_cost, t_grads = _torch_stack(p, X, y, masks, lam, smoothing)
    assert abs(cost - t_cost) <= TOL * abs(t_cost)
    for name in p:
        _check(f"stack {name}", grads[name], t_grads[name])
