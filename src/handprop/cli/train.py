"""``handprop train``: train one config into a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from handprop.cli import add_config_options, command_line, resume_words
from handprop.packaged import training_config_names

DEFAULT_ROOT = Path("runs")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a network from a config into a run folder",
        description=(
            "Train a config (a packaged experiment or a .toml file) and write its run folder: "
            "config.toml, history.json/.csv, params.npz, metrics.json and figures. "
            "Prints the wall time and the test accuracy."
        ),
        epilog="packaged configs: " + ", ".join(training_config_names()),
    )
    add_config_options(parser)
    parser.add_argument("--out", type=Path, help="run folder (default runs/NAME)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in the run folder from its last checkpoint",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.set_defaults(func=run)


def resume_command(args: argparse.Namespace, out: Path | None = None) -> str:
    """The shell command (quoted) that resumes the run of ``args`` in ``out``."""
    return command_line(args, "train", *resume_words(args, out or args.out), "--resume")


def run(args: argparse.Namespace) -> int:
    from handprop.runs.rundir import run_experiment, run_folder
    from handprop.train.config import load_config

    config = load_config(args.config).with_overrides(args.set)
    out = args.out or run_folder(DEFAULT_ROOT, config.run.name)
    summary = run_experiment(
        config,
        out,
        resume=args.resume,
        progress=not args.no_progress,
        figures=() if args.no_figures else ("png",),
    )
    test = "n/a" if summary.test_acc is None else f"{100 * summary.test_acc:.2f} %"
    print(
        f"{config.run.name or 'run'}: {summary.status} after {summary.steps} steps | "
        f"wall time {summary.wall_time:.2f} s | test accuracy {test} | "
        f"best val accuracy {100 * summary.best_val_acc:.2f} % | run folder {out}"
    )
    if summary.status == "interrupted":
        print(f"resume with: {resume_command(args, out)}")
        return 130
    return 1 if summary.status == "diverged" else 0
