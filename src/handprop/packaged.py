"""The TOML configs shipped in ``handprop/configs``, listed by name.

Standard library only: the command-line parser lists the training configs in its help,
and building it imports nothing heavy.
"""

from __future__ import annotations

import functools
import tomllib
from importlib import resources

CONFIG_PACKAGE = "handprop.configs"
#: The table that makes a TOML file an ensemble config.
ENSEMBLE_TABLE = "ensemble"


def packaged_config_names() -> list[str]:
    """Stems of the TOML configs shipped in ``handprop/configs``."""
    root = resources.files(CONFIG_PACKAGE)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


@functools.cache
def training_config_names() -> tuple[str, ...]:
    """The packaged configs ``handprop train`` takes: not the searches (``search_*``) nor
    the ensembles (an ``[ensemble]`` table). Read once per process (two parsers list them)."""
    root = resources.files(CONFIG_PACKAGE)
    return tuple(
        n
        for n in packaged_config_names()
        if not n.startswith("search_")
        and ENSEMBLE_TABLE not in tomllib.loads((root / f"{n}.toml").read_text(encoding="utf-8"))
    )
