"""The training configuration: nested frozen, validated records, read from and written to TOML.

A :class:`TrainConfig` holds one record per TOML table: ``[model]``, ``[data]``,
``[augment]``, ``[schedule]``, ``[optimizer]`` and ``[run]``. A command line
``--set table.key=value`` or a search space addresses a field by its dotted key, or by
its bare name where that is unambiguous (``lam``, ``n_cycles``, ``kind``).
Invalid values fail at construction with a :class:`ConfigError` naming the full key
and the allowed range.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, get_origin

import attrs
import cattrs
import numpy as np
import tomli_w

from handprop.atomic import write_text_atomic
from handprop.data.batches import N_CLASSES, N_FEATURES
from handprop.data.dataset import Scheme
from handprop.data.whiten import METHODS as WHITEN_METHODS
from handprop.errors import ConfigError
from handprop.kernels.augment import Fill
from handprop.optim import OPTIMIZER_NAMES
from handprop.packaged import CONFIG_PACKAGE, ENSEMBLE_TABLE, packaged_config_names
from handprop.train import schedules

DTYPES: tuple[str, ...] = ("float32", "float64")
INIT_NAMES: tuple[str, ...] = ("fan_in", "normal_0.01")
SPLITS: tuple[str, ...] = ("batch1", "all")
FILLS: tuple[str, ...] = ("zero", "keep")
TTAS: tuple[str, ...] = ("none", "flip")
WHITENINGS: tuple[str, ...] = ("none", *WHITEN_METHODS)
#: Images in the CIFAR-10 training batches (upper bound for ``n_val``).
N_TRAIN_IMAGES = 50_000
IMAGE_SIDE = 32
#: Images in one CIFAR-10 batch (the ``batch1`` training split).
BATCH_IMAGES = 10_000
#: What a training step costs besides its matrix products (dispatch, augmentation, the
#: schedule), in floating-point operations: the estimate of :meth:`TrainConfig.step_gflop`.
STEP_OVERHEAD_FLOP = 5e7
#: The most update steps a run may take: a billion, about twelve days at 1 ms per step.
MAX_STEPS = 10**9
#: The most snapshots a run may take (each is a parameter file).
MAX_SNAPSHOTS = 1000

DtypeName = Literal["float32", "float64"]
InitName = Literal["fan_in", "normal_0.01"]
ScheduleName = Literal["constant", "triangular", "triangular2", "exp_range"]
OptimizerName = Literal["sgd", "momentum", "nesterov", "adam", "adamw"]
WhitenName = Literal["none", "zca", "pca"]
TTAName = Literal["none", "flip"]
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _key(instance: Any, attribute: attrs.Attribute[Any]) -> str:
    """The dotted key of a field, ``optimizer.lam``."""
    return f"{type(instance).TABLE}.{attribute.name}"


def _rule(allowed: str, ok: Callable[[Any], bool]) -> Validator:
    """A validator raising ``ConfigError("<table.key> must be <allowed>, got <value>")``."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not ok(value):
            raise ConfigError(f"{_key(instance, attribute)} must be {allowed}, got {value!r}")

    return check


def _attrs_rule(allowed: str, validator: Validator) -> Validator:
    """An ``attrs.validators`` check with this module's one-line message."""

    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        try:
            validator(instance, attribute, value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{_key(instance, attribute)} must be {allowed}, got {value!r}"
            ) from None

    return check


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_in(lo: int, hi: int | None = None) -> Validator:
    allowed = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    return _rule(allowed, lambda v: _is_int(v) and v >= lo and (hi is None or v <= hi))


def _float_in(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Validator:
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    return _rule(
        f"a number in {left}{lo:g}, {hi:g}{right}",
        lambda v: (
            _is_number(v)
            and math.isfinite(v)
            and (v > lo if lo_open else v >= lo)
            and (v < hi if hi_open else v <= hi)
        ),
    )


def _one_of(choices: tuple[str, ...]) -> Validator:
    return _attrs_rule(f"one of {', '.join(choices)}", attrs.validators.in_(choices))


def _is_text(value: object) -> bool:
    """A string that UTF-8 can encode (no lone surrogates, which no TOML file can hold)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_is_bool = _attrs_rule("true or false", attrs.validators.instance_of(bool))
_is_str = _rule("a string of Unicode text", _is_text)


def _is_folder_name(value: str) -> bool:
    """One path component naming a folder inside its parent (or empty: the default)."""
    return (
        Path(value).name == value
        and value not in (".", "..")
        and "\\" not in value
        and "\0" not in value
    )


_is_plain_name = _rule("a plain folder name (no '/', '..' or absolute path)", _is_folder_name)


def _to_float(value: Any) -> Any:
    """Integers become floats (``lam = 1`` in TOML); anything else is left to the validator."""
    return float(value) if _is_int(value) else value


def _to_hidden(value: Any) -> Any:
    """``50 -> (50,)``, ``[256] -> (256,)``; anything else is left to the validator."""
    if _is_int(value):
        return (value,)
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


_check_hidden = _rule(
    "a list of hidden layer sizes, each an integer >= 1 ([] is the one-layer classifier)",
    lambda v: isinstance(v, tuple) and all(_is_int(m) and m >= 1 for m in v),
)


def _float_field(default: float, validator: Validator) -> Any:
    return attrs.field(default=default, converter=_to_float, validator=validator)


@attrs.frozen(kw_only=True)
class ModelConfig:
    """``[model]``: hidden layer sizes, initialisation, float type, dropout rate, and batch
    normalisation of every hidden layer (``Affine -> BatchNorm -> ReLU``) with the momentum
    of its running averages and its ``eps``."""

    TABLE: ClassVar[str] = "model"
    hidden: tuple[int, ...] = attrs.field(
        default=(50,), converter=_to_hidden, validator=_check_hidden
    )
    init: InitName = attrs.field(default="fan_in", validator=_one_of(INIT_NAMES))
    dtype: DtypeName = attrs.field(default="float32", validator=_one_of(DTYPES))
    dropout: float = _float_field(0.0, _float_in(0.0, 1.0, hi_open=True))
    batchnorm: bool = attrs.field(default=False, validator=_is_bool)
    bn_momentum: float = _float_field(0.1, _float_in(0.0, 1.0, lo_open=True, hi_open=True))
    bn_eps: float = _float_field(1e-5, _float_in(0.0, math.inf, lo_open=True, hi_open=True))


@attrs.frozen(kw_only=True)
class DataConfig:
    """``[data]``: training split, validation size, training-set cut (0 = all), input
    whitening fitted on the training split (``none``, ``zca``, ``pca``) and its
    regularising epsilon (added to the covariance eigenvalues of the normalised pixels)."""

    TABLE: ClassVar[str] = "data"
    split: Scheme = attrs.field(default="all", validator=_one_of(SPLITS))
    n_val: int = attrs.field(default=1000, validator=_int_in(1, N_TRAIN_IMAGES - 1))
    n_train: int = attrs.field(default=0, validator=_int_in(0))
    whiten: WhitenName = attrs.field(default="none", validator=_one_of(WHITENINGS))
    whiten_eps: float = _float_field(0.1, _float_in(0.0, math.inf, lo_open=True, hi_open=True))


@attrs.frozen(kw_only=True)
class AugmentConfig:
    """``[augment]``: random horizontal flips and translations of training images, and
    test-time augmentation (``tta = "flip"``: the final validation and test accuracies,
    ``evaluate`` and ``predict`` average the class probabilities of each image and its
    mirror image; the periodic evaluations during training stay plain)."""

    TABLE: ClassVar[str] = "augment"
    flip: bool = attrs.field(default=False, validator=_is_bool)
    flip_prob: float = _float_field(0.5, _float_in(0.0, 1.0))
    max_shift: int = attrs.field(default=0, validator=_int_in(0, IMAGE_SIDE - 1))
    shift_prob: float = _float_field(0.0, _float_in(0.0, 1.0))
    fill: Fill = attrs.field(default="zero", validator=_one_of(FILLS))
    tta: TTAName = attrs.field(default="none", validator=_one_of(TTAS))


@attrs.frozen(kw_only=True)
class ScheduleConfig:
    """``[schedule]``: the learning-rate schedule and the run length."""

    TABLE: ClassVar[str] = "schedule"
    kind: ScheduleName = attrs.field(
        default="triangular", validator=_one_of(schedules.SCHEDULE_NAMES)
    )
    eta: float = _float_field(0.01, _float_in(0.0, math.inf, lo_open=True, hi_open=True))
    eta_min: float = _float_field(1e-5, _float_in(0.0, math.inf, hi_open=True))
    eta_max: float = _float_field(1e-1, _float_in(0.0, math.inf, lo_open=True, hi_open=True))
    n_s: int = attrs.field(default=0, validator=_int_in(0))
    n_cycles: int = attrs.field(default=1, validator=_int_in(1))
    gamma: float = _float_field(0.99994, _float_in(0.0, 1.0, lo_open=True))
    epochs: int = attrs.field(default=0, validator=_int_in(0))


@attrs.frozen(kw_only=True)
class OptimizerConfig:
    """``[optimizer]``: mini-batch size, L2 strength, per-epoch shuffling, the update rule
    (:mod:`handprop.optim`) with its hyperparameters, and label smoothing of the targets.

    ``momentum`` is used by ``momentum`` and ``nesterov``; ``beta1``, ``beta2``, ``eps`` by
    ``adam`` and ``adamw``; ``weight_decay`` (decoupled, on the weights) by ``adamw`` only.
    """

    TABLE: ClassVar[str] = "optimizer"
    batch_size: int = attrs.field(default=100, validator=_int_in(1))
    lam: float = _float_field(0.0, _float_in(0.0, math.inf, hi_open=True))
    shuffle: bool = attrs.field(default=True, validator=_is_bool)
    name: OptimizerName = attrs.field(default="sgd", validator=_one_of(OPTIMIZER_NAMES))
    momentum: float = _float_field(0.9, _float_in(0.0, 1.0, hi_open=True))
    beta1: float = _float_field(0.9, _float_in(0.0, 1.0, hi_open=True))
    beta2: float = _float_field(0.999, _float_in(0.0, 1.0, hi_open=True))
    eps: float = _float_field(1e-8, _float_in(0.0, math.inf, lo_open=True, hi_open=True))
    weight_decay: float = _float_field(0.0, _float_in(0.0, math.inf, hi_open=True))
    label_smoothing: float = _float_field(0.0, _float_in(0.0, 1.0, hi_open=True))

    def options(self) -> dict[str, float]:
        """Keyword arguments of :func:`handprop.optim.make_optimizer` for ``name``."""
        if self.name in ("momentum", "nesterov"):
            return {"momentum": self.momentum, "lam": self.lam}
        adam = {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps, "lam": self.lam}
        if self.name == "adam":
            return adam
        if self.name == "adamw":
            return {**adam, "weight_decay": self.weight_decay}
        return {"lam": self.lam}


@attrs.frozen(kw_only=True)
class RunConfig:
    """``[run]``: seed, name (a plain folder name: the default run folder's), evaluation and
    checkpoint intervals (0 = per epoch / never; ``checkpoint_seconds``: a checkpoint also
    once that much wall time has passed since the last, so a kill of a long run loses at
    most that much training), snapshots (``true``: the parameters at the end of every cycle
    of the schedule; ``k``: of the last ``k`` cycles; ``false`` or 0: none)."""

    TABLE: ClassVar[str] = "run"
    seed: int = attrs.field(default=0, validator=_int_in(0, 2**63 - 1))
    name: str = attrs.field(default="", validator=[_is_str, _is_plain_name])
    eval_every: int = attrs.field(default=0, validator=_int_in(0))
    train_eval_size: int = attrs.field(default=0, validator=_int_in(0))
    checkpoint_every: int = attrs.field(default=0, validator=_int_in(0))
    checkpoint_seconds: float = _float_field(300.0, _float_in(0.0, math.inf, hi_open=True))
    snapshots: bool | int = attrs.field(
        default=False,
        validator=_rule(
            "true, false or an integer >= 0",
            lambda v: isinstance(v, bool) or (_is_int(v) and v >= 0),
        ),
    )


@attrs.frozen(kw_only=True)
class TrainConfig:
    """One training run: one record per TOML table.

    Step counts: the cyclical schedules run ``2 * n_s * n_cycles`` steps (``n_s = 0``
    means ``2 * floor(n_train / batch_size)``); ``constant`` runs
    ``epochs * n_train // batch_size`` steps.
    """

    model: ModelConfig = attrs.field(factory=ModelConfig)
    data: DataConfig = attrs.field(factory=DataConfig)
    augment: AugmentConfig = attrs.field(factory=AugmentConfig)
    schedule: ScheduleConfig = attrs.field(factory=ScheduleConfig)
    optimizer: OptimizerConfig = attrs.field(factory=OptimizerConfig)
    run: RunConfig = attrs.field(factory=RunConfig)

    def __attrs_post_init__(self) -> None:
        self._check_floats_in_dtype()
        s = self.schedule
        if s.eta_min > s.eta_max:
            raise ConfigError(
                f"schedule.eta_min must be <= schedule.eta_max, got {s.eta_min!r} > {s.eta_max!r}"
            )
        if s.kind == "constant" and s.epochs < 1:
            raise ConfigError(
                "schedule.epochs must be an integer >= 1 with schedule.kind = constant, "
                f"got {s.epochs!r}"
            )
        snapshots = self.run.snapshots
        if snapshots is not True and snapshots > s.n_cycles:
            raise ConfigError(
                f"run.snapshots must be true, false or an integer in [0, schedule.n_cycles = "
                f"{s.n_cycles}], got {snapshots!r}"
            )
        count = s.n_cycles if snapshots is True else snapshots
        if count > MAX_SNAPSHOTS:
            raise ConfigError(
                f"run.snapshots would take {count:,} snapshots (one parameter file per cycle), "
                f"more than the {MAX_SNAPSHOTS:,} a run may take; give their number"
            )
        if snapshots and s.kind == "constant":
            raise ConfigError(
                "run.snapshots needs a cyclical schedule (snapshots are taken at the end of "
                "each cycle), got schedule.kind = constant"
            )
        if self.model.dropout > 0 and not self.model.hidden:
            raise ConfigError(
                "model.dropout must be 0 for the one-layer classifier (model.hidden = []): "
                "it drops hidden units only"
            )
        if self.model.batchnorm and not self.model.hidden:
            raise ConfigError(
                "model.batchnorm needs hidden layers (it normalises hidden units), "
                "got model.hidden = []"
            )
        if self.model.batchnorm and self.optimizer.batch_size < 2:
            raise ConfigError(
                "optimizer.batch_size must be >= 2 with model.batchnorm = true (batch "
                f"statistics of one image are undefined), got {self.optimizer.batch_size}"
            )
        if self.optimizer.weight_decay and self.optimizer.name != "adamw":
            raise ConfigError(
                "optimizer.weight_decay is decoupled weight decay of adamw; use optimizer.lam "
                f"for optimizer.name = {self.optimizer.name}"
            )
        if self.data.whiten == "pca" and (self.augments or self.augment.tta != "none"):
            raise ConfigError(
                "data.whiten = pca cannot be combined with flips, translations or "
                "augment.tta: they act on images (use zca)"
            )
        self.total_steps(self.max_train_images())

    def _check_floats_in_dtype(self) -> None:
        """Every float field is a finite number of ``model.dtype`` that still passes its
        own range check once rounded to it; a nonzero value stays a normal number."""
        dtype = np.dtype(self.model.dtype)
        info = np.finfo(dtype)
        for record in (self.model, self.data, self.augment, self.schedule, self.optimizer):
            for field in attrs.fields(type(record)):
                if field.converter is not _to_float:
                    continue
                value, key = getattr(record, field.name), _key(record, field)
                with np.errstate(over="ignore"):
                    cast = float(dtype.type(value))
                if not math.isfinite(cast):
                    raise ConfigError(
                        f"{key} = {value!r} overflows {dtype} (model.dtype; its largest "
                        f"number is {info.max:.4g})"
                    )
                if value != 0 and abs(cast) < info.tiny:
                    raise ConfigError(
                        f"{key} = {value!r} underflows {dtype} (model.dtype; a nonzero value "
                        f"must be at least {info.tiny:.4g})"
                    )
                try:
                    assert field.validator is not None
                    field.validator(record, field, cast)
                except ConfigError as err:
                    raise ConfigError(
                        f"{key} = {value!r} rounds to {cast!r} in {dtype} (model.dtype): {err}"
                    ) from None

    def max_train_images(self) -> int:
        """The largest training split ``data`` can give on CIFAR-10."""
        d = self.data
        most = BATCH_IMAGES if d.split == "batch1" else N_TRAIN_IMAGES - d.n_val
        return min(most, d.n_train) if d.n_train else most

    @property
    def augments(self) -> bool:
        """True if training images are flipped or translated."""
        a = self.augment
        return (a.flip and a.flip_prob > 0) or (a.max_shift > 0 and a.shift_prob > 0)

    def step_size(self, n_train: int) -> int:
        """Half-cycle length ``n_s`` for a training split of ``n_train`` images."""
        return self.schedule.n_s or max(1, 2 * (n_train // self.optimizer.batch_size))

    def train_images(self) -> int:
        """Training images of the config's CIFAR-10 split (``data_batch_1`` for ``batch1``,
        the 50,000 less ``n_val`` for ``all``), cut to ``n_train``."""
        d = self.data
        available = N_TRAIN_IMAGES // 5 if d.split == "batch1" else N_TRAIN_IMAGES - d.n_val
        return min(d.n_train, available) if d.n_train else available

    def planned_steps(self) -> int:
        """:meth:`total_steps` on the config's CIFAR-10 training split (an estimate of the
        work before the data is loaded; a diverging run stops earlier)."""
        return self.total_steps(self.train_images())

    def step_gflop(self) -> float:
        """Estimated work of one training step in GFLOP: ``6 b sum(fan_in * fan_out)`` for
        the products of the forward and backward passes, plus :data:`STEP_OVERHEAD_FLOP`.
        Weighs the steps of different nets in the progress of a suite or a search."""
        sizes = (N_FEATURES, *self.model.hidden, N_CLASSES)
        products = sum(a * b for a, b in itertools.pairwise(sizes))
        return (6 * self.optimizer.batch_size * products + STEP_OVERHEAD_FLOP) / 1e9

    def total_steps(self, n_train: int) -> int:
        """Number of SGD updates for a training split of ``n_train`` images; more than
        :data:`MAX_STEPS` is a :class:`ConfigError`."""
        s = self.schedule
        if s.kind == "constant":
            total = max(1, s.epochs * n_train // self.optimizer.batch_size)
            length = f"schedule.epochs = {s.epochs}"
        else:
            total = 2 * self.step_size(n_train) * s.n_cycles
            length = f"schedule.n_s = {s.n_s} and schedule.n_cycles = {s.n_cycles}"
        if total > MAX_STEPS:
            raise ConfigError(
                f"{length} make a run of {total:,} steps (with optimizer.batch_size = "
                f"{self.optimizer.batch_size} on {n_train:,} training images), more than the "
                f"{MAX_STEPS:,} steps a run can take"
            )
        return total

    def snapshot_steps(self, n_train: int) -> tuple[int, ...]:
        """Step counts after which snapshots are taken: the ends of the last
        ``run.snapshots`` cycles (every cycle if ``true``), where the schedule is at eta_min."""
        s = self.schedule
        count = s.n_cycles if self.run.snapshots is True else int(self.run.snapshots)
        period = 2 * self.step_size(n_train)
        return tuple(period * k for k in range(s.n_cycles - count + 1, s.n_cycles + 1))

    def make_schedule(self, n_train: int) -> schedules.Schedule:
        """The learning-rate schedule for a training split of ``n_train`` images."""
        s = self.schedule
        if s.kind == "constant":
            return schedules.constant(s.eta)
        n_s = self.step_size(n_train)
        if s.kind == "triangular":
            return schedules.triangular(s.eta_min, s.eta_max, n_s)
        if s.kind == "triangular2":
            return schedules.triangular2(s.eta_min, s.eta_max, n_s)
        return schedules.exp_range(s.eta_min, s.eta_max, n_s, s.gamma)

    def value(self, key: str) -> Any:
        """The value of a dotted or unambiguous bare key (``"lam"``, ``"optimizer.lam"``)."""
        table, name = resolve_key(key).split(".")
        return getattr(getattr(self, table), name)

    def with_values(self, values: Mapping[str, Any]) -> TrainConfig:
        """A copy with ``{key: value}`` set (dotted or unambiguous bare keys), re-validated."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            table, name = resolve_key(key).split(".")
            changes.setdefault(table, {})[name] = value
        tables = {t: attrs.evolve(getattr(self, t), **c) for t, c in changes.items()}
        return attrs.evolve(self, **tables)

    def with_overrides(self, assignments: Iterable[str]) -> TrainConfig:
        """A copy with ``["key=value", ...]`` applied; values are TOML (``lam=1e-3``,
        ``model.hidden=[256]``, ``flip=true``) or bare strings (``fill=keep``)."""
        values: dict[str, Any] = {}
        spelled: dict[str, str] = {}
        for assignment in assignments:
            key, value = _parse_assignment(assignment)
            _refuse_twice(resolve_key(key), key, spelled)
            values[key] = value
        return self.with_values(values)


#: The records of :class:`TrainConfig` by table name, in file order.
TABLES: dict[str, type] = {
    cls.TABLE: cls
    for cls in (ModelConfig, DataConfig, AugmentConfig, ScheduleConfig, OptimizerConfig, RunConfig)
}
#: Every dotted key, ``model.hidden`` ... ``run.checkpoint_every``.
KEYS: tuple[str, ...] = tuple(
    f"{table}.{f.name}" for table, cls in TABLES.items() for f in attrs.fields(cls)
)


def resolve_key(key: str) -> str:
    """The dotted key for ``key``: itself if dotted, else the one table holding the name."""
    key = key.strip()
    if key in KEYS:
        return key
    matches = _named(key)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ConfigError(f"config key {key!r} is ambiguous; use one of {', '.join(matches)}")
    raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(KEYS)}")


def _named(name: str) -> list[str]:
    """The dotted keys whose field is called ``name``."""
    return [k for k in KEYS if k.split(".")[1] == name.strip()]


def _passthrough(value: Any, _: Any) -> Any:
    return value


#: Structures TOML tables into TrainConfig. Scalars pass through unchanged so the
#: records' own validators (not a silent ``int(2.5)``) judge them.
_converter = cattrs.Converter(detailed_validation=False)
for _type in (int, float, str, bool):
    _converter.register_structure_hook(_type, _passthrough)
_converter.register_structure_hook_func(
    lambda t: t in (tuple[int, ...], bool | int) or get_origin(t) is Literal, _passthrough
)


def _refuse_twice(dotted: str, key: str, spelled: dict[str, str]) -> None:
    """Record that ``key`` sets ``dotted``; a second setting of it is a :class:`ConfigError`."""
    if dotted in spelled:
        raise ConfigError(
            f"config key {dotted} is given twice ({spelled[dotted]} and {key}); give it once"
        )
    spelled[dotted] = key


def _nest(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{table: {name: value}}`` from nested tables, dotted keys or bare keys; a
    field set twice (``lam`` and ``[optimizer] lam``) is a :class:`ConfigError`."""
    nested: dict[str, dict[str, Any]] = {table: {} for table in TABLES}
    spelled: dict[str, str] = {}
    unknown = []
    for key, value in values.items():
        if key in TABLES and isinstance(value, Mapping):
            items = [(f"{key}.{name}", v) for name, v in value.items()]
        else:
            items = [(key, value)]
        for item, v in items:
            try:
                table, name = resolve_key(item).split(".")
            except ConfigError:
                if _named(item):  # ambiguous, not unknown
                    raise
                unknown.append(item)
                continue
            _refuse_twice(f"{table}.{name}", item, spelled)
            nested[table][name] = v
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(sorted(unknown))}; valid keys: {', '.join(KEYS)}"
        )
    return nested


def config_from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Validate keys and values and build the config.

    ``values`` holds tables (``{"optimizer": {"lam": 1e-3}}``), dotted keys or unambiguous
    bare keys (``{"lam": 1e-3, "kind": "triangular"}``), in any mix.
    """
    return _converter.structure(_nest(values), TrainConfig)


def config_to_dict(config: TrainConfig) -> dict[str, dict[str, Any]]:
    """Nested ``{table: {field: value}}`` (``hidden`` as a list), JSON and TOML ready."""
    tables: dict[str, dict[str, Any]] = _converter.unstructure(config)
    tables["model"]["hidden"] = list(config.model.hidden)
    return tables


def _parse_assignment(assignment: str) -> tuple[str, Any]:
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {assignment!r} must look like key=value")
    resolve_key(key)
    try:
        return key, tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, text.strip()
    except RecursionError:
        raise ConfigError(f"override of {key}: the value is nested too deeply") from None


def read_toml(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """The tables of a packaged config by name or of a ``.toml`` file, and its stem."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        try:
            text, stem = path.read_text(encoding="utf-8"), path.stem
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"cannot read config file {str(path)!r}: {err}") from None
    else:
        resource = resources.files(CONFIG_PACKAGE) / f"{name_or_path}.toml"
        if not resource.is_file():
            raise ConfigError(
                f"no config named {str(name_or_path)!r}; packaged configs: "
                f"{', '.join(packaged_config_names())} (or give a path to a .toml file)"
            )
        text, stem = resource.read_text(encoding="utf-8"), str(name_or_path)
    return parse_toml(text, f"config {str(name_or_path)!r}"), stem


def parse_toml(text: str, what: str) -> dict[str, Any]:
    """The tables of the TOML ``text``; invalid or too deeply nested TOML is a
    :class:`ConfigError` naming ``what``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{what} is not valid TOML: {err}") from None
    except RecursionError:
        raise ConfigError(f"{what} is nested too deeply to be a config") from None


def load_config(name_or_path: str | Path) -> TrainConfig:
    """A packaged config by name (``"baseline"``) or a ``.toml`` file (tables or flat).

    The config's ``run.name`` defaults to the file stem. An ensemble config (an
    ``[ensemble]`` table, see :mod:`handprop.runs.ensemble_config`) is refused by name.
    """
    values, stem = read_toml(name_or_path)
    if ENSEMBLE_TABLE in values:
        raise ConfigError(
            f"config {str(name_or_path)!r} is an ensemble config; train it with "
            f"`handprop ensemble --config {name_or_path}`"
        )
    try:
        config = config_from_dict(values)
    except ConfigError as err:
        raise ConfigError(f"config {str(name_or_path)!r}: {err}") from None
    return config if config.run.name else config.with_values({"run.name": stem})


def config_to_toml(config: TrainConfig) -> str:
    """The resolved config as TOML text: one table per record, every field in order.

    Written by ``tomli_w``, so every string (any Unicode text) reads back unchanged."""
    return tomli_w.dumps(config_to_dict(config))


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write :func:`config_to_toml` to ``path`` atomically."""
    write_text_atomic(Path(path), config_to_toml(config))
