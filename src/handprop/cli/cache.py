"""``handprop cache``: where the decoded-data cache lives, check it in full, or clear it."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache",
        help="show, verify or clear the decoded-data cache",
        description=(
            "The decoded CIFAR-10 arrays are kept under DIR/decoded/, DIR being "
            "$HANDPROP_CACHE or the per-user cache (~/.cache/handprop). 'path' prints that "
            "folder, 'verify' checks the full SHA-256 of the copy of the current source "
            "(--data / $HANDPROP_DATA) and rebuilds it if it is missing or damaged, 'clear' "
            "deletes every decoded copy (the downloaded files stay)."
        ),
    )
    parser.add_argument("action", choices=("path", "verify", "clear"))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handprop.data import cache
    from handprop.data.source import cache_folder, cached, given

    root = cache.decoded_root(cache_folder())
    if args.action == "path":
        print(root)
    elif args.action == "clear":
        count = cache.clear(root)
        print(f"removed {count} decoded {'copy' if count == 1 else 'copies'} from {root}")
    else:
        source = given(None) or cached(cache_folder())
        if source is None:
            print("no data source: nothing cached")
            return 1
        folder = cache.entry(root, source)
        if cache.load(root, source, full=True) is not None:
            print(f"{folder}: ok")
            return 0
        from handprop.data import load_cifar10

        cache.remove(folder)
        load_cifar10(source.path, progress=False)
        print(f"{folder}: missing or damaged; rebuilt from {source.path}")
        return 1
    return 0
