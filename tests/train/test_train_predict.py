"""``handprop predict``: the user's PNG/JPEG pictures through a run's stored transform."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from train_fakes import pixel_cifar, pixel_splits

from handprop.cli import main
from handprop.data.images import image_row
from handprop.nn.network import predict
from handprop.runs import run_experiment
from handprop.runs.ensemble import average_probabilities
from handprop.runs.inputs import load_input_transform
from handprop.train import config_from_dict, load_params

TINY = dict(split="batch1", hidden=(16,), n_s=3, n_cycles=1, lam=1e-3, eta_max=0.05)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two finished runs (seeds 0 and 1) on fake pixels."""
    splits = pixel_splits(pixel_cifar())
    root = tmp_path_factory.mktemp("runs")
    for seed in (0, 1):
        config = config_from_dict({**TINY, "seed": seed})
        run_experiment(config, root / f"s{seed}", data=splits, progress=False, figures=())
    return root / "s0", root / "s1"


@pytest.fixture
def pictures(tmp_path):
    """A 40x30 PNG with alpha and a 64x64 JPEG of random colours."""
    rng = np.random.default_rng(1)
    png, jpg = tmp_path / "a.png", tmp_path / "b.jpg"
    Image.fromarray(rng.integers(0, 256, (30, 40, 4), dtype=np.uint8), "RGBA").save(png)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "RGB").save(jpg)
    return png, jpg


def _top3(runs, paths):
    rows = np.stack([image_row(p) for p in paths])
    probs = []
    for run in runs:
        transform = load_input_transform(run)
        params = load_params(run / "params.npz")
        probs.append(predict(params, transform(rows)).astype(np.float64))
    names = load_input_transform(runs[0]).class_names
    return [
        f"{path}: " + ", ".join(f"{names[k]} {100 * p[k]:.1f} %" for k in np.argsort(-p)[:3])
        for path, p in zip(paths, average_probabilities(probs), strict=True)
    ]


def test_predict_prints_the_top_three_classes(runs, pictures, capsys):
    assert main(["predict", str(runs[0]), *map(str, pictures)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == _top3(runs[:1], pictures)
    assert all(line.count("class") == 3 for line in out)


def test_predict_with_an_ensemble_of_runs(runs, pictures, capsys):
    assert main(["predict", *map(str, runs), *map(str, pictures)]) == 0
    assert capsys.readouterr().out.splitlines() == _top3(runs, pictures)


def test_image_row_layout_and_crop(tmp_path):
    picture = np.zeros((32, 48, 3), dtype=np.uint8)
    picture[:, 8:40, 0] = 200  # red square in the middle, green margins that the crop drops
    picture[:, :8, 1] = picture[:, 40:, 1] = 255
    picture[0, 8:40, 2] = 7  # top row of the square: blue 7
    path = tmp_path / "p.png"
    Image.fromarray(picture).save(path)
    row = image_row(path)
    assert row.shape == (3072,) and row.dtype == np.uint8
    red, green, blue = row.reshape(3, 32, 32)  # channel-major, as in the data batches
    assert (red == 200).all() and (green == 0).all()
    assert (blue[0] == 7).all() and (blue[1:] == 0).all()


def test_bad_images_are_one_line_errors(runs, pictures, tmp_path, capsys):
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(pictures[1].read_bytes()[:300])
    gif = tmp_path / "anim.gif"
    Image.new("RGB", (8, 8)).save(gif)
    for bad, message in [
        (tmp_path / "missing.png", "no such file"),
        (text, "not a PNG or JPEG image"),
        (truncated, "cannot read image"),
        (gif, "not a PNG or JPEG image"),
        (tmp_path, "is a folder, not an image"),
    ]:
        assert main(["predict", str(runs[0]), str(pictures[0]), str(bad)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        err = captured.err.strip()
        assert "\n" not in err and str(bad) in err and message in err


def test_predict_needs_a_run_and_an_image(runs, pictures, tmp_path, capsys):
    assert main(["predict", str(pictures[0])]) == 2
    assert "needs a run folder, then at least one image" in capsys.readouterr().err
    assert main(["predict", str(runs[0])]) == 2
    assert "needs a run folder, then at least one image" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), str(pictures[0])]) == 2
    assert "is not a finished run folder" in capsys.readouterr().err


def test_predict_refuses_a_transform_in_another_dtype(runs, pictures, tmp_path, capsys):
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(runs[0], folder)
    with np.load(folder / "normalization.npz") as npz:
        arrays = {k: v.astype(np.float64) if v.dtype.kind == "f" else v for k, v in npz.items()}
    np.savez(folder / "normalization.npz", **arrays)
    assert main(["predict", str(folder), str(pictures[0])]) == 2
    assert "its normalisation is float64, its config model.dtype float32" in capsys.readouterr().err
