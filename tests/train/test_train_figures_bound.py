"""The schedule figure is drawn for the steps a run took, with a bounded number of points."""

from __future__ import annotations

import numpy as np
import pytest

from handprop import figures
from handprop.runs import run_experiment
from handprop.runs.rundir import MAX_SCHEDULE_POINTS, schedule_points
from handprop.train import config_from_dict


def drawn_steps(monkeypatch) -> list[np.ndarray]:
    seen: list[np.ndarray] = []

    def plot_schedule(steps, etas, path):
        seen.append(np.asarray(steps))
        assert len(steps) == len(etas)

    monkeypatch.setattr(figures, "plot_schedule", plot_schedule)
    return seen


def test_a_diverged_run_draws_only_the_steps_it_took(monkeypatch, tmp_path, splits32):
    seen = drawn_steps(monkeypatch)
    config = config_from_dict(
        {"hidden": [8], "n_s": 100, "n_cycles": 5000, "eta_min": 1e30, "eta_max": 1e31}
    )
    summary = run_experiment(config, tmp_path / "run", data=splits32, progress=False)
    assert summary.status == "diverged" and summary.steps < 10
    assert seen[0].max(initial=0) <= summary.steps and len(seen[0]) <= summary.steps + 1


@pytest.mark.parametrize(("n_s", "n_cycles", "corners"), [(3, 400_000, False), (1000, 1000, True)])
def test_a_long_run_draws_a_bounded_schedule(n_s, n_cycles, corners):
    config = config_from_dict({"n_s": n_s, "n_cycles": n_cycles})
    steps = schedule_points(config, 300, config.total_steps(300))
    assert len(steps) <= MAX_SCHEDULE_POINTS and steps[0] == 0
    assert steps[-1] == config.total_steps(300) - 1 and np.all(np.diff(steps) > 0)
    assert set(range(0, steps[-1], n_s)) <= set(steps.tolist()) or not corners


def test_a_short_run_draws_every_step_and_every_corner(monkeypatch, tmp_path, splits32):
    seen = drawn_steps(monkeypatch)
    config = config_from_dict({"hidden": [4], "n_s": 5, "n_cycles": 2, "batch_size": 100})
    run_experiment(config, tmp_path / "run", data=splits32, progress=False)
    np.testing.assert_array_equal(seen[0], np.arange(20))
