"""New capabilities against PyTorch and JAX: one optimiser update and the whitening fit.

- ``momentum`` / ``nesterov`` / ``adam`` update of the two-layer parameters (3072 x 256 and
  256 x 10 weights, their biases; float32; L2 on the weights): handprop's fused
  :func:`handprop.optim.step` of the chain (a pure step returning new arrays) against
  ``torch.optim.SGD(momentum=0.9[, nesterov=True])`` / ``torch.optim.Adam`` (``weight_decay
  = 2 lam`` on the weights) and the same update written by hand in JAX, jitted.
- the whitening fit: :func:`handprop.data.whiten.covariance_eigen` (chunked float64
  covariance, then ``eigh``) of 49,000 x 3072 float32 rows against the straightforward
  float64 ``X^T X`` + ``eigh`` in PyTorch and in ``jax.numpy`` (compiled apart, its compile
  time recorded).

Every case records ``group = "capabilities"``; :mod:`bench.report` gives them a section.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bench import jax_ref
from bench.conftest import Measure
from bench.workloads import D_IN, N_CLASSES, QUICK
from handprop import optim
from handprop.data.whiten import covariance_eigen
from handprop.nn.params import AffineParams, Params

DTYPE = "float32"
HIDDEN = 256
LAM, LR, BETA = 1e-3, 0.01, 0.9
B1, B2, EPS = 0.9, 0.999, 1e-8
OPTIMIZERS = ("momentum", "nesterov", "adam")
IMPLS = ("handprop", "torch", "jax")
#: Rows and columns of the whitening fit (the baseline's 49,000 training images).
WHITEN_SHAPE = (500, 256) if QUICK else (49_000, D_IN)
GROUP = {"group": "capabilities"}


def _skip_without_jax(impl: str) -> None:
    if impl == "jax" and not jax_ref.available():
        pytest.skip("JAX is not installed (pip install '.[bench]')")


def parameters(seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(params, grads)``: ``[W1, b1, W2, b2]`` each, float32."""
    rng = np.random.default_rng(seed)
    shapes = ((D_IN, HIDDEN), (HIDDEN,), (HIDDEN, N_CLASSES), (N_CLASSES,))
    params, grads = ([rng.standard_normal(s, dtype=np.float32) for s in shapes] for _ in range(2))
    return params, [0.01 * g for g in grads]


def _records(arrays: list[np.ndarray]) -> Params:
    return Params([AffineParams(arrays[0], arrays[1]), AffineParams(arrays[2], arrays[3])])


def handprop_update(name: str) -> Callable[[], Any]:
    options = {"adam": dict(beta1=B1, beta2=B2, eps=EPS)}.get(name, dict(momentum=BETA))
    opt = optim.make_optimizer(name, LR, lam=LAM, **options)
    params, grads = (_records(a) for a in parameters())
    carry = [params, opt.init(params)]

    def run() -> None:
        carry[0], carry[1], _ = optim.step(opt, grads, carry[1], carry[0])

    return run


def torch_update(name: str) -> Callable[[], Any]:
    import torch

    params, grads = parameters()
    tensors = [torch.from_numpy(p.copy()) for p in params]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.from_numpy(g)
    groups = [
        {"params": tensors[0::2], "weight_decay": 2 * LAM},
        {"params": tensors[1::2], "weight_decay": 0.0},
    ]
    if name == "adam":
        opt: Any = torch.optim.Adam(groups, lr=LR, betas=(B1, B2), eps=EPS)
    else:
        opt = torch.optim.SGD(groups, lr=LR, momentum=BETA, nesterov=name == "nesterov")
    return opt.step


def jax_update(name: str) -> Callable[[], Any]:
    """The update written by hand (no optax) and jitted; state carried between calls."""
    import jax
    import jax.numpy as jnp

    params, grads = ([jnp.asarray(a) for a in arrays] for arrays in parameters())
    decay = [2 * LAM, 0.0, 2 * LAM, 0.0]

    def with_l2(p: list[Any], g: list[Any]) -> list[Any]:
        return [gi + c * pi if c else gi for pi, gi, c in zip(p, g, decay, strict=True)]

    @jax.jit
    def trace_step(p: list[Any], g: list[Any], buf: list[Any]) -> Any:
        d = with_l2(p, g)
        buf = [BETA * b + di for b, di in zip(buf, d, strict=True)]
        direction = (
            [di + BETA * b for di, b in zip(d, buf, strict=True)] if name == "nesterov" else buf
        )
        return [pi - LR * di for pi, di in zip(p, direction, strict=True)], buf

    @jax.jit
    def adam_step(p: list[Any], g: list[Any], state: Any) -> Any:
        count, m, v = state
        count = count + 1
        d = with_l2(p, g)
        m = [mi + (1 - B1) * (di - mi) for mi, di in zip(m, d, strict=True)]
        v = [B2 * vi + (1 - B2) * di * di for vi, di in zip(v, d, strict=True)]
        step_size = LR / (1 - B1**count)
        root = jnp.sqrt(1 - B2**count)
        new = [
            pi - step_size * (mi / (jnp.sqrt(vi) / root + EPS))
            for pi, mi, vi in zip(p, m, v, strict=True)
        ]
        return new, (count, m, v)

    zeros = [jnp.zeros_like(p) for p in params]
    step = adam_step if name == "adam" else trace_step
    state: Any = (jnp.float32(0), zeros, list(zeros)) if name == "adam" else zeros
    carry = [params, state]

    def run() -> None:
        carry[0], carry[1] = step(carry[0], grads, carry[1])
        jax.block_until_ready(carry[0])

    return run


UPDATES = {"handprop": handprop_update, "torch": torch_update, "jax": jax_update}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_bench_optimizer_update(measure: Measure, name: str, impl: str) -> None:
    _skip_without_jax(impl)
    measure(
        UPDATES[impl](name), case=f"{name} update 3072x{HIDDEN} + 256x10",
        impl=impl, dtype=DTYPE, extra=GROUP,
    )  # fmt: skip


def whiten_data() -> np.ndarray:
    return np.random.default_rng(0).standard_normal(WHITEN_SHAPE, dtype=np.float32)


def torch_covariance_eigen(X: np.ndarray) -> Any:
    """``X^T X`` of the centred rows in float64, then ``torch.linalg.eigh``."""
    import torch

    Xc = torch.from_numpy(X).double()
    Xc -= Xc.mean(dim=0)
    return torch.linalg.eigh(Xc.T @ Xc / len(X))


def jax_covariance_eigen(X: np.ndarray) -> tuple[Callable[[], Any], float]:
    """The same in ``jax.numpy`` (float64), compiled ahead: ``(run, compile seconds)``."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):

        def fit(X: Any) -> Any:
            Xc = X.astype(jnp.float64)
            Xc = Xc - Xc.mean(axis=0)
            return jnp.linalg.eigh(Xc.T @ Xc / X.shape[0])

        Xj = jnp.asarray(X)
        start = time.perf_counter()
        compiled = jax.jit(fit).lower(Xj).compile()
        seconds = time.perf_counter() - start

    def run() -> Any:
        return jax.block_until_ready(compiled(Xj))

    return run, seconds


@pytest.mark.parametrize("impl", IMPLS)
def test_bench_whitening_fit(measure: Measure, impl: str) -> None:
    _skip_without_jax(impl)
    X = whiten_data()
    n, d = X.shape
    extra: dict[str, Any] = dict(GROUP)
    if impl == "jax":
        fn, extra["compile_seconds"] = jax_covariance_eigen(X)
    else:
        fit = covariance_eigen if impl == "handprop" else torch_covariance_eigen

        def fn() -> Any:
            return fit(X)

    measure(
        fn, case=f"whitening fit (covariance + eigh) {n}x{d}", impl=impl, dtype=DTYPE,
        flops=2.0 * n * d * d, rounds=1, extra=extra,
    )  # fmt: skip
