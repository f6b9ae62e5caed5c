"""handprop.figures: files are written, axes are labelled, train and validation are told apart."""

from __future__ import annotations

import numpy as np
import pytest

from handprop import figures
from handprop.errors import ConfigError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _columns(n: int = 12) -> dict[str, np.ndarray]:
    t = np.arange(n, dtype=np.float64)
    cols = {"step": t * 100, "epoch": t + 1, "eta": np.full(n, 0.01)}
    for split, shift in (("train", 0.0), ("val", 0.1)):
        cols[f"{split}_loss"] = 2.0 - t / n + shift
        cols[f"{split}_cost"] = cols[f"{split}_loss"] + 0.3
        cols[f"{split}_acc"] = 0.1 + t / (2 * n) - shift / 10
    return cols


def test_curves_figure_has_three_labelled_panels_with_train_and_val():
    fig = figures.curves_figure(_columns(), x="epoch", title="λ = 0")
    axes = fig.get_axes()
    assert [ax.get_ylabel() for ax in axes] == [label for _, label, _ in figures.PANELS]
    for ax in axes:
        assert ax.get_xlabel() == "epoch"
        lines = ax.get_lines()
        assert [line.get_label() for line in lines] == ["training", "validation"]
        assert lines[0].get_linestyle() != lines[1].get_linestyle()
    np.testing.assert_allclose(axes[2].get_lines()[1].get_ydata(), _columns()["val_acc"] * 100)
    assert fig.get_suptitle() == "λ = 0"


def test_curves_figure_x_axis_is_the_update_step_by_default():
    fig = figures.curves_figure(_columns())
    assert {ax.get_xlabel() for ax in fig.get_axes()} == {"update step"}
    np.testing.assert_array_equal(fig.get_axes()[0].get_lines()[0].get_xdata(), _columns()["step"])


def test_curves_figure_keeps_nan_gaps_of_a_diverged_run():
    cols = _columns()
    cols["train_cost"][5:] = np.nan
    line = figures.curves_figure(cols).get_axes()[0].get_lines()[0]
    assert np.isnan(line.get_ydata()[5:]).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [({"x": "time"}, "x must be one of"), ({"drop": "val_loss"}, "no column 'val_loss'")],
)
def test_curves_figure_rejects_bad_input(change, message):
    cols = _columns()
    cols.pop(change.get("drop", ""), None)
    with pytest.raises(ConfigError, match=message):
        figures.curves_figure(cols, x=change.get("x", "step"))


@pytest.mark.parametrize("suffix", ["png", "pdf"])
def test_plot_functions_write_non_empty_files_by_suffix(tmp_path, suffix):
    rng = np.random.default_rng(0)
    steps = np.arange(200)
    written = [
        figures.plot_curves(_columns(), tmp_path / f"curves.{suffix}"),
        figures.plot_schedule(steps, np.abs(steps % 100 - 50) / 500, tmp_path / f"eta.{suffix}"),
        figures.plot_weights(rng.normal(size=(3072, 10)), tmp_path / f"w.{suffix}"),
    ]
    magic = b"\x89PNG" if suffix == "png" else b"%PDF"
    for path in written:
        assert path.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)


def test_save_figure_rejects_unknown_suffix_and_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match=r"\.png or \.pdf"):
        figures.plot_schedule([0, 1], [0.1, 0.2], tmp_path / "eta.jpg")
    assert list(tmp_path.iterdir()) == []


def test_pdf_output_is_byte_identical_across_calls(tmp_path):
    a = figures.plot_curves(_columns(), tmp_path / "a.pdf")
    b = figures.plot_curves(_columns(), tmp_path / "b.pdf")
    assert a.read_bytes() == b.read_bytes()


def test_schedule_figure_labels_and_data():
    fig = figures.schedule_figure([0, 10, 20], [1e-5, 1e-1, 1e-5])
    (ax,) = fig.get_axes()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("update step", "learning rate η")
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [1e-5, 1e-1, 1e-5])
    with pytest.raises(ConfigError, match="equal length"):
        figures.schedule_figure([0, 1], [0.1])


def test_weight_image_reshapes_chw_columns_and_scales_to_unit_range():
    column = np.arange(3072, dtype=np.float64)
    image = figures.weight_image(column)
    assert image.shape == (32, 32, 3)
    chw = column.reshape(3, 32, 32)
    expected = (chw[:, 4, 7] - column.min()) / (column.max() - column.min())
    np.testing.assert_allclose(image[4, 7], expected)
    assert image.min() == 0.0 and image.max() == 1.0
    assert not figures.weight_image(np.ones(3072)).any()


def test_weights_figure_titles_images_by_class_name():
    rng = np.random.default_rng(1)
    fig = figures.weights_figure(rng.normal(size=(3072, 10)), class_names=CLASSES)
    shown = [ax for ax in fig.get_axes() if ax.get_images()]
    assert [ax.get_title() for ax in shown] == list(CLASSES)
    assert all(ax.get_images()[0].get_array().shape == (32, 32, 3) for ax in shown)


def test_weights_figure_shows_first_n_units_of_a_hidden_layer():
    W1 = np.random.default_rng(2).normal(size=(3072, 50))
    fig = figures.weights_figure(W1, n=20)
    shown = [ax for ax in fig.get_axes() if ax.get_images()]
    assert [ax.get_title() for ax in shown] == [f"unit {i}" for i in range(20)]
    np.testing.assert_allclose(shown[3].get_images()[0].get_array(), figures.weight_image(W1[:, 3]))
    assert len([ax for ax in figures.weights_figure(W1[:, :4]).get_axes() if ax.get_images()]) == 4


@pytest.mark.parametrize(
    ("W1", "kwargs", "message"),
    [
        (np.zeros((100, 10)), {}, r"W1 must have shape \(3072, k\)"),
        (np.zeros((3072, 10)), {"n": 0}, "n must be"),
        (np.zeros((3072, 10)), {"class_names": CLASSES[:3]}, "class_names must name"),
    ],
)
def test_weights_figure_rejects_bad_input(W1, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        figures.weights_figure(W1, **kwargs)
