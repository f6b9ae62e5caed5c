"""Speed report: run the benchmark suite and write a Markdown table (raw JSON kept out of git).

Usage::

    python -m bench.report                  # full suite -> bench/speed/SPEED.md, raw/benchmark.json
    python -m bench.report --quick          # every case once on tiny sizes (checks it runs)
    python -m bench.report --from-json F    # only render an existing pytest-benchmark JSON
    python -m bench.report -- -k step       # extra arguments after -- go to pytest

Times are the minimum over rounds (the least disturbed run on a shared machine); the ratio
is handprop's time over the reference's time from the same run (< 1: handprop is faster).
FLOP/s is stated as a fraction of the float32/float64 matrix-multiply rate measured in
the same run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "speed"
#: Subfolder of the output folder for pytest-benchmark's raw JSON (ignored by git).
RAW = "raw"
OURS = "handprop"
#: The profile part of the matrix products (see ``test_bench_profile``).
MATMUL_PART = "matrix products (BLAS)"


def run_suite(json_path: Path, quick: bool, pytest_args: Iterable[str]) -> int:
    """Run ``pytest bench`` writing pytest-benchmark's JSON to ``json_path``."""
    env = dict(os.environ)
    if quick:
        env["HANDPROP_BENCH_QUICK"] = "1"
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


def _fraction(row: dict[str, Any] | None, rates: dict[str, float]) -> str:
    if row is None or not row.get("flops") or row.get("dtype") not in rates:
        return ""
    return f"{row['flops'] / row['time'] / rates[row['dtype']]:.0%}"


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
                f"| {ref['impl'] if ref else ''} | {_fmt_time(ref['time']) if ref else ''} "
                f"| {ratio} | {speedup} | {gflops} | {fractions} |"
            )
    return lines


def _find(rows: list[dict[str, Any]], case: str, dtype: str, impl: str) -> dict[str, Any] | None:
    return next(
        (r for r in rows if r["case"] == case and r["dtype"] == dtype and r["impl"] == impl), None
    )


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, each marked met / missed with the measured value."""
    rates = matmul_rates(rows)
    lines: list[str] = []

    def check(label: str, value: float | None, limit: float, unit: str, below: bool) -> None:
        if value is None:
            lines.append(f"- {label}: not measured")
            return
        ok = value <= limit if below else value >= limit
        relation = "<=" if below else ">="
        lines.append(
            f"- {label}: {value:.3g}{unit} (target {relation} {limit:g}{unit}) — "
            f"{'met' if ok else 'MISSED'}"
        )

    for m, limit in ((50, 0.5), (1024, 0.9)):
        case = f"train step m={m}"
        ours, ref = _find(rows, case, "float32", OURS), _find(rows, case, "float32", "torch")
        value = ours["time"] / ref["time"] if ours and ref else None
        check(f"step float32 m={m}, handprop / PyTorch", value, limit, "", below=True)
    for r in rows:
        if r["impl"] == OURS and r["case"].startswith("train step") and r["dtype"] == "float32":
            m = int(r["case"].split("m=")[1])
            if m >= 256 and "float32" in rates:
                frac = r["flops"] / r["time"] / rates["float32"]
                check(f"step float32 m={m}, fraction of matmul rate", 100 * frac, 60, "%", False)
    # The augmentation target is flip + translate together (one gather_augment call);
    # the single-kernel speed-ups are in the table.
    case = "gather_augment 100 images"
    ours, ref = _find(rows, case, "float32", OURS), _find(rows, case, "float32", "numpy")
    value = ref["time"] / ours["time"] if ours and ref else None
    check("augmentation (flip + translate, 100 images), speed-up over NumPy", value, 5, "x", False)
    for case, limit in (("baseline run", 5.0), ("improvements run", 20.0)):
        ours = _find(rows, case, "float32", OURS)
        check(f"{case} wall time", ours["time"] if ours else None, limit, " s", below=True)
    memory = next((r for r in rows if "peak_rss_bytes" in r), None)
    peak = memory["peak_rss_bytes"] / 2**30 if memory else None
    check("peak RSS, training on 50,000 images float32", peak, 1.5, " GiB", below=True)
    return lines


def profile(data: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Where a training step's time goes (from ``test_bench_profile``), per run, and the
    run's lower bound: its matrix products at the machine's large-product float32 rate."""
    found = [b["extra_info"]["profile"] for b in data["benchmarks"] if "profile" in b["extra_info"]]
    if not found:
        return []
    square = next(
        (r for r in rows if r["case"].startswith("matmul") and r["dtype"] == "float32"), None
    )
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
            *_floor(p, square),
            "| part | per step | share |",
            "|---|---:|---:|",
        ]
        parts = dict(p["parts"])
        parts["Python and NumPy glue (the rest)"] = max(step - sum(parts.values()), 0.0)
        for label, seconds in parts.items():
            lines.append(f"| {label} | {_fmt_time(seconds)} | {seconds / step:.0%} |")
        lines.append("")
    return lines


def _floor(p: dict[str, Any], square: dict[str, Any] | None) -> list[str]:
    """The run's matrix-product work, the rate its step reached and the time it needs,
    against the ``square`` float32 product of the same run."""
    products = p["parts"].get(MATMUL_PART)
    if square is None or "step_flops" not in p or not products:
        return []
    rate, product = square["flops"] / square["time"], square["case"]
    flops = p["steps"] * p["step_flops"] + p["probes"] * p["probe_flops"]
    step_rate = p["step_flops"] / products
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


def render(data: dict[str, Any]) -> str:
    """The whole Markdown report for one pytest-benchmark JSON."""
    rows = _rows(data)
    quick = any(r.get("quick") for r in rows)
    date = data.get("datetime", datetime.datetime.now().isoformat())[:10]
    lines = [
        f"# handprop speed report ({date})",
        "",
        f"Machine: {machine(data)}.",
        "",
        "Times are minima over rounds; ratios compare handprop with the reference measured in "
        "the same run (< 1: handprop faster). Steps are batch 100 with flip + translate "
        "augmentation; FLOP/s counts the matrix products only.",
    ]
    if quick:
        lines += ["", "**Quick mode: one round on tiny sizes — these numbers mean nothing.**"]
    lines += ["", *table(rows), "", "## Targets (issue 5)", "", *targets(rows), ""]
    lines += profile(data, rows)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.report", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--quick", action="store_true", help="HANDPROP_BENCH_QUICK=1")
    parser.add_argument("--from-json", type=Path, help="render this JSON instead of running")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    json_path = args.from_json
    if json_path is None:
        (args.out / RAW).mkdir(parents=True, exist_ok=True)
        json_path = args.out / RAW / "benchmark.json"
        code = run_suite(json_path, args.quick, args.pytest_args)
        if code != 0 or not json_path.exists():
            print(f"benchmark suite failed (exit {code})", file=sys.stderr)
            return code or 1
    markdown = render(json.loads(json_path.read_text()))
    if args.from_json is None:
        write_atomic(args.out / "SPEED.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
