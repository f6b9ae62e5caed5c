"""Sections of the speed report for the scaling sweeps, the new capabilities and the search
throughput (cases of ``test_bench_scaling``, ``test_bench_optim`` and ``test_bench_search``).

Rows are :func:`bench.report._rows` dicts (``case``, ``impl``, ``time``, ``flops`` and the
case's ``extra_info``): a sweep case has ``sweep`` and ``x``, the others a ``group``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

IMPLS = ("handprop", "torch", "jax")
NAMES = {"handprop": "handprop", "torch": "PyTorch", "jax": "JAX (jitted step)"}
SWEEPS = {
    "width": ("hidden width m (batch 100)", "m"),
    "width-bn": ("hidden width m with batch norm (batch 100)", "m"),
    "batch": ("batch size n (m = 256)", "n"),
}
#: The plot beside ``SPEED.md``.
PLOT = "scaling.png"


def is_special(row: dict[str, Any]) -> bool:
    """True for the rows these sections render (kept out of the main table)."""
    return "sweep" in row or "group" in row


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def sweep_points(rows: list[dict[str, Any]], sweep: str) -> dict[str, dict[int, dict[str, Any]]]:
    """``{impl: {x: row}}`` of one sweep."""
    points: dict[str, dict[int, dict[str, Any]]] = {}
    for r in rows:
        if r.get("sweep") == sweep:
            points.setdefault(r["impl"], {})[int(r["x"])] = r
    return points


def sweep_table(rows: list[dict[str, Any]], sweep: str) -> list[str]:
    """One row per swept value: each implementation's step time and GFLOP/s, and handprop's
    time over each reference's."""
    points = sweep_points(rows, sweep)
    if not points:
        return []
    title, symbol = SWEEPS[sweep]
    impls = [i for i in IMPLS if i in points]
    refs = [i for i in impls if i != "handprop"]
    head = [symbol, *(f"{NAMES[i]} time / GFLOP/s" for i in impls)]
    head += [f"handprop / {NAMES[i].split()[0]}" for i in refs if "handprop" in points]
    lines = [
        f"**Against {title}**, float32 training step:",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---:|" * len(head),
    ]
    for x in sorted({x for p in points.values() for x in p}):
        cells = [str(x)]
        for i in impls:
            r = points[i].get(x)
            cells.append(f"{_time(r['time'])} / {r['flops'] / r['time'] / 1e9:.1f}" if r else "")
        ours = points.get("handprop", {}).get(x)
        for i in refs if "handprop" in points else ():
            ref = points[i].get(x)
            cells.append(f"{ours['time'] / ref['time']:.2f}" if ours and ref else "")
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def plot_scaling(rows: list[dict[str, Any]], path: Path) -> bool:
    """Step time and GFLOP/s against width and batch size, one line per implementation, log
    axes; saved atomically to ``path``. False (nothing written) without sweep rows."""
    sweeps = [s for s in SWEEPS if sweep_points(rows, s)]
    if not sweeps:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    from handprop.figures import save_figure

    fig, axes = plt.subplots(2, len(sweeps), figsize=(5.5 * len(sweeps), 7), squeeze=False)
    for col, sweep in enumerate(sweeps):
        points = sweep_points(rows, sweep)
        ticks = sorted({x for p in points.values() for x in p})
        for impl in IMPLS:
            if impl not in points:
                continue
            xs = sorted(points[impl])
            times = [points[impl][x]["time"] * 1e3 for x in xs]
            rates = [points[impl][x]["flops"] / points[impl][x]["time"] / 1e9 for x in xs]
            for row, ys in ((0, times), (1, rates)):
                axes[row][col].plot(xs, ys, marker="o", label=NAMES[impl])
        for row, label in ((0, "step time (ms)"), (1, "GFLOP/s (matrix products)")):
            ax = axes[row][col]
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(ticks)
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(SWEEPS[sweep][0])
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.suptitle("float32 training step (flip + translate, SGD)")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
    return True


def scaling(rows: list[dict[str, Any]], plot: str | None) -> list[str]:
    """The scaling section: the plot (if written) and one table per sweep."""
    tables = [line for sweep in SWEEPS for line in sweep_table(rows, sweep)]
    if not tables:
        return []
    lines = [
        "## Scaling curves",
        "",
        "One float32 training step (gather, flip + translate, forward, backward, SGD update) "
        "with PyTorch on as many threads as NumPy's BLAS and JAX as one jitted step (the "
        "batch-norm sweep: handprop against JAX); "
        "GFLOP/s counts the matrix products only. Cells: time / GFLOP/s.",
        "",
    ]
    if plot:
        lines += [f"![step time and GFLOP/s against width and batch size]({plot})", ""]
    return [*lines, *tables]


def search_throughput(rows: list[dict[str, Any]]) -> list[str]:
    """Trials per minute per executor, and the speed-up over one local worker."""
    found = [r for r in rows if r.get("group") == "search"]
    if not found:
        return []
    one = next((r for r in found if r["workers"] == 1 and "local" in r["case"]), None)
    lines = [
        "## Search throughput",
        "",
        "A small fixed search (`search_lambda`'s base cut to one short cycle, one `lam` per "
        "trial, one BLAS thread per trial), after one warm-up trial per worker.",
        "",
        "| executor | workers | trials | wall time | trials / minute | wall time per trial | "
        "vs 1 local worker |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in found:
        rate = r["trials"] / r["time"] * 60
        speedup = f"{one['time'] / r['time']:.2f}x" if one else ""
        lines.append(
            f"| {r['case'].split(', ', 1)[1]} | {r['workers']} | {r['trials']} "
            f"| {_time(r['time'])} | {rate:.1f} | {_time(r['time'] / r['trials'])} | {speedup} |"
        )
    return [*lines, ""]
