"""Everything written from a results folder after its experiments ran.

``figures/``  each run's figures as ``NAME-curves.pdf`` / ``.png`` (and ``-weights``,
``-schedule``), each search's plot, the λ-with-and-without-augmentation plot and the
search suite's repeats plot (:mod:`.searchsuite`);
``latex/``    ``macros.tex`` and one ``tabular`` fragment per table (the search and beyond
suites' parts from :mod:`.searchsuite` and :mod:`.beyondsuite`);
``results.md``  the README's summary table.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from handprop.atomic import write_text_atomic
from handprop.figures import save_figure
from handprop.reproduce import beyondsuite, latex, searchsuite, seeds
from handprop.reproduce.catalogue import IMPROVEMENTS, ONE_LAYER, in_suites
from handprop.reproduce.collect import Collected, collect

FIGURE_FORMATS: tuple[str, ...] = ("pdf", "png")
AUGMENTATION_SEARCHES: dict[str, str] = {
    "search_lambda": "without augmentation",
    "search_lambda_augmented": "with augmentation",
}


def copy_figures(results: Collected, target: Path) -> list[Path]:
    """Run figures to ``target/NAME-KIND.FMT``; search plots to ``target/NAME-val_acc.png``."""
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name, found in results.finished.items():
        sources = [
            (f"{kind}.{fmt}", f"{name}-{kind}.{fmt}")
            for kind in found.experiment.figures
            for fmt in FIGURE_FORMATS
        ]
        if found.experiment.kind == "search":
            sources.append(("val_acc.png", f"{name}-val_acc.png"))
        for source, dest in sources:
            if (found.folder / source).is_file():
                copied.append(Path(shutil.copyfile(found.folder / source, target / dest)))
    return copied


def search_points(found: Any) -> tuple[np.ndarray, np.ndarray]:
    """(λ, score) of every scored trial of a finished search, sorted by λ."""
    from handprop.search import read_results

    metric = found.metrics.get("metric", "final_val_acc")
    points = sorted(
        (r.values["lam"], r.score(metric))
        for r in read_results(found.folder / "results.jsonl").values()
        if "lam" in r.values and r.score(metric) is not None
    )
    lam, score = (
        (np.array(c, dtype=np.float64) for c in zip(*points, strict=True))
        if points
        else (np.zeros(0), np.zeros(0))
    )
    return lam, score


def lambda_comparison_figure(series: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Validation accuracy (%) against λ (log axis), one marker style per search."""
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    for (label, (lam, score)), style in zip(series.items(), ("o-", "s--"), strict=False):
        ax.plot(lam, 100 * score, style, label=label, alpha=0.85)
        if len(lam):
            best = int(np.argmax(score))
            ax.plot(lam[best], 100 * score[best], "k*", markersize=12)
    ax.set_xscale("log")
    ax.set_xlabel("L2 strength λ")
    ax.set_ylabel("validation accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_lambda_comparison(results: Collected, target: Path) -> list[Path]:
    series = {
        label: search_points(found)
        for name, label in AUGMENTATION_SEARCHES.items()
        if (found := results.get(name)) is not None
    }
    if not series:
        return []
    return [
        save_figure(lambda_comparison_figure(series), target / f"lambda_augmentation.{fmt}")
        for fmt in FIGURE_FORMATS
    ]


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def results_markdown(
    results: Collected, machine: Mapping[str, Any], data: Mapping[str, Any]
) -> str:
    """The README's results table: our test accuracies next to the seeds' numbers."""
    published = {
        **seeds.ONE_LAYER_TEST_ACC,
        "baseline": seeds.TWO_LAYER_BASELINE_ACC,
        IMPROVEMENTS[-1]: seeds.TWO_LAYER_FINAL_ACC,
    }
    lines = [
        f"Results of `handprop reproduce --suite {results.suite}` "
        f"({len(results.finished)} of {len(in_suites(results.suites))} experiments) on "
        f"{latex.DATA_KINDS[data['kind']]} (`{data['name']}`).",
    ]
    ran = {e.name for e in in_suites(results.suites)}
    trained = [name for name in (*ONE_LAYER, *IMPROVEMENTS) if name in ran]
    if trained:  # the seeds' table, unless the folder holds the search suite only
        lines += [
            "",
            "| Experiment | handprop test acc. (%) | Seed, published (%) "
            "| Seed's code on this copy (%) | Training time (s) |",
            "|---|---:|---:|---:|---:|",
        ]
    for name in trained:
        found = results.get(name)
        test = found.metrics.get("test_acc") if found else None
        time = found.metrics.get("wall_time") if found else None
        lines.append(
            f"| `{name}` | {_cell(None if test is None else 100 * test)} | "
            f"{_cell(published.get(name))} | {_cell(seeds.SEED_CODE_ON_COPY.get(name))} | "
            f"{'' if time is None else f'{time:.1f}'} |"
        )
    for name, label in AUGMENTATION_SEARCHES.items():
        found = results.get(name)
        if found is not None:
            lam, score = (found.metrics.get("chosen") or {}).get("lam"), found.metrics.get("score")
            lines.append(
                f"\nλ search {label}: chosen λ = {lam:.3g} "
                f"(validation accuracy {100 * (score or 0):.2f} %)."
            )
    for part in (searchsuite.markdown(results), beyondsuite.markdown(results)):
        if part:
            lines.append(part.rstrip("\n"))
    gradcheck = results.get("gradcheck")
    if gradcheck is not None:
        lines.append(
            f"\nGradient check: max |analytic − PyTorch| = "
            f"{gradcheck.metrics['torch_abs']:.1e} ({gradcheck.metrics['status']})."
        )
    lines.append(
        f"\nMachine: {machine['cpu']}, {machine['cores']} cores, numpy {machine['numpy']} "
        f"({machine['blas']}); total experiment time {sum(results.times.values()) / 60:.1f} min."
    )
    return "\n".join(lines) + "\n"


def all_tables(results: Collected) -> dict[str, str]:
    """``{file stem: tabular fragment}`` of every generated table."""
    return latex.tables(results) | searchsuite.tables(results) | beyondsuite.tables(results)


def write_outputs(out_dir: str | Path) -> Collected:
    """(Re)write ``figures/``, ``latex/`` and ``results.md`` from the finished experiments."""
    out = Path(out_dir)
    results = collect(out)
    machine, data = results.machine, results.data
    copy_figures(results, out / "figures")
    plot_lambda_comparison(results, out / "figures")
    searchsuite.plot_repeats(results, out / "figures", FIGURE_FORMATS)
    tex = out / "latex"
    tex.mkdir(parents=True, exist_ok=True)
    values = (
        latex.all_values(results, machine, data)
        | searchsuite.values(results)
        | beyondsuite.values(results)
    )
    write_text_atomic(tex / "macros.tex", latex.macros_tex(values))
    for stem, text in all_tables(results).items():
        write_text_atomic(tex / f"{stem}.tex", text)
    write_text_atomic(out / "results.md", results_markdown(results, machine, data))
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m handprop.reproduce RESULTS_DIR``: rewrite the outputs only."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m handprop.reproduce")
    parser.add_argument("results", type=Path, help="a folder written by handprop reproduce")
    args = parser.parse_args(argv)
    if not (args.results / "suite.json").is_file():
        parser.error(f"{args.results} holds no results of handprop reproduce (no suite.json)")
    write_outputs(args.results)
    return 0
