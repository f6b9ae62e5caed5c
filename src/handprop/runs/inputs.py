"""A run folder's stored input transform: from raw pixel rows to the network's inputs.

``normalization.npz`` holds the training split's per-dimension ``mean`` and ``std`` (d,),
in the run's float dtype, exactly as :func:`~handprop.train.data.load_data` fitted them,
and the ``class_names``; ``whitening.npz`` (only in runs whose config whitens) holds the
fitted :class:`~handprop.data.whiten.Whitening`, applied after the normalisation.
Both are read without pickles and checked before use against the run's config: the
dtype, a finite ``std`` of at least :data:`MIN_STD`, distinct non-empty class names, and
a whitening present exactly when ``data.whiten`` asks for one, of that method and eps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from handprop.atomic import save_npz_atomic
from handprop.data.dataset import Dataset, scaled
from handprop.data.normalize import Normalizer
from handprop.data.whiten import Whitening, apply_whitening, load_whitening
from handprop.errors import DataError
from handprop.train.config import TrainConfig

NORMALIZATION_FILE = "normalization.npz"
WHITENING_FILE = "whitening.npz"
_FIELDS = ("class_names", "mean", "std")
#: Smallest stored std: a pixel column that varies at all over 50,000 images in [0, 1] has
#: a std of at least 1.7e-5 (a constant one is stored as 1).
MIN_STD = 1e-6


def save_normalization(normalizer: Normalizer, class_names: Sequence[str], path: Path) -> None:
    """Write ``mean``, ``std`` (d,) and ``class_names`` to ``path`` (.npz) atomically."""
    save_npz_atomic(
        path,
        {"mean": normalizer.mean, "std": normalizer.std, "class_names": np.array(class_names)},
    )


def load_normalization(path: Path) -> tuple[Normalizer, tuple[str, ...]]:
    """The normaliser and class names written by :func:`save_normalization`."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if sorted(npz.files) != list(_FIELDS):
                raise ValueError(f"expected arrays {list(_FIELDS)}, found {sorted(npz.files)}")
            mean, std, names = npz["mean"], npz["std"], npz["class_names"]
    except (OSError, ValueError, EOFError) as err:
        raise DataError(f"normalisation file {path} is unreadable ({err})") from None
    problem = None
    if mean.ndim != 1 or std.shape != mean.shape or mean.dtype != std.dtype:
        problem = f"mean {mean.dtype} {mean.shape} and std {std.dtype} {std.shape} do not match"
    elif mean.dtype.name not in ("float32", "float64"):
        problem = f"mean and std must be float32 or float64, got {mean.dtype}"
    elif not (np.isfinite(mean).all() and np.isfinite(std).all() and (std >= MIN_STD).all()):
        problem = f"mean and std must be finite and std >= {MIN_STD:g} (std > 0)"
    elif names.ndim != 1 or names.dtype.kind != "U" or len(names) < 2:
        problem = f"class_names must be at least 2 strings, got {names.dtype} {names.shape}"
    elif len(set(names.tolist())) != len(names) or not all(names.tolist()):
        problem = f"class_names must be distinct and non-empty, got {names.tolist()}"
    if problem:
        raise DataError(f"normalisation file {path} is invalid: {problem}")
    return Normalizer(mean, std), tuple(str(n) for n in names)


@attrs.frozen
class InputTransform:
    """Normalisation (then whitening, if any) of pixel rows, and the class names."""

    normalizer: Normalizer
    class_names: tuple[str, ...]
    whitening: Whitening | None = None

    @property
    def dtype(self) -> np.dtype:
        return self.normalizer.mean.dtype

    @property
    def n_features(self) -> int:
        """Pixels per input row (3072 for CIFAR-10)."""
        return self.normalizer.mean.shape[0]

    @property
    def n_inputs(self) -> int:
        """Network inputs per row: :attr:`n_features`, or the whitening's components."""
        return self.n_features if self.whitening is None else self.whitening.n_components

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        """Network inputs (n, k) in :attr:`dtype` for pixel rows (n, d) in [0, 255] (uint8
        or float, CIFAR layout): the same operations, in the same order, as training."""
        X = np.asarray(pixels)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"pixels must be (n, {self.n_features}), got {X.shape}")
        rows = Dataset(scaled(X, self.dtype), np.zeros(len(X), np.int64), self.class_names)
        X = self.normalizer.apply(rows).X
        if self.whitening is not None:
            X = apply_whitening(self.whitening, X, self.dtype)
        return X


def _check_whitening(folder: Path, config: TrainConfig, normalizer: Normalizer) -> None:
    """``whitening.npz`` is present exactly when ``config`` whitens."""
    d = config.data
    present = (folder / WHITENING_FILE).exists()
    if d.whiten != "none" and not present:
        raise DataError(
            f"{folder} has no {WHITENING_FILE}, but its config whitens (data.whiten = "
            f"{d.whiten}): train it again"
        )
    if d.whiten == "none" and present:
        raise DataError(
            f"{folder / WHITENING_FILE} does not belong to the run: its config has "
            "data.whiten = none (remove the file)"
        )


def load_input_transform(folder: str | Path, config: TrainConfig | None = None) -> InputTransform:
    """The input transform stored in the run folder ``folder``, checked against the run's
    ``config`` (default: the folder's ``config.toml``); :class:`DataError` if absent,
    invalid or not the config's."""
    from handprop.runs.rundir import CONFIG_FILE
    from handprop.train.config import load_config

    folder = Path(folder)
    config = load_config(folder / CONFIG_FILE) if config is None else config
    path = folder / NORMALIZATION_FILE
    if not path.is_file():
        raise DataError(
            f"{folder} has no {NORMALIZATION_FILE} (a run from before stored input transforms, "
            "or trained on caller-made data): train it again"
        )
    normalizer, names = load_normalization(path)
    if normalizer.mean.dtype != config.model.dtype:
        raise DataError(
            f"{folder}: its normalisation is {normalizer.mean.dtype}, its config "
            f"model.dtype {config.model.dtype}"
        )
    _check_whitening(folder, config, normalizer)
    whitening = None
    if config.data.whiten != "none":
        whitening = load_whitening(folder / WHITENING_FILE)
        if whitening.mean.shape != normalizer.mean.shape:
            raise DataError(
                f"{folder / WHITENING_FILE} whitens {whitening.mean.shape[0]} columns, "
                f"the normalisation has {normalizer.mean.shape[0]}"
            )
        fitted = (whitening.method, whitening.eps)
        if fitted != (config.data.whiten, config.data.whiten_eps):
            raise DataError(
                f"{folder / WHITENING_FILE} is {fitted[0]} with eps {fitted[1]!r}, its config "
                f"data.whiten = {config.data.whiten} with data.whiten_eps = "
                f"{config.data.whiten_eps!r}"
            )
    return InputTransform(normalizer, names, whitening)
