"""Search spaces, sampling and the narrowing rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from handprop.errors import ConfigError, HandpropError
from handprop.search import Dimension, Narrowing, Space, Stage, narrow, sample

LAM = Dimension("lam", 1e-5, 1e-1, "log")


def test_log_grid_is_evenly_spaced_in_decades_with_exact_endpoints():
    points = sample(Space([LAM]), Stage("grid", 9), 1)
    lams = [p["lam"] for p in points]
    assert lams[0] == 1e-5
    assert lams[-1] == 1e-1
    np.testing.assert_allclose(np.diff(np.log10(lams)), 0.5)


def test_linear_grid_and_cartesian_product():
    space = Space([LAM, Dimension("dropout", 0.0, 0.5, "linear")])
    points = sample(space, Stage("grid", 3), 1)
    assert len(points) == 9
    assert sorted({p["dropout"] for p in points}) == [0.0, 0.25, 0.5]


def test_integer_dimension_rounds_and_drops_duplicates():
    space = Space([Dimension("hidden", 50, 53, "linear", integer=True)])
    points = sample(space, Stage("grid", 10), 1)
    assert [p["hidden"] for p in points] == [50.0, 51.0, 52.0, 53.0]


def test_random_samples_are_seeded_log_uniform_and_in_range():
    space = Space([LAM])
    a = sample(space, Stage("random", 200, seed=7), 2)
    b = sample(space, Stage("random", 200, seed=7), 2)
    c = sample(space, Stage("random", 200, seed=8), 2)
    assert a == b
    assert a != c
    logs = np.log10([p["lam"] for p in a])
    assert logs.min() >= -5 and logs.max() <= -1
    assert abs(logs.mean() + 3) < 0.3  # uniform in the exponent, not in the value


def test_random_stages_with_the_same_seed_differ():
    space = Space([LAM])
    assert sample(space, Stage("random", 5), 1) != sample(space, Stage("random", 5), 2)


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: Dimension("lam", 0.0, 1.0, "log"), "low > 0"),
        (lambda: Dimension("lam", 1.0, 0.1, "log"), "must not exceed"),
        (lambda: Dimension("lam", 1e-3, math.inf), "high"),
        (lambda: Dimension("lam", 1e-3, 1.0, "ln"), "scale"),
        (lambda: Stage("sobol", 4), "method"),
        (lambda: Stage("grid", 0), "n"),
        (lambda: Narrowing(top_k=0), "top_k"),
        (lambda: Narrowing(widen=0.0), "widen"),
        (lambda: Narrowing(min_fraction=2.0), "min_fraction"),
        (lambda: Space([LAM, LAM]), "unique"),
    ],
)
def test_invalid_definitions_name_the_field(make, field):
    with pytest.raises(ConfigError, match=field):
        make()


def test_narrowing_spans_the_top_k_on_the_log_scale():
    space = Space([LAM])
    best = [{"lam": 1e-3}, {"lam": 3e-4}, {"lam": 3e-3}, {"lam": 1e-1}]
    (dim,) = narrow(space, best, Narrowing(top_k=3, widen=1.0), space).dimensions
    assert dim.low == pytest.approx(3e-4)
    assert dim.high == pytest.approx(3e-3)
    (wide,) = narrow(space, best, Narrowing(top_k=3, widen=2.0), space).dimensions
    centre = (math.log10(3e-4) + math.log10(3e-3)) / 2
    span = 2 * (math.log10(3e-3) - math.log10(3e-4))
    assert math.log10(wide.low) == pytest.approx(centre - span / 2)
    assert math.log10(wide.high) == pytest.approx(centre + span / 2)


def test_narrowing_keeps_a_minimum_span_and_clips_to_the_first_bounds():
    space = Space([LAM])
    (dim,) = narrow(space, [{"lam": 1e-5}], Narrowing(top_k=1, min_fraction=0.25), space).dimensions
    assert dim.low == 1e-5  # clipped to the first stage's bound
    assert math.log10(dim.high) == pytest.approx(-5 + 0.5)  # half of the one-decade minimum span


def test_narrowing_a_linear_integer_dimension():
    space = Space([Dimension("hidden", 10, 200, "linear", integer=True)])
    best = [{"hidden": 101.0}, {"hidden": 57.0}]
    (dim,) = narrow(space, best, Narrowing(top_k=2, widen=1.5), space).dimensions
    assert (dim.low, dim.high) == (46.0, 112.0)


def test_narrowing_without_finished_trials_is_an_error():
    with pytest.raises(HandpropError, match="no trial"):
        narrow(Space([LAM]), [], Narrowing(), Space([LAM]))
