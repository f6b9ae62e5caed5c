"""Acceptance of the hand-written gradients: PyTorch autograd and finite differences agree."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from handprop import verify as gc
from handprop.nn import Params, gradients, layers
from handprop.train import config_from_dict, init_params

ACCEPTANCE_CASES = [
    gc.CheckCase((), lam=0.1),
    gc.CheckCase((50,), lam=0.01),
    gc.CheckCase((50,), lam=0.01, dropout=0.5),
    gc.CheckCase((20, 10), lam=0.05, dropout=0.3),
]


def _assert_accepted(rows: tuple[gc.GradError, ...]) -> None:
    assert rows, "no rows checked"
    assert gc.failures(rows) == []
    assert max(r.torch_abs for r in rows) <= 1e-12
    assert all(r.fd_count > 0 and r.fd_rel is not None and r.fd_rel <= 1e-6 for r in rows)


def test_gradcheck_import_does_not_load_torch():
    code = (
        "import sys, handprop, handprop.verify, handprop.cli.gradcheck; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("case", ACCEPTANCE_CASES, ids=lambda c: c.label)
def test_gradcheck_random_rows_accepted(case):
    X, y = gc.random_rows(20, seed=1)
    rows = gc.gradcheck_table([case], X, y, fd_coords=8, seed=1)
    assert [r.param for r in rows] == list(
        init_params(
            config_from_dict(dict(hidden=case.hidden, dtype="float64")), 3072, 10, seed=0
        ).arrays()
    )
    _assert_accepted(rows)


@pytest.mark.parametrize("case", ACCEPTANCE_CASES[:3], ids=lambda c: c.label)
def test_gradcheck_real_rows_accepted(case, real_rows64):
    X, y = real_rows64
    _assert_accepted(gc.gradcheck_table([case], X, y, fd_coords=8, seed=2))


@pytest.mark.slow  # loads and normalises the archive a second time
def test_gradcheck_real_rows_are_the_normalised_training_rows(real_rows64):
    X, y = gc.real_rows(8)
    np.testing.assert_array_equal(X, real_rows64[0][:8])
    np.testing.assert_array_equal(y, real_rows64[1][:8])
    assert X.dtype == np.float64


def test_gradcheck_torch_cost_matches_handprop():
    from handprop.nn import cost

    X, y = gc.random_rows(10, d=30, seed=3)
    params = init_params(config_from_dict(dict(hidden=(7,), dtype="float64")), 30, 10, seed=3)
    torch_cost, _ = gc.torch_gradients(params, X, y, 0.2)
    assert torch_cost == pytest.approx(cost(params, X, y, 0.2), rel=1e-14)


def _forgets_dropout_mask(dout, cache):
    """The first seed's bug: the backward pass ignores the dropout mask."""
    return dout


def _halves_l2_gradient(W, lam):
    return lam * W


@pytest.mark.parametrize(
    ("name", "bug", "case", "wrong"),
    [
        ("dropout_backward", _forgets_dropout_mask, gc.CheckCase((50,), 0.01, 0.5), {"W1", "b1"}),
        ("l2_backward", _halves_l2_gradient, gc.CheckCase((50,), 0.01), {"W1", "W2"}),
    ],
)
def test_gradcheck_detects_wrong_gradient(monkeypatch, name, bug, case, wrong):
    monkeypatch.setattr(layers, name, bug)
    X, y = gc.random_rows(20, seed=4)
    rows = gc.gradcheck_table([case], X, y, fd_coords=5, seed=4)
    by_param = {r.param: r for r in rows}
    for param, r in by_param.items():
        if param in wrong:
            assert r.torch_abs > 1e-6
            assert r.fd_rel is not None and r.fd_rel > 1e-3
        else:
            assert r.torch_abs <= 1e-12
    messages = gc.failures(rows)
    assert {m.split(":")[0].rsplit(" ", 1)[1] for m in messages} == wrong
    assert any("torch max abs" in m for m in messages)
    assert any("FD max rel" in m for m in messages)


def test_gradcheck_finite_differences_step_past_relu_kink(monkeypatch):
    """A hidden pre-activation 1e-5 from zero: the default step straddles the kink."""
    X, y = gc.random_rows(6, d=12, n_classes=3, seed=5)
    params = init_params(config_from_dict(dict(hidden=(4,), dtype="float64")), 12, 3, seed=5)
    arrays = params.arrays()
    b1 = arrays["b1"].copy()
    b1[2] = 1e-5 - X[0] @ arrays["W1"][:, 2]  # row 0, unit 2: pre-activation 1e-5
    params = Params.from_arrays({**arrays, "b1": b1})
    coords = {"b1": np.array([2])}
    analytic = gradients(params, X, y, 0.0).arrays()["b1"][2]
    fd = gc.finite_differences(params, X, y, 0.0, coords=coords)["b1"][0]
    assert fd == pytest.approx(analytic, rel=1e-6)
    monkeypatch.setattr(gc.checks, "MIN_FD_STEP", gc.FD_STEP)  # no smaller retry: across the kink
    fd = gc.finite_differences(params, X, y, 0.0, coords=coords)["b1"][0]
    assert fd != pytest.approx(analytic, rel=1e-3)


def test_missing_torch_is_a_clear_error(monkeypatch):
    from handprop.errors import HandpropError

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    params = init_params(config_from_dict(dict(hidden=(3,), dtype="float64")), 4, 2, seed=0)
    with pytest.raises(HandpropError, match=r"handprop\[verify\]"):
        gc.torch_gradients(params, np.ones((2, 4)), np.array([0, 1]), 0.0)
