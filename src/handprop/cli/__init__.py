"""The ``handprop`` command line.

Each module in this package is one subcommand and defines
``register(subparsers) -> None``, which adds its parser and sets
``func=run`` (``run(args) -> int``). Modules are discovered, so adding a
subcommand means adding a module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from handprop.errors import HandpropError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="handprop",
        description="Train fully connected CIFAR-10 classifiers with hand-written backpropagation.",
    )
    from handprop import __version__

    parser.add_argument("--version", action="version", version=f"handprop {__version__}")
    parser.add_argument(
        "--data",
        metavar="PATH",
        help="CIFAR-10 source for this command: a cifar-10-python.tar.gz archive or a folder "
        "holding cifar-10-batches-py/ (sets HANDPROP_DATA; default: $HANDPROP_DATA, then the "
        "cache, then download)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="neither read nor write the decoded-data cache for this command "
        "(sets HANDPROP_NO_CACHE=1; see 'handprop cache')",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.data:
        os.environ["HANDPROP_DATA"] = os.path.abspath(args.data)
    if args.no_cache:
        os.environ["HANDPROP_NO_CACHE"] = "1"
    try:
        return int(args.func(args) or 0)
    except HandpropError as err:
        print(f"handprop {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"handprop {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
