"""``handprop ensemble``: train an ensemble config's members and score their ensemble."""

from __future__ import annotations

import argparse
from pathlib import Path

from handprop.cli import add_config_options, command_line, resume_words


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ensemble",
        help="train the members of an ensemble config and score the ensemble",
        description=(
            "Train an ensemble config's training config once per seed into OUT/CONFIG_sSEED "
            "(finished members are reused, interrupted ones resumed), average the members' "
            "class probabilities (each with its test-time augmentation) and write "
            "OUT/metrics.json. Prints each member's and the ensemble's accuracy."
        ),
        epilog="packaged ensemble config: beyond_ensemble",
    )
    add_config_options(parser)
    parser.add_argument("--out", type=Path, required=True, help="ensemble folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handprop.runs.ensemble_config import load_ensemble_config, train_ensemble

    ensemble = load_ensemble_config(args.config)
    metrics = train_ensemble(
        ensemble,
        args.out,
        overrides=args.set,
        progress=not args.no_progress,
        figures=() if args.no_figures else ("png",),
    )
    if metrics["status"] != "completed":
        print(f"{ensemble.name}: member {metrics['member']} {metrics['status']}")
        if metrics["status"] == "interrupted":
            print(f"resume with: {command_line(args, 'ensemble', *resume_words(args, args.out))}")
            return 130
        return 1
    for m in metrics["members"]:
        print(
            f"member {m['folder']}: validation {100 * m['val_acc']:.2f} %  "
            f"test {100 * m['test_acc']:.2f} %  training {m['wall_time']:.1f} s"
        )
    print(
        f"{ensemble.name}: ensemble of {len(metrics['members'])} | test accuracy "
        f"{100 * metrics['test_acc']:.2f} % | validation {100 * metrics['val_acc']:.2f} % | "
        f"training {metrics['training_time']:.1f} s | folder {args.out}"
    )
    return 0
