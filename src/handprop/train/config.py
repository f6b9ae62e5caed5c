"""The training configuration: a frozen, validated record, read from and written to TOML.

Every field is flat, so a command line ``--set key=value`` or a search space can
address it. Invalid values fail at construction with a :class:`ConfigError`
naming the field and the allowed range.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_origin

import attrs
import cattrs

from handprop.data.dataset import Scheme
from handprop.errors import ConfigError
from handprop.kernels.augment import Fill
from handprop.nn.params import INIT_NAMES, InitName
from handprop.train import schedules

CONFIG_PACKAGE = "handprop.configs"
DTYPES: tuple[str, ...] = ("float32", "float64")
SPLITS: tuple[str, ...] = ("batch1", "all")
FILLS: tuple[str, ...] = ("zero", "keep")
#: Images in the CIFAR-10 training batches (upper bound for ``n_val``).
N_TRAIN_IMAGES = 50_000
IMAGE_SIDE = 32

DtypeName = Literal["float32", "float64"]
ScheduleName = Literal["constant", "triangular", "triangular2", "exp_range"]
Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int_in(lo: int, hi: int | None = None) -> Validator:
    allowed = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if not (_is_int(value) and value >= lo and (hi is None or value <= hi)):
            raise ConfigError(f"{attribute.name} must be {allowed}, got {value!r}")

    return check


def _float_in(lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False) -> Validator:
    left, right = "(" if lo_open else "[", ")" if hi_open else "]"
    allowed = f"a number in {left}{lo:g}, {hi:g}{right}"

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = (
            _is_number(value)
            and math.isfinite(value)
            and (value > lo if lo_open else value >= lo)
            and (value < hi if hi_open else value <= hi)
        )
        if not ok:
            raise ConfigError(f"{attribute.name} must be {allowed}, got {value!r}")

    return check


def _one_of(choices: tuple[str, ...]) -> Validator:
    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value not in choices:
            choice = ", ".join(choices)
            raise ConfigError(f"{attribute.name} must be one of {choice}; got {value!r}")

    return check


def _is_bool(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{attribute.name} must be true or false, got {value!r}")


def _is_str(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"{attribute.name} must be a string, got {value!r}")


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


def _check_hidden(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not (isinstance(value, tuple) and all(_is_int(m) and m >= 1 for m in value)):
        raise ConfigError(
            f"{attribute.name} must be a list of hidden layer sizes, each an integer >= 1 "
            f"([] is the one-layer classifier), got {value!r}"
        )


def _float_field(default: float, validator: Validator) -> Any:
    return attrs.field(default=default, converter=_to_float, validator=validator)


@attrs.frozen(kw_only=True)
class TrainConfig:
    """One training run: network, optimisation, augmentation, evaluation and data.

    Step counts: the cyclical schedules run ``2 * n_s * n_cycles`` steps (``n_s = 0``
    means ``2 * floor(n_train / batch_size)``); ``constant`` runs
    ``epochs * n_train // batch_size`` steps.
    """

    # network
    hidden: tuple[int, ...] = attrs.field(
        default=(50,), converter=_to_hidden, validator=_check_hidden
    )
    init: InitName = attrs.field(default="fan_in", validator=_one_of(INIT_NAMES))
    dtype: DtypeName = attrs.field(default="float32", validator=_one_of(DTYPES))
    # optimisation
    batch_size: int = attrs.field(default=100, validator=_int_in(1))
    lam: float = _float_field(0.0, _float_in(0.0, math.inf, hi_open=True))
    schedule: ScheduleName = attrs.field(
        default="triangular", validator=_one_of(schedules.SCHEDULE_NAMES)
    )
    eta: float = _float_field(0.01, _float_in(0.0, math.inf, lo_open=True, hi_open=True))
    eta_min: float = _float_field(1e-5, _float_in(0.0, math.inf, hi_open=True))
    eta_max: float = _float_field(1e-1, _float_in(0.0, math.inf, lo_open=True, hi_open=True))
    n_s: int = attrs.field(default=0, validator=_int_in(0))
    n_cycles: int = attrs.field(default=1, validator=_int_in(1))
    gamma: float = _float_field(0.99994, _float_in(0.0, 1.0, lo_open=True))
    epochs: int = attrs.field(default=0, validator=_int_in(0))
    shuffle: bool = attrs.field(default=True, validator=_is_bool)
    # regularisation by noise
    dropout: float = _float_field(0.0, _float_in(0.0, 1.0, hi_open=True))
    flip: bool = attrs.field(default=False, validator=_is_bool)
    flip_prob: float = _float_field(0.5, _float_in(0.0, 1.0))
    max_shift: int = attrs.field(default=0, validator=_int_in(0, IMAGE_SIDE - 1))
    shift_prob: float = _float_field(0.0, _float_in(0.0, 1.0))
    fill: Fill = attrs.field(default="zero", validator=_one_of(FILLS))
    # evaluation and checkpoints
    eval_every: int = attrs.field(default=0, validator=_int_in(0))
    train_eval_size: int = attrs.field(default=0, validator=_int_in(0))
    checkpoint_every: int = attrs.field(default=0, validator=_int_in(0))
    # randomness and data
    seed: int = attrs.field(default=0, validator=_int_in(0, 2**63 - 1))
    split: Scheme = attrs.field(default="all", validator=_one_of(SPLITS))
    n_val: int = attrs.field(default=1000, validator=_int_in(1, N_TRAIN_IMAGES - 1))
    n_train: int = attrs.field(default=0, validator=_int_in(0))
    name: str = attrs.field(default="", validator=_is_str)

    def __attrs_post_init__(self) -> None:
        if self.eta_min > self.eta_max:
            raise ConfigError(
                f"eta_min must be <= eta_max, got {self.eta_min!r} > {self.eta_max!r}"
            )
        if self.schedule == "constant" and self.epochs < 1:
            raise ConfigError(
                f"epochs must be an integer >= 1 with schedule = constant, got {self.epochs!r}"
            )
        if self.dropout > 0 and not self.hidden:
            raise ConfigError(
                "dropout must be 0 for the one-layer classifier (hidden = []): "
                "it drops hidden units only"
            )

    @property
    def augments(self) -> bool:
        """True if training images are flipped or translated."""
        return (self.flip and self.flip_prob > 0) or (self.max_shift > 0 and self.shift_prob > 0)

    def step_size(self, n_train: int) -> int:
        """Half-cycle length ``n_s`` for a training split of ``n_train`` images."""
        return self.n_s or max(1, 2 * (n_train // self.batch_size))

    def total_steps(self, n_train: int) -> int:
        """Number of SGD updates for a training split of ``n_train`` images."""
        if self.schedule == "constant":
            return max(1, self.epochs * n_train // self.batch_size)
        return 2 * self.step_size(n_train) * self.n_cycles

    def make_schedule(self, n_train: int) -> schedules.Schedule:
        """The learning-rate schedule for a training split of ``n_train`` images."""
        if self.schedule == "constant":
            return schedules.constant(self.eta)
        n_s = self.step_size(n_train)
        if self.schedule == "triangular":
            return schedules.triangular(self.eta_min, self.eta_max, n_s)
        if self.schedule == "triangular2":
            return schedules.triangular2(self.eta_min, self.eta_max, n_s)
        return schedules.exp_range(self.eta_min, self.eta_max, n_s, self.gamma)

    def with_overrides(self, assignments: Iterable[str]) -> TrainConfig:
        """A copy with ``["key=value", ...]`` applied; values are TOML (``lam=1e-3``,
        ``hidden=[256]``, ``flip=true``) or bare strings (``fill=keep``)."""
        updates = dict(_parse_assignment(a) for a in assignments)
        return config_from_dict({**config_to_dict(self), **updates})


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in attrs.fields(TrainConfig))


def _passthrough(value: Any, _: Any) -> Any:
    return value


#: Structures TOML tables into TrainConfig. Scalars pass through unchanged so the
#: record's own validators (not a silent ``int(2.5)``) judge them.
_converter = cattrs.Converter(detailed_validation=False)
for _type in (int, float, str, bool):
    _converter.register_structure_hook(_type, _passthrough)
_converter.register_structure_hook_func(
    lambda t: t == tuple[int, ...] or get_origin(t) is Literal, _passthrough
)


def config_from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Validate keys and values of a flat mapping and build the config."""
    unknown = sorted(set(values) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(unknown)}; valid keys: {', '.join(FIELD_NAMES)}"
        )
    return _converter.structure(dict(values), TrainConfig)


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain ``{field: value}`` (``hidden`` as a list), JSON and TOML ready."""
    return _converter.unstructure(config) | {"hidden": list(config.hidden)}


def _parse_assignment(assignment: str) -> tuple[str, Any]:
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {assignment!r} must look like key=value")
    if key not in FIELD_NAMES:
        raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(FIELD_NAMES)}")
    try:
        return key, tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return key, text.strip()


def packaged_config_names() -> list[str]:
    """Stems of the TOML configs shipped in ``handprop/configs``."""
    root = resources.files(CONFIG_PACKAGE)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_config(name_or_path: str | Path) -> TrainConfig:
    """A packaged config by name (``"baseline"``) or a ``.toml`` file.

    The config's ``name`` defaults to the file stem.
    """
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
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config {str(name_or_path)!r} is not valid TOML: {err}") from None
    try:
        config = config_from_dict(values)
    except ConfigError as err:
        raise ConfigError(f"config {str(name_or_path)!r}: {err}") from None
    return config if config.name else attrs.evolve(config, name=stem)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def config_to_toml(config: TrainConfig) -> str:
    """The resolved config as TOML text (every field, in declaration order)."""
    return "".join(f"{k} = {_toml_value(v)}\n" for k, v in config_to_dict(config).items())


def save_config(config: TrainConfig, path: str | Path) -> None:
    """Write :func:`config_to_toml` to ``path``."""
    Path(path).write_text(config_to_toml(config), encoding="utf-8")
