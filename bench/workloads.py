"""Workloads of the speed suite: sizes, FLOP counts, synthetic data and the PyTorch reference.

The PyTorch reference is what a user would otherwise write: the same network on the CPU with
autograd, ``torch.optim.SGD`` and vectorised batch augmentation, using as many threads as
NumPy's BLAS.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import warnings
from typing import Any

import numpy as np

QUICK = os.environ.get("HANDPROP_BENCH_QUICK", "") not in ("", "0")

D_IN = 3072
N_CLASSES = 10
BATCH = 100
SIDE = 32
#: Rows of the synthetic training pool the step benchmarks gather from (> L3 cache).
POOL = 200 if QUICK else 10_000
#: Square size of the matrix-multiply rate benchmark.
MATMUL_N = 128 if QUICK else 2048
HIDDEN = (50, 256) if QUICK else (50, 256, 1024, 4096)
DTYPES = ("float32", "float64")
#: Environment variables that pin OpenBLAS's kernels; ``python -m bench.report`` also runs
#: the suite with them unset (in the benchmark subprocess only).
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: Augmentation of the step benchmarks (the improvements run's settings).
FLIP_PROB, MAX_SHIFT, SHIFT_PROB = 0.5, 3, 0.5


def blas_threads() -> int:
    """Threads of NumPy's OpenBLAS (queried from the loaded library; CPU count if unknown)."""
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    for path in sorted(libs):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads"):
            if hasattr(lib, name):
                return int(getattr(lib, name)())
    return os.cpu_count() or 1


def configure_torch_threads() -> None:
    """Give PyTorch exactly as many intra-op threads as NumPy's BLAS has."""
    import torch

    torch.set_num_threads(blas_threads())


def matmul_flops(n: int) -> float:
    """FLOPs of an ``(n, n) @ (n, n)`` product."""
    return 2.0 * n**3


def step_flops(hidden: int, n: int = BATCH, d: int = D_IN, k: int = N_CLASSES) -> float:
    """Matrix-multiply FLOPs of one two-layer training step (no ``dX`` for the input layer).

    Forward ``X W1`` and ``H W2``; backward ``H^T dS``, ``dS W2^T`` and ``X^T dA``.
    """
    return 2.0 * n * hidden * (2 * d + 3 * k)


def forward_flops(hidden: int, n: int, d: int = D_IN, k: int = N_CLASSES) -> float:
    """Matrix-multiply FLOPs of a two-layer forward pass over ``n`` images (an evaluation)."""
    return 2.0 * n * hidden * (d + k)


def synthetic_pool(dtype: str, n: int = POOL, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-looking images ``(n, 3072)`` and labels ``(n,)``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D_IN), dtype=np.float32).astype(dtype)
    return X, rng.integers(0, N_CLASSES, n)


class TorchNet:
    """The network in PyTorch: autograd, ``optim.SGD``, fused batch augmentation.

    ``hidden`` is one width or the widths of the hidden layers, each ``affine -> [batch
    norm] -> ReLU -> [dropout]``; ``augment = (flip_prob, max_shift, shift_prob)`` or None;
    ``dropout`` is the drop rate; ``smoothing`` the label smoothing of the training loss;
    ``batchnorm`` puts a ``torch.nn.BatchNorm1d(momentum=bn_momentum, eps=bn_eps)`` between
    each hidden affine layer and its ReLU (batch statistics in training, running averages in
    evaluation; not decayed).
    """

    def __init__(
        self,
        hidden: int | tuple[int, ...],
        dtype: str,
        lam: float,
        *,
        augment: tuple[float, int, float] | None = (FLIP_PROB, MAX_SHIFT, SHIFT_PROB),
        dropout: float = 0.0,
        smoothing: float = 0.0,
        seed: int = 0,
        batchnorm: bool = False,
        bn_momentum: float = 0.1,
        bn_eps: float = 1e-5,
    ) -> None:
        import torch

        self.torch = torch
        self.lam, self.augmentation, self.dropout = lam, augment, dropout
        self.smoothing = smoothing
        torch_dtype = getattr(torch, dtype)
        gen = torch.Generator().manual_seed(seed)
        widths = (hidden,) if isinstance(hidden, int) else tuple(hidden)
        self.params = []
        for fan_in, fan_out in itertools.pairwise((D_IN, *widths, N_CLASSES)):
            W = torch.randn(fan_in, fan_out, generator=gen, dtype=torch_dtype) / fan_in**0.5
            b = torch.zeros(fan_out, dtype=torch_dtype)
            self.params += [W.requires_grad_(), b.requires_grad_()]
        self.bns = [
            torch.nn.BatchNorm1d(m, eps=bn_eps, momentum=bn_momentum, dtype=torch_dtype)
            for m in (widths if batchnorm else ())
        ]
        extra = [p for bn in self.bns for p in bn.parameters()]
        self.opt = torch.optim.SGD(self.params + extra, lr=0.01)
        self.gen = torch.Generator().manual_seed(seed + 1)
        self.rows = torch.arange(SIDE).view(1, SIDE, 1)
        self.cols = torch.arange(SIDE).view(1, 1, SIDE)

    def augment(self, X: Any) -> Any:
        """Random flip then translation (zero fill) of flat CHW rows, as one gather."""
        assert self.augmentation is not None
        flip_prob, max_shift, shift_prob = self.augmentation
        torch = self.torch
        n = X.shape[0]
        flip = torch.rand(n, generator=self.gen) < flip_prob
        shift = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=self.gen)
        shift *= (torch.rand(n, generator=self.gen) < shift_prob).unsqueeze(1)
        src_r = self.rows - shift[:, 1].view(n, 1, 1)
        src_c = self.cols - shift[:, 0].view(n, 1, 1)
        src_c = torch.where(flip.view(n, 1, 1), SIDE - 1 - src_c, src_c)
        valid = (src_r >= 0) & (src_r < SIDE) & (src_c >= 0) & (src_c < SIDE)
        flat = (src_r.clamp(0, SIDE - 1) * SIDE + src_c.clamp(0, SIDE - 1)).view(n, 1, -1)
        out = X.view(n, 3, SIDE * SIDE).gather(2, flat.expand(n, 3, SIDE * SIDE))
        return (out * valid.view(n, 1, -1)).view(n, D_IN)

    def scores(self, X: Any, train: bool) -> Any:
        torch = self.torch
        *hidden, (W_out, b_out) = zip(self.params[0::2], self.params[1::2], strict=True)
        h = X
        for i, (W, b) in enumerate(hidden):
            h = h @ W + b
            if self.bns:
                h = self.bns[i].train(train)(h)
            h = torch.relu(h)
            if train and self.dropout:
                h = torch.nn.functional.dropout(h, self.dropout, training=True)
        return h @ W_out + b_out

    def cost(self, X: Any, y: Any, train: bool) -> tuple[Any, Any]:
        """``(scores, cost)`` on one batch (label smoothing in training)."""
        scores = self.scores(X, train)
        smoothing = self.smoothing if train else 0.0
        loss = self.torch.nn.functional.cross_entropy(scores, y, label_smoothing=smoothing)
        return scores, loss + self.lam * sum(W.square().sum() for W in self.params[0::2])

    def step(self, X_all: Any, y_all: Any, idx: Any, eta: float) -> float:
        """One SGD step on rows ``idx`` of the pool; returns the cost."""
        X = X_all.index_select(0, idx)
        if self.augmentation is not None:
            X = self.augment(X)
        _, cost = self.cost(X, y_all.index_select(0, idx), train=True)
        for group in self.opt.param_groups:
            group["lr"] = eta
        self.opt.zero_grad(set_to_none=True)
        cost.backward()
        self.opt.step()
        return float(cost.item())

    def evaluate(self, X: Any, y: Any) -> tuple[float, float, float]:
        """``(loss, cost, accuracy)`` without dropout or gradients."""
        with self.torch.no_grad():
            scores, cost = self.cost(X, y, train=False)
            loss = self.torch.nn.functional.cross_entropy(scores, y)
            return loss.item(), cost.item(), (scores.argmax(1) == y).double().mean().item()


def _tensor(array: np.ndarray) -> Any:
    """A tensor sharing a read-only array's memory (only ever read)."""
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.from_numpy(array)


def torch_train(config: Any, data: Any, keep: list[TorchNet] | None = None) -> int:
    """The run :func:`handprop.train.train` does for ``config``, in PyTorch: same schedule,
    batches, augmentation, dropout and evaluations; returns the number of steps (and appends
    the trained network to ``keep``)."""
    import torch

    augment = (
        config.augment.flip_prob if config.augment.flip else 0.0,
        config.augment.max_shift,
        config.augment.shift_prob,
    )
    net = TorchNet(
        config.model.hidden, config.model.dtype, config.optimizer.lam,
        augment=augment if config.augments else None, dropout=config.model.dropout,
        smoothing=config.optimizer.label_smoothing, seed=config.run.seed,
        batchnorm=config.model.batchnorm, bn_momentum=config.model.bn_momentum,
        bn_eps=config.model.bn_eps,
    )  # fmt: skip
    X, y = _tensor(data.train.X), _tensor(data.train.y)
    n_eval = config.run.train_eval_size or len(y)
    probes = ((X[:n_eval], y[:n_eval]), (_tensor(data.val.X), _tensor(data.val.y)))
    n = len(y)
    batch = config.optimizer.batch_size
    per_epoch, total = n // batch, config.total_steps(n)
    eval_every = config.run.eval_every or per_epoch
    schedule = config.make_schedule(n)
    gen = torch.Generator().manual_seed(config.run.seed)
    perm = torch.randperm(n, generator=gen)
    if keep is not None:
        keep.append(net)
    for Xe, ye in probes:
        net.evaluate(Xe, ye)
    for t in range(total):
        epoch, block = divmod(t, per_epoch)
        if block == 0 and epoch:
            perm = torch.randperm(n, generator=gen)
        net.step(X, y, perm[block * batch : (block + 1) * batch], schedule(t))
        if (t + 1) % eval_every == 0 or t + 1 == total:
            for Xe, ye in probes:
                net.evaluate(Xe, ye)
    return total
