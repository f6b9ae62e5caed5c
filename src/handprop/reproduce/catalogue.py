"""The experiments of both seed documents, in the order ``handprop reproduce`` runs them.

Each :class:`Experiment` names what it runs (a packaged training config, a packaged search
config, or the gradient check), the folder it fills and the LaTeX macro stem its numbers get.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from handprop.errors import ConfigError

KINDS: tuple[str, ...] = ("gradcheck", "run", "search")
SUITES: tuple[str, ...] = ("full", "smoke")
#: Sub-folder of the results folder per kind.
FOLDERS: dict[str, str] = {"gradcheck": "gradcheck", "run": "runs", "search": "searches"}


@attrs.frozen
class Experiment:
    """One experiment: ``source`` is the config it runs; ``stem`` prefixes its LaTeX macros
    (letters only); ``figures`` are the run-folder figures the report shows."""

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    stem: str = attrs.field(validator=attrs.validators.matches_re(r"[A-Za-z]+"))
    source: str = ""
    figures: tuple[str, ...] = ()


def _run(name: str, stem: str, *figures: str) -> Experiment:
    return Experiment(name, "run", stem, name, figures)


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("gradcheck", "gradcheck", "Gradcheck"),
    # second seed: the one-layer softmax classifier
    _run("one_layer_lam0_eta1e-1", "OneLayerA", "curves", "weights"),
    _run("one_layer_lam0_eta1e-3", "OneLayerB", "curves", "weights"),
    _run("one_layer_lam1e-1_eta1e-3", "OneLayerC", "curves", "weights"),
    _run("one_layer_lam1_eta1e-3", "OneLayerD", "curves", "weights"),
    # first seed: the two-layer network
    _run("overfit", "Overfit", "curves"),
    _run("one_cycle", "OneCycle", "curves", "schedule"),
    _run("three_cycles", "ThreeCycles", "curves", "schedule"),
    Experiment("search_lambda", "search", "SearchLam", "search_lambda"),
    _run("baseline", "Baseline", "curves", "weights"),
    _run("wide", "Wide", "curves"),
    _run("wide_flip", "WideFlip", "curves"),
    _run("wide_flip_translate", "WideFlipTranslate", "curves"),
    _run("wide_flip_translate_dropout", "WideFlipTranslateDropout", "curves", "weights"),
    Experiment("search_lambda_augmented", "search", "SearchLamAug", "search_lambda_augmented"),
)

ONE_LAYER: tuple[str, ...] = tuple(e.name for e in EXPERIMENTS if e.stem.startswith("OneLayer"))
CYCLIC: tuple[str, ...] = ("overfit", "one_cycle", "three_cycles")
IMPROVEMENTS: tuple[str, ...] = (
    "baseline",
    "wide",
    "wide_flip",
    "wide_flip_translate",
    "wide_flip_translate_dropout",
)


def by_name(name: str) -> Experiment:
    for experiment in EXPERIMENTS:
        if experiment.name == name:
            return experiment
    names = ", ".join(e.name for e in EXPERIMENTS)
    raise ConfigError(f"no experiment named {name!r}; experiments: {names}")


def select(names: Sequence[str] = ()) -> tuple[Experiment, ...]:
    """The experiments named (in catalogue order), or all of them."""
    wanted = {by_name(n).name for n in names}
    return tuple(e for e in EXPERIMENTS if not wanted or e.name in wanted)
