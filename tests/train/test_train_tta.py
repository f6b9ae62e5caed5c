"""Test-time augmentation (``augment.tta = "flip"``): final accuracies, evaluate, config."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_fakes import pixel_cifar, pixel_splits

from handprop.cli import main
from handprop.errors import ConfigError
from handprop.kernels.reference import hflip as hflip_reference
from handprop.nn import layers as L
from handprop.nn.network import evaluate, scores
from handprop.runs import run_experiment
from handprop.runs.tta import tta_accuracy, tta_probabilities
from handprop.train import config_from_dict, load_params
from handprop.train import data as data_module

TINY = dict(split="batch1", hidden=(16,), n_s=3, n_cycles=1, lam=1e-3, eta_max=0.05)


@pytest.fixture(scope="module")
def splits():
    return pixel_splits(pixel_cifar())


def _mirror(X):
    return hflip_reference(X, np.ones(len(X), dtype=bool))


def _params(splits, tmp_path, **values):
    config = config_from_dict({**TINY, **values})
    run_experiment(config, tmp_path, data=splits, progress=False, figures=())
    sizes = (3072, 16, 10)
    return load_params(tmp_path / "params.npz", sizes, "float32"), json.loads(
        (tmp_path / "metrics.json").read_text()
    )


def test_flip_averages_the_probabilities_of_each_image_and_its_mirror(splits, tmp_path):
    params, _ = _params(splits, tmp_path)
    X = splits.test.X[:50]
    probs = tta_probabilities(params, X, "flip")
    plain = L.softmax(scores(params, X).astype(np.float64))
    mirrored = L.softmax(scores(params, _mirror(X)).astype(np.float64))
    np.testing.assert_allclose(probs, (plain + mirrored) / 2, rtol=0, atol=1e-15)
    # an image and its mirror image get the same prediction
    np.testing.assert_allclose(tta_probabilities(params, _mirror(X), "flip"), probs, atol=1e-15)
    np.testing.assert_array_equal(tta_probabilities(params, X, "none"), plain)
    with pytest.raises(ConfigError, match=r"augment\.tta"):
        tta_probabilities(params, X, "rotate")


def test_a_run_with_tta_reports_both_test_accuracies(splits, tmp_path):
    params, metrics = _params(splits, tmp_path / "tta", tta="flip")
    test = splits.test
    assert metrics["tta"] == "flip"
    assert metrics["test_acc_plain"] == evaluate(params, test.X, test.y).accuracy
    assert metrics["test_acc"] == metrics["test_acc_tta"]
    assert metrics["test_acc_tta"] == tta_accuracy(params, test.X, test.y, "flip")
    assert metrics["final_val_acc_tta"] == tta_accuracy(params, splits.val.X, splits.val.y, "flip")
    _, plain = _params(splits, tmp_path / "plain")
    assert "tta" not in plain and "test_acc_plain" not in plain


def test_evaluate_prints_the_tta_accuracy(splits, tmp_path, monkeypatch, capsys):
    _, metrics = _params(splits, tmp_path, tta="flip")
    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits, None))
    assert main(["evaluate", str(tmp_path)]) == 0
    assert f"test: accuracy {100 * metrics['test_acc']:.2f} %" in capsys.readouterr().out


def test_tta_config_errors():
    with pytest.raises(ConfigError, match=r"augment\.tta must be one of none, flip"):
        config_from_dict({"augment": {"tta": "rotate"}})
    with pytest.raises(ConfigError, match=r"data\.whiten = pca cannot be combined"):
        config_from_dict({"data": {"whiten": "pca"}, "augment": {"tta": "flip"}})
