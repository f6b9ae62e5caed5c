"""The training loop: a fold of a pure ``step(state, t) -> state`` over the schedule.

:func:`make_step` builds the step for one config and training set: per-epoch
shuffle, fused gather + augmentation, dropout masks, forward and backward pass
(label smoothing in the loss), update: the optimiser's chain of :mod:`handprop.optim`
(its fused kernel), whose state travels in the :class:`TrainState`.
:func:`train` folds it over ``t = 0 .. T-1`` and keeps everything with side effects at
the edge: evaluation, progress bar, checkpoints, logging, and stopping on divergence or
Ctrl-C.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from handprop import optim
from handprop.data import Dataset, Splits
from handprop.errors import ConfigError, DataError
from handprop.kernels.augment import Augmentation, Fill, draw_augmentation, gather_augment
from handprop.kernels.dropout import dropout_mask
from handprop.nn.architecture import BatchNorm, mlp
from handprop.nn.network import evaluate, training_gradients
from handprop.nn.params import Params
from handprop.optim import OPTIMIZERS, Chain
from handprop.progress import Progress
from handprop.train import schedules
from handprop.train.checkpoint import (
    Checkpoint,
    checkpoint_record,
    load_checkpoint,
    save_checkpoint,
)
from handprop.train.config import TrainConfig, config_from_dict, config_to_dict
from handprop.train.data import load_data
from handprop.train.history import History, HistoryRow
from handprop.train.resume import resume_error
from handprop.train.state import (
    EVAL_SUBSET,
    NOISE,
    SHUFFLE,
    Status,
    TrainResult,
    TrainState,
    stream,
)

log = logging.getLogger(__name__)

Step = Callable[[TrainState, int], TrainState]
Probe = Callable[[Params, int], HistoryRow]


def batch_layout(config: TrainConfig, n_train: int) -> tuple[int, int]:
    """``(batch_size, steps_per_epoch)``; a batch never exceeds the training set."""
    batch = min(config.optimizer.batch_size, n_train)
    return batch, n_train // batch


def optimizer(config: TrainConfig, eta: float) -> Chain:
    """The chain of ``config.optimizer`` with learning rate ``eta`` (L2 ``lam`` through the
    gradient); its state does not depend on ``eta``. The config has checked the values."""
    return OPTIMIZERS[config.optimizer.name](eta, **config.optimizer.options())


def initial_state(config: TrainConfig, params: Params) -> TrainState:
    """Step 0: ``params`` and the optimiser's initial state."""
    return TrainState(params, opt_state=optimizer(config, config.schedule.eta).init(params))


def gather_batch(
    X: np.ndarray, idx: np.ndarray, aug: Augmentation | None, fill: Fill
) -> np.ndarray:
    """The batch's images ``X[idx]`` (n, d), augmented by ``aug`` if given (one pass)."""
    return X[idx] if aug is None else gather_augment(X, idx, aug, fill)


def make_step(
    config: TrainConfig, train: Dataset, schedule: schedules.Schedule | None = None
) -> Step:
    """The pure update ``step(state, t) -> state`` for ``config`` on ``train``.

    The learning rate of step ``t`` is ``schedule(t)`` (default: the config's schedule).

    Step ``t`` uses row block ``t mod steps_per_epoch`` of the permutation of epoch
    ``t // steps_per_epoch`` (the identity with ``shuffle = false``); its augmentation
    and dropout draws come from ``stream(seed, NOISE, t)``. The state's ``loss`` and
    ``cost`` are those of the batch before the update.
    """
    X, y = train.X, train.y
    n = len(y)
    batch, per_epoch = batch_layout(config, n)
    schedule = schedule or config.make_schedule(n)
    seed, rate, fill = (
        config.run.seed,
        config.model.dropout,
        config.augment.fill,
    )
    shuffle, smoothing = config.optimizer.shuffle, config.optimizer.label_smoothing
    augments = config.augments
    draw = functools.partial(
        draw_augmentation,
        flip_prob=config.augment.flip_prob if config.augment.flip else 0.0,
        max_shift=config.augment.max_shift,
        shift_prob=config.augment.shift_prob,
    )
    dtype = X.dtype
    mask_shapes = [(batch, m) for m in config.model.hidden]
    norm = BatchNorm(True, config.model.bn_momentum) if config.model.batchnorm else None
    sequence = mlp(len(config.model.hidden), dropout=bool(rate), batchnorm=norm)
    chain_at, options = OPTIMIZERS[config.optimizer.name], config.optimizer.options()

    def step(state: TrainState, t: int) -> TrainState:
        epoch, block = divmod(t, per_epoch)
        perm = state.perm
        if state.perm_epoch != epoch:
            perm = stream(seed, SHUFFLE, epoch).permutation(n) if shuffle else np.arange(n)
        idx = perm[block * batch : (block + 1) * batch]
        aug, masks = None, None
        if augments or rate:
            rng = stream(seed, NOISE, t)
            if augments:
                aug = draw(rng, batch)
            if rate:
                masks = [dropout_mask(rng, s, rate, dtype) for s in mask_shapes]
        Xb = gather_batch(X, idx, aug, fill)
        loss, grads, stats = training_gradients(
            state.params, Xb, y[idx], 0.0, masks, smoothing, sequence
        )
        opt = chain_at(schedule(t), **options)  # the chain of optimizer(config, eta)
        params, opt_state, penalty = optim.step(opt, grads, state.opt_state, state.params)
        if stats:  # the batch norms' new running averages
            params = params.with_stats(stats)
        return TrainState(params, t + 1, perm, epoch, loss, loss + penalty, opt_state)

    return step


def make_probe(config: TrainConfig, data: Splits) -> Probe:
    """``probe(params, t) -> HistoryRow``: loss, cost and accuracy on the training
    data (a fixed seeded subset of ``train_eval_size`` rows, if set) and validation."""
    train = data.train
    n = len(train.y)
    Xt, yt = train.X, train.y
    if 0 < config.run.train_eval_size < n:
        rows = stream(config.run.seed, EVAL_SUBSET).choice(
            n, config.run.train_eval_size, replace=False
        )
        rows.sort()
        Xt, yt = Xt[rows], yt[rows]
    schedule = config.make_schedule(n)
    per_epoch = batch_layout(config, n)[1]
    lam = config.optimizer.lam

    def probe(params: Params, t: int) -> HistoryRow:
        tr = evaluate(params, Xt, yt, lam)
        va = evaluate(params, data.val.X, data.val.y, lam)
        return HistoryRow(
            step=t,
            epoch=t / per_epoch,
            eta=schedule(t),
            train_loss=tr.loss,
            train_cost=tr.cost,
            train_acc=tr.accuracy,
            val_loss=va.loss,
            val_cost=va.cost,
            val_acc=va.accuracy,
        )

    return probe


def _check_inputs(params: Params, config: TrainConfig, data: Splits) -> None:
    if params.hidden != config.model.hidden:
        raise ConfigError(
            f"hidden is {list(config.model.hidden)} but the parameters have hidden sizes "
            f"{list(params.hidden)}"
        )
    if bool(params.norms) != config.model.batchnorm:
        has = "have" if params.norms else "have no"
        raise ConfigError(
            f"model.batchnorm is {str(config.model.batchnorm).lower()} but the parameters "
            f"{has} batch norms"
        )
    eps = {float(s.eps) for s in params.stats}
    if eps and eps != {float(params.dtype.type(config.model.bn_eps))}:
        raise ConfigError(
            f"model.bn_eps is {config.model.bn_eps!r} but the parameters' batch norms have eps "
            f"{', '.join(f'{e:g}' for e in sorted(eps))}"
        )
    for what, dtype in (("parameters", params.dtype), ("training data", data.train.dtype)):
        if dtype != np.dtype(config.model.dtype):
            raise ConfigError(f"dtype is {config.model.dtype} but the {what} are {dtype}")


def _restore(
    checkpoint_dir: Path, config: TrainConfig, params: Params, total: int
) -> tuple[TrainState, History, float] | None:
    """The state saved in ``checkpoint_dir`` (None if there is none), after
    :func:`~handprop.train.resume.resume_error` allows ``config`` to continue it."""
    found = checkpoint_record(checkpoint_dir)
    if found is None:
        return None
    step, record = found
    try:
        saved = config_from_dict(record)  # nested, or flat from before the tables
    except ConfigError as err:
        raise ConfigError(f"cannot resume {checkpoint_dir}: its config is invalid: {err}") from None
    refusal = resume_error(saved, config, checkpoint_dir, (step, total))
    if refusal is not None:
        raise refusal
    if step > total:
        raise DataError(
            f"checkpoint in {checkpoint_dir} is unreadable (step {step} is beyond the "
            f"run's {total} steps); delete {checkpoint_dir} to start the run afresh"
        )
    template = initial_state(config, params).opt_state
    ckpt = load_checkpoint(checkpoint_dir, params.sizes, params.dtype, template)
    if ckpt is None:
        return None
    log.info("resuming from step %d in %s", ckpt.step, checkpoint_dir)
    state = TrainState(ckpt.params, ckpt.step, opt_state=ckpt.opt_state)
    return state, ckpt.history, ckpt.wall_time


def train(
    params: Params,
    config: TrainConfig,
    *,
    data: Splits | None = None,
    progress: bool | Progress = False,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    on_step: Callable[[TrainState], object] | None = None,
    on_eval: Callable[[HistoryRow], object] | None = None,
) -> TrainResult:
    """Train ``params`` with mini-batch gradient descent as ``config`` says and return the result.

    ``data`` defaults to :func:`load_data` of the config. With ``checkpoint_dir``, a
    checkpoint is written every ``config.run.checkpoint_every`` steps, once
    ``config.run.checkpoint_seconds`` of wall time have passed since the last, and on Ctrl-C
    (status ``"interrupted"``); ``resume=True`` continues from the checkpoint found
    there and ends bit-identical to an uninterrupted run (also when ``n_cycles`` grew since
    the checkpoint: the run is extended to the longer schedule; what may change is
    :func:`~handprop.train.resume.resume_error`'s rule). A non-finite cost stops the
    run with status ``"diverged"`` and the step where it happened. ``on_step(state)``,
    if given, sees each accepted state at the edge (e.g. to save snapshots); ``on_eval(row)``
    sees each evaluation's history row (e.g. to report validation accuracy to a pruner; an
    exception it raises ends the run and propagates). ``progress`` reports the steps to a
    :class:`~handprop.progress.Progress` (``True``: a new one on stderr: a bar on a
    terminal, periodic lines elsewhere).
    """
    data = load_data(config) if data is None else data
    _check_inputs(params, config, data)
    n = len(data.train.y)
    total = config.total_steps(n)
    per_epoch = batch_layout(config, n)[1]
    eval_every = config.run.eval_every or per_epoch
    step = make_step(config, data.train)
    probe = make_probe(config, data)
    folder = None if checkpoint_dir is None else Path(checkpoint_dir)

    state, history, earlier = initial_state(config, params), History(), 0.0
    restored = _restore(folder, config, params, total) if resume and folder is not None else None
    if restored is not None:
        state, history, earlier = restored
    every, seconds = config.run.checkpoint_every, config.run.checkpoint_seconds
    start = last_checkpoint = time.perf_counter()

    def checkpoint(point: tuple[TrainState, History]) -> None:
        nonlocal last_checkpoint
        if folder is not None:
            last_checkpoint = time.perf_counter()
            wall = earlier + last_checkpoint - start
            s = point[0]
            save_checkpoint(
                folder,
                Checkpoint(s.params, s.t, point[1], config_to_dict(config), wall, s.opt_state),
            )
            log.info("checkpoint at step %d in %s", point[0].t, folder)

    status: Status = "completed"
    diverged: int | None = None
    meter = progress if isinstance(progress, Progress) else Progress() if progress else None
    if meter is not None:
        meter.start(config.run.name or "training", total, done=state.t, share=config.step_gflop())
    # Divergence is detected from the cost, so overflow warnings would only be noise.
    with np.errstate(all="ignore"):
        # ``point`` is the last consistent (state, history) pair; it is replaced in one
        # assignment, so an interrupt anywhere leaves it whole.
        point = (state, history if len(history) else history.append(probe(state.params, state.t)))
        try:
            for t in range(state.t, total):
                new = step(point[0], t)
                if not math.isfinite(new.cost):
                    status, diverged = "diverged", t
                    break
                if meter is not None:
                    meter.advance()
                hist = point[1]
                if new.t % eval_every == 0 or new.t == total:
                    row = probe(new.params, new.t)
                    if not row.is_finite():
                        status, diverged = "diverged", t
                        break
                    hist = hist.append(row)
                    if on_eval is not None:
                        on_eval(row)
                    if meter is not None:
                        meter.postfix(
                            loss=f"{row.train_loss:.3f}",
                            acc=f"{row.train_acc:.3f}",
                            val_acc=f"{row.val_acc:.3f}",
                        )
                point = (new, hist)
                if on_step is not None:
                    on_step(new)
                if (every and new.t % every == 0) or (
                    seconds and time.perf_counter() - last_checkpoint >= seconds
                ):
                    checkpoint(point)
        except KeyboardInterrupt:
            status = "interrupted"
            checkpoint(point)
        finally:
            if meter is not None:
                meter.close()
    if diverged is not None:
        log.warning("diverged: non-finite cost at step %d", diverged)
    state, history = point
    return TrainResult(
        params=state.params,
        history=history,
        status=status,
        diverged_step=diverged,
        steps=state.t,
        wall_time=earlier + time.perf_counter() - start,
        opt_state=state.opt_state,
    )
