"""Search configs: a TOML file naming a base training config plus the space and stages.

Format (all tables but ``base`` and ``dimensions`` optional)::

    extends = "search_lambda"           # optional: start from another search config;
                                        # tables merge key by key, arrays are replaced
    metric = "final_val_acc"            # or "best_val_acc"
    repeats = 3                         # seeds per point (default 1); scores are means
    select = "one_se"                   # or "best_mean" (handprop.search.points)
    [base]
    config = "baseline"                 # packaged training config name, or a .toml path
    set = { n_cycles = 2, n_val = 5000 }  # field overrides of the base config
    [[dimensions]]
    name = "lam"                        # any numeric TrainConfig field
    low = 1e-5
    high = 1e-1
    scale = "log"                       # or "linear"; integer = true rounds
    [[stages]]                          # one table per stage, coarse first
    method = "grid"                     # or "random" (with seed = ...), or "halving":
    n = 9                               # n random points, successive halving with
                                        # eta = 3, min_cycles = 1 (budget: cycles)

An Optuna search has one stage with ``method = "tpe" | "cmaes" | "gp" | "optuna_random"``
(:class:`~handprop.search.optuna_space.OptunaStage`: ``n`` trials, ``seed``, ``pruner``, ...)
and typed dimensions (:class:`~handprop.search.optuna_space.Param`: ranges as above, or
``choices = [...]``, and ``when = {key = value}`` for conditional ones).
    [narrowing]                         # handprop.search.stages.Narrowing
    top_k = 3
    widen = 1.0
    min_fraction = 0.1
    [final]                             # retrain the winner with these overrides (--final)
    set = { n_val = 1000, n_cycles = 3 }
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from handprop.errors import ConfigError
from handprop.search.engine import search
from handprop.search.optuna_space import (
    OPTUNA_METHODS,
    OptunaStage,
    Param,
    check_params,
    report_space,
)
from handprop.search.points import SELECTS
from handprop.search.results import SearchResult
from handprop.search.space import METHODS, Dimension, Space, Stage, at_least, one_of
from handprop.search.stages import Narrowing
from handprop.search.trial import configure

KEYS: dict[str, tuple[str, ...]] = {
    "": (
        "extends",
        "metric",
        "repeats",
        "select",
        "base",
        "dimensions",
        "stages",
        "narrowing",
        "final",
    ),
    "base": ("config", "set"),
    "final": ("set",),
}


@attrs.frozen
class SearchSpec:
    """A parsed search config; ``base`` is a training config name or an absolute path."""

    name: str
    base: str
    space: Space
    stages: tuple[Stage, ...]
    base_set: dict[str, Any] = attrs.Factory(dict)
    narrowing: Narrowing = attrs.Factory(Narrowing)
    metric: str = "final_val_acc"
    final_set: dict[str, Any] = attrs.Factory(dict)
    repeats: int = attrs.field(default=1, validator=at_least(1))
    select: str = attrs.field(default="best_mean", validator=one_of(SELECTS))
    optuna: OptunaStage | None = None  # an Optuna search's stage (then ``stages`` is empty)
    params: tuple[Param, ...] = ()  # an Optuna search's typed dimensions


def find_search_config(name_or_path: str | Path) -> Path:
    """The file for a packaged search config name (``"search_lambda"``) or a path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ConfigError(f"search config {name_or_path}: no such file")
        return path
    packaged = resources.files("handprop") / "configs" / f"{name_or_path}.toml"
    if not packaged.is_file():
        raise ConfigError(f"search config {name_or_path!r}: not a packaged config or a .toml file")
    return Path(str(packaged))


def load_search_spec(name_or_path: str | Path) -> SearchSpec:
    """Parse a search TOML; every problem is a ConfigError naming the file and the key."""
    path = find_search_config(name_or_path)
    table = _read(path, seen=())
    base, final = _table(path, table, "base"), _table(path, table, "final")
    if "config" not in base or "dimensions" not in table:
        raise ConfigError(f"{path}: needs [base] config = NAME and at least one [[dimensions]]")
    stages = _tables(path, table, "stages")
    for stage in stages:
        if stage.get("method", "grid") not in METHODS + OPTUNA_METHODS:
            raise ConfigError(
                f"{path}: method = {stage['method']!r}: must be one of {METHODS + OPTUNA_METHODS}"
            )
    if any(stage.get("method") in OPTUNA_METHODS for stage in stages):
        return _optuna_spec(path, table, base, final, stages)
    return _build(
        path,
        SearchSpec,
        {
            **_common(path, table, base, final),
            "space": Space(_build(path, Dimension, d) for d in _tables(path, table, "dimensions")),
            "stages": tuple(_build(path, Stage, s) for s in _tables(path, table, "stages"))
            or (Stage(),),
            "narrowing": _build(path, Narrowing, _table(path, table, "narrowing")),
            **{k: table[k] for k in ("repeats", "select") if k in table},
        },
    )


def _common(
    path: Path, table: dict[str, Any], base: dict[str, Any], final: dict[str, Any]
) -> dict[str, Any]:
    """The spec fields every kind of search has."""
    return {
        "name": path.stem,
        "base": str(base["config"]),
        "base_set": _table(path, base, "set"),
        "metric": table.get("metric", "final_val_acc"),
        "final_set": _table(path, final, "set"),
    }


def _optuna_spec(
    path: Path,
    table: dict[str, Any],
    base: dict[str, Any],
    final: dict[str, Any],
    stages: list[dict[str, Any]],
) -> SearchSpec:
    """The spec of a search with one Optuna stage over typed dimensions."""
    if len(stages) != 1 or "narrowing" in table or table.get("repeats", 1) != 1:
        raise ConfigError(
            f"{path}: an Optuna search has exactly one [[stages]] table, "
            "no [narrowing] and repeats = 1"
        )
    try:
        params = check_params(_build(path, Param, d) for d in _tables(path, table, "dimensions"))
        space = report_space(params)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
    return _build(
        path,
        SearchSpec,
        {
            **_common(path, table, base, final),
            "space": space,
            "stages": (),
            "optuna": _build(path, OptunaStage, stages[0]),
            "params": params,
        },
    )


def _read(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The file's table merged over the one it ``extends`` (keys checked, paths absolute)."""
    if path.resolve() in seen:
        raise ConfigError(f"{path}: extends itself through {[str(p) for p in seen]}")
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"{path}: cannot read search config ({err})") from err
    except RecursionError:
        raise ConfigError(f"{path}: cannot read search config (nested too deeply)") from None
    _check_keys(path, "", table)
    for section in ("base", "final"):
        _check_keys(path, section, _table(path, table, section))
    base = _table(path, table, "base")
    if "config" in base:
        base["config"] = _relative_to(path, str(base["config"]))
    if "extends" not in table:
        return table
    parent = find_search_config(_relative_to(path, str(table.pop("extends"))))
    return _merge(_read(parent, (*seen, path.resolve())), table)


def _relative_to(config_file: Path, name: str) -> str:
    """A ``.toml`` path named in ``config_file`` is relative to its folder; names are kept."""
    if name.endswith(".toml") and not Path(name).is_absolute():
        return str(config_file.parent / name)
    return name


def _merge(parent: dict[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(parent)
    for key, value in child.items():
        both_tables = isinstance(value, dict) and isinstance(parent.get(key), dict)
        merged[key] = _merge(parent[key], value) if both_tables else value
    return merged


def _check_keys(path: Path, section: str, table: Mapping[str, Any]) -> None:
    unknown = sorted(set(table) - set(KEYS[section]))
    if unknown:
        where = f"[{section}]" if section else "top level"
        raise ConfigError(f"{path}: unknown keys {unknown} at {where}; allowed: {KEYS[section]}")


def _table(path: Path, parent: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a table, got {value!r}")
    return value


def _tables(path: Path, parent: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = parent.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{path}: {key} must be an array of tables ([[{key}]])")
    return value


def _build(path: Path, cls: type, values: Mapping[str, Any]) -> Any:
    try:
        return cls(**values)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from err
    except TypeError as err:
        allowed = [f.name for f in attrs.fields(cls)]
        raise ConfigError(f"{path}: {cls.__name__} takes {allowed}, got {sorted(values)}") from err


def search_spec(
    spec: SearchSpec,
    *,
    out_dir: Path,
    overrides: Sequence[str] = (),
    final: bool = False,
    storage: str | None = None,
    **options: Any,
) -> SearchResult:
    """Run ``spec`` on its base training config (``overrides``, ``"key=value"``, applied
    last). ``final`` retrains the winner with the spec's ``[final]`` overrides. ``options``
    go to :func:`~handprop.search.engine.search` (``workers``, ``scheduler``, ``log``, ...);
    an Optuna search runs :func:`~handprop.search.optuna_stage.optuna_search` on its study
    in ``storage`` (default: ``study.db`` in ``out_dir``)."""
    from handprop.train import load_config

    base = configure(load_config(spec.base), spec.base_set)
    if overrides:
        base = base.with_overrides(list(overrides))
    if spec.optuna is not None:
        from handprop.search.optuna_stage import optuna_search

        return optuna_search(
            base,
            spec.params,
            spec.optuna,
            out_dir=out_dir,
            name=spec.name,
            storage=storage,
            metric=spec.metric,
            final=spec.final_set if final else None,
            **options,
        )
    if storage is not None:
        raise ConfigError(f"--storage {storage}: only a search with an Optuna stage has a study")
    return search(
        base,
        spec.space,
        out_dir=out_dir,
        stages=spec.stages,
        narrowing=spec.narrowing,
        metric=spec.metric,
        repeats=spec.repeats,
        select=spec.select,
        final=spec.final_set if final else None,
        **options,
    )
