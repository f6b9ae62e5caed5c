"""Outputs of the ``beyond`` suite and of the full suite's ``beyond_two_layer`` run.

The ablation goes from ``wide_flip`` to ``beyond_two_layer`` one technique at a time, then to
the deeper ``beyond_deep_bn``, each row with the run seeds of
:data:`~handprop.reproduce.catalogue.BEYOND_SEEDS` (mean ± sample standard deviation over the
finished seeds); each of the two networks has a row without flip test-time augmentation
(``test_acc_plain``) and one with it (``test_acc_tta``). Then each network's seeds and the
ensembles of their final parameters and of all their snapshots. Missing runs give ``n/a``;
``\\BeyondSuiteDone`` says whether any experiment of the suite finished, ``\\BeyondRunDone``
whether the full suite's run did.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from handprop.reproduce.catalogue import (
    BEYOND_ENSEMBLES,
    BEYOND_SEEDS,
    in_suites,
    seeded_name,
)
from handprop.reproduce.collect import Collected, Finished
from handprop.reproduce.latex import NA, number, percent, run_values, seconds, tabular
from handprop.tex import escape

RUN = "beyond_two_layer"
DEEP = "beyond_deep_bn"
#: Network (ablation row) -> the ensemble of its seeds.
ENSEMBLE_OF = {row: name for name, (row, _) in BEYOND_ENSEMBLES.items()}
BEYOND_ENSEMBLE, DEEP_ENSEMBLE = ENSEMBLE_OF[RUN], ENSEMBLE_OF[DEEP]


@attrs.frozen
class Row:
    """One ablation row: labels (TeX, Markdown), its runs and the metrics it reads (the
    first of ``test_keys`` / ``val_keys`` that a run's ``metrics.json`` holds)."""

    tex: str
    md: str
    row: str
    test_keys: tuple[str, ...] = ("test_acc",)
    val_keys: tuple[str, ...] = ("final_val_acc",)


ROWS: tuple[Row, ...] = (
    Row(r"\texttt{wide\_flip}: $m = 256$, flips", "`wide_flip`: m = 256, flips", "wide_flip"),
    Row(
        "+ translations, dropout 0.2", "+ translations, dropout 0.2", "wide_flip_translate_dropout"
    ),
    Row(
        r"+ ZCA whitening ($\epsilon = 1$), $\eta_{\max} = 0.5$",
        "+ ZCA whitening (ε = 1), η_max = 0.5",
        "beyond_zca",
    ),
    Row("+ label smoothing 0.1", "+ label smoothing 0.1", "beyond_zca_smooth"),
    Row(
        r"+ $m = 2048$, long cycles (\texttt{beyond\_two\_layer})",
        "+ m = 2048, long cycles (`beyond_two_layer`)",
        RUN,
        ("test_acc_plain", "test_acc"),
    ),
    Row(
        "+ flip test-time augmentation",
        "+ flip test-time augmentation",
        RUN,
        ("test_acc_tta", "test_acc"),
        ("final_val_acc_tta", "final_val_acc"),
    ),
    Row(
        r"two hidden layers with batch norm, $\eta_{\max} = 0.2$, $\lambda = 5 \cdot 10^{-4}$ "
        r"(\texttt{beyond\_deep\_bn}), plain",
        "two hidden layers with batch norm, η_max = 0.2, λ = 5e-4 (`beyond_deep_bn`), plain",
        DEEP,
        ("test_acc_plain", "test_acc"),
    ),
    Row(
        "+ flip test-time augmentation",
        "+ flip test-time augmentation",
        DEEP,
        ("test_acc_tta", "test_acc"),
        ("final_val_acc_tta", "final_val_acc"),
    ),
)
#: The rows of each network scored without and with flip TTA.
PLAIN = {r.row: r for r in ROWS if r.test_keys[0] == "test_acc_plain"}
TTA = {r.row: r for r in ROWS if r.test_keys[0] == "test_acc_tta"}


@attrs.frozen
class Stat:
    """Mean and sample standard deviation (None below two values) of ``n`` values."""

    mean: float | None
    sd: float | None
    n: int


def stat(values: Sequence[float]) -> Stat:
    if not values:
        return Stat(None, None, 0)
    sd = statistics.stdev(values) if len(values) > 1 else None
    return Stat(statistics.fmean(values), sd, len(values))


def _first(metrics: Mapping[str, Any], keys: Sequence[str]) -> float | None:
    return next((metrics[k] for k in keys if metrics.get(k) is not None), None)


def seed_runs(results: Collected, row: str) -> list[Finished]:
    """The finished runs of ablation row ``row``, in seed order."""
    found = (results.get(seeded_name(row, seed)) for seed in BEYOND_SEEDS)
    return [f for f in found if f is not None]


def _stat(runs: Sequence[Finished], keys: Sequence[str]) -> Stat:
    return stat([v for r in runs if (v := _first(r.metrics, keys)) is not None])


def _pm(s: Stat) -> str:
    text = percent(s.mean)
    return text if s.sd is None else rf"{text} $\pm$ {percent(s.sd)}"


def _md_pm(s: Stat) -> str:
    if s.mean is None:
        return ""
    return f"{100 * s.mean:.2f}" + ("" if s.sd is None else f" ± {100 * s.sd:.2f}")


def _hidden(runs: Sequence[Finished]) -> str:
    config = runs[0].config if runs else None
    return ", ".join(str(h) for h in config.model.hidden) if config and config.model.hidden else NA


def _steps(runs: Sequence[Finished]) -> int | None:
    return runs[0].metrics.get("steps") if runs else None


def ensemble_numbers(
    results: Collected, name: str = BEYOND_ENSEMBLE
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ensemble ``name``'s ``final`` and ``snapshots`` numbers (empty if it has not run)."""
    found = results.get(name)
    m = found.metrics if found else {}
    return dict(m.get("final") or {}), dict(m.get("snapshots") or {})


def done(results: Collected) -> bool:
    return any(results.get(e.name) for e in in_suites(["beyond"]))


def _network_values(results: Collected, run: str, prefix: str, ensemble: str) -> dict[str, str]:
    """``prefix``-named macros of network ``run``'s seeds and of its ``ensemble``."""
    runs = seed_runs(results, run)
    tta, plain = _stat(runs, TTA[run].test_keys), _stat(runs, PLAIN[run].test_keys)
    times = [t for r in runs if (t := r.metrics.get("wall_time")) is not None]
    best = max((v for r in runs if (v := _first(r.metrics, TTA[run].test_keys)) is not None),
               default=None)  # fmt: skip
    found = results.get(ensemble)
    out = {
        f"{prefix}Seeds": number(len(runs)),
        f"{prefix}MeanTestAcc": percent(tta.mean),
        f"{prefix}SdTestAcc": percent(tta.sd),
        f"{prefix}BestTestAcc": percent(best),
        f"{prefix}MeanPlainAcc": percent(plain.mean),
        f"{prefix}MeanTime": seconds(statistics.fmean(times) if times else None),
        f"{prefix}MaxTime": seconds(max(times, default=None)),
        f"{prefix}EnsembleTime": seconds(found.metrics.get("wall_time") if found else None),
    }
    labels = ("Final", "Snapshot")
    for label, numbers in zip(labels, ensemble_numbers(results, ensemble), strict=True):
        out[f"{prefix}{label}Members"] = number(numbers.get("members"))
        out[f"{prefix}{label}TestAcc"] = percent(numbers.get("test_acc"))
        out[f"{prefix}{label}ValAcc"] = percent(numbers.get("val_acc"))
        out[f"{prefix}{label}MemberAcc"] = percent(numbers.get("mean_member_test_acc"))
    return out


def values(results: Collected) -> dict[str, str]:
    """Macro name -> TeX of the beyond suite and the full suite's ``beyond_two_layer`` run:
    ``BeyondSuite...`` for the ``beyond_two_layer`` seeds, ``BeyondDeep...`` for the
    ``beyond_deep_bn`` seeds (each with its ensembles)."""
    return {
        "BeyondRunDone": "true" if results.get(RUN) else "false",
        "BeyondSuiteDone": "true" if done(results) else "false",
        **_network_values(results, RUN, "BeyondSuite", BEYOND_ENSEMBLE),
        **_network_values(results, DEEP, "BeyondDeep", DEEP_ENSEMBLE),
    }


def ablation_table(results: Collected) -> str:
    """Per ablation row: m, steps, seeds, validation and test accuracy (mean ± sd), mean
    training time."""
    rows = []
    for row in ROWS:
        runs = seed_runs(results, row.row)
        times = stat([t for r in runs if (t := r.metrics.get("wall_time")) is not None])
        rows.append(
            [
                row.tex,
                _hidden(runs),
                number(_steps(runs)),
                number(len(runs)),
                _pm(_stat(runs, row.val_keys)),
                _pm(_stat(runs, row.test_keys)),
                seconds(times.mean),
            ]
        )
    header = [
        "Configuration",
        "$m$",
        "Steps",
        "Seeds",
        r"Val.\ acc.\ (\%)",
        r"Test acc.\ (\%)",
        "Time (s)",
    ]
    return tabular("lrrrrrr", header, rows)


def seeds_table(results: Collected, run: str = RUN) -> str:
    """Per seed of ``run``: test accuracy with and without flip TTA, best and final
    validation accuracy, training time."""
    rows = []
    for seed in BEYOND_SEEDS:
        v = run_values(results.get(seeded_name(run, seed)))
        rows.append(
            [
                str(seed),
                v["TestAcc"],
                v["TestAccPlain"],
                v["BestValAcc"],
                v["FinalValAcc"],
                v["Time"],
            ]
        )
    header = [
        "Seed",
        r"Test, TTA (\%)",
        r"Test, plain (\%)",
        r"Best val.\ (\%)",
        r"Final val.\ (\%)",
        "Training (s)",
    ]
    return tabular("rrrrrr", header, rows)


def ensembles_table(results: Collected) -> str:
    """The ensembles of each network's seeds: final parameters, and all snapshots."""
    rows = []
    labels = ("final parameters of each seed", "all snapshots of all seeds")
    for network, name in ENSEMBLE_OF.items():
        for label, numbers in zip(labels, ensemble_numbers(results, name), strict=True):
            rows.append(
                [
                    f"\\texttt{{{escape(network)}}}: {label}",
                    number(numbers.get("members")),
                    percent(numbers.get("mean_member_test_acc")),
                    percent(numbers.get("val_acc")),
                    percent(numbers.get("test_acc")),
                ]
            )
    header = ["Members", "Count", r"Mean member test (\%)", r"Val.\ (\%)", r"Test (\%)"]
    return tabular("lrrrr", header, rows)


def tables(results: Collected) -> dict[str, str]:
    """``{file stem: tabular fragment}`` of the beyond suite's tables."""
    return {
        "beyond_ablation": ablation_table(results),
        "beyond_seeds": seeds_table(results),
        "beyond_deep_seeds": seeds_table(results, DEEP),
        "beyond_ensembles": ensembles_table(results),
    }


def _md_pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}"


def markdown(results: Collected) -> str:
    """The README's beyond part: the full suite's run, and the beyond suite's ablation and
    ensembles (empty when none of them finished)."""
    lines = []
    single = results.get(RUN)
    if single is not None:
        m = single.metrics
        lines += [
            "",
            f"`beyond_two_layer` (seed 0): test accuracy {_md_pct(m.get('test_acc'))} % with "
            f"flip TTA ({_md_pct(m.get('test_acc_plain', m.get('test_acc')))} % without), "
            f"{m.get('wall_time', float('nan')):.1f} s of training.",
        ]
    if not done(results):
        return "\n".join(lines) + "\n" if lines else ""
    lines += [
        "",
        "Beyond suite (`handprop reproduce --suite beyond`): ablation, one technique added per "
        f"row, seeds {', '.join(map(str, BEYOND_SEEDS))} (mean ± sd; choices were made on "
        "validation accuracy only):",
        "",
        "| Configuration | m | steps | seeds | val. acc. (%) | test acc. (%) | time (s) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ROWS:
        runs = seed_runs(results, row.row)
        times = stat([t for r in runs if (t := r.metrics.get("wall_time")) is not None])
        steps = _steps(runs)
        lines.append(
            f"| {row.md} | {_hidden(runs) if runs else ''} | {'' if steps is None else steps} | "
            f"{len(runs)} | {_md_pm(_stat(runs, row.val_keys))} | "
            f"{_md_pm(_stat(runs, row.test_keys))} | "
            f"{'' if times.mean is None else f'{times.mean:.1f}'} |"
        )
    for network, name in ENSEMBLE_OF.items():
        final, snaps = ensemble_numbers(results, name)
        if final or snaps:
            lines.append(
                f"\nEnsembles of the `{network}` seeds (averaged probabilities, flip TTA): "
                f"final parameters ({final.get('members')} members) "
                f"{_md_pct(final.get('test_acc'))} %, all snapshots ({snaps.get('members')} "
                f"members) {_md_pct(snaps.get('test_acc'))} % test accuracy."
            )
    return "\n".join(lines) + "\n"
