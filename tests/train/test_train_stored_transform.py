"""A run's stored input transform checked against its config before ``predict``,
``evaluate`` or an ensemble uses it: whitening present exactly when configured, finite,
float64, of the config's method and eps; a usable std; distinct class names."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image
from train_fakes import pixel_cifar, pixel_splits

from handprop.cli import main
from handprop.data.whiten import Whitening, save_whitening
from handprop.errors import DataError
from handprop.runs import run_experiment
from handprop.runs.ensemble import load_run
from handprop.runs.inputs import NORMALIZATION_FILE, WHITENING_FILE, load_input_transform
from handprop.train import config_from_dict
from handprop.train import data as data_module

TINY = dict(split="batch1", hidden=(8,), n_s=3, n_cycles=1, eta_max=0.05)
D = 3072


def cheap_whitening(eps: float = 0.1) -> Whitening:
    """A full-rank (d, d) ZCA-shaped whitening without a 3072 x 3072 eigendecomposition."""
    return Whitening(np.zeros(D), np.diag(np.linspace(0.5, 2.0, D)), "zca", eps)


@pytest.fixture(scope="module")
def splits():
    return pixel_splits(pixel_cifar())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, splits):
    """An unwhitened run and a ZCA run (its whitening is the cheap one), each finished."""
    root = tmp_path_factory.mktemp("runs")
    plain = config_from_dict(TINY)
    run_experiment(plain, root / "plain", data=splits, progress=False, figures=())
    zca = config_from_dict({**TINY, "whiten": "zca"})
    run_experiment(
        zca, root / "zca", data=splits, whitening=cheap_whitening(), progress=False, figures=()
    )
    return root


@pytest.fixture
def runs(trained, tmp_path):
    """Fresh copies of the two runs, free to damage."""
    for name in ("plain", "zca"):
        shutil.copytree(trained / name, tmp_path / name)
    return tmp_path / "plain", tmp_path / "zca"


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "p.png"
    Image.new("RGB", (32, 32), (90, 120, 200)).save(path)
    return path


@pytest.fixture
def pixel_data(monkeypatch, splits):
    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits, None))
    return splits


def rewrite(path, damage) -> None:
    """Replace the arrays of the .npz ``path`` by ``damage(arrays)``."""
    with np.load(path) as npz:
        arrays = dict(npz)
    np.savez(path, **damage(arrays))


def one_line(capsys, *fragments):
    captured = capsys.readouterr()
    err = captured.err
    assert captured.out == "" and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_the_stored_whitening_is_used_by_predict(runs, picture):
    transform = load_input_transform(runs[1])
    assert transform.whitening is not None and transform.whitening.method == "zca"


def test_a_whitened_run_without_its_whitening_is_refused(runs, picture, pixel_data, capsys):
    (runs[1] / WHITENING_FILE).unlink()
    assert main(["predict", str(runs[1]), str(picture)]) == 2
    one_line(capsys, "has no whitening.npz, but its config whitens")
    assert main(["evaluate", str(runs[1])]) == 2
    one_line(capsys, "has no whitening.npz, but its config whitens")


def test_a_stray_whitening_in_an_unwhitened_run_is_refused(runs, picture, pixel_data, capsys):
    save_whitening(cheap_whitening(), runs[0] / WHITENING_FILE)
    assert main(["predict", str(runs[0]), str(picture)]) == 2
    one_line(capsys, "does not belong to the run", "data.whiten = none")
    assert main(["evaluate", str(runs[0])]) == 2
    one_line(capsys, "does not belong to the run")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda a: {**a, "matrix": np.where(np.eye(D) > 0, np.nan, a["matrix"])}, "NaN or inf"),
        (lambda a: {**a, "mean": a["mean"].astype(np.float32)}, "mean is float32, not float64"),
        (lambda a: {**a, "matrix": a["matrix"][:, :10]}, "a ZCA matrix is (d, d)"),
        (lambda a: {**a, "eps": np.array(0.5)}, "zca with eps 0.5, its config"),
        (lambda a: {**a, "method": np.array("pca")}, "pca with eps"),
    ],
)
def test_a_damaged_whitening_is_refused(runs, picture, capsys, damage, message):
    rewrite(runs[1] / WHITENING_FILE, damage)
    assert main(["predict", str(runs[1]), str(picture)]) == 2
    one_line(capsys, message)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda a: {**a, "std": np.full_like(a["std"], 1e-38)}, "std >= 1e-06"),
        (lambda a: {**a, "class_names": np.array(["cat"] * 10)}, "distinct and non-empty"),
        (lambda a: {**a, "class_names": np.array(["", *a["class_names"][1:]])}, "non-empty"),
    ],
)
def test_a_damaged_normalisation_is_refused(runs, picture, pixel_data, capsys, damage, message):
    rewrite(runs[0] / NORMALIZATION_FILE, damage)
    assert main(["predict", str(runs[0]), str(picture)]) == 2
    one_line(capsys, message)
    assert main(["evaluate", str(runs[0])]) == 2
    one_line(capsys, message)


def test_evaluate_compares_the_stored_class_names(runs, pixel_data, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(runs[0], other)
    rewrite(
        other / NORMALIZATION_FILE, lambda a: {**a, "class_names": np.roll(a["class_names"], -1)}
    )
    assert main(["evaluate", str(runs[0]), str(other)]) == 2
    one_line(capsys, f"{other} stored the class names ['class1',")


def test_evaluate_refuses_stored_names_that_are_not_the_datas(runs, pixel_data, capsys):
    names = np.array([f"k{i}" for i in range(10)])
    rewrite(runs[0] / NORMALIZATION_FILE, lambda a: {**a, "class_names": names})
    with pytest.raises(DataError, match="stored the class names"):
        load_run(runs[0])
