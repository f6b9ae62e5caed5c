"""The experiments of both seed documents, in the order ``handprop reproduce`` runs them.

Each :class:`Experiment` names what it runs (a packaged training config, a packaged search
config, or the gradient check), the folder it fills, the LaTeX macro stem its numbers get
and the suites that run it. The ``full`` and ``smoke`` suites run the seeds' experiments
and one ``beyond_two_layer`` run; the ``search`` suite runs the λ searches with
search seeds 0, 1 and 2 (plain, augmented, three repeats per point) and the grid and
successive-halving searches of one space, each retrained on the final split. The ``beyond``
suite runs an ablation from ``wide_flip`` to ``beyond_two_layer`` and on to the
deeper ``beyond_deep_bn`` with run seeds 0, 1 and 2 (each row a technique added), and
evaluates the ensembles of the three ``beyond_two_layer`` runs and of the three
``beyond_deep_bn`` runs (final parameters, and all snapshots).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from handprop.errors import ConfigError

KINDS: tuple[str, ...] = ("gradcheck", "run", "search", "ensemble")
SUITES: tuple[str, ...] = ("full", "smoke", "search", "beyond")
#: Suites whose results may share one results folder (same budgets, distinct names).
COMPATIBLE: frozenset[str] = frozenset({"full", "search", "beyond"})
#: Seeds of the repeated searches of the ``search`` suite, and their names in macro stems.
SEARCH_SEEDS: tuple[int, ...] = (0, 1, 2)
SEED_WORDS: tuple[str, ...] = ("Zero", "One", "Two")
#: Sub-folder of the results folder per kind.
FOLDERS: dict[str, str] = {
    "gradcheck": "gradcheck",
    "run": "runs",
    "search": "searches",
    "ensemble": "ensembles",
}


@attrs.frozen
class Experiment:
    """One experiment: ``source`` is the config it runs; ``stem`` prefixes its LaTeX macros
    (letters only); ``figures`` are the run-folder figures the report shows; ``overrides``
    (``"key=value"``, as ``handprop train --set``) change the config of a run or the base
    config of a search (e.g. its seed); ``members`` are the experiments (runs) an ensemble
    evaluates; ``suites`` run it; ``headline`` is the accuracy the experiment is about
    (``test_acc``, or ``final_train_acc`` for a check that fits the training images)."""

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    stem: str = attrs.field(validator=attrs.validators.matches_re(r"[A-Za-z]+"))
    source: str = ""
    figures: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    suites: tuple[str, ...] = ("full", "smoke")
    members: tuple[str, ...] = ()
    headline: str = attrs.field(
        default="test_acc", validator=attrs.validators.in_(("test_acc", "final_train_acc"))
    )


def _run(name: str, stem: str, *figures: str) -> Experiment:
    return Experiment(name, "run", stem, name, figures)


#: Search configs the ``search`` suite runs once per seed of :data:`SEARCH_SEEDS`: stems.
SEEDED_SEARCHES: dict[str, str] = {
    "search_lambda": "SearchLam",
    "search_lambda_augmented": "SearchLamAug",
    "search_lambda_repeats": "SearchRep",
}


def seeded_name(source: str, seed: int) -> str:
    """The experiment running search ``source`` with search seed ``seed``."""
    return f"{source}_s{seed}"


def _seeded(
    source: str, stem: str, seed: int, *, kind: str = "search", row: str = "", extra: str = ""
) -> Experiment:
    """Experiment ``row`` (default ``source``) with seed ``seed`` and the overrides ``extra``
    (space-separated), in the ``search`` suite (searches) or the ``beyond`` suite (runs)."""
    return Experiment(
        seeded_name(row or source, seed),
        kind,
        f"{stem}Seed{SEED_WORDS[seed]}",
        source,
        overrides=(f"seed={seed}", *extra.split()),
        suites=("search",) if kind == "search" else ("beyond",),
    )


#: Seeds of the ``beyond`` suite's repeated runs.
BEYOND_SEEDS: tuple[int, ...] = (0, 1, 2)
_ZCA = "whiten=zca whiten_eps=1.0 eta_max=0.5"
#: The ``beyond`` suite's ablation, each row one technique more than the one before:
#: row -> (packaged config, macro stem, overrides). Every row runs with :data:`BEYOND_SEEDS`;
#: the last row's runs keep snapshots for the ensembles.
ABLATION: dict[str, tuple[str, str, str]] = {
    "wide_flip": ("wide_flip", "AblFlip", ""),
    "wide_flip_translate_dropout": ("wide_flip_translate_dropout", "AblDrop", ""),
    "beyond_zca": ("wide_flip_translate_dropout", "AblZca", _ZCA),
    "beyond_zca_smooth": (
        "wide_flip_translate_dropout",
        "AblSmooth",
        _ZCA + " label_smoothing=0.1",
    ),
    "beyond_two_layer": ("beyond_two_layer", "Beyond", "snapshots=true"),
    "beyond_deep_bn": ("beyond_deep_bn", "BeyondDeepBN", "snapshots=true"),
}
#: The ``beyond`` suite's ensembles: name -> (the ablation row whose seeds' runs it
#: evaluates, macro stem).
BEYOND_ENSEMBLES: dict[str, tuple[str, str]] = {
    "beyond_ensemble_seeds": ("beyond_two_layer", "BeyondEnsemble"),
    # the members of configs/beyond_ensemble.toml
    "beyond_ensemble": ("beyond_deep_bn", "BeyondEnsembleDeep"),
}


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("gradcheck", "gradcheck", "Gradcheck"),
    # second seed: the one-layer softmax classifier
    _run("one_layer_lam0_eta1e-1", "OneLayerA", "curves", "weights"),
    _run("one_layer_lam0_eta1e-3", "OneLayerB", "curves", "weights"),
    _run("one_layer_lam1e-1_eta1e-3", "OneLayerC", "curves", "weights"),
    _run("one_layer_lam1_eta1e-3", "OneLayerD", "curves", "weights"),
    # first seed: the two-layer network
    attrs.evolve(_run("overfit", "Overfit", "curves"), headline="final_train_acc"),
    _run("one_cycle", "OneCycle", "curves", "schedule"),
    _run("three_cycles", "ThreeCycles", "curves", "schedule"),
    Experiment("search_lambda", "search", "SearchLam", "search_lambda"),
    _run("baseline", "Baseline", "curves", "weights"),
    _run("wide", "Wide", "curves"),
    _run("wide_flip", "WideFlip", "curves"),
    _run("wide_flip_translate", "WideFlipTranslate", "curves"),
    _run("wide_flip_translate_dropout", "WideFlipTranslateDropout", "curves", "weights"),
    Experiment("search_lambda_augmented", "search", "SearchLamAug", "search_lambda_augmented"),
    # beyond the seeds: one run of the packaged config
    _run("beyond_two_layer", "Beyond", "curves"),
    # the search suite: the λ searches over search seeds, grid against successive halving
    *(
        _seeded(source, stem, seed)
        for source, stem in SEEDED_SEARCHES.items()
        for seed in SEARCH_SEEDS
    ),
    Experiment("search_grid3", "search", "SearchGrid", "search_grid3", suites=("search",)),
    Experiment("search_halving", "search", "SearchHalving", "search_halving", suites=("search",)),
    # the beyond suite: the ablation over run seeds, the deep batch-normalised net, ensembles
    *(
        _seeded(source, stem, seed, kind="run", row=row, extra=extra)
        for row, (source, stem, extra) in ABLATION.items()
        for seed in BEYOND_SEEDS
    ),
    *(
        Experiment(
            name,
            "ensemble",
            stem,
            members=tuple(seeded_name(row, seed) for seed in BEYOND_SEEDS),
            suites=("beyond",),
        )
        for name, (row, stem) in BEYOND_ENSEMBLES.items()
    ),
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


def in_suites(suites: Sequence[str]) -> tuple[Experiment, ...]:
    """The experiments any of ``suites`` runs, in catalogue order."""
    return tuple(e for e in EXPERIMENTS if set(e.suites) & set(suites))


def select(names: Sequence[str] = (), suite: str = "full") -> tuple[Experiment, ...]:
    """The experiments of ``suite`` named (in catalogue order), or all of them."""
    members = in_suites([suite])
    wanted = {by_name(n).name for n in names}
    outside = sorted(wanted - {e.name for e in members})
    if outside:
        raise ConfigError(
            f"{', '.join(outside)}: not in the {suite} suite; it runs "
            + ", ".join(e.name for e in members)
        )
    return tuple(e for e in members if not wanted or e.name in wanted)
