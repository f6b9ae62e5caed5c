"""Gradient-check records, their text/LaTeX/JSON forms, and the ``handprop gradcheck`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from handprop import verify as gc
from handprop.cli import main
from handprop.errors import ConfigError
from handprop.kernels.softmax import softmax_xent

SMALL = [gc.CheckCase((), lam=0.1), gc.CheckCase((6,), lam=0.01, dropout=0.5)]


@pytest.fixture(scope="module")
def small_rows():
    X, y = gc.random_rows(5, d=16, seed=0)
    return gc.gradcheck_table(SMALL, X, y, fd_coords=3, seed=0)


def test_gradcheck_max_errors():
    a = np.array([0.0, 1.0, -2.0])
    assert gc.max_errors(a, a) == (0.0, 0.0)
    abs_err, rel_err = gc.max_errors(a, np.array([0.0, 1.5, -2.0]))
    assert abs_err == 0.5
    assert rel_err == pytest.approx(0.5 / 2.5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"hidden": (0,)}, "hidden"), ({"lam": -1.0}, "lam"), ({"dropout": 1.0}, "dropout")],
)
def test_gradcheck_case_rejects_invalid_values(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        gc.CheckCase(**{"hidden": (5,), **kwargs})


def test_gradcheck_case_labels_and_one_layer_has_no_dropout():
    assert gc.CheckCase((), 0.1, 0.5) == gc.CheckCase((), 0.1)
    assert gc.CheckCase([], 0.1, 0.5).label == "1-layer, lam=0.1"
    assert gc.CheckCase((50,), 0.01, 0.5).label == "2-layer m=50, lam=0.01, dropout=0.5"
    assert gc.CheckCase((100, 50), 0.0).label == "3-layer m=100,50, lam=0"
    assert gc.CheckCase((5,), 0.0, 0.0, 0.1).label == "2-layer m=5, lam=0, smoothing=0.1"


def test_gradcheck_fixed_masks_are_inverted_dropout_multipliers():
    case = gc.CheckCase((300, 200), dropout=0.25)
    masks = gc.fixed_masks(case, 40, np.random.default_rng(0))
    assert masks is not None
    assert [m.shape for m in masks] == [(40, 300), (40, 200)]
    for m in masks:
        assert set(np.unique(m)) == {0.0, 1 / 0.75}
        assert np.mean(m == 0) == pytest.approx(0.25, abs=0.02)
    assert gc.fixed_masks(gc.CheckCase((5,)), 4, np.random.default_rng(0)) is None


def test_gradcheck_table_is_reproducible(small_rows):
    X, y = gc.random_rows(5, d=16, seed=0)
    assert gc.gradcheck_table(SMALL, X, y, fd_coords=3, seed=0) == small_rows
    assert [(r.case, r.param, r.size, r.fd_count) for r in small_rows] == [
        (SMALL[0], "W1", 160, 3),
        (SMALL[0], "b1", 10, 3),
        (SMALL[1], "W1", 96, 3),
        (SMALL[1], "b1", 6, 3),
        (SMALL[1], "W2", 60, 3),
        (SMALL[1], "b2", 10, 3),
    ]
    assert gc.failures(small_rows) == []


def test_gradcheck_without_finite_differences():
    X, y = gc.random_rows(5, d=16, seed=0)
    rows = gc.gradcheck_table(SMALL[:1], X, y)
    assert all(r.fd_abs is None and r.fd_rel is None and r.fd_count == 0 for r in rows)
    assert "FD" not in gc.to_text(rows)


def test_gradcheck_failures_name_case_parameter_and_threshold(small_rows):
    import attrs

    bad = attrs.evolve(small_rows[2], torch_abs=1e-9, fd_rel=1e-3)
    assert gc.failures([bad]) == [
        "2-layer m=6, lam=0.01, dropout=0.5 W1: torch max abs 1.00e-09 > 1e-12",
        "2-layer m=6, lam=0.01, dropout=0.5 W1: FD max rel 1.00e-03 > 1e-06",
    ]


def test_gradcheck_text_table(small_rows):
    lines = gc.to_text(small_rows).splitlines()
    assert len(lines) == 2 + len(small_rows)
    assert "Torch max abs" in lines[0] and "FD max rel" in lines[0]
    assert lines[2].startswith("| 1-layer, lam=0.1")
    assert lines[3].startswith("|  ")  # the network name is not repeated


def test_gradcheck_latex_fragment(small_rows):
    tex = gc.to_latex(small_rows)
    lines = tex.splitlines()
    assert lines[0] == r"\begin{tabular}{llrrrrrr}" and lines[-1] == r"\end{tabular}"
    assert sum(line.endswith(r"\\") for line in lines) == 1 + len(small_rows)
    assert r"$\lambda$=0.01" in tex and r"\times 10^{-" in tex


def test_gradcheck_json_round_trip(small_rows):
    text = gc.to_json(small_rows, n_rows=5, data="random")
    assert json.loads(text)["settings"] == {"n_rows": 5, "data": "random"}
    assert gc.from_json(text) == small_rows


def test_gradcheck_cli_writes_table_latex_and_json(tmp_path, capsys):
    out_json, out_tex = tmp_path / "g.json", tmp_path / "g.tex"
    argv = ["gradcheck", "--hidden", "", "--hidden", "4,3", "--lam", "0", "0.1"]
    argv += ["--dropout", "0", "0.5", "--n", "4", "--fd-coords", "2"]
    code = main([*argv, "--json", str(out_json), "--latex", str(out_tex)])
    out = capsys.readouterr().out
    assert code == 0
    assert "4 random standard-normal rows" in out and "passed" in out
    rows = gc.from_json(out_json.read_text())
    # (one-layer x 2 lambdas (dropout ignored) + three-layer x 2 lambdas x 2 rates)
    # x 2 label smoothings (0 and 0.1 by default)
    assert len({r.case for r in rows}) == (2 + 4) * 2
    assert {r.case.smoothing for r in rows} == {0.0, 0.1}
    assert "Optimiser updates against torch.optim" in out and "adamw(" in out
    assert {r.case.hidden for r in rows} == {(), (4, 3)}
    assert out_tex.read_text().startswith(r"\begin{tabular}")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dropout", "1"], "dropout must be in [0, 1)"),
        (["--lam", "-0.1"], "lam must be finite"),
        (["--n", "0"], "n must be >= 1"),
        (["--fd-coords", "-1"], "fd-coords must be >= 0"),
    ],
)
def test_gradcheck_cli_rejects_bad_arguments(capsys, argv, message):
    assert main(["gradcheck", "--hidden", "3", *argv]) == 2
    assert message in capsys.readouterr().err


def test_gradcheck_cli_exits_1_on_a_wrong_gradient(monkeypatch, capsys):
    from handprop.nn import layers

    monkeypatch.setattr(layers, "dropout_backward", lambda dout, cache: dout)
    code = main(["gradcheck", "--hidden", "5", "--dropout", "0.5", "--n", "6", "--fd-coords", "1"])
    assert code == 1
    assert "FAILED 2-layer m=5, lam=0.01, dropout=0.5 W1" in capsys.readouterr().err


def test_a_wrong_label_smoothing_gradient_fails_the_check(monkeypatch):
    from handprop.nn import network

    def forgets_smoothing(scores, y, smoothing=0.0):
        return softmax_xent(scores, y)

    monkeypatch.setattr(network, "softmax_xent", forgets_smoothing)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 7)), rng.integers(0, 3, 6)
    rows = gc.gradcheck_table([gc.CheckCase((4,), 0.01, 0.0, 0.2)], X, y, n_classes=3)
    assert gc.failures(rows)


def test_optimiser_checks_pass_and_catch_a_wrong_update(monkeypatch):
    from handprop import optim
    from handprop.verify import optimizers

    rows = optimizers.optimizer_table(steps=5)
    assert not optimizers.optimizer_failures(rows)
    assert {r.case.name for r in rows} == {"sgd", "momentum", "nesterov", "adam", "adamw"}
    monkeypatch.setitem(optim.OPTIMIZERS, "nesterov", optim.momentum)
    wrong = optimizers.optimizer_table([optimizers.OptimizerCase("nesterov", {"momentum": 0.9})])
    assert optimizers.optimizer_failures(wrong)


def test_gradcheck_cli_batchnorm_network(capsys):
    argv = ["gradcheck", "--hidden", "4,3", "--batchnorm", "--lam", "0.1", "--dropout", "0.5"]
    assert main([*argv, "--smoothing", "0.1", "--n", "5", "--fd-coords", "2"]) == 0
    out = capsys.readouterr().out
    assert "3-layer m=4,3, lam=0.1, dropout=0.5, smoothing=0.1, batchnorm" in out
    assert "gamma2" in out and "passed" in out
    assert gc.CheckCase((), batchnorm=True) == gc.CheckCase(())
