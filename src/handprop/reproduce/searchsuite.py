"""Outputs of the ``search`` suite: λ choices over search seeds, the augmentation
shift as a range over seeds, and grid search against successive halving on one space.

Everything is read back from the searches' folders (``metrics.json``, ``chosen.json``,
``results.jsonl``): training steps are the SGD updates actually run (a promoted halving
trial resumes, so each chain counts its longest run once), trial time is the trials' wall
times summed (compute, over all workers), elapsed time the whole search with its final
retrain. Missing searches give ``n/a``; ``\\SearchSuiteDone`` says whether any finished.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import numpy as np
from matplotlib.figure import Figure

from handprop.reproduce.catalogue import SEARCH_SEEDS, in_suites, seeded_name
from handprop.reproduce.collect import Collected, Finished
from handprop.reproduce.latex import NA, number, percent, seconds, tabular
from handprop.tex import escape

#: Test images the retrained choices are evaluated on (the CIFAR-10 test batch).
TEST_IMAGES = 10_000
GRID, HALVING = "search_grid3", "search_halving"
DIMENSIONS: dict[str, str] = {"lam": r"$\lambda$", "eta_max": r"$\eta_{\max}$", "hidden": "$m$"}


@attrs.frozen
class Summary:
    """One finished search: the chosen values with mean ± standard error of the metric, the
    best-mean point, the retrained test accuracy and the compute used."""

    chosen: dict[str, float]
    mean: float | None
    se: float | None
    best_mean: dict[str, float]
    best_mean_score: float | None
    best_mean_se: float | None
    test_acc: float | None
    steps: int
    trial_time: float
    elapsed: float | None
    ranges: dict[str, list[float]] = attrs.Factory(dict)
    points: int | None = None


def summarise(found: Finished) -> Summary:
    """The :class:`Summary` of a finished search folder."""
    from handprop.search import read_results
    from handprop.search.points import group, rank_points
    from handprop.search.report import training_steps

    m = found.metrics
    chosen = found.json("chosen.json") or {}
    stages = chosen.get("stages") or []
    records = list(read_results(found.folder / "results.jsonl").values())
    points = group(records, m.get("metric", "final_val_acc"))
    last: dict[int, int] = {}  # a halving stage's points on the full budget: its last rung
    for p in points:
        last[p.stage] = max(last.get(p.stage, 0), p.rung)
    ranked = rank_points(p for p in points if p.rung == last[p.stage])
    best = ranked[0] if ranked else None
    return Summary(
        chosen=dict(m.get("chosen") or {}),
        mean=chosen.get("mean", m.get("score")),
        se=chosen.get("se"),
        best_mean=dict(best.values) if best else {},
        best_mean_score=best.mean if best else None,
        best_mean_se=best.se if best else None,
        test_acc=m.get("final_test_acc"),
        steps=training_steps(records),
        trial_time=float(sum(r.wall_time for r in records)),
        elapsed=m.get("wall_time"),
        ranges=dict(stages[0].get("ranges", {})) if stages else {},
        points=stages[0].get("n") if stages else None,
    )


def summaries(results: Collected) -> dict[str, Summary]:
    """The summaries of the search suite's finished experiments, by name."""
    return {
        e.name: summarise(found)
        for e in in_suites(["search"])
        if (found := results.get(e.name)) is not None
    }


def _lam(summary: Summary | None, key: str = "chosen") -> float | None:
    if summary is None:
        return None
    value = getattr(summary, key).get("lam")
    return value if isinstance(value, int | float) and value > 0 else None


def _mean_se(mean: float | None, se: float | None) -> str:
    text = percent(mean)
    return text if se is None or mean is None else rf"{text} $\pm$ {percent(se)}"


def _listing(texts: Sequence[str]) -> str:
    return NA if not texts else ", ".join(texts[:-1]) + (" and " if texts[1:] else "") + texts[-1]


def shifts(found: Mapping[str, Summary]) -> list[tuple[int, float, float, float]]:
    """``(seed, plain λ, augmented λ, plain / augmented)`` of each seed with both searches."""
    rows = []
    for seed in SEARCH_SEEDS:
        plain = _lam(found.get(seeded_name("search_lambda", seed)))
        augmented = _lam(found.get(seeded_name("search_lambda_augmented", seed)))
        if plain is not None and augmented is not None:
            rows.append((seed, plain, augmented, plain / augmented))
    return rows


def binomial_se(accuracy: float | None) -> float | None:
    """Binomial standard error of a test accuracy on :data:`TEST_IMAGES` images."""
    if accuracy is None or not 0 <= accuracy <= 1:
        return None
    return math.sqrt(accuracy * (1 - accuracy) / TEST_IMAGES)


def values(results: Collected) -> dict[str, str]:
    """Macro name -> TeX of the search suite (``n/a`` where a search is missing)."""
    found = summaries(results)
    repeats = [found.get(seeded_name("search_lambda_repeats", s)) for s in SEARCH_SEEDS]
    lams = [_lam(r) for r in repeats]
    decades = {math.floor(math.log10(lam)) for lam in lams if lam is not None}
    ratios = [ratio for *_, ratio in shifts(found)]
    grid, halving = found.get(GRID), found.get(HALVING)
    out = {
        "SearchSuiteDone": "true" if found else "false",
        "SearchSuiteRepLams": _listing([number(lam) for lam in lams if lam is not None]),
        "SearchSuiteRepBestLams": _listing(
            [number(lam) for r in repeats if (lam := _lam(r, "best_mean")) is not None]
        ),
        "SearchSuiteRepSameDecade": (NA if None in lams else "yes" if len(decades) == 1 else "no"),
        "SearchSuiteShiftMin": number(min(ratios)) if ratios else NA,
        "SearchSuiteShiftMax": number(max(ratios)) if ratios else NA,
        "SearchSuiteShiftSeeds": number(len(ratios)),
    }
    for label, summary in (("Grid", grid), ("Halving", halving)):
        test = summary.test_acc if summary else None
        out[f"SearchSuite{label}Steps"] = number(summary.steps) if summary else NA
        out[f"SearchSuite{label}TestAcc"] = percent(test)
        out[f"SearchSuite{label}TestSE"] = percent(binomial_se(test))
        out[f"SearchSuite{label}TrialTime"] = seconds(summary.trial_time if summary else None)
        out[f"SearchSuite{label}Elapsed"] = seconds(summary.elapsed if summary else None)
    either = grid or halving
    out["SearchSuiteSpace"] = space_text(either.ranges) if either else NA
    out["SearchSuiteHalvingStart"] = number(halving.points if halving else None)
    out["SearchSuiteStepsRatio"] = number(steps_ratio(halving, grid))
    out["SearchSuiteHalvingWithinSE"] = within_se(halving, grid)
    return out


def space_text(ranges: Mapping[str, Sequence[float]]) -> str:
    """``$\\lambda$ $\\in [10^{-5}, 0.1]$, ...``: the searched ranges as TeX."""
    return ", ".join(
        rf"{DIMENSIONS.get(name, escape(name))} $\in [{_bare(low)}, {_bare(high)}]$"
        for name, (low, high) in ranges.items()
    )


def _bare(x: float) -> str:
    """:func:`number` without ``\\ensuremath`` (for use inside math mode)."""
    text = number(x)
    return text.removeprefix(r"\ensuremath{").removesuffix("}") if "ensuremath" in text else text


def steps_ratio(search: Summary | None, grid: Summary | None) -> float | None:
    """Training steps of ``search`` relative to the grid's."""
    return search.steps / grid.steps if search and grid and grid.steps else None


def within_se(search: Summary | None, grid: Summary | None) -> str:
    """``"yes"`` if ``search``'s test accuracy is at least the grid's less one (binomial)
    standard error, else ``"no"``; ``n/a`` without both."""
    if search is None or grid is None or search.test_acc is None or grid.test_acc is None:
        return NA
    return "yes" if search.test_acc >= grid.test_acc - (binomial_se(grid.test_acc) or 0.0) else "no"


def repeats_table(results: Collected) -> str:
    """Per search seed: the one-SE choice and the best-mean point of the repeated λ search
    (mean ± standard error over three repeats), and the retrained one-SE choice."""
    found = summaries(results)
    rows = []
    for seed in SEARCH_SEEDS:
        r = found.get(seeded_name("search_lambda_repeats", seed))
        rows.append(
            [
                str(seed),
                number(_lam(r)),
                _mean_se(r.mean, r.se) if r else NA,
                number(_lam(r, "best_mean")),
                _mean_se(r.best_mean_score, r.best_mean_se) if r else NA,
                percent(r.test_acc if r else None),
            ]
        )
    header = [
        "Seed",
        r"One-SE $\lambda$",
        r"Val.\ acc.\ (\%)",
        r"Best-mean $\lambda$",
        r"Val.\ acc.\ (\%)",
        r"Test acc.\ (\%)",
    ]
    return tabular("rrrrrr", header, rows)


def shift_table(results: Collected) -> str:
    """Per search seed: λ chosen without and with augmentation and their ratio."""
    found = summaries(results)
    by_seed = {seed: (plain, aug, ratio) for seed, plain, aug, ratio in shifts(found)}
    rows = []
    for seed in SEARCH_SEEDS:
        plain = _lam(found.get(seeded_name("search_lambda", seed)))
        aug = _lam(found.get(seeded_name("search_lambda_augmented", seed)))
        ratio = by_seed[seed][2] if seed in by_seed else None
        rows.append([str(seed), number(plain), number(aug), number(ratio)])
    header = ["Seed", r"$\lambda$ without", r"$\lambda$ with", "Without / with"]
    return tabular("rrrr", header, rows)


def _values_tex(chosen: Mapping[str, float]) -> list[str]:
    return [number(chosen.get(name)) for name in DIMENSIONS]


def grid_halving_table(results: Collected) -> str:
    """Grid search against successive halving: choice, validation and test accuracy,
    training steps, trial and elapsed time, steps relative to the grid."""
    found = summaries(results)
    grid = found.get(GRID)
    rows = []
    for name, label in ((GRID, "grid $3^3$"), (HALVING, "successive halving")):
        s = found.get(name)
        rows.append(
            [
                label,
                *(_values_tex(s.chosen) if s else [NA] * len(DIMENSIONS)),
                _mean_se(s.mean, s.se) if s else NA,
                _mean_se(s.test_acc, binomial_se(s.test_acc)) if s else NA,
                number(s.steps) if s else NA,
                number(steps_ratio(s, grid)),
                seconds(s.trial_time if s else None),
                seconds(s.elapsed if s else None),
            ]
        )
    header = [
        "Search",
        *DIMENSIONS.values(),
        r"Val.\ acc.\ (\%)",
        r"Test acc.\ (\%)",
        "Steps",
        "/ grid",
        "Trials (s)",
        "Elapsed (s)",
    ]
    return tabular("lrrrrrrrrr", header, rows)


def tables(results: Collected) -> dict[str, str]:
    """``{file stem: tabular fragment}`` of the search suite's tables."""
    return {
        "search_repeats": repeats_table(results),
        "search_shift": shift_table(results),
        "grid_halving": grid_halving_table(results),
    }


def repeats_figure(results: Collected) -> Figure | None:
    """Mean validation accuracy ± standard error against λ of each seed's repeated search;
    the one-SE choice circled, the best mean starred (``None`` if none finished)."""
    from handprop.search import read_results
    from handprop.search.points import group

    fig = Figure(figsize=(6.4, 3.8), layout="constrained")
    ax = fig.subplots()
    drawn = False
    for seed in SEARCH_SEEDS:
        found = results.get(seeded_name("search_lambda_repeats", seed))
        if found is None:
            continue
        s = summarise(found)
        records = read_results(found.folder / "results.jsonl").values()
        points = sorted(
            (p for p in group(records, found.metrics.get("metric", "final_val_acc")) if p.mean),
            key=lambda p: p.values["lam"],
        )
        lam = np.array([p.values["lam"] for p in points])
        line = ax.errorbar(
            lam,
            [100 * (p.mean or 0.0) for p in points],
            yerr=[100 * (p.se or 0.0) for p in points],
            fmt="o-",
            capsize=2,
            alpha=0.8,
            label=f"search seed {seed}",
        )
        colour = line.lines[0].get_color()
        for key, mean, style in (("chosen", s.mean, "o"), ("best_mean", s.best_mean_score, "*")):
            if (lam_chosen := _lam(s, key)) is not None and mean is not None:
                ax.plot(
                    [lam_chosen],
                    [100 * mean],
                    style,
                    markersize=13,
                    color=colour,
                    markerfacecolor="none" if style == "o" else colour,
                )
        drawn = True
    if not drawn:
        return None
    ax.set_xscale("log")
    ax.set_xlabel("L2 strength λ")
    ax.set_ylabel("validation accuracy (%), mean ± SE")
    ax.set_title("○ one-SE choice, ★ best mean", fontsize="small")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def plot_repeats(results: Collected, target: Path, formats: Sequence[str]) -> list[Path]:
    from handprop.figures import save_figure

    fig = repeats_figure(results)
    if fig is None:
        return []
    return [save_figure(fig, target / f"search_repeats.{fmt}") for fmt in formats]


def _md(value: float | None, scale: float = 100.0, fmt: str = ".2f") -> str:
    return "" if value is None else f"{scale * value:{fmt}}"


def markdown(results: Collected) -> str:
    """The README's search-suite part (empty when no search of the suite finished)."""
    found = summaries(results)
    if not found:
        return ""
    lines = ["", "Search suite (`handprop reproduce --suite search`)."]
    repeats = [
        (seed, r)
        for seed in SEARCH_SEEDS
        if (r := found.get(seeded_name("search_lambda_repeats", seed))) is not None
    ]
    if repeats:
        lines += [
            "",
            "λ search with three repeats per point, one-SE rule, per search seed (validation "
            "accuracy mean ± SE, %):",
            "",
            "| Seed | one-SE λ | val. acc. | best-mean λ | val. acc. | test acc. (%) |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
    for seed, r in repeats:
        lines.append(
            f"| {seed} | {_lam(r) or 0:.3g} | {_md(r.mean)} ± {_md(r.se)} | "
            f"{_lam(r, 'best_mean') or 0:.3g} | {_md(r.best_mean_score)} ± "
            f"{_md(r.best_mean_se)} | {_md(r.test_acc)} |"
        )
    ratios = shifts(found)
    if ratios:
        each = ", ".join(f"seed {s}: {p:.3g} / {a:.3g} = {x:.3g}" for s, p, a, x in ratios)
        lines.append(
            f"\nλ without / with augmentation: {min(r[3] for r in ratios):.3g} to "
            f"{max(r[3] for r in ratios):.3g} over {len(ratios)} seed(s) ({each})."
        )
    grid = found.get(GRID)
    rows = [(label, found.get(name)) for name, label in ((GRID, "grid 3³"), (HALVING, "halving"))]
    if any(s for _, s in rows):
        lines += [
            "",
            "| Search | λ | η_max | m | val. acc. (%) | test acc. (%) | steps | / grid "
            "| trial time (s) | elapsed (s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, s in rows:
            if s is None:
                continue
            ratio = _md(steps_ratio(s, grid), 1.0, ".3f")
            chosen = " | ".join(f"{s.chosen.get(n, float('nan')):.3g}" for n in DIMENSIONS)
            lines.append(
                f"| {label} | {chosen} | {_md(s.mean)} | {_md(s.test_acc)} ± "
                f"{_md(binomial_se(s.test_acc))} | {s.steps} | {ratio} | {s.trial_time:.1f} | "
                f"{_md(s.elapsed, 1.0, '.1f')} |"
            )
    return "\n".join(lines) + "\n"
