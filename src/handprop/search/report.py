"""Search outputs: top-k tables per stage (Markdown, LaTeX), the accuracy plot, the choice.

Files in the search folder: ``top_configs.md``, ``top_configs.tex`` (a ``tabular`` using
booktabs rules), ``val_acc.png`` (validation accuracy against each searched value, log
x-axis on log-scaled dimensions, one marker per stage) and ``chosen.json``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from handprop.atomic import replace_atomic, write_json_atomic, write_text_atomic
from handprop.search.results import SearchResult, StageResult, TrialRecord, rank
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
    """The chosen values with their trial, each stage's range and best, and the final run."""
    best = result.best
    return {
        "metric": result.metric,
        "values": best.values,
        "stage": best.stage,
        "key": best.key,
        "final_val_acc": best.outcome.final_val_acc,
        "best_val_acc": best.outcome.best_val_acc,
        "stages": [
            {
                "stage": s.number,
                "method": s.stage.method,
                "n": s.stage.n,
                "seed": s.stage.seed,
                "ranges": {d.name: [d.low, d.high] for d in s.space.dimensions},
                "trials": len(s.records),
                "statuses": _status_counts(s.records),
                "best": _best_values(s, result.metric),
            }
            for s in result.stages
        ],
        "final": result.final,
    }


def _status_counts(records: Sequence[TrialRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.outcome.status] = counts.get(r.outcome.status, 0) + 1
    return counts


def _best_values(stage: StageResult, metric: str) -> dict[str, Any] | None:
    ranked = rank(stage.records, metric)
    return {"values": ranked[0].values, metric: ranked[0].score(metric)} if ranked else None


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _range_text(space: Space) -> str:
    return ", ".join(
        f"{d.name} in [{d.low:.3g}, {d.high:.3g}] ({d.scale})" for d in space.dimensions
    )


def markdown_tables(result: SearchResult, *, top: int = 5) -> str:
    """One Markdown table per stage of its ``top`` trials by the search metric."""
    names = result.stages[0].space.names
    lines = [f"# Search results: top {top} per stage by {METRIC_TITLES[result.metric]}", ""]
    for s in result.stages:
        counts = ", ".join(f"{n} {status}" for status, n in _status_counts(s.records).items())
        lines += [
            f"## Stage {s.number}: {s.stage.method}, {len(s.records)} trials ({counts})",
            "",
            f"Range: {_range_text(s.space)}",
            "",
            "| rank | " + " | ".join(names) + " | final val acc (%) | best val acc (%) |",
            "|---:|" + "---:|" * len(names) + "---:|---:|",
        ]
        for i, r in enumerate(rank(s.records, result.metric)[:top], start=1):
            cells = [f"{r.values[n]:.4g}" for n in names]
            accs = [_percent(r.outcome.final_val_acc), _percent(r.outcome.best_val_acc)]
            lines.append(f"| {i} | " + " | ".join(cells + accs) + " |")
        lines.append("")
    best = result.best
    chosen = ", ".join(f"{n} = {best.values[n]:.4g}" for n in names)
    lines.append(
        f"Chosen: {chosen} (stage {best.stage}, "
        f"{METRIC_TITLES[result.metric]} {_percent(best.score(result.metric))} %)."
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
    """A booktabs ``tabular`` of the ``top`` trials of every stage (stages separated)."""
    dims = result.stages[0].space.dimensions
    header = ["Stage", "Rank", *(LATEX_NAMES.get(d.name, d.name) for d in dims)]
    header += [r"Final val.\ acc.\ (\%)", r"Best val.\ acc.\ (\%)"]
    lines = [
        r"\begin{tabular}{" + "c" * (2 + len(dims)) + "rr}",
        r"\toprule",
        " & ".join(header) + r" \\",
    ]
    for s in result.stages:
        lines.append(r"\midrule")
        for i, r in enumerate(rank(s.records, result.metric)[:top], start=1):
            cells = [str(s.number), str(i), *(_latex_value(d, r.values[d.name]) for d in dims)]
            cells += [_percent(r.outcome.final_val_acc), _percent(r.outcome.best_val_acc)]
            lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def plot_search(result: SearchResult, path: Path) -> None:
    """Validation accuracy against each searched value; one marker per stage, best circled."""
    from matplotlib.figure import Figure  # here, so that ``import handprop`` stays light

    dims = result.stages[0].space.dimensions
    fig = Figure(figsize=(5.0 * len(dims), 3.6), layout="constrained")
    axes = fig.subplots(1, len(dims), squeeze=False)[0]
    for ax, dim in zip(axes, dims, strict=True):
        for s in result.stages:
            scored = [r for r in s.records if r.score(result.metric) is not None]
            ax.plot(
                [r.values[dim.name] for r in scored],
                [100 * (r.score(result.metric) or 0.0) for r in scored],
                MARKERS[(s.number - 1) % len(MARKERS)],
                label=f"stage {s.number} ({s.stage.method})",
                alpha=0.8,
            )
        best = result.best
        ax.plot(
            [best.values[dim.name]],
            [100 * (best.score(result.metric) or 0.0)],
            "o",
            markersize=14,
            markerfacecolor="none",
            color="black",
            label="chosen",
        )
        if dim.scale == "log":
            ax.set_xscale("log")
        ax.set_xlabel(LATEX_NAMES.get(dim.name, dim.name))
        ax.set_ylabel(f"{METRIC_TITLES[result.metric]} (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    replace_atomic(path, lambda f: fig.savefig(f, format="png", dpi=120))


def write_comparison(results: Mapping[str, SearchResult], out_dir: Path) -> str:
    """State each search's optimum (``comparison.md``, ``comparison.json``); return the text."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        label: {
            "values": r.chosen,
            r.metric: r.best.score(r.metric),
            "out_dir": str(r.out_dir),
            "final": r.final,
        }
        for label, r in results.items()
    }
    lines = ["# Optimal values with and without augmentation", ""]
    for label, r in results.items():
        chosen = ", ".join(f"{n} = {v:.4g}" for n, v in r.chosen.items())
        lines.append(
            f"- {label}: {chosen} ({METRIC_TITLES[r.metric]} "
            f"{_percent(r.best.score(r.metric))} %, search in {r.out_dir})"
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
