"""``handprop lr-find``: the learning-rate range test, suggesting ``eta_min``/``eta_max``."""

from __future__ import annotations

import argparse
from pathlib import Path

from handprop.cli import add_config_options
from handprop.packaged import training_config_names

DEFAULT_ROOT = Path("runs") / "lr-find"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: suggest eta_min/eta_max for the triangular schedule",
        description=(
            "Train for a few hundred steps while eta grows exponentially from --start to "
            "--stop, record the smoothed cost, stop when it explodes, and suggest a range "
            "for the triangular schedule. Writes config.toml, lrfind.json and lrfind.png."
        ),
        epilog="packaged configs: " + ", ".join(training_config_names()),
    )
    add_config_options(parser)
    parser.add_argument("--out", type=Path, help=f"run folder (default {DEFAULT_ROOT}/NAME)")
    parser.add_argument("--start", type=float, default=1e-5, help="first eta (1e-5)")
    parser.add_argument("--stop", type=float, default=10.0, help="last eta (10)")
    parser.add_argument("--steps", type=int, default=400, help="updates from start to stop (400)")
    parser.add_argument(
        "--ratio", type=float, default=1e3, help="suggested eta_max / eta_min (1000)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handprop.runs.lrfind import RangeTest, run_lr_find
    from handprop.runs.rundir import run_folder
    from handprop.train.config import load_config

    test = RangeTest(start=args.start, stop=args.stop, steps=args.steps, ratio=args.ratio)
    config = load_config(args.config).with_overrides(args.set)
    out = args.out or run_folder(DEFAULT_ROOT, config.run.name)
    result = run_lr_find(config, out, test)
    stopped = (
        f"stopped at step {result.exploded} (eta {result.etas[-1]:.3g}): cost exploded"
        if result.exploded is not None
        else f"ran all {test.steps} steps"
    )
    print(
        f"{config.run.name or 'run'}: {stopped}; lowest smoothed cost "
        f"{min(result.smoothed):.3f} at eta {result.best_eta:.3g} | run folder {out}"
    )
    print(f"rule: {test.rule}")
    print(f"suggestion: {result.set_text()}")
    return 0
