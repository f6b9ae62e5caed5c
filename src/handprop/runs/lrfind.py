"""Learning-rate range test (Smith 2015, section 3.3): find ``eta_min``/``eta_max``.

Training runs for ``steps`` updates while η grows exponentially from ``start`` to ``stop``;
the mini-batch loss is smoothed by a bias-corrected exponential moving average and the test
stops once the smoothed loss exceeds ``explode`` times its lowest value (or turns
non-finite). :data:`RULE` states how the curve becomes a triangular-schedule suggestion.

A run folder holds ``config.toml``, ``lrfind.json`` (settings, η and loss per step, the
suggestion) and ``lrfind.png`` (smoothed loss against η, log x-axis).
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from handprop.atomic import write_text_atomic
from handprop.data import Splits
from handprop.errors import ConfigError, HandpropError
from handprop.lock import folder_lock
from handprop.train.config import MAX_STEPS, TrainConfig, save_config
from handprop.train.data import init_params, load_data
from handprop.train.loop import make_step
from handprop.train.state import TrainState

RULE = (
    "eta_max = the eta of the lowest smoothed cost (where the cost stops falling, "
    "Smith 2015); eta_min = eta_max / {ratio:g}"
)


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{attribute.name} = {value!r}: must be a finite number > 0")


def _above(bound: float) -> Any:
    def check(instance: object, attribute: attrs.Attribute, value: float) -> None:
        if not (math.isfinite(value) and value > bound):
            raise ConfigError(f"{attribute.name} = {value!r}: must be a finite number > {bound:g}")

    return check


@attrs.frozen(kw_only=True)
class RangeTest:
    """Settings: η from ``start`` to ``stop`` over ``steps`` updates, EMA factor ``beta``,
    stop at ``explode`` x the lowest smoothed loss; ``eta_min`` is ``eta_max / ratio``."""

    start: float = attrs.field(default=1e-5, converter=float, validator=_positive)
    stop: float = attrs.field(default=10.0, converter=float, validator=_positive)
    steps: int = attrs.field(default=400)
    beta: float = attrs.field(default=0.98, converter=float)
    explode: float = attrs.field(default=4.0, converter=float, validator=_above(1.0))
    ratio: float = attrs.field(default=1e3, converter=float, validator=_above(1.0))

    def __attrs_post_init__(self) -> None:
        if self.start >= self.stop:
            raise ConfigError(f"start = {self.start:g} must be < stop = {self.stop:g}")
        if (
            isinstance(self.steps, bool)
            or not isinstance(self.steps, int)
            or not 10 <= self.steps <= MAX_STEPS
        ):
            raise ConfigError(f"steps = {self.steps!r}: must be an integer in [10, {MAX_STEPS:,}]")
        if not 0.0 <= self.beta < 1.0:
            raise ConfigError(f"beta = {self.beta!r}: must lie in [0, 1)")

    @property
    def rule(self) -> str:
        return RULE.format(ratio=self.ratio)

    def eta(self, t: int) -> float:
        """η of update ``t``: ``start (stop / start) ** (t / (steps - 1))``."""
        return self.start * (self.stop / self.start) ** (t / (self.steps - 1))


@attrs.frozen
class LrFindResult:
    """η and raw/smoothed loss of each update run; ``exploded`` is the update at which the
    test stopped early (``None`` if it ran all steps); the suggested schedule range."""

    test: RangeTest
    etas: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    exploded: int | None
    eta_min: float
    eta_max: float

    @property
    def best_eta(self) -> float:
        """η at the lowest smoothed loss."""
        return self.etas[int(np.nanargmin(self.smoothed))]

    def set_text(self) -> str:
        """The suggestion as ``handprop train`` options."""
        return f"--set eta_min={self.eta_min:.3g} --set eta_max={self.eta_max:.3g}"

    def to_json(self) -> dict[str, Any]:
        return {
            "settings": attrs.asdict(self.test),
            "rule": self.test.rule,
            "eta_min": self.eta_min,
            "eta_max": self.eta_max,
            "best_eta": self.best_eta,
            "exploded_at": self.exploded,
            "eta": list(self.etas),
            "loss": [v if math.isfinite(v) else None for v in self.losses],
            "smoothed_loss": [v if math.isfinite(v) else None for v in self.smoothed],
        }


def lr_range_test(config: TrainConfig, test: RangeTest, data: Splits) -> LrFindResult:
    """Run the range test from the config's initial parameters on ``data.train``."""
    step = make_step(config, data.train, schedule=test.eta)
    state = TrainState(init_params(config, data.train.X.shape[1], len(data.train.class_names)))
    etas: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    average, lowest, exploded = 0.0, math.inf, None
    with np.errstate(all="ignore"):
        for t in range(test.steps):
            state = step(state, t)
            etas.append(test.eta(t))
            losses.append(float(state.cost))
            average = test.beta * average + (1 - test.beta) * state.cost
            smooth = average / (1 - test.beta ** (t + 1))
            smoothed.append(float(smooth))
            lowest = min(lowest, smooth)
            if not math.isfinite(smooth) or smooth > test.explode * lowest:
                exploded = t
                break
    eta_max = etas[int(np.nanargmin(smoothed))]
    return LrFindResult(
        test,
        tuple(etas),
        tuple(losses),
        tuple(smoothed),
        exploded,
        eta_min=eta_max / test.ratio,
        eta_max=eta_max,
    )


def plot_lr_find(result: LrFindResult, path: Path) -> None:
    """Smoothed (and raw) loss against η on a log axis, the suggested range shaded."""
    from matplotlib.figure import Figure

    from handprop.figures import save_figure

    fig = Figure(figsize=(5.5, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.plot(result.etas, result.losses, color="0.75", lw=0.8, label="mini-batch cost")
    ax.plot(result.etas, result.smoothed, color="C0", label="smoothed (EMA)")
    ax.axvspan(result.eta_min, result.eta_max, color="C2", alpha=0.15, label="suggested range")
    ax.axvline(result.best_eta, color="C3", ls="--", lw=0.8, label="lowest smoothed cost")
    finite = [v for v in result.smoothed if math.isfinite(v)]
    ax.set_ylim(min(finite) * 0.95, max(finite[: len(finite) // 2 + 1]) * 1.25)
    ax.set_xscale("log")
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel("training cost")
    ax.set_title("\n".join(textwrap.wrap(result.test.rule, 70)), fontsize="small")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    save_figure(fig, path)


def run_lr_find(
    config: TrainConfig, out_dir: str | Path, test: RangeTest, *, data: Splits | None = None
) -> LrFindResult:
    """Run the range test on ``config`` and write ``config.toml``, ``lrfind.json`` and
    ``lrfind.png`` into ``out_dir``, holding its lock; a folder holding a training run is
    refused (its ``config.toml`` belongs to the run)."""
    from handprop.runs.rundir import PROGRESS_FILES

    out = Path(out_dir)
    with folder_lock(out):
        run = [name for name in PROGRESS_FILES if (out / name).exists()]
        if run:
            raise HandpropError(
                f"{out} holds a training run ({run[0]}); give lr-find another --out"
            )
        data = load_data(config) if data is None else data
        save_config(config, out / "config.toml")
        result = lr_range_test(config, test, data)
        write_text_atomic(out / "lrfind.json", json.dumps(result.to_json(), indent=1) + "\n")
        plot_lr_find(result, out / "lrfind.png")
    return result
