"""Search outputs: top-k tables per stage (Markdown, LaTeX), the accuracy plot, the choice.

Files in the search folder: ``top_configs.md``, ``top_configs.tex`` (a ``tabular`` using
booktabs rules), ``val_acc.png`` (mean validation accuracy ± standard error against each
searched value, log x-axis on log-scaled dimensions, one marker per stage and rung) and
``chosen.json``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from handprop.atomic import write_json_atomic, write_text_atomic
from handprop.search.points import Point, group, rank_points
from handprop.search.results import SearchResult, StageResult, TrialRecord
from handprop.search.space import Dimension, Space

LATEX_NAMES: dict[str, str] = {
    "lam": r"$\lambda$",
    "eta_max": r"$\eta_{\max}$",
    "eta_min": r"$\eta_{\min}$",
    "hidden": r"$m$",
    "dropout": "dropout",
}
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P", "*")
METRIC_TITLES: dict[str, str] = {
    "final_val_acc": "final validation accuracy",
    "best_val_acc": "best validation accuracy",
}
METRIC_HEADERS: dict[str, str] = {
    "final_val_acc": r"Final val.\ acc.",
    "best_val_acc": r"Best val.\ acc.",
}
SELECT_TEXT: dict[str, str] = {
    "best_mean": "best_mean (the highest mean)",
    "one_se": (
        "one_se (the most regularised point whose mean is within one standard error of "
        "the difference from the best mean, sqrt(2) times the SE of one mean, the variance "
        "pooled over all points: larger lam or dropout, smaller hidden)"
    ),
}


def write_report(result: SearchResult, *, top: int = 5) -> dict[str, Path]:
    """Write the tables, the plot and ``chosen.json`` into ``result.out_dir``; return paths."""
    out = result.out_dir
    paths = {
        "markdown": out / "top_configs.md",
        "latex": out / "top_configs.tex",
        "plot": out / "val_acc.png",
        "chosen": out / "chosen.json",
    }
    write_text_atomic(paths["markdown"], markdown_tables(result, top=top))
    write_text_atomic(paths["latex"], latex_table(result, top=top))
    plot_search(result, paths["plot"])
    write_json_atomic(paths["chosen"], chosen_summary(result), indent=2)
    return paths


def chosen_summary(result: SearchResult) -> dict[str, Any]:
    """The chosen point (mean, standard error, each repeat's score) and rule, each stage's
    range, rungs and best point, the compute used, and the final run."""
    best = result.best
    return {
        "metric": result.metric,
        "select": result.select,
        "repeats": result.repeats,
        "values": best.values,
        "stage": best.stage,
        "rung": best.rung,
        "mean": best.mean,
        "se": best.se,
        "scores": list(best.scores),
        "keys": [r.key for r in best.records],
        "training_steps": training_steps(r for s in result.stages for r in s.records),
        "stages": [
            {
                "stage": s.number,
                "method": s.stage.method,
                "n": s.stage.n,
                "seed": s.stage.seed,
                "ranges": {d.name: [d.low, d.high] for d in s.space.dimensions},
                "trials": len(s.records),
                "statuses": _status_counts(s.records),
                "rungs": [
                    {"rung": rung, "cycles": cycles, "points": len(points)}
                    for rung, cycles, points in _rungs(s, result.metric)
                    if rung
                ],
                "best": _best_values(s, result.metric),
            }
            for s in result.stages
        ],
        "final": result.final,
    }


def training_steps(records: Iterable[TrialRecord]) -> int:
    """SGD updates actually run: a promoted halving trial resumes, so each chain of
    (stage, trial, repeat) counts its longest run once."""
    longest: dict[tuple[int, int, int], int] = {}
    for r in records:
        chain = (r.stage, r.trial, r.repeat)
        longest[chain] = max(longest.get(chain, 0), r.outcome.steps)
    return sum(longest.values())


def _rungs(stage: StageResult, metric: str) -> list[tuple[int, int, list[Point]]]:
    """``(rung, cycles, points)`` of the stage, in rung order (one entry, rung 0, if the
    stage is no successive halving)."""
    by_rung: dict[int, list[Point]] = {}
    for p in group(stage.records, metric):
        by_rung.setdefault(p.rung, []).append(p)
    return [(rung, points[0].records[0].cycles, points) for rung, points in by_rung.items()]


def _status_counts(records: Sequence[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.outcome.status] = counts.get(r.outcome.status, 0) + 1
    return counts


def _best_values(stage: StageResult, metric: str) -> dict[str, Any] | None:
    ranked = rank_points(_rungs(stage, metric)[-1][2]) if stage.records else []
    if not ranked:
        return None
    return {"values": ranked[0].values, metric: ranked[0].mean, "se": ranked[0].se}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _mean_se(point: Point, pm: str = " ± ") -> str:
    """``"52.10 ± 0.31"`` in percent (no ``±`` part below two scored repeats)."""
    return _percent(point.mean) + ("" if point.se is None else f"{pm}{100 * point.se:.2f}")


def _range_text(space: Space) -> str:
    return ", ".join(
        f"{d.name} in [{d.low:.3g}, {d.high:.3g}] ({d.scale})" for d in space.dimensions
    )


def _part_title(stage: StageResult, rung: int, cycles: int) -> str:
    return f"stage {stage.number}" + (f", rung {rung} ({cycles} cycles)" if rung else "")


def markdown_tables(result: SearchResult, *, top: int = 5) -> str:
    """One Markdown table per stage (per rung for successive halving) of its ``top`` points
    by mean, with the standard error over repeats."""
    names = result.stages[0].space.names
    title = METRIC_TITLES[result.metric]
    lines = [
        f"# Search results: top {top} per stage by mean {title}",
        "",
        f"Each point trained with {result.repeats} seed(s); mean ± standard error over the "
        f"repeats that completed (n). Selection rule: {SELECT_TEXT[result.select]}.",
        "",
    ]
    for s in result.stages:
        counts = ", ".join(f"{n} {status}" for status, n in _status_counts(s.records).items())
        lines += [
            f"## Stage {s.number}: {s.stage.method}, {len(s.records)} trials ({counts})",
            "",
            f"Range: {_range_text(s.space)}",
            "",
        ]
        for rung, cycles, points in _rungs(s, result.metric):
            if rung:
                lines += [f"### {_part_title(s, rung, cycles)}: {len(points)} points", ""]
            lines += [
                "| rank | " + " | ".join(names) + f" | {title} (%) | n |",
                "|---:|" + "---:|" * len(names) + "---:|---:|",
            ]
            for i, p in enumerate(rank_points(points)[:top], start=1):
                cells = [f"{p.values[n]:.4g}" for n in names]
                lines.append(
                    f"| {i} | " + " | ".join([*cells, _mean_se(p), str(len(p.scores))]) + " |"
                )
            lines.append("")
    best = result.best
    chosen = ", ".join(f"{n} = {best.values[n]:.4g}" for n in names)
    lines.append(
        f"Chosen by {result.select}: {chosen} (stage {best.stage}, {title} {_mean_se(best)} %)."
    )
    if result.final is not None:
        lines.append(f"Final retrain: {_final_text(result.final)}.")
    return "\n".join(lines) + "\n"


def _final_text(final: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k} {_percent(v)} %" if k.endswith("acc") else f"{k} {v}"
        for k, v in final.items()
        if k in ("status", "test_acc", "final_val_acc")
    )


def _latex_value(dim: Dimension, value: float) -> str:
    if dim.integer:
        return f"{value:.0f}"
    if dim.scale != "log" or value == 0:
        return f"{value:.3g}"
    exponent = math.floor(math.log10(abs(value)))
    return rf"${value / 10**exponent:.2f} \times 10^{{{exponent}}}$"


def latex_table(result: SearchResult, *, top: int = 5) -> str:
    """A booktabs ``tabular`` of the ``top`` points of every stage (of the last rung of a
    halving stage): mean ± standard error of the metric and the number of repeats."""
    dims = result.stages[0].space.dimensions
    header = ["Stage", "Rank", *(LATEX_NAMES.get(d.name, d.name) for d in dims)]
    header += [METRIC_HEADERS[result.metric] + r" (\%)", "$n$"]
    lines = [
        r"\begin{tabular}{" + "c" * (2 + len(dims)) + "rr}",
        r"\toprule",
        " & ".join(header) + r" \\",
    ]
    for s in result.stages:
        lines.append(r"\midrule")
        for i, p in enumerate(rank_points(_rungs(s, result.metric)[-1][2])[:top], start=1):
            cells = [str(s.number), str(i), *(_latex_value(d, p.values[d.name]) for d in dims)]
            cells += [_mean_se(p, r" $\pm$ "), str(len(p.scores))]
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def plot_search(result: SearchResult, path: Path) -> None:
    """Mean validation accuracy ± standard error against each searched value (one panel per
    dimension); one marker per stage (colour per halving rung), the chosen point circled."""
    from matplotlib.figure import Figure  # here, so that ``import handprop`` stays light

    from handprop.figures import save_figure

    dims = result.stages[0].space.dimensions
    fig = Figure(figsize=(5.0 * len(dims), 3.6), layout="constrained")
    axes = fig.subplots(1, len(dims), squeeze=False)[0]
    for ax, dim in zip(axes, dims, strict=True):
        for s in result.stages:
            for rung, cycles, points in _rungs(s, result.metric):
                scored = [p for p in points if p.mean is not None]
                ax.errorbar(
                    [p.values[dim.name] for p in scored],
                    [100 * (p.mean or 0.0) for p in scored],
                    yerr=[100 * (p.se or 0.0) for p in scored],
                    fmt=MARKERS[(s.number - 1) % len(MARKERS)],
                    capsize=2,
                    label=f"{_part_title(s, rung, cycles)} ({s.stage.method})",
                    alpha=0.8,
                )
        best = result.best
        ax.plot(
            [best.values[dim.name]],
            [100 * (best.mean or 0.0)],
            "o",
            markersize=14,
            markerfacecolor="none",
            color="black",
            label=f"chosen ({result.select})",
        )
        if dim.scale == "log":
            ax.set_xscale("log")
        ax.set_xlabel(LATEX_NAMES.get(dim.name, dim.name))
        ax.set_ylabel(f"{METRIC_TITLES[result.metric]} (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    save_figure(fig, path)


def write_comparison(results: Mapping[str, SearchResult], out_dir: Path) -> str:
    """State each search's optimum (``comparison.md``, ``comparison.json``); return the text."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        label: {
            "values": r.chosen,
            r.metric: r.best.mean,
            "se": r.best.se,
            "select": r.select,
            "out_dir": str(r.out_dir),
            "final": r.final,
        }
        for label, r in results.items()
    }
    lines = ["# Optimal values with and without augmentation", ""]
    for label, r in results.items():
        chosen = ", ".join(f"{n} = {v:.4g}" for n, v in r.chosen.items())
        lines.append(
            f"- {label}: {chosen} ({METRIC_TITLES[r.metric]} {_mean_se(r.best)} %, "
            f"{r.select}, search in {r.out_dir})"
        )
    labels = list(results)
    if len(labels) == 2:
        a, b = (results[label].chosen for label in labels)
        for name in a.keys() & b.keys():
            if a[name] > 0 and b[name] > 0:
                lines.append(
                    f"\n{name}: {labels[1]} / {labels[0]} = {b[name] / a[name]:.3g} "
                    f"({'smaller' if b[name] < a[name] else 'not smaller'} with {labels[1]})."
                )
    text = "\n".join(lines) + "\n"
    write_text_atomic(out_dir / "comparison.md", text)
    write_json_atomic(out_dir / "comparison.json", summary, indent=2)
    return text
