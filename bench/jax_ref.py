"""The same training runs in JAX: the whole loop (steps and periodic evaluations) jitted as
one ``lax.scan``, compiled ahead of time so compilation is timed apart from training.

Same network (affine -> ReLU -> [dropout] -> affine, L2 on the weights), schedule (the
config's, tabulated per step), shuffled batches, flip + translate augmentation and inverted
dropout as :func:`handprop.train.train`; random draws come from ``jax.random``, so the runs
match in work, not in bits. Needs the ``bench`` extra (``pip install ".[bench]"``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

SIDE = 32


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


def _augment(jax: Any, jnp: Any, config: Any, X: Any, key: Any) -> Any:
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


class JaxRun:
    """One compiled run: ``compile_seconds`` spent compiling, ``__call__`` trains and returns
    the final parameters (blocking until they are computed)."""

    def __init__(self, config: Any, data: Any) -> None:
        import jax
        import jax.numpy as jnp

        if config.model.dtype == "float64":
            jax.config.update("jax_enable_x64", True)
        (hidden,) = config.model.hidden
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
        rng = np.random.default_rng(config.run.seed)
        params = []
        for fan_in, fan_out in ((X.shape[1], hidden), (hidden, y.max() + 1)):
            W = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype)
            params += [W, np.zeros(fan_out, dtype)]
        lam, rate = config.optimizer.lam, config.model.dropout

        def scores(p: Any, Xb: Any, key: Any | None) -> Any:
            W1, b1, W2, b2 = p
            h = jax.nn.relu(Xb @ W1 + b1)
            if key is not None and rate > 0:
                keep = jax.random.uniform(key, h.shape, h.dtype) >= rate
                h = jnp.where(keep, h / (1 - rate), 0)
            return h @ W2 + b2

        def loss(p: Any, Xb: Any, yb: Any, key: Any | None) -> Any:
            logp = jax.nn.log_softmax(scores(p, Xb, key))
            return -jnp.take_along_axis(logp, yb[:, None], axis=1).mean()

        def cost(p: Any, Xb: Any, yb: Any, key: Any) -> Any:
            return loss(p, Xb, yb, key) + lam * (jnp.sum(p[0] ** 2) + jnp.sum(p[2] ** 2))

        def probe(p: Any, Xb: Any, yb: Any) -> Any:
            s = scores(p, Xb, None)
            logp = jax.nn.log_softmax(s)
            nll = -jnp.take_along_axis(logp, yb[:, None], axis=1).mean()
            return jnp.stack([nll, jnp.mean(jnp.argmax(s, axis=1) == yb)])

        def run(p: Any, key: Any, Xt: Any, yt: Any, Xv: Any, yv: Any, xs: Any) -> Any:
            def step(carry: Any, x: Any) -> Any:
                p, key = carry
                idx, eta, evaluate = x
                key, k_aug, k_drop = jax.random.split(key, 3)
                Xb, yb = Xt[idx], yt[idx]
                if config.augments:
                    Xb = _augment(jax, jnp, config, Xb, k_aug)
                grads = jax.grad(cost)(p, Xb, yb, k_drop)
                p = [w - eta * g for w, g in zip(p, grads, strict=True)]
                metrics = jax.lax.cond(
                    evaluate,
                    lambda q: jnp.concatenate(
                        [probe(q, Xt[:n_eval], yt[:n_eval]), probe(q, Xv, yv)]
                    ),
                    lambda q: jnp.zeros(4, dtype),
                    p,
                )
                return (p, key), metrics

            (p, _), history = jax.lax.scan(step, (p, key), xs)
            return p, history

        self.args = (
            [jnp.asarray(a) for a in params],
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

    def __call__(self) -> list[np.ndarray]:
        params, history = self.compiled(*self.args)
        history.block_until_ready()
        return [np.asarray(w) for w in params]


def evaluate(params: list[np.ndarray], X: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy of the final parameters (NumPy, as the whole-process runs report it)."""
    W1, b1, W2, b2 = params
    scores = np.maximum(X @ W1 + b1, 0) @ W2 + b2
    return float(np.mean(scores.argmax(axis=1) == y))
