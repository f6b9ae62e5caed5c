"""Optimiser checks: :mod:`handprop.optim` step for step against ``torch.optim`` (float64).

Both sides start from the same parameters and receive the same random gradients under a
triangular learning-rate schedule; ours runs twice, as the plain chain (``update`` then
``apply_updates``) and as the fused :func:`handprop.optim.step` the training step runs.
The error of a case is the largest relative difference ``|ours - torch| / |torch|`` of
any parameter of either after any step. The network is batch
normalised, so ``gamma`` and ``beta`` are updated too. L2 ``lam`` maps to
``weight_decay = 2 lam`` on a weights-only parameter group (biases, ``gamma`` and ``beta``
in the other group), AdamW's decoupled decay to
``torch.optim.AdamW(weight_decay=...)`` on the weights. PyTorch is imported inside
:func:`check_optimizer` only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np

from handprop import optim
from handprop.errors import HandpropError
from handprop.train.config import ModelConfig, TrainConfig
from handprop.train.data import init_params
from handprop.train.schedules import triangular

#: Acceptance threshold of the optimiser checks.
MAX_OPTIM_REL = 1e-12


@attrs.frozen
class OptimizerCase:
    """One optimiser with its options (``lam`` included) to check."""

    name: str
    options: dict[str, float] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        opts = ", ".join(f"{k}={v:g}" for k, v in self.options.items())
        return f"{self.name}({opts})"


#: The cases of ``handprop gradcheck``: every optimiser, with and without L2.
OPTIMIZER_CASES: tuple[OptimizerCase, ...] = (
    OptimizerCase("sgd", {"lam": 0.05}),
    OptimizerCase("momentum", {"momentum": 0.9, "lam": 0.05}),
    OptimizerCase("momentum", {"momentum": 0.5}),
    OptimizerCase("nesterov", {"momentum": 0.9, "lam": 0.05}),
    OptimizerCase("adam", {"lam": 0.05}),
    OptimizerCase("adam", {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6}),
    OptimizerCase("adamw", {"weight_decay": 0.1}),
    OptimizerCase("adamw", {"beta1": 0.3, "beta2": 0.9, "eps": 1e-3, "weight_decay": 0.5}),
)


@attrs.frozen
class OptimizerError:
    """Largest relative error of ``case`` over ``steps`` updates."""

    case: OptimizerCase
    steps: int
    max_rel: float


def _torch_optimizer(torch: Any, case: OptimizerCase, weights: list, others: list) -> Any:
    opts = case.options
    if case.name in ("sgd", "momentum", "nesterov"):
        extra: dict[str, Any] = {
            "momentum": opts.get("momentum", 0.0),
            "nesterov": case.name == "nesterov",
        }
        cls = torch.optim.SGD
    else:
        extra = {
            "betas": (opts.get("beta1", 0.9), opts.get("beta2", 0.999)),
            "eps": opts.get("eps", 1e-8),
        }
        cls = torch.optim.AdamW if case.name == "adamw" else torch.optim.Adam
    decay = opts.get("weight_decay", 0.0) if case.name == "adamw" else 2 * opts.get("lam", 0.0)
    groups = [{"params": weights, "weight_decay": decay}, {"params": others, "weight_decay": 0.0}]
    return cls(groups, lr=1.0, **extra)


def check_optimizer(case: OptimizerCase, *, steps: int = 25, seed: int = 0) -> OptimizerError:
    """Run ``case`` and its ``torch.optim`` twin for ``steps`` updates of a small network."""
    try:
        import torch
    except ImportError:
        raise HandpropError(
            "optimiser verification needs PyTorch: pip install 'handprop[verify]'"
        ) from None
    rng = np.random.default_rng((seed, 11))
    model = ModelConfig(hidden=(5, 4), init="normal_0.01", dtype="float64", batchnorm=True)
    params = init_params(TrainConfig(model=model), 7, 3, seed=rng)
    params = params.map(lambda a: a + 0.5 * np.sign(a))  # clear of 0 for relative errors
    names = list(params.arrays())
    tensors = [torch.tensor(a, requires_grad=True) for a in params.arrays().values()]
    weights = [t for name, t in zip(names, tensors, strict=True) if name[0] == "W"]
    others = [t for name, t in zip(names, tensors, strict=True) if name[0] != "W"]
    theirs = _torch_optimizer(torch, case, weights, others)
    schedule = triangular(1e-3, 0.1, 5)
    fused = params
    state = fused_state = optim.make_optimizer(case.name, schedule(0), **case.options).init(params)
    worst = 0.0
    for t in range(steps):
        grads = params.map(lambda a: rng.standard_normal(a.shape))
        for tensor, g in zip(tensors, grads.arrays().values(), strict=True):
            tensor.grad = torch.tensor(g)
        for group in theirs.param_groups:
            group["lr"] = schedule(t)
        theirs.step()
        ours = optim.make_optimizer(case.name, schedule(t), **case.options)
        updates, state = ours.update(grads, state, params)
        params = optim.apply_updates(params, updates)
        fused, fused_state, _ = optim.step(ours, grads, fused_state, fused)
        for name, tensor in zip(names, tensors, strict=True):
            ref = tensor.detach().numpy()
            for a in (params.arrays()[name], fused.arrays()[name]):
                worst = max(worst, float(np.max(np.abs(a - ref) / np.abs(ref))))
    return OptimizerError(case, steps, worst)


def optimizer_table(
    cases: Iterable[OptimizerCase] = OPTIMIZER_CASES, *, steps: int = 25, seed: int = 0
) -> tuple[OptimizerError, ...]:
    """:func:`check_optimizer` for every case."""
    return tuple(check_optimizer(c, steps=steps, seed=seed) for c in cases)


def optimizer_failures(rows: Iterable[OptimizerError], max_rel: float = MAX_OPTIM_REL) -> list[str]:
    """One message per case above the threshold (empty: everything passed)."""
    return [
        f"optimiser {r.case.label}: max rel {r.max_rel:.2e} > {max_rel:g}"
        for r in rows
        if not r.max_rel <= max_rel
    ]


def optimizer_text(rows: Iterable[OptimizerError]) -> str:
    """A Markdown table: optimiser, steps, max relative error against torch.optim."""
    lines = ["| Optimiser | Steps | Max rel vs torch.optim |", "|---|---|---|"]
    lines += [f"| {r.case.label} | {r.steps} | {r.max_rel:.1e} |" for r in rows]
    return "\n".join(lines)
