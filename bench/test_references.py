"""The references compute what handprop computes: the JAX network (:mod:`bench.jax_ref`) and
the PyTorch one (:class:`bench.workloads.TorchNet`) give handprop's cost, gradients and new
running averages on one batch of a batch-normalised two-hidden-layer network with label
smoothing; and every entry of ``bench/targets.toml`` reads.

These are checks, not timings: they run in quick and full mode alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from bench import jax_ref
from bench.report import MEASURES, load_targets
from bench.workloads import D_IN, N_CLASSES
from handprop.nn import AffineParams
from handprop.nn.network import training_gradients
from handprop.train import config_from_dict, init_params

HIDDEN, LAM, SMOOTHING, N = (16, 8), 1e-2, 0.1, 20


def _case() -> tuple[Any, Any, np.ndarray, np.ndarray]:
    """``(config, params, X, y)`` with gamma and beta away from their initial 1 and 0."""
    config = config_from_dict(dict(
        hidden=HIDDEN, dtype="float64", lam=LAM, label_smoothing=SMOOTHING, batchnorm=True,
    ))  # fmt: skip
    params = init_params(config, D_IN, N_CLASSES, seed=0)
    rng = np.random.default_rng(1)
    layers = [
        r if isinstance(r, AffineParams) else type(r)(1 + 0.1 * rng.standard_normal(r.gamma.shape),
                                               0.1 * rng.standard_normal(r.beta.shape))
        for r in params.layers
    ]  # fmt: skip
    X = rng.standard_normal((N, D_IN))
    return config, type(params)(layers, params.stats), X, rng.integers(0, N_CLASSES, N)


def _handprop(params: Any, X: np.ndarray, y: np.ndarray) -> tuple[float, list[np.ndarray], list]:
    """``(cost, gradient arrays in layer order, [running mean, running var] per norm)``."""
    loss, grads, stats = training_gradients(params, X, y, LAM, None, SMOOTHING)
    cost = loss + LAM * sum(np.vdot(r.W, r.W) for r in params.layers if isinstance(r, AffineParams))
    flat = [a for r in grads.layers for a in attrs.astuple(r, recurse=False)]
    return cost, flat, [[s.mean, s.var] for s in stats]


def test_jax_network_computes_handprops_batchnorm_step() -> None:
    if not jax_ref.available():
        pytest.skip("JAX is not installed (pip install '.[bench]')")
    import jax
    import jax.numpy as jnp

    config, params, X, y = _case()
    tree: list[dict[str, Any]] = []
    for r in params.layers:
        if isinstance(r, AffineParams):
            tree.append({"W": r.W, "b": r.b})
        else:
            tree[-1] |= {"gamma": r.gamma, "beta": r.beta}
    stats = [{"mean": s.mean, "var": s.var} for s in params.stats]
    with jax.enable_x64():
        net = jax_ref.Network(jax, jnp, config)
        (cost, moved), grads = jax.value_and_grad(net.cost, has_aux=True)(
            tree, stats, jnp.asarray(X), jnp.asarray(y), jax.random.PRNGKey(0)
        )
        order = [grads[i][k] for i in range(len(tree)) for k in ("W", "b", "gamma", "beta")
                 if k in grads[i]]  # fmt: skip
        ours = _handprop(params, X, y)
        np.testing.assert_allclose(float(cost), ours[0], rtol=1e-10)
        # handprop's records order a hidden layer's W, b, then its norm's gamma, beta
        for got, want in zip(order, ours[1], strict=True):
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-7, atol=1e-12)
        for got, want in zip(moved, ours[2], strict=True):
            np.testing.assert_allclose(np.asarray(got["mean"]), want[0], rtol=1e-10)
            np.testing.assert_allclose(np.asarray(got["var"]), want[1], rtol=1e-10)


def test_torch_network_computes_handprops_batchnorm_step() -> None:
    import torch

    from bench.workloads import TorchNet

    _, params, X, y = _case()
    net = TorchNet(HIDDEN, "float64", LAM, augment=None, smoothing=SMOOTHING, batchnorm=True)
    affine = [r for r in params.layers if isinstance(r, AffineParams)]
    norms = [r for r in params.layers if not isinstance(r, AffineParams)]
    with torch.no_grad():
        for p, value in zip(net.params, (a for r in affine for a in (r.W, r.b)), strict=True):
            p.copy_(torch.from_numpy(value.copy()))
        for bn, r in zip(net.bns, norms, strict=True):
            bn.weight.copy_(torch.from_numpy(r.gamma.copy()))
            bn.bias.copy_(torch.from_numpy(r.beta.copy()))
    _, cost = net.cost(torch.from_numpy(X), torch.from_numpy(y), train=True)
    cost.backward()
    ours = _handprop(params, X, y)
    np.testing.assert_allclose(cost.item(), ours[0], rtol=1e-10)
    got: list[Any] = []
    for i, (W, b) in enumerate(zip(net.params[0::2], net.params[1::2], strict=True)):
        got += [W.grad, b.grad]
        if i < len(net.bns):
            got += [net.bns[i].weight.grad, net.bns[i].bias.grad]
    for g, want in zip(got, ours[1], strict=True):
        np.testing.assert_allclose(g.numpy(), want, rtol=1e-7, atol=1e-12)
    for bn, want in zip(net.bns, ours[2], strict=True):
        np.testing.assert_allclose(bn.running_mean.numpy(), want[0], rtol=1e-10)
        np.testing.assert_allclose(bn.running_var.numpy(), want[1], rtol=1e-10)


def test_targets_file_reads_and_names_known_measures() -> None:
    targets = load_targets()
    assert targets and {t.measure for t in targets} <= set(MEASURES)
    names = [t.name for t in targets]
    assert len(names) == len(set(names)) and not any("{x}" in t.case for t in targets)


def test_a_malformed_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "targets.toml"
    path.write_text('[[target]]\nname = "t"\nmeasure = "ratio"\ncase = "c"\nmax = 1\nabout = "a"\n')
    with pytest.raises(ValueError, match="'reference' is needed"):
        load_targets(path)
