"""Data and initial parameters for a config."""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np

from handprop.atomic import save_npz_atomic
from handprop.data import Cifar10, Splits, load_cifar10
from handprop.data.normalize import whitened_splits
from handprop.data.source import DataSource, cache_folder
from handprop.data.whiten import Method, Whitening, covariance_eigen, whitening_from_eigen
from handprop.errors import ConfigError, DataError
from handprop.nn.params import AffineParams, NormParams, Params, Stats
from handprop.train.config import DataConfig, ModelConfig, TrainConfig
from handprop.train.state import INIT, stream

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _cifar10(source: DataSource) -> Cifar10:
    return load_cifar10(source.path, url=source.url, known_hash=source.known_hash, progress=True)


#: Version of the cached covariance eigendecompositions (bump to invalidate them).
EIGEN_FORMAT = 1


def _digest(X: np.ndarray) -> str:
    """Content key of the training images (dtype, shape and bytes)."""
    h = hashlib.blake2b(f"{EIGEN_FORMAT} {X.dtype} {X.shape}".encode(), digest_size=16)
    h.update(np.ascontiguousarray(X).data)
    return h.hexdigest()


def _read_eigen(path: Path, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(mean, lam, U)`` from a cache file if it is whole and of the right shape, else None."""
    shapes = {"mean": (d,), "lam": (d,), "U": (d, d)}
    try:
        with np.load(path, allow_pickle=False) as npz:
            if sorted(npz.files) != sorted(shapes):
                return None
            arrays = (npz["mean"], npz["lam"], npz["U"])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    for a, shape in zip(arrays, shapes.values(), strict=True):
        if a.shape != shape or a.dtype != np.float64 or not np.isfinite(a).all():
            return None
    return arrays


def eigen_cached(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`~handprop.data.whiten.covariance_eigen` of ``X``, cached on disk under
    ``HANDPROP_CACHE/whitening`` by the content of ``X`` (so per data source, split,
    validation size, training cut and dtype). A damaged cache file is recomputed."""
    path = cache_folder() / "whitening" / f"eigen-{_digest(X)}.npz"
    found = _read_eigen(path, X.shape[1]) if path.is_file() else None
    if found is not None:
        return found
    mean, lam, U = covariance_eigen(X)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_npz_atomic(path, {"mean": mean, "lam": lam, "U": U})
    except (OSError, DataError) as err:  # a read-only cache costs time, not correctness
        log.warning("cannot cache the whitening fit in %s: %s", path.parent, err)
    return mean, lam, U


def whitening_fit(whiten: str, eps: float) -> Callable[[np.ndarray], Whitening] | None:
    """The fit that :func:`~handprop.data.normalize.whitened_splits` takes for
    ``data.whiten`` and ``data.whiten_eps`` (None: not whitened), its eigendecomposition
    cached on disk."""
    if whiten == "none":
        return None

    def fit(X: np.ndarray) -> Whitening:
        mean, lam, U = eigen_cached(X)
        return whitening_from_eigen(mean, lam, U, cast(Method, whiten), eps)

    return fit


@functools.lru_cache(maxsize=2)
def prepared_splits(
    source: DataSource, data: DataConfig, dtype: str
) -> tuple[Splits, Whitening | None]:
    """The train / validation / test splits of ``source`` as ``data`` says, normalised and
    (with ``data.whiten``) whitened in ``dtype``, and the whitening (None without one);
    both fitted on the training split only.

    The archive and the last two results are kept for the life of the process, the
    whitening's eigendecomposition on disk (:func:`eigen_cached`).
    """
    return whitened_splits(
        _cifar10(source),
        data.split,
        whitening_fit(data.whiten, data.whiten_eps),
        n_val=data.n_val,
        n_train=data.n_train or None,
        dtype=dtype,
    )


def data_and_whitening(
    config: TrainConfig, source: DataSource | None = None
) -> tuple[Splits, Whitening | None]:
    """:func:`prepared_splits` of ``source`` for the config's data settings and dtype.

    ``source`` defaults to :meth:`DataSource.resolve`: ``HANDPROP_DATA`` (which ``--data``
    sets), else the source recorded by ``handprop data use``, else the cache or a download.
    """
    found = DataSource.resolve() if source is None else source
    return prepared_splits(found, config.data, config.model.dtype)


def load_data(config: TrainConfig, source: DataSource | None = None) -> Splits:
    """The splits of :func:`data_and_whitening`: normalised (and, with ``data.whiten``,
    whitened) train / validation / test splits in the config's dtype."""
    return data_and_whitening(config, source)[0]


def training_bytes(config: TrainConfig, d_in: int = 3072, n_classes: int = 10) -> int:
    """Rough memory for the network of ``config``: parameters, gradients and the new
    parameters in the config's dtype, plus the float64 draw of the initial weights."""
    sizes = (d_in, *config.model.hidden, n_classes)
    count = sum(a * b + b for a, b in itertools.pairwise(sizes))
    return count * (3 * np.dtype(config.model.dtype).itemsize + 8)


def _physical_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def init_params(
    config: TrainConfig,
    d_in: int = 3072,
    n_classes: int = 10,
    *,
    seed: int | np.random.Generator | None = None,
) -> Params:
    """Fresh parameters for ``config``: its hidden sizes, init, dtype and batch norms, drawn
    from its initialisation stream ``stream(config.run.seed, INIT)``, or from
    ``np.random.default_rng(seed)`` if ``seed`` (an int or a Generator) is given.

    ``init = "fan_in"``: ``W ~ N(0, 1/d_in)`` per layer, zero biases (first seed).
    ``init = "normal_0.01"``: ``W, b ~ N(0, 0.01^2)`` (second seed). Weights are drawn in
    float64 and cast, so float32 and float64 networks from the same seed hold the same
    values up to rounding. With batch norms, a :class:`~handprop.nn.params.NormParams`
    (``gamma = 1``, ``beta = 0``) follows each hidden affine layer, with running averages
    ``mean = 0``, ``var = 1`` and ``eps = bn_eps`` (no random draws: the weights are those
    of the same network without batch norm).

    A network that cannot fit in this machine's memory is a :class:`ConfigError`
    saying how much it needs.
    """
    need, have = training_bytes(config, d_in, n_classes), _physical_memory()
    message = (
        f"hidden = {list(config.model.hidden)} needs about {need / 1e9:.3g} GB of memory for its "
        f"parameters and gradients ({config.model.dtype}); this machine has {have / 1e9:.3g} GB"
    )
    if need > have:
        raise ConfigError(message)
    rng = stream(config.run.seed, INIT) if seed is None else np.random.default_rng(seed)
    try:
        return _draw(config.model, d_in, n_classes, rng)
    except MemoryError:
        raise ConfigError(message) from None


def _draw(model: ModelConfig, d_in: int, n_classes: int, rng: np.random.Generator) -> Params:
    """The parameters of :func:`init_params`, drawn from ``rng``."""
    dtype = np.dtype(model.dtype)
    sizes = (d_in, *model.hidden, n_classes)
    layers: list[AffineParams | NormParams] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if model.init == "fan_in":
            W = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
            b = np.zeros(fan_out)
        else:
            W = 0.01 * rng.standard_normal((fan_in, fan_out))
            b = 0.01 * rng.standard_normal(fan_out)
        layers.append(AffineParams(W.astype(dtype), b.astype(dtype)))
        if model.batchnorm and i < len(model.hidden):
            layers.append(NormParams(np.ones(fan_out, dtype), np.zeros(fan_out, dtype)))
    norms = model.hidden if model.batchnorm else ()
    stats = [
        Stats(np.zeros(m, dtype), np.ones(m, dtype), np.asarray(model.bn_eps, dtype)) for m in norms
    ]
    return Params(tuple(layers), stats)
