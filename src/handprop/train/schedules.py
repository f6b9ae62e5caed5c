"""Learning-rate schedules as pure functions of the update step (optax style).

A :data:`Schedule` maps the 0-based step ``t`` to the learning rate used by
that step. The cyclical schedules follow Smith (2015), "Cyclical Learning Rates
for Training Neural Networks": η rises linearly from ``eta_min`` to ``eta_max``
over ``n_s`` steps and falls back over the next ``n_s``, so one cycle is
``2 * n_s`` steps and ``t = 2 l n_s`` are the minima, ``t = (2 l + 1) n_s`` the
maxima.
"""

from __future__ import annotations

from collections.abc import Callable

Schedule = Callable[[int], float]

SCHEDULE_NAMES: tuple[str, ...] = ("constant", "triangular", "triangular2", "exp_range")


def constant(eta: float) -> Schedule:
    """η_t = eta."""

    def schedule(t: int) -> float:
        return eta

    return schedule


def _triangle(t: int, n_s: int) -> tuple[int, float]:
    """``(cycle, x)``: the cycle of step ``t`` and its position in the triangle, ``x in [0, 1]``.

    ``x = pos / n_s`` on the way up and ``(2 n_s - pos) / n_s`` on the way down,
    with ``pos = t - 2 n_s cycle`` (integer arithmetic, one division: exact corners).
    """
    cycle, pos = divmod(t, 2 * n_s)
    return cycle, (n_s - abs(pos - n_s)) / n_s


def triangular(eta_min: float, eta_max: float, n_s: int) -> Schedule:
    """η_t = eta_min + x_t (eta_max - eta_min): the triangle repeats unchanged."""

    def schedule(t: int) -> float:
        return eta_min + _triangle(t, n_s)[1] * (eta_max - eta_min)

    return schedule


def triangular2(eta_min: float, eta_max: float, n_s: int) -> Schedule:
    """Like :func:`triangular`, but the amplitude halves after every cycle."""

    def schedule(t: int) -> float:
        cycle, x = _triangle(t, n_s)
        return eta_min + x * (eta_max - eta_min) / 2**cycle

    return schedule


def exp_range(eta_min: float, eta_max: float, n_s: int, gamma: float) -> Schedule:
    """Like :func:`triangular`, but the amplitude decays as ``gamma ** t``."""

    def schedule(t: int) -> float:
        return eta_min + _triangle(t, n_s)[1] * (eta_max - eta_min) * gamma**t

    return schedule
