"""Gradient checks: analytic gradients against PyTorch autograd and finite differences.

Everything is compared in float64: parameters, inputs and masks are cast first.
The PyTorch reference is built directly from the :class:`Params` arrays and
does the same maths as :mod:`handprop.nn.network` (affine, batch norm in training mode
by ``torch.nn.functional.batch_norm``, ReLU, dropout multiplier, mean softmax
cross-entropy with optional label smoothing, ``+ lam * sum_l ||W_l||^2``). PyTorch is
imported inside :func:`torch_gradients` only, so ``import handprop.verify``
never needs it.

Errors per parameter are the maxima over its elements of

- absolute error ``|a - b|``;
- relative error ``|a - b| / max(eps, |a| + |b|)`` with ``eps = REL_EPS``:
  two gradients that both vanish (a dead ReLU unit) agree instead of giving 0/0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs
import numpy as np

from handprop.errors import ConfigError, HandpropError
from handprop.nn import layers as L
from handprop.nn.architecture import ReLU, decayed_arrays
from handprop.nn.network import Masks, forward, gradients, mask_tuple
from handprop.nn.params import Grads, Params
from handprop.train.config import ModelConfig, TrainConfig
from handprop.train.data import init_params
from handprop.verify.sampling import fixed_masks, sample_coords

Array = np.ndarray

#: Floor of the relative error's denominator.
REL_EPS = 1e-12
#: Step ``h`` of the five-point centred differences, and the smallest retried step.
FD_STEP = 1e-3
MIN_FD_STEP = 1e-7
_STENCIL = (-2, -1, 1, 2)
#: Acceptance thresholds.
MAX_TORCH_ABS = 1e-12
MAX_FD_REL = 1e-6


def _check_hidden(_: object, __: attrs.Attribute, value: tuple[int, ...]) -> None:
    if any(m < 1 for m in value):
        raise ConfigError(f"hidden: layer sizes must be >= 1, got {value}")


def _check_lam(_: object, __: attrs.Attribute, value: float) -> None:
    if not 0 <= value < np.inf:
        raise ConfigError(f"lam must be finite and >= 0, got {value}")


def _check_dropout(_: object, __: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {value}")


def _check_smoothing(_: object, __: attrs.Attribute, value: float) -> None:
    if not 0 <= value < 1:
        raise ConfigError(f"smoothing must be in [0, 1), got {value}")


@attrs.frozen
class CheckCase:
    """One network to check: hidden sizes, L2 strength, dropout rate of its fixed mask,
    label smoothing of its loss, and batch norm of every hidden layer (training mode).

    ``hidden=()`` is the one-layer classifier (it has no dropout and no batch norm: both
    are switched off), ``hidden=(50,)`` the two-layer network.
    """

    hidden: tuple[int, ...] = attrs.field(
        converter=lambda h: tuple(int(m) for m in h), validator=_check_hidden
    )
    lam: float = attrs.field(default=0.0, converter=float, validator=_check_lam)
    dropout: float = attrs.field(default=0.0, converter=float, validator=_check_dropout)
    smoothing: float = attrs.field(default=0.0, converter=float, validator=_check_smoothing)
    batchnorm: bool = attrs.field(default=False, converter=bool)

    def __attrs_post_init__(self) -> None:
        if not self.hidden:
            object.__setattr__(self, "dropout", 0.0)
            object.__setattr__(self, "batchnorm", False)

    @property
    def label(self) -> str:
        """Short ASCII name such as ``"2-layer m=50, lam=0.01, dropout=0.5"``."""
        arch = f"{len(self.hidden) + 1}-layer"
        if self.hidden:
            arch += " m=" + ",".join(str(m) for m in self.hidden)
        label = f"{arch}, lam={self.lam:g}" + (
            f", dropout={self.dropout:g}" if self.dropout else ""
        )
        label += f", smoothing={self.smoothing:g}" if self.smoothing else ""
        return label + (", batchnorm" if self.batchnorm else "")


@attrs.frozen
class GradError:
    """Maximum errors of one parameter's analytic gradient in one :class:`CheckCase`.

    ``fd_*`` are ``None`` when finite differences were not computed;
    ``fd_count`` is the number of coordinates they were computed at (of ``size``).
    ``zero_abs`` is set for a parameter whose gradient is zero in exact arithmetic (a bias
    feeding a batch norm, which subtracts it again): the largest ``|g|`` of the analytic
    gradient, compared absolutely (a relative error of rounding noise means nothing).
    """

    case: CheckCase
    param: str
    size: int
    torch_abs: float
    torch_rel: float
    fd_abs: float | None = None
    fd_rel: float | None = None
    fd_count: int = 0
    zero_abs: float | None = None


def max_errors(a: Array, b: Array, eps: float = REL_EPS) -> tuple[float, float]:
    """``(max |a - b|, max |a - b| / max(eps, |a| + |b|))`` over all elements."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - b)
    rel = diff / np.maximum(eps, np.abs(a) + np.abs(b))
    return float(diff.max(initial=0.0)), float(rel.max(initial=0.0))


def _float64(
    params: Params, X: Array, mask: Masks
) -> tuple[Params, Array, tuple[Array, ...] | None]:
    """Everything cast to float64; the masks as one array per hidden layer, or None."""
    masks = None if mask is None else tuple(np.asarray(m, np.float64) for m in mask_tuple(mask))
    return params.astype(np.float64), np.asarray(X, dtype=np.float64), masks


def torch_gradients(
    params: Params, X: Array, y: Array, lam: float, mask: Masks = None, smoothing: float = 0.0
) -> tuple[float, Grads]:
    """``(cost, grads)`` of ``cost(params, X, y, lam)`` by PyTorch autograd in float64.

    ``mask`` is as for :func:`handprop.nn.network.gradients`: None, one array
    (one hidden layer) or one per hidden layer, each a multiplier (n, m_l); ``smoothing``
    is ``cross_entropy(label_smoothing=...)``.
    """
    try:
        import torch
    except ImportError:
        raise HandpropError(
            "gradient verification needs PyTorch: pip install 'handprop[verify]' "
            "(torch==2.13.0, CPU build)"
        ) from None

    params, X, masks = _float64(params, X, mask)
    leaves = {
        name: torch.tensor(value, requires_grad=True)
        for name, value in Params(params.layers).arrays().items()  # the trained arrays
    }
    h = torch.tensor(X)
    depth = len(params.affine)
    stats = iter(params.stats)
    for i in range(1, depth + 1):
        h = h @ leaves[f"W{i}"] + leaves[f"b{i}"]
        if i < depth:
            if f"gamma{i}" in leaves:
                s = next(stats)
                h = torch.nn.functional.batch_norm(
                    h,
                    torch.tensor(s.mean.copy()),
                    torch.tensor(s.var.copy()),
                    leaves[f"gamma{i}"],
                    leaves[f"beta{i}"],
                    training=True,
                    eps=float(s.eps),
                )
            h = torch.relu(h)
            if masks is not None:
                h = h * torch.tensor(masks[i - 1])
    labels = torch.tensor(np.asarray(y, dtype=np.int64))
    loss = torch.nn.functional.cross_entropy(h, labels, label_smoothing=smoothing)
    cost = loss + lam * sum((leaves[f"W{i}"] ** 2).sum() for i in range(1, depth + 1))
    cost.backward()
    grads = {name: leaf.grad.numpy() for name, leaf in leaves.items()}  # type: ignore[union-attr,unused-ignore]
    return cost.item(), Params.from_arrays(grads)


def _cost_and_kinks(
    params: Params, X: Array, y: Array, lam: float, masks: Masks, smoothing: float
) -> tuple[float, Array]:
    """The cost and the sign pattern of every ReLU input (which side of each kink)."""
    scores, tape = forward(params, X, masks)
    loss = L.softmax_cross_entropy_forward(scores, y, smoothing)[0]
    cost = loss + L.l2_penalty(decayed_arrays(params), lam)
    relu_outputs = [cache.ravel() for spec, _, cache in tape if isinstance(spec, ReLU)]
    return cost, np.concatenate([np.empty(0), *relu_outputs]) > 0


def finite_differences(
    params: Params,
    X: Array,
    y: Array,
    lam: float,
    mask: Masks = None,
    *,
    coords: Mapping[str, Array],
    step: float = FD_STEP,
    smoothing: float = 0.0,
) -> dict[str, Array]:
    """Five-point centred differences of the cost at the flat indices ``coords[name]``.

    ``(c(θ-2h) - 8c(θ-h) + 8c(θ+h) - c(θ+2h)) / 12h``, truncation error O(h^4).
    When the points straddle a ReLU kink (some ReLU input changes sign) the
    quotient is meaningless, so the step is divided by 10 until none does (down
    to :data:`MIN_FD_STEP`; a coordinate still straddling one sits on a kink, has
    no derivative and shows up as a large error). Returns ``{name: values}``
    aligned with ``coords[name]``.
    """
    params, X, masks = _float64(params, X, mask)
    arrays = {name: a.copy() for name, a in params.arrays().items()}
    perturbed = Params.from_arrays(arrays)  # read-only views of the writable copies

    def at(flat: Array, i: int, value: float) -> tuple[float, Array]:
        old, flat[i] = flat[i], value
        try:
            return _cost_and_kinks(perturbed, X, y, lam, masks, smoothing)
        finally:
            flat[i] = old

    kinks = _cost_and_kinks(params, X, y, lam, masks, smoothing)[1]
    out: dict[str, Array] = {}
    for name, idx in coords.items():
        flat = arrays[name].reshape(-1)
        values = np.empty(len(idx))
        for j, i in enumerate(idx):
            h = step
            while True:
                points = [at(flat, i, flat[i] + k * h) for k in _STENCIL]
                smooth = all(np.array_equal(side, kinks) for _, side in points)
                if smooth or h <= MIN_FD_STEP:
                    break
                h /= 10
            c = [cost for cost, _ in points]
            values[j] = (8 * (c[2] - c[1]) - (c[3] - c[0])) / (12 * h)
        out[name] = values
    return out


def check_gradients(
    case: CheckCase,
    params: Params,
    X: Array,
    y: Array,
    mask: Masks = None,
    *,
    fd_coords: int = 0,
    rng: np.random.Generator | None = None,
    eps: float = REL_EPS,
) -> tuple[GradError, ...]:
    """Errors of :func:`handprop.nn.gradients` per parameter, one row each (W1, b1, W2, ...).

    Uses ``case.lam`` and ``case.smoothing``; always compares with :func:`torch_gradients`, and with
    ``fd_coords=k > 0`` also with :func:`finite_differences` at ``k`` coordinates
    per parameter drawn from ``rng`` (every coordinate when ``k >= size``). The biases of
    layers feeding a batch norm get no finite differences: the batch mean removes them, so
    the cost does not depend on them: their gradient is zero in exact arithmetic, and its
    rounding noise is compared with zero in absolute terms (``zero_abs``).
    """
    params, X, mask = _float64(params, X, mask)
    s = case.smoothing
    analytic = gradients(params, X, y, case.lam, mask, s).arrays()
    reference = torch_gradients(params, X, y, case.lam, mask, s)[1].arrays()
    numeric: dict[str, Array] = {}
    coords: dict[str, Array] = {}
    cancelled = {k for k in analytic if k[0] == "b" and f"gamma{k[1:]}" in analytic}
    if fd_coords > 0:
        coords = sample_coords(params, fd_coords, rng or np.random.default_rng(0))
        coords = {k: c for k, c in coords.items() if k not in cancelled}
        numeric = finite_differences(params, X, y, case.lam, mask, coords=coords, smoothing=s)
    rows = []
    for name, a in analytic.items():
        fd: tuple[float | None, float | None] = (None, None)
        if name in numeric:
            fd = max_errors(a.reshape(-1)[coords[name]], numeric[name], eps)
        torch_abs, torch_rel = max_errors(a, reference[name], eps)
        zero = float(np.abs(a).max(initial=0.0)) if name in cancelled else None
        rows.append(
            GradError(
                case, name, a.size, torch_abs, torch_rel, *fd, len(coords.get(name, ())), zero
            )
        )
    return tuple(rows)


def gradcheck_table(
    cases: Iterable[CheckCase],
    X: Array,
    y: Array,
    *,
    fd_coords: int = 0,
    seed: int = 0,
    n_classes: int = 10,
) -> tuple[GradError, ...]:
    """Check every case on ``(X, y)``: rows for W1, b1, W2, ... of each network in turn.

    Case ``i`` draws its float64 parameters, dropout mask and finite-difference
    coordinates from the generator seeded with ``(seed, i + 1)``: ``fan_in``
    weights and, unlike training, biases (and batch-norm shifts ``beta``) ~ N(0, 0.01^2)
    and batch-norm scales ``gamma`` ~ N(1, 0.1^2). Zero biases would put
    every hidden unit fed by an all-zero row (all units before it dead or
    dropped) exactly on its ReLU kink, where no derivative exists to compare.
    """

    def drawn(rng: np.random.Generator, name: str, a: Array) -> Array:
        if name[0] == "b":
            return 0.01 * rng.standard_normal(a.shape)
        return 1 + 0.1 * rng.standard_normal(a.shape) if name.startswith("gamma") else a

    rows: list[GradError] = []
    for i, case in enumerate(cases):
        rng = np.random.default_rng((seed, i + 1))
        model = ModelConfig(hidden=case.hidden, dtype="float64", batchnorm=case.batchnorm)
        weights = init_params(TrainConfig(model=model), X.shape[1], n_classes, seed=rng)
        params = Params.from_arrays({k: drawn(rng, k, a) for k, a in weights.arrays().items()})
        mask = fixed_masks(case, len(X), rng)
        rows += check_gradients(case, params, X, y, mask, fd_coords=fd_coords, rng=rng)
    return tuple(rows)


def failures(
    rows: Iterable[GradError],
    *,
    max_torch_abs: float = MAX_TORCH_ABS,
    max_fd_rel: float = MAX_FD_REL,
) -> list[str]:
    """One message per error above its threshold (empty: everything passed)."""
    out = []
    for r in rows:
        if not r.torch_abs <= max_torch_abs:
            out.append(
                f"{r.case.label} {r.param}: torch max abs {r.torch_abs:.2e} > {max_torch_abs:g}"
            )
        if r.zero_abs is not None and not r.zero_abs <= max_torch_abs:
            out.append(
                f"{r.case.label} {r.param}: max |g| {r.zero_abs:.2e} > {max_torch_abs:g} "
                "(zero in exact arithmetic)"
            )
        if r.fd_rel is not None and not r.fd_rel <= max_fd_rel:
            out.append(f"{r.case.label} {r.param}: FD max rel {r.fd_rel:.2e} > {max_fd_rel:g}")
    return out
