"""``handprop evaluate``: validation and test accuracy of a run folder, or of an ensemble."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="accuracy of a run folder's saved parameters, or of an ensemble of runs",
        description=(
            "Load RUN_DIR/config.toml and RUN_DIR/params.npz, rebuild the config's data "
            "splits and print loss and accuracy on the validation and test sets. With several "
            "run folders (or --snapshots), print each member's accuracy and those of the "
            "ensemble, which averages the members' class probabilities. Runs whose config "
            "sets augment.tta are scored with that test-time augmentation."
        ),
    )
    parser.add_argument(
        "run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="folder of a training run"
    )
    parser.add_argument(
        "--snapshots",
        action="store_true",
        help="members are the runs' snapshots (snapshots/params-cycleK.npz, see run.snapshots) "
        "instead of their final parameters",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from handprop.runs.ensemble import evaluate_runs, load_run

    runs = [load_run(folder, snapshots=args.snapshots) for folder in args.run_dirs]
    result = evaluate_runs(runs)
    if len(result.members) > 1:
        for name, val, test in result.members:
            print(f"member {name}: validation {100 * val:.2f} %  test {100 * test:.2f} %")
        mean = np.mean([(val, test) for _, val, test in result.members], axis=0)
        print(f"mean member: validation {100 * mean[0]:.2f} %  test {100 * mean[1]:.2f} %")
        print(f"ensemble of {len(result.members)} (averaged probabilities):")
    for split, found in (("validation", result.val), ("test", result.test)):
        print(f"{split}: accuracy {100 * found.accuracy:.2f} %  loss {found.loss:.4f}")
    return 0
