"""The same training runs in JAX: the whole loop (steps and periodic evaluations) jitted as
one ``lax.scan``, compiled ahead of time so compilation is timed apart from training.

Same network (``(affine -> [batch norm] -> ReLU -> [dropout]) * hidden layers -> affine``,
L2 on the weights, label smoothing), schedule (the config's, tabulated per step), shuffled
batches, flip + translate augmentation and inverted dropout as :func:`handprop.train.train`.
The batch norm is handprop's train-mode math (batch mean and biased variance, running
averages moved by ``bn_momentum`` towards the mean and the unbiased variance; evaluations
use the running averages), differentiated by ``jax.grad``. Random draws come from
``jax.random``, so the runs match in work, not in bits. Needs the ``bench`` extra
(``pip install ".[bench]"``).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np

SIDE = 32

#: Parameters: per layer ``{"W", "b"}`` plus ``{"gamma", "beta"}`` on batch-normalised
#: hidden layers; running averages: per batch norm ``{"mean", "var"}``.
Tree = list[dict[str, Any]]


def available() -> bool:
    """True if JAX can be imported."""
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


def _batches(config: Any, n: int, total: int) -> np.ndarray:
    """Row indices (total, batch): a fresh permutation each epoch (file order without shuffle)."""
    per_epoch, batch = n // config.optimizer.batch_size, config.optimizer.batch_size
    rng = np.random.default_rng(config.run.seed)
    epochs = -(-total // per_epoch)
    orders = [
        rng.permutation(n) if config.optimizer.shuffle else np.arange(n) for _ in range(epochs)
    ]
    rows = np.stack([o[: per_epoch * batch].reshape(per_epoch, batch) for o in orders])
    return rows.reshape(-1, batch)[:total].astype(np.int32)


def augment(jax: Any, jnp: Any, config: Any, X: Any, key: Any) -> Any:
    """Random flip then translation of flat CHW rows ``X`` (n, 3072) as one gather."""
    n = X.shape[0]
    k_flip, k_shift, k_apply = jax.random.split(key, 3)
    flip_prob = config.augment.flip_prob if config.augment.flip else 0.0
    flip = jax.random.uniform(k_flip, (n,)) < flip_prob
    shift = jax.random.randint(
        k_shift, (n, 2), -config.augment.max_shift, config.augment.max_shift + 1
    )
    shift = shift * (jax.random.uniform(k_apply, (n, 1)) < config.augment.shift_prob)
    pos = jnp.arange(SIDE)
    rows = pos[None, :, None] - shift[:, 1, None, None]
    cols = pos[None, None, :] - shift[:, 0, None, None]
    cols = jnp.where(flip[:, None, None], SIDE - 1 - cols, cols)
    inside = (rows >= 0) & (rows < SIDE) & (cols >= 0) & (cols < SIDE)
    source = (jnp.clip(rows, 0, SIDE - 1) * SIDE + jnp.clip(cols, 0, SIDE - 1)).reshape(n, 1, -1)
    planes = X.reshape(n, 3, SIDE * SIDE)
    moved = jnp.take_along_axis(planes, jnp.broadcast_to(source, planes.shape), axis=2)
    vacated = planes if config.augment.fill == "keep" else jnp.zeros((), X.dtype)
    return jnp.where(inside.reshape(n, 1, -1), moved, vacated).reshape(n, -1)


def init_params(config: Any, d_in: int, n_classes: int) -> tuple[Tree, Tree]:
    """``(params, stats)`` as NumPy arrays: ``W ~ N(0, 1/fan_in)``, zero biases,
    ``gamma = 1``, ``beta = 0``, running mean 0 and variance 1."""
    dtype = np.dtype(config.model.dtype)
    rng = np.random.default_rng(config.run.seed)
    sizes = (d_in, *config.model.hidden, n_classes)
    params: Tree = []
    stats: Tree = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        W = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype)
        layer = {"W": W, "b": np.zeros(fan_out, dtype)}
        if config.model.batchnorm and i < len(sizes) - 2:
            layer |= {"gamma": np.ones(fan_out, dtype), "beta": np.zeros(fan_out, dtype)}
            stats.append({"mean": np.zeros(fan_out, dtype), "var": np.ones(fan_out, dtype)})
        params.append(layer)
    return params, stats


class Network:
    """The config's network as pure JAX functions (``jax``, ``jnp`` the modules).

    ``scores(params, stats, X, key)``: ``key`` None evaluates (running averages, no
    dropout) and returns ``(scores, stats)``; with a key it trains (batch statistics,
    dropout masks from ``key``) and returns the moved running averages.
    ``cost(params, stats, X, y, key) -> (cost, stats)``: smoothed cross-entropy + L2.
    ``probe(params, stats, X, y) -> [nll, accuracy]``.
    """

    def __init__(self, jax: Any, jnp: Any, config: Any) -> None:
        self.jax, self.jnp = jax, jnp
        self.rate, self.lam = config.model.dropout, config.optimizer.lam
        self.momentum, self.eps = config.model.bn_momentum, config.model.bn_eps
        self.smoothing = config.optimizer.label_smoothing

    def _batchnorm(self, p: dict[str, Any], s: dict[str, Any], h: Any, train: bool) -> Any:
        jnp = self.jnp
        if train:
            n = h.shape[0]
            mu = h.mean(axis=0)
            hc = h - mu
            var = jnp.mean(hc * hc, axis=0)
            m = self.momentum
            s = {"mean": (1 - m) * s["mean"] + m * mu,
                 "var": (1 - m) * s["var"] + m * var * (n / (n - 1))}  # fmt: skip
        else:
            hc, var = h - s["mean"], s["var"]
        return p["gamma"] * (hc / jnp.sqrt(var + self.eps)) + p["beta"], s

    def scores(self, params: Tree, stats: Tree, X: Any, key: Any | None) -> tuple[Any, Tree]:
        jax, jnp = self.jax, self.jnp
        h, moved, norms = X, [], iter(stats)
        keys = jax.random.split(key, len(params)) if key is not None else None
        for i, p in enumerate(params[:-1]):
            h = h @ p["W"] + p["b"]
            if "gamma" in p:
                h, s = self._batchnorm(p, next(norms), h, key is not None)
                moved.append(s)
            h = jax.nn.relu(h)
            if keys is not None and self.rate > 0:
                keep = jax.random.uniform(keys[i], h.shape, h.dtype) >= self.rate
                h = jnp.where(keep, h / (1 - self.rate), 0)
        return h @ params[-1]["W"] + params[-1]["b"], moved

    def cost(self, params: Tree, stats: Tree, X: Any, y: Any, key: Any) -> tuple[Any, Tree]:
        jax, jnp = self.jax, self.jnp
        s, moved = self.scores(params, stats, X, key)
        logp = jax.nn.log_softmax(s)
        picked = jnp.take_along_axis(logp, y[:, None], axis=1)[:, 0]
        if self.smoothing:
            picked = (1 - self.smoothing) * picked + self.smoothing * logp.mean(axis=1)
        l2 = sum(jnp.sum(p["W"] ** 2) for p in params)
        return -picked.mean() + self.lam * l2, moved

    def probe(self, params: Tree, stats: Tree, X: Any, y: Any) -> Any:
        jax, jnp = self.jax, self.jnp
        s, _ = self.scores(params, stats, X, None)
        nll = -jnp.take_along_axis(jax.nn.log_softmax(s), y[:, None], axis=1).mean()
        return jnp.stack([nll, jnp.mean(jnp.argmax(s, axis=1) == y)])

    def sgd_step(
        self, config: Any, params: Tree, stats: Tree, Xb: Any, yb: Any, key: Any, eta: Any
    ) -> tuple[Tree, Tree, Any]:
        """One augmented SGD step on the gathered batch: ``(params, stats, cost)``."""
        jax = self.jax
        k_aug, k_drop = jax.random.split(key)
        if config.augments:
            Xb = augment(jax, self.jnp, config, Xb, k_aug)
        (value, moved), grads = jax.value_and_grad(self.cost, has_aux=True)(
            params, stats, Xb, yb, k_drop
        )
        params = jax.tree_util.tree_map(lambda w, g: w - eta * g, params, grads)
        return params, moved, value


class JaxRun:
    """One compiled run: ``compile_seconds`` spent compiling, ``__call__`` trains and returns
    the final ``(params, stats)`` as NumPy arrays (blocking until they are computed)."""

    def __init__(self, config: Any, data: Any) -> None:
        import jax
        import jax.numpy as jnp

        if config.model.dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        dtype = np.dtype(config.model.dtype)
        X, y = data.train.X, data.train.y
        n = len(y)
        total = config.total_steps(n)
        eval_every = config.run.eval_every or n // config.optimizer.batch_size
        schedule = config.make_schedule(n)
        steps = np.arange(total)
        inputs = (
            _batches(config, n, total),
            np.array([schedule(int(t)) for t in steps], dtype),
            ((steps + 1) % eval_every == 0) | (steps + 1 == total),
        )
        n_eval = config.run.train_eval_size or n
        net = Network(jax, jnp, config)

        def run(p: Any, s: Any, key: Any, Xt: Any, yt: Any, Xv: Any, yv: Any, xs: Any) -> Any:
            def step(carry: Any, x: Any) -> Any:
                p, s, key = carry
                idx, eta, evaluate = x
                key, k_step = jax.random.split(key)
                p, s, _ = net.sgd_step(config, p, s, Xt[idx], yt[idx], k_step, eta)
                metrics = jax.lax.cond(
                    evaluate,
                    lambda q, r: jnp.concatenate(
                        [net.probe(q, r, Xt[:n_eval], yt[:n_eval]), net.probe(q, r, Xv, yv)]
                    ),
                    lambda q, r: jnp.zeros(4, dtype),
                    p,
                    s,
                )
                return (p, s, key), metrics

            (p, s, _), history = jax.lax.scan(step, (p, s, key), xs)
            return p, s, history

        params, stats = init_params(config, X.shape[1], int(y.max()) + 1)
        to_jax = jax.tree_util.tree_map
        self.args = (
            to_jax(jnp.asarray, params),
            to_jax(jnp.asarray, stats),
            jax.random.PRNGKey(config.run.seed),
            jnp.asarray(X),
            jnp.asarray(y.astype(np.int32)),
            jnp.asarray(data.val.X),
            jnp.asarray(data.val.y.astype(np.int32)),
            tuple(jnp.asarray(a) for a in inputs),
        )
        start = time.perf_counter()
        self.compiled: Callable[..., Any] = jax.jit(run).lower(*self.args).compile()
        self.compile_seconds = time.perf_counter() - start
        self.steps = total

    def __call__(self) -> tuple[Tree, Tree]:
        import jax

        params, stats, history = self.compiled(*self.args)
        history.block_until_ready()
        return jax.tree_util.tree_map(np.asarray, (params, stats))


def evaluate(params: Tree, stats: Tree, X: np.ndarray, y: np.ndarray, eps: float) -> float:
    """Test accuracy of the final parameters (NumPy, as the whole-process runs report it;
    batch norms use the running averages)."""
    h, norms = X, iter(stats)
    for p in params[:-1]:
        h = h @ p["W"] + p["b"]
        if "gamma" in p:
            s = next(norms)
            h = p["gamma"] * (h - s["mean"]) / np.sqrt(s["var"] + eps) + p["beta"]
        h = np.maximum(h, 0)
    scores = h @ params[-1]["W"] + params[-1]["b"]
    return float(np.mean(scores.argmax(axis=1) == y))
