"""Speed report: run the benchmark suite and write a Markdown table (raw JSON kept out of git).

Usage::

    python -m bench.report                  # full suite twice -> bench/speed/SPEED.md,
                                            # raw/benchmark.json, raw/benchmark-blas-unset.json
    python -m bench.report --quick          # every case once on tiny sizes (checks it runs)
    python -m bench.report --from-json F [--unset-json G]   # only render existing JSON
                                            # (and write it with the plot into --out DIR)
    python -m bench.report -- -k step       # extra arguments after -- go to pytest

The suite runs twice: with the machine's defaults, then with ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` removed from the benchmark subprocess's environment only (they pin
OpenBLAS to older kernels on some images; users' machines mostly do not set them).

Times are the minimum over rounds (the least disturbed run on a shared machine); the ratio
is handprop's time over the reference's time from the same run (< 1: handprop is faster).
FLOP/s is stated as a fraction of the float32/float64 matrix-multiply rate measured in
the same run. The speed targets are read from ``bench/targets.toml`` (its header documents
the format) and each is printed with its value in the run and met / MISSED. The scaling
sweeps, the new capabilities and the search throughput have their own sections
(:mod:`bench.report_scaling`); the scaling plot is written beside ``SPEED.md`` as
``scaling.png``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from bench import report_scaling
from bench.workloads import BLAS_ENV

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "speed"
#: Subfolder of the output folder for pytest-benchmark's raw JSON (ignored by git).
RAW = "raw"
OURS = "handprop"
#: The profile part of the matrix products (see ``test_bench_profile``).
MATMUL_PART = "matrix products (BLAS)"
#: The profile part of the batch gather (with its augmentation, if any).
GATHER_PART = "batch gather (+ augmentation)"
#: The speed targets the report checks (the file documents its format).
TARGETS = BENCH_DIR / "targets.toml"
#: What a target can read from the rows (see :data:`TARGETS`).
MEASURES = ("ratio", "speedup", "seconds", "peak_gib", "matmul_share", "run_matmul_share")
TARGET_KEYS = frozenset(
    {"name", "each", "measure", "case", "reference", "dtype", "loop", "max", "min", "about"}
)


def run_suite(
    json_path: Path, quick: bool, pytest_args: Iterable[str], *, unset_blas_env: bool = False
) -> int:
    """Run ``pytest bench`` writing pytest-benchmark's JSON to ``json_path``; with
    ``unset_blas_env``, without :data:`BLAS_ENV` in the subprocess's environment."""
    env = dict(os.environ)
    if quick:
        env["HANDPROP_BENCH_QUICK"] = "1"
    if unset_blas_env:
        for name in BLAS_ENV:
            env.pop(name, None)
    cmd = [
        sys.executable, "-m", "pytest", str(BENCH_DIR), "-q", "-p", "no:cacheprovider",
        f"--benchmark-json={json_path}", "--benchmark-columns=min,median,rounds",
        *pytest_args,
    ]  # fmt: skip
    return subprocess.call(cmd, cwd=BENCH_DIR.parent, env=env)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a synced temporary file in the same folder."""
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}-", delete=False
    ) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


def _value(row: dict[str, Any]) -> str:
    """A row's measurement: its peak memory for the memory case, else its time."""
    if "peak_rss_bytes" in row:
        return f"{row['peak_rss_bytes'] / 2**30:.2f} GiB"
    return _fmt_time(row["time"])


def _rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "case" in info:
            rows.append({**info, "time": bench["stats"]["min"], "rounds": bench["stats"]["rounds"]})
    return rows


def matmul_rates(rows: list[dict[str, Any]]) -> dict[str, float]:
    """FLOP/s of the large square product per dtype."""
    return {r["dtype"]: r["flops"] / r["time"] for r in rows if r["case"].startswith("matmul")}


def _share(row: dict[str, Any] | None, rates: dict[str, float]) -> float | None:
    """A row's FLOP/s as a fraction of the square-product rate of its dtype (None: no FLOPs)."""
    if row is None or not row.get("flops") or row.get("dtype") not in rates:
        return None
    return float(row["flops"] / row["time"] / rates[row["dtype"]])


def _fraction(row: dict[str, Any] | None, rates: dict[str, float]) -> str:
    share = _share(row, rates)
    return "" if share is None else f"{share:.0%}"


def table(rows: list[dict[str, Any]]) -> list[str]:
    """One Markdown row per (case, dtype): ours, reference, ratio, FLOP/s fractions."""
    rates = matmul_rates(rows)
    lines = [
        "| case | dtype | handprop | reference | ref. time | handprop / ref. | speed-up "
        "| GFLOP/s | % of matmul (handprop / ref.) |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    keys: list[tuple[str, str]] = []
    for r in rows:
        if (r["case"], r["dtype"]) not in keys:
            keys.append((r["case"], r["dtype"]))
    for case, dtype in keys:
        same = [r for r in rows if r["case"] == case and r["dtype"] == dtype]
        ours = next((r for r in same if r["impl"] == OURS), None)
        refs = [r for r in same if r["impl"] != OURS] or [None]
        for ref in refs:
            main = ours or ref
            assert main is not None
            ratio = speedup = ""
            if ours is not None and ref is not None:
                ratio = f"{ours['time'] / ref['time']:.2f}"
                speedup = f"{ref['time'] / ours['time']:.1f}x"
            gflops = f"{main['flops'] / main['time'] / 1e9:.1f}" if main.get("flops") else ""
            fractions = " / ".join(f for f in (_fraction(ours, rates), _fraction(ref, rates)) if f)
            lines.append(
                f"| {case} | {dtype} | {_value(ours) if ours else ''} "
                f"| {_impl(ref) if ref else ''} | {_fmt_time(ref['time']) if ref else ''} "
                f"| {ratio} | {speedup} | {gflops} | {fractions} |"
            )
    return lines


def _impl(row: dict[str, Any]) -> str:
    """The reference's name, with its compile time when it has one (JAX)."""
    if "compile_seconds" in row:
        return f"{row['impl']} (+ {_fmt_time(row['compile_seconds'])} compile)"
    return row["impl"]


def _find(rows: list[dict[str, Any]], case: str, dtype: str, impl: str) -> dict[str, Any] | None:
    return next(
        (r for r in rows if r["case"] == case and r["dtype"] == dtype and r["impl"] == impl), None
    )


@attrs.frozen
class Target:
    """One speed target of :data:`TARGETS`: ``measure`` read from handprop's row of ``case``
    (and ``reference``'s), at most ``bound`` if ``below``, else at least it."""

    name: str
    measure: str
    case: str
    bound: float
    below: bool
    about: str
    reference: str = ""
    dtype: str = "float32"
    loop: str = ""


def load_targets(path: Path = TARGETS) -> list[Target]:
    """The ``[[target]]`` entries of ``path``, one :class:`Target` per value of ``each``."""
    with path.open("rb") as f:
        entries = tomllib.load(f).get("target", [])
    return [t for entry in entries for t in _expand(entry, path)]


def _expand(entry: dict[str, Any], path: Path) -> list[Target]:
    name = entry.get("name", "?")
    problems = [f"unknown key {k!r}" for k in entry if k not in TARGET_KEYS]
    problems += [f"no {k!r}" for k in ("name", "measure", "case", "about") if k not in entry]
    if ("max" in entry) == ("min" in entry):
        problems.append("exactly one of 'max' and 'min'")
    if entry.get("measure") not in MEASURES:
        problems.append(f"measure must be one of {', '.join(MEASURES)}")
    if (entry.get("measure") in ("ratio", "speedup")) != ("reference" in entry):
        problems.append("'reference' is needed by the ratio and speedup measures, and only by them")
    if problems:
        raise ValueError(f"{path}: target {name!r}: {'; '.join(problems)}")
    fields = {k: v for k, v in entry.items() if k not in ("each", "max", "min")}
    below = "max" in entry
    bound = float(entry["max" if below else "min"])
    targets = []
    for x in entry.get("each", [""]):
        named = {k: fields[k].replace("{x}", str(x)) for k in ("name", "case")}
        targets.append(Target(**(fields | named), bound=bound, below=below))
    return targets


def measured(
    target: Target, rows: list[dict[str, Any]], floors: dict[str, dict[str, float]]
) -> float | None:
    """The target's value in this run (None: a row it reads is missing)."""
    ours = _find(rows, target.case, target.dtype, OURS)
    if ours is None:
        return None
    if target.measure == "seconds":
        return float(ours["time"])
    if target.measure == "peak_gib":
        return ours["peak_rss_bytes"] / 2**30 if "peak_rss_bytes" in ours else None
    if target.measure == "matmul_share":
        return _share(ours, matmul_rates(rows))
    if target.measure == "run_matmul_share":
        floor = floors.get(target.case)
        return floor["flops"] / floor["square_rate"] / ours["time"] if floor else None
    ref = _find(rows, target.case, target.dtype, target.reference)
    if ref is None:
        return None
    ratio = float(ours["time"] / ref["time"])
    return ratio if target.measure == "ratio" else 1 / ratio


def _fmt_target(measure: str, value: float) -> str:
    if measure == "seconds":
        return _fmt_time(value)
    if measure == "peak_gib":
        return f"{value:.2f} GiB"
    if measure.endswith("share"):
        return f"{value:.0%}"
    return f"{value:.2f}" if measure == "ratio" else f"{value:.1f}x"


def targets(
    rows: list[dict[str, Any]], floors: dict[str, dict[str, float]], path: Path = TARGETS
) -> list[str]:
    """Every target of ``path`` with its value in this run and met / MISSED, and under a
    missed one what limits it (:func:`_limits`)."""
    lines = [
        "## Targets",
        "",
        f"From `bench/{path.name}`; ratios are handprop's time over the reference's in this "
        "run (< 1: handprop faster).",
        "",
    ]
    for t in load_targets(path):
        value = measured(t, rows, floors)
        bound = f"{'<=' if t.below else '>='} {_fmt_target(t.measure, t.bound)}"
        if value is None:
            lines.append(f"- {t.name}: not measured (target {bound}). {t.about}")
            continue
        ok = value <= t.bound if t.below else value >= t.bound
        lines.append(
            f"- {t.name}: {_fmt_target(t.measure, value)} (target {bound}) — "
            f"{'met' if ok else 'MISSED'}. {t.about}"
        )
        if not ok:
            lines += _limits(t, rows, floors)
    return [*lines, ""]


def _limits(
    target: Target, rows: list[dict[str, Any]], floors: dict[str, dict[str, float]]
) -> list[str]:
    """What limits a missed target in this run: handprop's own training loop against the
    time a whole-process target allows, or the time the run's matrix products alone need at
    the rate its step reached (``floors``, from :func:`run_floors`)."""
    floor = floors.get(target.case)
    if target.measure == "run_matmul_share" and floor is not None:
        return [
            f"  - the step's products themselves run at "
            f"{floor['step_rate'] / floor['square_rate']:.0%} of the square rate, so a loop "
            "doing nothing but them would reach that share"
        ]
    if target.measure != "ratio":
        return []
    ref = _find(rows, target.case, target.dtype, target.reference)
    assert ref is not None
    allowed = target.bound * ref["time"]
    own = _find(rows, target.loop, target.dtype, OURS) if target.loop else None
    if own is not None:
        return [
            f"  - handprop's training loop alone took {_fmt_time(own['time'])} in this run; "
            f"the target allows {_fmt_time(allowed)} for the whole process"
        ]
    if floor is None:
        return []
    need = floor["flops"] / floor["step_rate"]
    return [
        f"  - the run's matrix products alone need {_fmt_time(need)} at the rate the "
        f"step's products reached ({floor['step_rate'] / 1e9:.0f} GFLOP/s, "
        f"{floor['step_rate'] / floor['square_rate']:.0%} of the square rate), "
        f"{_fmt_time(need + floor['gather'])} with the batch gather "
        f"({_fmt_time(floor['gather'])}); the target allows {_fmt_time(allowed)}"
    ]


def blas(data: dict[str, Any]) -> str:
    """NumPy's BLAS library and the kernels it runs (threadpoolctl), with the variables
    that pin them."""
    libs = data.get("machine_info", {}).get("blas", [])
    lib = next((x for x in libs if x.get("package") == "numpy.libs"), libs[0] if libs else None)
    if lib is None:
        return "NumPy's BLAS: not recorded"
    env = ", ".join(f"{k}={v if v is not None else 'unset'}" for k, v in lib["env"].items())
    return (
        f"NumPy's BLAS: {lib['internal_api']} {lib['version']}, {lib['architecture']} kernels, "
        f"{lib['num_threads']} threads ({env})"
    )


def compare_blas(data: dict[str, Any], unset: dict[str, Any]) -> list[str]:
    """Every case's time with the machine's defaults and with the OpenBLAS variables unset."""
    variables = " / ".join(f"`{v}`" for v in BLAS_ENV)
    lines = [
        f"## Machine defaults against {variables} unset",
        "",
        f"The suite ran a second time with {variables} removed from the benchmark "
        "process's environment (never in tests or CI's test run).",
        "",
        f"- machine defaults: {blas(data)}",
        f"- unset: {blas(unset)}",
        "",
        "| case | dtype | impl | machine defaults | unset | unset / defaults |",
        "|---|---|---|---:|---:|---:|",
    ]
    second = {(r["case"], r["dtype"], r["impl"]): r for r in _rows(unset)}
    for r in _rows(data):
        other = second.get((r["case"], r["dtype"], r["impl"]))
        if other is None or "peak_rss_bytes" in r:
            continue
        lines.append(
            f"| {r['case']} | {r['dtype']} | {r['impl']} | {_fmt_time(r['time'])} "
            f"| {_fmt_time(other['time'])} | {other['time'] / r['time']:.2f} |"
        )
    return [*lines, ""]


def profile(
    data: dict[str, Any], rows: list[dict[str, Any]], floors: dict[str, dict[str, float]]
) -> list[str]:
    """Where a training step's time goes (from ``test_bench_profile``), per run, and the
    run's lower bound: its matrix products at the machine's large-product float32 rate."""
    found = [b["extra_info"]["profile"] for b in data["benchmarks"] if "profile" in b["extra_info"]]
    if not found:
        return []
    square = next((r["case"] for r in rows if r["case"].startswith("matmul")), "")
    lines = [
        "## Where the time goes",
        "",
        "Per training step on the real data, under cProfile (which inflates the Python glue); "
        "an evaluation is one probe of the loop (training subset + validation set).",
        "",
    ]
    for case, p in found[0].items():
        step, probe = p["step_seconds"], p["probe_seconds"]
        estimate = p["steps"] * step + p["probes"] * probe
        lines += [
            f"**{case}**: {_fmt_time(step)} per step; {p['steps']} steps and "
            f"{p['probes']} evaluations of {_fmt_time(probe)} make about "
            f"{_fmt_time(estimate)}.",
            "",
            *_floor(floors.get(case), square),
            "| part | per step | share |",
            "|---|---:|---:|",
        ]
        parts = dict(p["parts"])
        parts["Python and NumPy glue (the rest)"] = max(step - sum(parts.values()), 0.0)
        for label, seconds in parts.items():
            lines.append(f"| {label} | {_fmt_time(seconds)} | {seconds / step:.0%} |")
        lines.append("")
    return lines


def run_floors(data: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per profiled run: its matrix-product work ``flops``, the rate its step's products
    reached (``step_rate``), the float32 square-product rate of the same run and the seconds
    of its steps' batch gathers (``gather``)."""
    square = next(
        (r for r in rows if r["case"].startswith("matmul") and r["dtype"] == "float32"), None
    )
    found = [b["extra_info"]["profile"] for b in data["benchmarks"] if "profile" in b["extra_info"]]
    if square is None or not found:
        return {}
    floors = {}
    for case, p in found[0].items():
        products = p["parts"].get(MATMUL_PART)
        if "step_flops" in p and products:
            floors[case] = {
                "flops": p["steps"] * p["step_flops"] + p["probes"] * p["probe_flops"],
                "step_rate": p["step_flops"] / products,
                "square_rate": square["flops"] / square["time"],
                "gather": p["steps"] * p["parts"].get(GATHER_PART, 0.0),
            }
    return floors


def _floor(floor: dict[str, float] | None, product: str) -> list[str]:
    """The run's matrix-product work, the rate its step reached and the time it needs,
    against the square float32 ``product`` of the same run."""
    if floor is None:
        return []
    flops, rate, step_rate = floor["flops"], floor["square_rate"], floor["step_rate"]
    return [
        f"Its matrix products are {flops / 1e9:,.0f} GFLOP; at the float32 {product} "
        f"rate of this run ({rate / 1e9:.0f} GFLOP/s) they alone need {_fmt_time(flops / rate)}. "
        f"The step's products, (100 x 3072) by (3072 x m) and its transpose, ran at "
        f"{step_rate / 1e9:.0f} GFLOP/s ({step_rate / rate:.0%} of that rate), which makes "
        f"{_fmt_time(flops / step_rate)}.",
        "",
    ]


def machine(data: dict[str, Any]) -> str:
    """One line describing where the numbers were measured."""
    info = data.get("machine_info", {})
    versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items())
    return (
        f"{info.get('cpu_model', 'unknown CPU')}, {info.get('cores', '?')} cores, "
        f"{info.get('system', '')} {info.get('release', '')}, "
        f"Python {info.get('python_version', '')}, "
        f"{versions}, BLAS threads {info.get('blas_threads', '?')}"
    )


def capabilities(rows: list[dict[str, Any]]) -> list[str]:
    """The new capabilities (optimiser updates, whitening fit) against PyTorch and JAX."""
    found = [r for r in rows if r.get("group") == "capabilities"]
    if not found:
        return []
    return [
        "## New capabilities against PyTorch and JAX",
        "",
        "One optimiser update of the m = 256 network's parameters (handprop's fused pure "
        "step, `torch.optim`, a hand-written jitted JAX update) and the whitening fit "
        "(float64 covariance + `eigh`; JAX compiled apart).",
        "",
        *table(found),
        "",
    ]


def render(
    data: dict[str, Any], unset: dict[str, Any] | None = None, plot: str | None = None
) -> str:
    """The whole Markdown report for one pytest-benchmark JSON (machine defaults), and the
    comparison with the run without the OpenBLAS variables when ``unset`` is given;
    ``plot`` names the scaling plot written beside it."""
    all_rows = _rows(data)
    rows = [r for r in all_rows if not report_scaling.is_special(r)]
    quick = any(r.get("quick") for r in rows)
    date = data.get("datetime", datetime.datetime.now().isoformat())[:10]
    lines = [
        f"# handprop speed report ({date})",
        "",
        f"Machine: {machine(data)}.",
        "",
        f"{blas(data)}.",
        "",
        "Times are minima over rounds; ratios compare handprop with the reference measured in "
        "the same run (< 1: handprop faster). Steps are batch 100 with flip + translate "
        "augmentation; FLOP/s counts the matrix products only.",
    ]
    if quick:
        lines += ["", "**Quick mode: one round on tiny sizes — these numbers mean nothing.**"]
    floors = run_floors(data, rows)
    lines += ["", *table(rows), "", *targets(all_rows, floors)]
    lines += capabilities(all_rows)
    lines += report_scaling.scaling(all_rows, plot)
    lines += report_scaling.search_throughput(all_rows)
    if unset is not None:
        lines += compare_blas(data, unset)
    lines += profile(data, rows, floors)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out",
        type=Path,
        help=f"output folder (default {DEFAULT_OUT}; with --from-json: "
        "write SPEED.md and the plot there too)",
    )
    parser.add_argument("--quick", action="store_true", help="HANDPROP_BENCH_QUICK=1")
    parser.add_argument("--from-json", type=Path, help="render this JSON instead of running")
    parser.add_argument(
        "--unset-json", type=Path, help="with --from-json: the run without the OpenBLAS variables"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    json_path, unset_path = args.from_json, args.unset_json
    out = args.out or DEFAULT_OUT
    if json_path is None:
        (out / RAW).mkdir(parents=True, exist_ok=True)
        json_path = out / RAW / "benchmark.json"
        unset_path = out / RAW / "benchmark-blas-unset.json"
        for path, unset in ((json_path, False), (unset_path, True)):
            code = run_suite(path, args.quick, args.pytest_args, unset_blas_env=unset)
            if code != 0 or not path.exists():
                print(f"benchmark suite failed (exit {code})", file=sys.stderr)
                return code or 1
    unset_data = json.loads(unset_path.read_text()) if unset_path else None
    data = json.loads(json_path.read_text())
    write = args.from_json is None or args.out is not None
    if write:
        out.mkdir(parents=True, exist_ok=True)
    plotted = write and report_scaling.plot_scaling(_rows(data), out / report_scaling.PLOT)
    markdown = render(data, unset_data, report_scaling.PLOT if plotted else None)
    if write:
        write_atomic(out / "SPEED.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
