"""``handprop search``: coarse-to-fine hyperparameter search from a search config."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from handprop.cli import add_set_option

if TYPE_CHECKING:
    from handprop.search import SearchResult

DEFAULT_CONFIG = "search_lambda"
DEFAULT_AUGMENTED = "search_lambda_augmented"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="coarse-to-fine hyperparameter search (resumable, parallel)",
        description="Search config fields stage by stage; re-running resumes the search.",
    )
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help=f"search config: packaged name or .toml path (default {DEFAULT_CONFIG})",
    )
    add_set_option(parser, "the base training config")
    parser.add_argument("--out", type=Path, help="search folder (default runs/search/NAME)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="run trials on this Dask scheduler")
    parser.add_argument(
        "--workers",
        type=int,
        help="local worker processes (default: cores // threads; 0 runs trials in this process)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads per trial, in every executor (1); a resume needs the same count",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="an Optuna search's study database, shared by every process given it "
        "(postgresql://... or sqlite:///...; default study.db in the search folder)",
    )
    parser.add_argument(
        "--final",
        action="store_true",
        help="retrain the chosen values on the final split and evaluate on the test set",
    )
    parser.add_argument(
        "--compare-augmentation",
        action="store_true",
        help="run --config and --augmented-config and state both optima",
    )
    parser.add_argument(
        "--augmented-config",
        default=DEFAULT_AUGMENTED,
        help=f"the augmented search of --compare-augmentation (default {DEFAULT_AUGMENTED})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handprop.search import load_search_spec, write_comparison
    from handprop.search.engine import values_text

    if not args.compare_augmentation:
        result = _search(args, args.config, args.out)
        best = result.best
        se = "" if best.se is None else f" ± {best.se:.4f}"
        print(
            f"chosen by {result.select} over {result.repeats} repeat(s): "
            f"{values_text(result.chosen)} "
            f"({result.metric} mean {best.mean:.4f}{se}); results in {result.out_dir}"
        )
        return 0
    root = args.out or Path("runs") / "search" / "compare_augmentation"
    results = {
        label: _search(args, name, root / load_search_spec(name).name)
        for label, name in (
            ("without augmentation", args.config),
            ("with augmentation", args.augmented_config),
        )
    }
    print(write_comparison(results, root), end="")
    return 0


def _search(args: argparse.Namespace, config: str, out: Path | None) -> SearchResult:
    from handprop.lock import folder_lock
    from handprop.progress import Progress
    from handprop.runs.rundir import run_folder
    from handprop.search import load_search_spec, search_spec

    spec = load_search_spec(config)
    out_dir = out or run_folder(Path("runs") / "search", spec.name)
    with folder_lock(out_dir, "search folder"):
        return search_spec(
            spec,
            out_dir=out_dir,
            overrides=args.set,
            final=args.final,
            storage=args.storage,
            workers=args.workers,
            threads=args.threads,
            scheduler=args.scheduler,
            log=lambda line: print(line, file=sys.stderr, flush=True),
            progress=Progress(),
        )
