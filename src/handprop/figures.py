"""Figures of a training run: curves, learning-rate schedule, first-layer weights.

Each ``*_figure`` function builds a :class:`matplotlib.figure.Figure` without touching
pyplot's global state (so tests can inspect it and threads can draw at once); each
``plot_*`` function draws it and saves it atomically to ``path``, as PNG or PDF by suffix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from handprop.atomic import replace_atomic
from handprop.errors import ConfigError

FORMATS: tuple[str, ...] = ("png", "pdf")
X_AXES: dict[str, str] = {"step": "update step", "epoch": "epoch"}
#: Panels of :func:`curves_figure`: (column stem, y-axis label, scale to display).
PANELS: tuple[tuple[str, str, float], ...] = (
    ("cost", "cost (loss + L2 penalty)", 1.0),
    ("loss", "cross-entropy loss", 1.0),
    ("acc", "accuracy (%)", 100.0),
)
SPLITS: tuple[tuple[str, str, str], ...] = (
    ("train", "training", "-"),
    ("val", "validation", "--"),
)
IMAGE_SHAPE: tuple[int, int, int] = (3, 32, 32)
DPI = 150


def curves_figure(
    columns: Mapping[str, np.ndarray], *, x: str = "step", title: str | None = None
) -> Figure:
    """Cost, loss and accuracy panels, training (solid) against validation (dashed).

    ``columns`` is ``History.columns()``: 1-D arrays keyed ``step``, ``epoch``,
    ``train_cost``, ``val_cost``, ``train_loss``, ``val_loss``, ``train_acc``, ``val_acc``
    (accuracies as fractions). NaN entries (a diverged run) are left as gaps.
    """
    if x not in X_AXES:
        raise ConfigError(f"x must be one of {', '.join(X_AXES)}; got {x!r}")
    xs = _column(columns, x)
    fig = Figure(figsize=(9, 2.9), layout="constrained")
    axes = fig.subplots(1, len(PANELS))
    for ax, (stem, ylabel, scale) in zip(axes, PANELS, strict=True):
        for split, label, style in SPLITS:
            ys = _column(columns, f"{split}_{stem}")
            ax.plot(xs, ys * scale, style, marker="." if len(xs) < 50 else None, label=label)
        ax.set_xlabel(X_AXES[x])
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def schedule_figure(
    steps: Sequence[int] | np.ndarray, etas: Sequence[float] | np.ndarray
) -> Figure:
    """The learning rate η against the update step."""
    steps, etas = np.asarray(steps), np.asarray(etas)
    if steps.shape != etas.shape or steps.ndim != 1:
        raise ConfigError(
            f"steps and etas must be 1-D of equal length; got {steps.shape} and {etas.shape}"
        )
    fig = Figure(figsize=(5, 2.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(steps, etas)
    ax.set_xlabel(X_AXES["step"])
    ax.set_ylabel("learning rate η")
    ax.grid(alpha=0.3)
    return fig


def weights_figure(
    W1: np.ndarray, *, class_names: Sequence[str] | None = None, n: int = 10
) -> Figure:
    """The first ``n`` columns of ``W1`` (3072, k) as 32x32 colour images.

    Rows of ``W1`` follow the CHW pixel order of the data, so a column is reshaped to
    (3, 32, 32) and transposed to (32, 32, 3); each image is min-max scaled on its own.
    Images are titled by ``class_names`` (one-layer net) or by unit index.
    """
    W1 = np.asarray(W1)
    size = math.prod(IMAGE_SHAPE)
    if W1.ndim != 2 or W1.shape[0] != size:
        raise ConfigError(f"W1 must have shape ({size}, k); got {W1.shape}")
    if n < 1:
        raise ConfigError(f"n must be an integer >= 1, got {n!r}")
    shown = min(n, W1.shape[1])
    if class_names is not None and len(class_names) < shown:
        raise ConfigError(f"class_names must name the {shown} images shown; got {len(class_names)}")
    n_cols = min(shown, 10)
    n_rows = math.ceil(shown / n_cols)
    fig = Figure(figsize=(n_cols, 1.2 * n_rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(n_rows, n_cols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        if i < shown:
            ax.imshow(weight_image(W1[:, i]), interpolation="nearest")
            ax.set_title(class_names[i] if class_names is not None else f"unit {i}", fontsize=10)
    return fig


def weight_image(column: np.ndarray) -> np.ndarray:
    """One (3072,) weight column as a (32, 32, 3) image scaled to [0, 1]."""
    image = np.asarray(column, dtype=np.float64).reshape(IMAGE_SHAPE).transpose(1, 2, 0)
    lo, hi = image.min(), image.max()
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)


def plot_curves(
    columns: Mapping[str, np.ndarray],
    path: str | os.PathLike[str],
    *,
    x: str = "step",
    title: str | None = None,
) -> Path:
    """Save :func:`curves_figure` to ``path`` (``.png`` or ``.pdf``)."""
    return save_figure(curves_figure(columns, x=x, title=title), path)


def plot_schedule(
    steps: Sequence[int] | np.ndarray,
    etas: Sequence[float] | np.ndarray,
    path: str | os.PathLike[str],
) -> Path:
    """Save :func:`schedule_figure` to ``path`` (``.png`` or ``.pdf``)."""
    return save_figure(schedule_figure(steps, etas), path)


def plot_weights(
    W1: np.ndarray,
    path: str | os.PathLike[str],
    *,
    class_names: Sequence[str] | None = None,
    n: int = 10,
) -> Path:
    """Save :func:`weights_figure` to ``path`` (``.png`` or ``.pdf``)."""
    return save_figure(weights_figure(W1, class_names=class_names, n=n), path)


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` to ``path`` atomically (temporary file, then rename); format by suffix."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ConfigError(f"figure path must end in .png or .pdf; got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_atomic(
        path, lambda f: fig.savefig(f, format=fmt, dpi=DPI, metadata=_metadata(fmt))
    )


def _metadata(fmt: str) -> dict[str, str | None]:
    """Metadata without creation dates, so the same run gives byte-identical files."""
    return {"CreationDate": None} if fmt == "pdf" else {}


def _column(columns: Mapping[str, np.ndarray], key: str) -> np.ndarray:
    if key not in columns:
        raise ConfigError(f"history has no column {key!r}; it has {', '.join(columns)}")
    return np.asarray(columns[key], dtype=np.float64)
