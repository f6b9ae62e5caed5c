"""``handprop reproduce``: run every experiment of both seeds and write the report's inputs."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="run every experiment of both course reports; write figures and LaTeX tables",
        description=(
            "Run the gradient check, the one-layer and two-layer training runs and the λ "
            "searches of both course reports into --out, then write figures (PDF and PNG), "
            "LaTeX macros and tables (OUT/latex) and a Markdown summary (OUT/results.md). "
            "Experiments finished before are reused. The running experiment's progress and the "
            "suite's (steps done, rate, time left) go to stderr: bars on a terminal, a plain "
            "line every 30 s or 10 % otherwise. Build the PDF afterwards with "
            "`make -C report RESULTS=OUT`."
        ),
        arguments=_arguments,
    )
    parser.set_defaults(func=run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    from handprop.reproduce.catalogue import EXPERIMENTS, SUITES

    parser.add_argument(
        "--suite",
        choices=SUITES,
        default="full",
        help="full: the course reports' experiments and beyond_two_layer at their budgets "
        "(12 min measured on 2 free cores, longer when other jobs share them); smoke: every "
        "experiment on a tiny budget, seconds each; search: the λ searches with search seeds "
        "0-2 and grid against successive halving (the longest suite, 11 searches of hundreds "
        "of short runs; may share a folder with full); beyond: the "
        "ablation from wide_flip to beyond_two_layer and beyond_deep_bn over run seeds 0-2 and "
        "the ensembles of those run seeds (about 50 min; may share a folder with full) "
        "(default: full)",
    )
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument(
        "--force", action="store_true", help="rerun the selected experiments even if finished"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        default=[],
        choices=[e.name for e in EXPERIMENTS],
        help="run only these experiments: " + ", ".join(e.name for e in EXPERIMENTS),
    )


def run(args: argparse.Namespace) -> int:
    from handprop.reproduce import reproduce

    results = reproduce(args.out, suite=args.suite, only=args.only, force=args.force)
    print(f"{len(results.finished)} experiments finished; results in {args.out}")
    print((args.out / "results.md").read_text(encoding="utf-8"), end="")
    return 0
