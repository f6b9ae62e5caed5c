"""Schedules: exact values at the cycle corners, shapes between them."""

from __future__ import annotations

import pytest

from handprop.train import config_from_dict, schedules

ETA_MIN, ETA_MAX, N_S = 1e-5, 1e-1, 500


def test_constant_is_constant():
    s = schedules.constant(0.01)
    assert [s(t) for t in (0, 1, 999, 10**6)] == [0.01] * 4


@pytest.mark.parametrize("cycle", [0, 1, 2, 7])
def test_triangular_corners(cycle):
    s = schedules.triangular(ETA_MIN, ETA_MAX, N_S)
    base = 2 * N_S * cycle
    assert s(base) == ETA_MIN
    assert s(base + N_S) == ETA_MAX
    assert s(base + N_S // 2) == ETA_MIN + 0.5 * (ETA_MAX - ETA_MIN)
    assert s(base + 3 * N_S // 2) == ETA_MIN + 0.5 * (ETA_MAX - ETA_MIN)


def test_triangular_matches_the_first_seed_formula():
    """eta_t = eta_min + (t - 2 l n_s) / n_s (eta_max - eta_min) going up, mirrored going down."""
    s = schedules.triangular(ETA_MIN, ETA_MAX, N_S)
    for t in range(0, 4 * N_S, 37):
        pos = t % (2 * N_S)
        frac = pos / N_S if pos <= N_S else (2 * N_S - pos) / N_S
        assert s(t) == ETA_MIN + frac * (ETA_MAX - ETA_MIN)
    # the logged values of the first seed's run: step 100 of n_s = 500
    assert round(s(100), 6) == 0.020008


def test_triangular_is_linear_and_symmetric():
    s = schedules.triangular(0.0, 1.0, 4)
    assert [s(t) for t in range(9)] == [0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25, 0]


def test_triangular2_halves_the_amplitude_every_cycle():
    s = schedules.triangular2(ETA_MIN, ETA_MAX, N_S)
    for cycle in range(4):
        base = 2 * N_S * cycle
        assert s(base) == ETA_MIN
        assert s(base + N_S) == ETA_MIN + (ETA_MAX - ETA_MIN) / 2**cycle


def test_exp_range_decays_the_amplitude_by_gamma_per_step():
    gamma = 0.999
    s = schedules.exp_range(ETA_MIN, ETA_MAX, N_S, gamma)
    assert s(0) == ETA_MIN
    assert s(N_S) == ETA_MIN + (ETA_MAX - ETA_MIN) * gamma**N_S
    assert s(3 * N_S) == ETA_MIN + (ETA_MAX - ETA_MIN) * gamma ** (3 * N_S)
    assert s(2 * N_S) == ETA_MIN


def test_config_builds_the_named_schedule_with_auto_step_size():

    config = config_from_dict(dict(kind="triangular", n_cycles=3))
    assert config.step_size(49_000) == 980
    assert config.total_steps(49_000) == 5880
    s = config.make_schedule(49_000)
    assert s(980) == config.schedule.eta_max and s(1960) == config.schedule.eta_min
    const = config_from_dict(dict(kind="constant", eta=0.1, epochs=40))
    assert const.total_steps(10_000) == 4000
    assert const.make_schedule(10_000)(123) == 0.1
