"""``handprop data``: record where the CIFAR-10 copy is, or show which copy is used and why."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "data",
        help="record the CIFAR-10 copy every later command uses, or show which one is used",
        description=(
            "'use PATH' checks PATH (a cifar-10-python.tar.gz archive or a folder holding "
            "cifar-10-batches-py/) by loading every file, then records it in the per-user "
            "config file ($XDG_CONFIG_HOME/handprop/data.json, default "
            "~/.config/handprop/data.json) for every later command and for load_cifar10() "
            "and load_data() in Python. 'show' prints the copy a command would read and why: "
            "--data, else $HANDPROP_DATA, else the recorded copy, else the copy downloaded "
            "into the cache, else a download of the official archive."
        ),
    )
    parser.add_argument("action", choices=("use", "show"))
    parser.add_argument("path", nargs="?", metavar="PATH", help="the copy to record (use)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from handprop.data import locate, use_data
    from handprop.data.source import URL, cache_folder, record_file
    from handprop.errors import ConfigError

    if args.action == "use":
        if args.path is None:
            raise ConfigError("data use needs the PATH of the archive or folder to record")
        cifar, path = use_data(args.path)
        images = sum(len(b.labels) for b in (*cifar.train, cifar.test))
        print(f"recorded {cifar.origin} ({images} images, checked) in {path}")
        return 0
    if args.path is not None:
        raise ConfigError("data show takes no PATH")
    found = locate()
    if found is None:
        print(f"no copy given, recorded or cached: the next load downloads {URL}")
        print(f"into {cache_folder()} (record a copy with: handprop data use PATH)")
        return 0
    origin = "given by --data" if args.data else found.origin
    print(f"{found.path} ({found.kind}), {origin}")
    print(f"record file: {record_file()}")
    return 0
