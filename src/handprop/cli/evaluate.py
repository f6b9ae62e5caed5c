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

    from handprop.train.ensemble import (
        average_probabilities,
        check_compatible,
        load_run,
        member_probabilities,
        score,
    )

    runs = [load_run(folder, snapshots=args.snapshots) for folder in args.run_dirs]
    check_compatible(runs)
    data = runs[0].data
    splits = (("validation", data.val.y), ("test", data.test.y))
    members = [(name, params, run) for run in runs for name, params in run.members]
    accuracies: list[list[float]] = []
    probs: dict[str, list[np.ndarray]] = {split: [] for split, _ in splits}
    for name, params, run in members:
        row = []
        for (split, y), ds in zip(splits, (run.data.val, run.data.test), strict=True):
            predicted, p = member_probabilities(params, ds.X, run.config.augment.tta)
            row.append(float(np.mean(predicted == y)))
            probs[split].append(p)
        accuracies.append(row)
        if len(members) > 1:
            print(f"member {name}: validation {100 * row[0]:.2f} %  test {100 * row[1]:.2f} %")
    if len(members) > 1:
        mean = np.mean(accuracies, axis=0)
        print(f"mean member: validation {100 * mean[0]:.2f} %  test {100 * mean[1]:.2f} %")
        print(f"ensemble of {len(members)} (averaged probabilities):")
    for (split, y), own in zip(splits, accuracies[0], strict=True):
        result = score(average_probabilities(probs[split]), y)
        # one member: the argmax of its scores, as in metrics.json (no softmax rounding ties)
        accuracy = own if len(members) == 1 else result.accuracy
        print(f"{split}: accuracy {100 * accuracy:.2f} %  loss {result.loss:.4f}")
    return 0
