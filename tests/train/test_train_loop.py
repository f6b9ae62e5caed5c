"""The training fold: determinism, history, divergence, interruption, resume."""

from __future__ import annotations

import math
import warnings

import attrs
import numpy as np
import pytest
from train_fakes import interrupting_make_step

from handprop.errors import ConfigError
from handprop.nn import params_equal
from handprop.nn.network import evaluate
from handprop.train import (
    TrainState,
    config_from_dict,
    init_params,
    load_checkpoint,
    train,
)
from handprop.train import loop as loop_module
from handprop.train.history import COLUMNS

#: 300 synthetic training images, batch 100: 3 steps per epoch, 12 steps in all.
SMALL = config_from_dict(dict(hidden=(16,), n_s=3, n_cycles=2, eval_every=4, lam=1e-3, seed=3))
NOISY = config_from_dict(
    dict(
        hidden=(16,),
        n_s=3,
        n_cycles=2,
        eval_every=4,
        flip=True,
        max_shift=2,
        shift_prob=0.5,
        dropout=0.3,
        fill="keep",
        seed=3,
    )
)


def run(config, data, **kwargs):
    return train(init_params(config), config, data=data, **kwargs)


def same_result(a, b) -> bool:
    return params_equal(a.params, b.params) and a.history == b.history and a.steps == b.steps


@pytest.mark.parametrize("config", [SMALL, NOISY], ids=["plain", "augment+dropout"])
def test_same_config_gives_identical_bits(config, splits32):
    a, b = run(config, splits32), run(config, splits32)
    assert a.status == "completed" and a.steps == 12
    assert same_result(a, b)


def test_seed_changes_the_run(splits32):
    a = run(NOISY, splits32)
    b = run(NOISY.with_overrides(["seed=4"]), splits32)
    assert not params_equal(a.params, b.params)


def test_history_columns_at_the_evaluation_cadence(splits32):
    result = run(SMALL, splits32)
    cols = result.history.columns()
    assert tuple(cols) == COLUMNS
    assert list(cols["step"]) == [0, 4, 8, 12]
    assert list(cols["epoch"]) == [0, 4 / 3, 8 / 3, 4]
    schedule = SMALL.make_schedule(300)
    assert list(cols["eta"]) == [schedule(t) for t in (0, 4, 8, 12)]
    last = evaluate(result.params, splits32.val.X, splits32.val.y, SMALL.optimizer.lam)
    assert cols["val_cost"][-1] == last.cost and cols["val_acc"][-1] == last.accuracy
    assert np.all(cols["train_cost"] > cols["train_loss"])  # lam > 0


def test_default_cadence_is_once_per_epoch_and_training_learns(splits32):
    config = SMALL.with_overrides(["eval_every=0", "n_s=30"])
    cols = run(config, splits32).history.columns()
    assert list(cols["step"]) == list(range(0, 121, 3))
    assert cols["train_acc"][-1] > cols["train_acc"][0] + 0.3


def test_training_subset_is_fixed_and_sized(splits32):
    config = SMALL.with_overrides(["train_eval_size=50"])
    result = run(config, splits32)
    acc = result.history.columns()["train_acc"]
    assert np.all(np.round(acc * 50) == acc * 50)
    assert same_result(result, run(config, splits32))


def test_step_is_pure(splits32):
    step = loop_module.make_step(NOISY, splits32.train)
    state = TrainState(init_params(NOISY))
    a, b = step(state, 5), step(state, 5)
    assert params_equal(a.params, b.params) and a.cost == b.cost and a.t == 6
    assert math.isnan(state.cost) and state.t == 0
    assert not params_equal(a.params, step(state, 6).params)


def test_float64_and_one_layer(splits64):
    config = config_from_dict(
        dict(hidden=(), init="normal_0.01", dtype="float64", kind="constant", eta=0.01, epochs=2)
    )
    result = run(config, splits64)
    assert result.status == "completed" and result.steps == 6
    assert result.params.dtype == np.float64


def test_batch_larger_than_the_training_set(splits32):
    config = SMALL.with_overrides(["batch_size=1000"])
    result = run(config, splits32)
    assert result.status == "completed" and result.steps == 12


def test_mismatched_inputs_are_config_errors(splits32, splits64):
    with pytest.raises(ConfigError, match="dtype is float32 but the training data are float64"):
        run(SMALL, splits64)
    with pytest.raises(ConfigError, match="hidden is \\[16\\] but the parameters"):
        train(init_params(SMALL.with_overrides(["hidden=[8]"])), SMALL, data=splits32)


def test_divergence_stops_with_status_and_step(splits32, caplog):
    """eta = 1 on the one-layer network with a strong penalty: weights grow x3 per step."""
    config = config_from_dict(
        dict(hidden=(), init="normal_0.01", kind="constant", eta=1.0, lam=2.0, epochs=100)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings leak out of the run
        result = run(config, splits32)
    assert result.status == "diverged"
    assert 0 < result.diverged_step < config.total_steps(300)
    assert result.steps == result.diverged_step
    assert all(row.is_finite() for row in result.history.rows)
    assert "diverged" in caplog.text


def test_ctrl_c_checkpoints_and_resume_is_bit_identical(splits32, tmp_path, monkeypatch):
    full = run(NOISY, splits32)
    interrupting = interrupting_make_step(loop_module.make_step, at=7)
    monkeypatch.setattr(loop_module, "make_step", interrupting)
    cut = run(NOISY, splits32, checkpoint_dir=tmp_path)
    assert cut.status == "interrupted" and cut.steps == 7
    assert load_checkpoint(tmp_path).step == 7
    monkeypatch.undo()
    resumed = run(NOISY, splits32, checkpoint_dir=tmp_path, resume=True)
    assert resumed.status == "completed"
    assert same_result(resumed, full)


def test_periodic_checkpoints_and_resume(splits32, tmp_path):
    config = NOISY.with_overrides(["checkpoint_every=5"])
    full = run(config, splits32, checkpoint_dir=tmp_path / "a")
    ckpt = load_checkpoint(tmp_path / "a")
    assert ckpt.step == 10
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "checkpoint.json",
        "params-00000010.npz",
    ]
    resumed = run(config, splits32, checkpoint_dir=tmp_path / "a", resume=True)
    assert same_result(resumed, full)


def test_resume_refuses_a_different_config(splits32, tmp_path):
    run(SMALL.with_overrides(["checkpoint_every=4"]), splits32, checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"config differs in optimizer\.lam; "):
        run(SMALL.with_overrides(["lam=0.5"]), splits32, checkpoint_dir=tmp_path, resume=True)
    # the checkpoint cadence may change
    run(
        SMALL.with_overrides(["checkpoint_every=3"]), splits32, checkpoint_dir=tmp_path, resume=True
    )


def test_resume_extends_to_more_cycles_bit_identically(splits32, tmp_path):
    """Successive halving promotes a trial by resuming its checkpoint with more cycles."""
    longer = NOISY.with_overrides(["n_cycles=3", "eval_every=3", "checkpoint_every=6"])
    full = run(longer, splits32)
    short = run(longer.with_overrides(["n_cycles=1"]), splits32, checkpoint_dir=tmp_path)
    assert short.steps == 6 and load_checkpoint(tmp_path).step == 6
    extended = run(longer, splits32, checkpoint_dir=tmp_path, resume=True)
    assert extended.status == "completed"
    assert same_result(extended, full)


def test_resume_refuses_fewer_cycles_than_the_checkpoint_ran(splits32, tmp_path):
    config = NOISY.with_overrides(["n_cycles=2", "checkpoint_every=12"])
    run(config, splits32, checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"config differs in schedule\.n_cycles"):
        run(config.with_overrides(["n_cycles=1"]), splits32, checkpoint_dir=tmp_path, resume=True)


def test_shuffle_false_visits_batches_in_file_order(splits32, monkeypatch):
    seen: list[np.ndarray] = []
    real = loop_module.training_gradients

    def spy(params, Xb, yb, *args, **kwargs):
        seen.append(yb.copy())
        return real(params, Xb, yb, *args, **kwargs)

    monkeypatch.setattr(loop_module, "training_gradients", spy)
    run(SMALL.with_overrides(["shuffle=false"]), splits32)
    y = splits32.train.y
    assert all(np.array_equal(b, y[(t % 3) * 100 : (t % 3 + 1) * 100]) for t, b in enumerate(seen))
    seen.clear()
    run(SMALL, splits32)
    assert not np.array_equal(seen[0], y[:100])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_step_is_sgd_on_the_full_gradient_of_the_cost(dtype, splits32, splits64):
    """The fused update equals ``p - eta * gradients(p, batch, lam)`` of the verified backward."""
    from handprop import optim
    from handprop.nn import loss_and_gradients
    from handprop.optim import EmptyState

    data = splits32 if dtype == "float32" else splits64
    config = SMALL.with_overrides([f"dtype={dtype}", "lam=0.05", "shuffle=false"])
    params = init_params(config)
    new = loop_module.make_step(config, data.train)(TrainState(params), 0)
    eta = config.make_schedule(len(data.train.y))(0)
    loss, cost, grads = loss_and_gradients(params, data.train.X[:100], data.train.y[:100], 0.05)
    updates, _ = optim.sgd(eta).update(grads, (EmptyState(), EmptyState()), params)
    expected = optim.apply_updates(params, updates)
    assert new.loss == loss and new.cost == pytest.approx(cost, rel=1e-6)
    tol = 1e-6 if dtype == "float32" else 1e-14
    for a, b in zip(new.params.arrays().values(), expected.arrays().values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize(("seconds", "expected"), [(1e-9, True), (0.0, False)])
def test_a_checkpoint_is_written_once_checkpoint_seconds_have_passed(
    splits32, tmp_path, seconds, expected
):
    from handprop.train import config_from_dict, init_params, train
    from handprop.train.checkpoint import CHECKPOINT_JSON

    config = config_from_dict(dict(hidden=(8,), n_s=3, checkpoint_seconds=seconds))
    seen = []

    def look(state) -> None:
        seen.append((tmp_path / "ck" / CHECKPOINT_JSON).exists())

    plain = train(init_params(config), config, data=splits32)
    result = train(
        init_params(config), config, data=splits32, checkpoint_dir=tmp_path / "ck",
        on_step=look,
    )  # fmt: skip
    assert any(seen) is expected
    assert params_equal(plain.params, result.params)  # checkpoints change no bits


def test_progress_counts_a_step_at_its_estimated_work(splits32):
    # The overall count of a suite weighs every step by the net's cost, so that an ETA
    # holds across narrow and wide runs.
    import io

    from handprop.progress import WORK_UNIT, Count, Progress

    wide = attrs.evolve(SMALL, model=attrs.evolve(SMALL.model, hidden=(256,)))
    assert wide.step_gflop() / SMALL.step_gflop() > 3
    plan = [c.planned_steps() * c.step_gflop() for c in (SMALL, wide)]
    meter = Progress(io.StringIO(), overall=Count("suite", sum(plan), WORK_UNIT), bars=False)
    run(SMALL, splits32, progress=meter)
    assert meter.overall.done == pytest.approx(12 * SMALL.step_gflop())
    run(wide, splits32, progress=meter)
    meter.finish()
    assert meter.overall.done == pytest.approx(sum(plan) * 12 / SMALL.planned_steps())
    assert f"/{sum(plan):.0f} {WORK_UNIT}" in meter.stream.getvalue()
