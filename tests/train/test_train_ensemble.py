"""Stored input transforms, ensembles of runs and snapshot ensembles (``handprop evaluate``)."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from train_fakes import pixel_cifar, pixel_splits

from handprop.cli import main
from handprop.data.whiten import Whitening, apply_whitening, save_whitening
from handprop.errors import ConfigError, DataError
from handprop.nn import params_equal
from handprop.nn.network import evaluate, predict
from handprop.runs import run_experiment
from handprop.runs.ensemble import (
    average_probabilities,
    check_compatible,
    load_run,
    score,
)
from handprop.runs.inputs import NORMALIZATION_FILE, load_input_transform
from handprop.train import config_from_dict, load_params
from handprop.train import data as data_module

#: 300 training images, batch 100: 3 steps per epoch; n_s = 3 gives 6 steps per cycle.
TINY = dict(split="batch1", hidden=(16,), n_s=3, n_cycles=1, lam=1e-3, eta_max=0.05)


@pytest.fixture(scope="module")
def cifar():
    return pixel_cifar()


@pytest.fixture(scope="module")
def splits(cifar):
    return pixel_splits(cifar)


@pytest.fixture
def pixel_data(monkeypatch, splits):
    """``load_data`` returns the normalised fake-pixel splits."""
    monkeypatch.setattr(data_module, "prepared_splits", lambda *args: (splits, None))
    return splits


def _run(tmp_path, name, data, **values):
    config = config_from_dict({**TINY, **values})
    run_experiment(config, tmp_path / name, data=data, progress=False, figures=())
    return tmp_path / name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_stored_transform_reproduces_the_training_inputs(cifar, tmp_path, dtype):
    splits = pixel_splits(cifar, dtype=dtype)
    folder = _run(tmp_path, "run", splits, dtype=np.dtype(dtype).name)
    transform = load_input_transform(folder)
    assert transform.class_names == splits.train.class_names and transform.whitening is None
    raw = cifar.test.data
    np.testing.assert_array_equal(transform(raw), splits.test.X)  # bit for bit
    np.testing.assert_array_equal(transform(raw.astype(np.float64)), splits.test.X)
    np.testing.assert_array_equal(transform(cifar.train[1].data), splits.val.X)
    with pytest.raises(ValueError, match=r"pixels must be \(n, 3072\)"):
        transform(raw[:, :100])


def test_whitening_is_applied_when_the_run_has_it(splits, cifar, tmp_path):
    folder = _run(tmp_path, "run", splits, whiten="pca", whiten_eps=0.5)
    rng = np.random.default_rng(0)  # any (d, k) matrix: eigh of 3072 x 3072 is slow here
    w = Whitening(rng.standard_normal(3072) * 0.1, rng.standard_normal((3072, 40)), "pca", 0.5)
    save_whitening(w, folder / "whitening.npz")
    transform = load_input_transform(folder)
    expected = apply_whitening(w, splits.test.X, np.float32)
    assert transform.n_inputs == 40
    np.testing.assert_array_equal(transform(cifar.test.data), expected)


def test_missing_or_damaged_normalisation_is_a_data_error(splits, tmp_path):
    folder = _run(tmp_path, "run", splits)
    path = folder / NORMALIZATION_FILE
    with np.load(path) as npz:
        arrays = dict(npz)
    np.savez(path, **{**arrays, "std": np.zeros_like(arrays["std"])})
    with pytest.raises(DataError, match="std > 0"):
        load_input_transform(folder)
    np.savez(path, **{**arrays, "mean": arrays["mean"][:5]})
    with pytest.raises(DataError, match="do not match"):
        load_input_transform(folder)
    path.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="unreadable"):
        load_input_transform(folder)
    path.unlink()
    with pytest.raises(DataError, match=r"no normalization\.npz"):
        load_input_transform(folder)


def test_average_probabilities_and_score():
    a = np.array([[0.6, 0.4], [0.2, 0.8]])
    b = np.array([[0.2, 0.8], [0.4, 0.6]])
    mean = average_probabilities([a, b])
    np.testing.assert_allclose(mean, [[0.4, 0.6], [0.3, 0.7]])
    result = score(mean, np.array([0, 1]))
    assert result.accuracy == 0.5
    assert result.loss == pytest.approx(-(np.log(0.4) + np.log(0.7)) / 2)
    with pytest.raises(ValueError, match="one shape"):
        average_probabilities([a, b[:1]])


def test_evaluate_ensemble_of_runs(pixel_data, tmp_path, capsys):
    folders = [_run(tmp_path, f"s{k}", pixel_data, seed=k) for k in range(3)]
    assert main(["evaluate", *map(str, folders)]) == 0
    out = capsys.readouterr().out.splitlines()
    params = [load_params(f / "params.npz") for f in folders]
    test = pixel_data.test
    accs = [evaluate(p, test.X, test.y).accuracy for p in params]
    for folder, acc, line in zip(folders, accs, out, strict=False):
        assert line.startswith(f"member {folder}:") and f"test {100 * acc:.2f} %" in line
    assert f"test {100 * np.mean(accs):.2f} %" in out[3] and out[3].startswith("mean member")
    assert out[4] == "ensemble of 3 (averaged probabilities):"
    mean = average_probabilities([predict(p, test.X).astype(np.float64) for p in params])
    ensemble = score(mean, test.y)
    assert out[6] == f"test: accuracy {100 * ensemble.accuracy:.2f} %  loss {ensemble.loss:.4f}"


@pytest.mark.parametrize(
    ("values", "difference"),
    [
        ({"split": "all"}, "data.split ('batch1' vs 'all')"),
        ({"dtype": "float64"}, "model.dtype ('float32' vs 'float64')"),
        ({"n_train": 200}, "data.n_train (0 vs 200)"),
    ],
)
def test_mismatched_runs_are_refused(pixel_data, tmp_path, capsys, values, difference):
    a = _run(tmp_path, "a", pixel_data)
    b = tmp_path / "b"
    (b).mkdir()
    (b / "config.toml").write_text((a / "config.toml").read_text())
    (b / "params.npz").write_bytes((a / "params.npz").read_bytes())
    config = config_from_dict({**TINY, **values})
    from handprop.train.config import config_to_toml

    (b / "config.toml").write_text(config_to_toml(config))
    if "dtype" in values:  # parameters in the run's own dtype
        p = load_params(a / "params.npz")
        np.savez(b / "params.npz", **{k: v.astype(np.float64) for k, v in p.arrays().items()})
    assert main(["evaluate", str(a), str(b)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert f"cannot ensemble {a} and {b}: they differ in {difference}" in err


def test_different_normalisation_or_classes_are_refused(pixel_data, tmp_path, capsys):
    a, b = _run(tmp_path, "a", pixel_data), _run(tmp_path, "b", pixel_data, seed=1)
    with np.load(b / NORMALIZATION_FILE) as npz:
        arrays = dict(npz)
    np.savez(b / NORMALIZATION_FILE, **{**arrays, "mean": arrays["mean"] + 1e-3})
    assert main(["evaluate", str(a), str(b)]) == 2
    assert f"cannot ensemble {a} and {b}: they differ in normalisation" in capsys.readouterr().err
    run_a, run_b = load_run(a), load_run(b)
    assert run_b.transform is not None
    names = ("x", *run_b.class_names[1:])  # the names the run stored, not its data's
    run_b = attrs.evolve(run_b, transform=attrs.evolve(run_b.transform, class_names=names))
    with pytest.raises(ConfigError, match="they differ in class names"):
        check_compatible([run_a, run_b])


def test_snapshots_are_the_parameters_at_each_cycle_end(pixel_data, tmp_path, capsys):
    run = _run(tmp_path, "run", pixel_data, n_cycles=3, snapshots=True)
    files = sorted(p.name for p in (run / "snapshots").iterdir())
    assert files == ["params-cycle1.npz", "params-cycle2.npz", "params-cycle3.npz"]
    final = load_params(run / "params.npz")
    assert params_equal(load_params(run / "snapshots" / "params-cycle3.npz"), final)
    for k in (1, 2):  # the same run stopped after k cycles ends where snapshot k was taken
        short = _run(tmp_path, f"short{k}", pixel_data, n_cycles=k)
        snap = load_params(run / "snapshots" / f"params-cycle{k}.npz")
        assert params_equal(snap, load_params(short / "params.npz"))
    last = _run(tmp_path, "last", pixel_data, n_cycles=3, snapshots=2)
    assert sorted(p.name for p in (last / "snapshots").iterdir()) == [
        "params-cycle2.npz",
        "params-cycle3.npz",
    ]
    assert main(["evaluate", str(run), "--snapshots"]) == 0
    out = capsys.readouterr().out
    assert f"member {run / 'snapshots' / 'params-cycle1.npz'}:" in out
    assert "ensemble of 3 (averaged probabilities):" in out


def test_snapshot_errors(pixel_data, tmp_path, capsys):
    plain = _run(tmp_path, "plain", pixel_data)
    assert main(["evaluate", str(plain), "--snapshots"]) == 2
    assert "has no snapshots: its config has run.snapshots = false" in capsys.readouterr().err
    run = _run(tmp_path, "run", pixel_data, n_cycles=2, snapshots=True)
    (run / "snapshots" / "params-cycle1.npz").unlink()
    assert main(["evaluate", str(run), "--snapshots"]) == 2
    assert "lacks the snapshot params-cycle1.npz" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"snapshots": 3, "n_cycles": 2}, r"run.snapshots must be true, false or an integer in"),
        ({"snapshots": -1}, r"run.snapshots must be true, false or an integer >= 0"),
        ({"snapshots": 1.5}, r"run.snapshots must be true, false or an integer >= 0"),
        ({"snapshots": True, "kind": "constant", "epochs": 1}, "needs a cyclical schedule"),
    ],
)
def test_snapshot_config_is_validated(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values)


def test_snapshot_steps_are_cycle_ends():
    config = config_from_dict({"n_s": 5, "n_cycles": 3, "snapshots": 2})
    assert config.snapshot_steps(1000) == (20, 30)
    schedule = config.make_schedule(1000)
    assert all(schedule(t) == config.schedule.eta_min for t in config.snapshot_steps(1000))
    assert config_from_dict({"n_s": 5}).snapshot_steps(1000) == ()


@pytest.mark.slow
@pytest.mark.realdata
def test_real_runs_store_their_transform_and_ensemble(cifar10, tmp_path, capsys):
    """On the real copy: the stored transform of a run is exactly load_data's (bit for bit,
    test and validation rows), and a two-run ensemble and its snapshots evaluate."""
    from handprop.data.dataset import select_batches
    from handprop.train import load_config, load_data

    config = load_config("baseline").with_overrides(["n_s=50", "n_cycles=2", "snapshots=true"])
    folders = []
    for seed in (1, 2):
        folder = tmp_path / f"s{seed}"
        run_experiment(config.with_values({"run.seed": seed}), folder, progress=False, figures=())
        folders.append(folder)
    data = load_data(config)
    transform = load_input_transform(folders[0])
    _, val, test = select_batches(cifar10, "all", n_val=config.data.n_val)
    np.testing.assert_array_equal(transform(test.data), data.test.X)
    np.testing.assert_array_equal(transform(val.data), data.val.X)
    assert transform.class_names == cifar10.class_names
    assert main(["evaluate", *map(str, folders)]) == 0
    out = capsys.readouterr().out
    assert "ensemble of 2 (averaged probabilities):" in out
    assert main(["evaluate", "--snapshots", *map(str, folders)]) == 0
    assert "ensemble of 4 (averaged probabilities):" in capsys.readouterr().out


def test_snapshots_survive_an_interrupted_and_resumed_run(pixel_data, tmp_path, monkeypatch):
    from train_fakes import interrupting_make_step

    from handprop.train import loop as loop_module

    config = config_from_dict({**TINY, "n_cycles": 3, "snapshots": True})
    fresh, broken = tmp_path / "fresh", tmp_path / "broken"
    run_experiment(config, fresh, data=pixel_data, progress=False, figures=())
    real_make_step = loop_module.make_step
    monkeypatch.setattr(loop_module, "make_step", interrupting_make_step(real_make_step, at=9))
    summary = run_experiment(config, broken, data=pixel_data, progress=False, figures=())
    assert summary.status == "interrupted"
    assert [p.name for p in (broken / "snapshots").iterdir()] == ["params-cycle1.npz"]
    monkeypatch.setattr(loop_module, "make_step", real_make_step)
    run_experiment(config, broken, data=pixel_data, resume=True, progress=False, figures=())
    for k in (1, 2, 3):
        name = f"snapshots/params-cycle{k}.npz"
        assert params_equal(load_params(broken / name), load_params(fresh / name))
